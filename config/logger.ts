import pino, { type Logger } from 'pino';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import pretty from 'pino-pretty';

/** JSON lines for machines; `pretty` for a developer's terminal (synchronous, no worker thread). */
export function createLogger(options: { format?: 'json' | 'pretty'; level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const base = { level: options.level ?? 'info', base: { service: 'countersign' } };
  if (options.format === 'pretty') {
    return pino(base, pretty({ sync: true, singleLine: true, colorize: Boolean(process.stdout.isTTY), ignore: 'pid,hostname,service', destination: options.destination ?? process.stdout }));
  }
  return options.destination ? pino(base, options.destination) : pino(base);
}

/** Routes the Temporal SDK's own log lines into pino, at `level` and above. Once per process. */
export function installTemporalLogging(logger: Logger, level: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' = 'WARN'): void {
  const order = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      if (order.indexOf(entry.level) < order.indexOf(level)) return;
      const method = entry.level === 'ERROR' ? 'error' : entry.level === 'WARN' ? 'warn' : entry.level === 'INFO' ? 'info' : 'debug';
      logger[method]({ ...(entry.meta ?? {}), source: 'temporal-sdk' }, entry.message);
    }),
  });
}
