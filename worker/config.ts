import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/** The environment variables of DESIGN §7; a bad value is named in one sentence. */
const Env = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, such as 127.0.0.1:7233')
    .default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().regex(/^[A-Za-z0-9._-]{1,255}$/, 'must be a namespace name such as default').default('default'),
  COUNTERSIGN_TASK_QUEUE: z.string().regex(/^[A-Za-z0-9._-]{1,255}$/, 'must be a task queue name such as countersign').default('countersign'),
  COUNTERSIGN_POLICY: z.string().min(1).default('policy.yaml'),
  COUNTERSIGN_REVIEWER: z.string().min(1).optional(),
  COUNTERSIGN_HOME: z.string().min(1).optional(),
  COUNTERSIGN_LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  COUNTERSIGN_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

export interface Config {
  address: string;
  namespace: string;
  taskQueue: string;
  policyFile: string;
  reviewer?: string;
  home: string;
  logFormat: 'json' | 'pretty';
  logLevel: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => k in Env.shape && v !== ''));
  const parsed = Env.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    throw new ConfigError(`Environment variable ${name} ${issue.message.startsWith('must') ? issue.message : `is invalid (${issue.message})`}, got ${JSON.stringify(env[name])}.`);
  }
  const e = parsed.data;
  return {
    address: e.TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.COUNTERSIGN_TASK_QUEUE,
    policyFile: resolve(e.COUNTERSIGN_POLICY),
    reviewer: e.COUNTERSIGN_REVIEWER,
    home: resolve(e.COUNTERSIGN_HOME ?? join(homedir(), '.countersign')),
    logFormat: e.COUNTERSIGN_LOG_FORMAT,
    logLevel: e.COUNTERSIGN_LOG_LEVEL,
  };
}

/** The Temporal frontend could not be reached: exit 4 in the CLI, with the address named. */
export class TemporalUnreachable extends Error {
  override name = 'TemporalUnreachable';
  constructor(address: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const reason = /Connection refused|ECONNREFUSED/i.test(detail) ? 'connection refused' : detail.split('\n')[0];
    super(`Cannot reach Temporal at ${address} (${reason}). Is the server running (npm run dev)?`);
  }
}
