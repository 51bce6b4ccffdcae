/**
 * What the gateway logs through. A pino Logger fits (the CLI passes one); so does any logger with
 * these methods: the library brings no logger of its own, and an agent installs none for it.
 */
export interface GatewayLogger {
  debug(obj: object, msg?: string): void;
  debug(msg: string): void;
  info(obj: object, msg?: string): void;
  info(msg: string): void;
  warn(obj: object, msg?: string): void;
  warn(msg: string): void;
  error(obj: object, msg?: string): void;
  error(msg: string): void;
  child(bindings: Record<string, unknown>): GatewayLogger;
}
