/**
 * Slow and piled-up connections (issue 22 L10): how long a client may take to send its headers and
 * its whole request, and how many connections one address may hold open at once.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { TrustedProxies } from './forwarded';

export interface ConnectionLimits {
  /** Milliseconds to send the request line and headers (COUNTERSIGN_HEADERS_TIMEOUT); then 408 and closed. */
  headersTimeoutMs: number;
  /** Milliseconds to send the whole request, body included (COUNTERSIGN_REQUEST_TIMEOUT); then 408 and closed. Answers may take longer (long-polls). */
  requestTimeoutMs: number;
  /** Connections open at once from one address (COUNTERSIGN_MAX_CONNECTIONS_PER_ADDRESS); one more is closed unanswered. Trusted proxies are exempt. */
  maxPerAddress: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxPerAddress: 128 };

/** What node:http's createServer takes for the two timeouts; they are checked every `connectionsCheckingInterval`. */
export function timeoutOptions(limits: ConnectionLimits) {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // Node checks both only this often; a tenth of the shorter keeps a slow client from gaining much past it.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 10))),
  };
}

/** Counts open connections per remote address and closes any beyond the cap before a byte is read. */
export function capConnectionsPerAddress(server: Server, max: number, exempt: TrustedProxies): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    if (exempt.has(address)) return;
    const n = (open.get(address) ?? 0) + 1;
    if (n > max) {
      socket.destroy();
      return;
    }
    open.set(address, n);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/** The limits from COUNTERSIGN_HEADERS_TIMEOUT_MS, _REQUEST_TIMEOUT_MS and _MAX_CONNECTIONS_PER_ADDRESS, else the defaults; a bad value is one sentence naming it. */
export function limitsFromEnv(env: NodeJS.ProcessEnv, fail: (message: string) => Error): ConnectionLimits {
  const int = (name: string, fallback: number, min: number, max: number, unit: string) => {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > max) throw fail(`${name} must be a whole number of ${unit} from ${min} to ${max}, got "${text.slice(0, 50)}".`);
    return Number(text);
  };
  const limits = {
    headersTimeoutMs: int('COUNTERSIGN_HEADERS_TIMEOUT_MS', DEFAULT_CONNECTION_LIMITS.headersTimeoutMs, 100, 600_000, 'milliseconds'),
    requestTimeoutMs: int('COUNTERSIGN_REQUEST_TIMEOUT_MS', DEFAULT_CONNECTION_LIMITS.requestTimeoutMs, 100, 3_600_000, 'milliseconds'),
    maxPerAddress: int('COUNTERSIGN_MAX_CONNECTIONS_PER_ADDRESS', DEFAULT_CONNECTION_LIMITS.maxPerAddress, 1, 100_000, 'connections'),
  };
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) throw fail(`COUNTERSIGN_HEADERS_TIMEOUT_MS (${limits.headersTimeoutMs}) must not exceed COUNTERSIGN_REQUEST_TIMEOUT_MS (${limits.requestTimeoutMs}): the headers are part of the request.`);
  return limits;
}
