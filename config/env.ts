import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { z } from 'zod';
import { parseDuration } from '../common/duration';
import { defaultHome } from './home';

/** The environment variables of DESIGN §7; a bad value is named in one sentence. */
const Env = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, such as 127.0.0.1:7233')
    .optional(),
  TEMPORAL_NAMESPACE: z.string().regex(/^[A-Za-z0-9._-]{1,255}$/, 'must be a namespace name such as default').optional(),
  COUNTERSIGN_TASK_QUEUE: z.string().regex(/^[A-Za-z0-9._-]{1,255}$/, 'must be a task queue name such as countersign').default('countersign'),
  COUNTERSIGN_POLICY: z.string().min(1).default('policy.yaml'),
  COUNTERSIGN_REVIEWER: z.string().min(1).optional(),
  COUNTERSIGN_HOME: z.string().min(1).optional(),
  COUNTERSIGN_LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  COUNTERSIGN_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  COUNTERSIGN_SHUTDOWN_GRACE: z.string().refine((v) => parseDuration(v) !== undefined, 'must be a duration such as 30s').default('30s'),
  COUNTERSIGN_WORKFLOW_BUNDLE: z.string().min(1).optional(),
  COUNTERSIGN_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(2, 'must be a whole number of at least 2').default(250),
  COUNTERSIGN_WORKFLOW_THREADS: z.coerce.number().int().min(1, 'must be a whole number from 1 to 16').max(16, 'must be a whole number from 1 to 16').default(1),
});

export interface Config {
  address: string;
  namespace: string;
  /** Address, TLS, API key and gRPC metadata as Temporal's envconfig resolved them (TEMPORAL_* and the profile file). */
  connection: NativeConnectionOptions & { address: string };
  /** The envconfig profile used, when TEMPORAL_PROFILE or a config file named one. */
  profile?: string;
  shutdownGraceMs: number;
  maxCachedWorkflows: number;
  /** Threads that run workflow code (COUNTERSIGN_WORKFLOW_THREADS); activities run on the main thread. */
  workflowThreads: number;
  /** A prebuilt workflow bundle (production); without it the worker bundles from source (dev). */
  workflowBundle?: string;
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
  // Connection settings follow Temporal's own convention (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
  // TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE), for worker and CLI alike.
  let resolved: ReturnType<typeof loadClientConnectConfig>;
  try {
    // An empty variable counts as unset, as it does for the COUNTERSIGN_* ones.
    const vars = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== ''));
    resolved = loadClientConnectConfig({ overrideEnvVars: vars, configFileStrict: true });
  } catch (err) {
    throw new ConfigError(`Temporal connection settings are invalid: ${(err as Error).message}`);
  }
  const address = resolved.connectionOptions.address ?? '127.0.0.1:7233';
  // Installed from npm (compiled, under dist/), the prebuilt bundle is the default; from source, workflows are bundled at start.
  const prebuilt = __filename.endsWith('.js') ? join(__dirname, '..', 'workflow-bundle.js') : undefined;
  const bundle = e.COUNTERSIGN_WORKFLOW_BUNDLE ? resolve(e.COUNTERSIGN_WORKFLOW_BUNDLE) : prebuilt && existsSync(prebuilt) ? prebuilt : undefined;
  if (bundle && !existsSync(bundle)) throw new ConfigError(`Environment variable COUNTERSIGN_WORKFLOW_BUNDLE names ${bundle}, which does not exist (run npm run build).`);
  return {
    address,
    namespace: resolved.namespace ?? 'default',
    connection: { ...resolved.connectionOptions, address },
    profile: env.TEMPORAL_PROFILE,
    taskQueue: e.COUNTERSIGN_TASK_QUEUE,
    policyFile: resolve(e.COUNTERSIGN_POLICY),
    reviewer: e.COUNTERSIGN_REVIEWER,
    home: resolve(e.COUNTERSIGN_HOME ?? defaultHome()),
    logFormat: e.COUNTERSIGN_LOG_FORMAT,
    logLevel: e.COUNTERSIGN_LOG_LEVEL,
    shutdownGraceMs: parseDuration(e.COUNTERSIGN_SHUTDOWN_GRACE)!,
    maxCachedWorkflows: e.COUNTERSIGN_MAX_CACHED_WORKFLOWS,
    workflowThreads: e.COUNTERSIGN_WORKFLOW_THREADS,
    workflowBundle: bundle,
  };
}

/** The Temporal frontend could not be reached: exit 4 in the CLI, with the address named. */
export class TemporalUnreachable extends Error {
  override name = 'TemporalUnreachable';
  constructor(address: string, cause: unknown, env: NodeJS.ProcessEnv = process.env) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const reason = /Connection refused|ECONNREFUSED/i.test(detail) ? 'connection refused' : detail.split('\n')[0];
    // The usual first-hour miss: a stack on other ports, and a terminal without its exports.
    const unset = !env.TEMPORAL_ADDRESS && !env.TEMPORAL_PROFILE && !env.TEMPORAL_CONFIG_FILE;
    const hint = unset ? ` TEMPORAL_ADDRESS is not set, so the default was tried: export the one npm run dev printed.` : '';
    super(`Cannot reach Temporal at ${address} (${reason}). Is the server running (npm run dev)?${hint}`);
  }
}
