import { createServer as createHttpsServer } from 'node:https';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import { loadPolicyFile, type CompiledPolicy } from '../activities/policy/load';
import { reloadOnChange } from '../activities/policy/watch';
import { ConfigError, loadConfig, TemporalUnreachable } from '../worker/config';
import { createLogger } from '../worker/logger';
import { createApp } from './app';
import { Approvals } from './backend';
import { createSessions } from './sessions';
import { Enrollments } from './enrollments';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export interface ServerSettings {
  backend: Approvals;
  policy: CompiledPolicy;
  logger: Logger;
  sessionSecret: Uint8Array;
  /** host:port; port 0 picks a free one. */
  listen?: string;
  tls?: { cert: Buffer; key: Buffer };
  /** Extra Host header values to answer for (the public name behind a proxy); '*' for any. */
  publicHosts?: string[];
  sessionTtlSeconds?: number;
  rateLimit?: { perSecond: number; burst: number };
  /** Per credential, for the listings (visibility queries); default 10 a second, bursts of 40. */
  listRateLimit?: { perSecond: number; burst: number };
  /** Take the client's address from X-Forwarded-For (behind a proxy that sets it). */
  trustProxy?: boolean;
  /** Requests one agent may have waiting for a reviewer at once; default COUNTERSIGN_MAX_OPEN_REQUESTS, else 100. */
  maxOpenRequestsPerAgent?: number;
}

/** Starts the front door on `listen`; resolves once it accepts connections. */
export async function startServer(s: ServerSettings): Promise<RunningServer> {
  const [host, portText] = splitListen(s.listen ?? '127.0.0.1:8233');
  const maxOpenRequestsPerAgent = s.maxOpenRequestsPerAgent ?? maxOpenRequests(process.env.COUNTERSIGN_MAX_OPEN_REQUESTS);
  const allowedHosts = [...(s.publicHosts ?? [])];
  let app: ReturnType<typeof createApp> | undefined;
  const server: ServerType = await new Promise((resolve) => {
    const srv = serve(
      {
        fetch: (req, env) => app!.fetch(req, env),
        hostname: host,
        port: Number(portText),
        ...(s.tls ? { createServer: createHttpsServer, serverOptions: { cert: s.tls.cert, key: s.tls.key } } : {}),
      },
      () => resolve(srv),
    );
  });
  // Longer than any client's or load balancer's idle timeout, so the server is never the one that
  // closes a kept-alive connection just as a request is sent on it.
  (server as import('node:http').Server).keepAliveTimeout = 65_000;
  (server as import('node:http').Server).headersTimeout = 66_000;
  const port = (server.address() as AddressInfo).port;
  for (const name of [host, 'localhost', '127.0.0.1', '[::1]']) allowedHosts.push(`${name}:${port}`);
  app = createApp({
    backend: s.backend,
    policy: s.policy,
    logger: s.logger,
    sessions: createSessions(s.sessionSecret, { ttlSeconds: s.sessionTtlSeconds }),
    allowedHosts,
    rateLimit: s.rateLimit,
    listRateLimit: s.listRateLimit,
    trustProxy: s.trustProxy,
    maxOpenRequestsPerAgent,
    enrollments: new Enrollments(s.backend.client, s.backend.taskQueue),
    secure: Boolean(s.tls),
  });
  const url = `${s.tls ? 'https' : 'http'}://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  return {
    url,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** COUNTERSIGN_MAX_OPEN_REQUESTS: a whole number from 1 to 1,000,000, or unset for the default. */
export function maxOpenRequests(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^\d{1,7}$/.test(text) || Number(text) < 1 || Number(text) > 1_000_000) throw new ConfigError(`Environment variable COUNTERSIGN_MAX_OPEN_REQUESTS must be a whole number from 1 to 1000000, got "${text.slice(0, 50)}".`);
  return Number(text);
}

function splitListen(listen: string): [string, string] {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(listen);
  if (!m) throw new ConfigError(`--listen must be host:port, such as 127.0.0.1:8233, got "${listen}".`);
  return [m[1]!, m[2]!];
}

/** The secret every server instance signs sessions with: COUNTERSIGN_SESSION_SECRET, else $COUNTERSIGN_HOME/session.secret. */
export function sessionSecret(home: string, options: { createIfMissing?: boolean } = {}): Uint8Array {
  const fromEnv = process.env.COUNTERSIGN_SESSION_SECRET;
  if (fromEnv) {
    if (fromEnv.length < 32) throw new ConfigError('Environment variable COUNTERSIGN_SESSION_SECRET must be at least 32 characters (use: openssl rand -base64 32).');
    return Buffer.from(fromEnv, 'utf8');
  }
  const path = join(home, 'session.secret');
  if (!existsSync(path)) {
    if (!options.createIfMissing) throw new ConfigError(`No session secret: set COUNTERSIGN_SESSION_SECRET (the same for every server instance) or create ${path}.`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600 });
  }
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'utf8');
}

/** `countersign server`: the front door, with the operator's Temporal credentials. */
export async function runServer(flags: { listen?: string; policyFile?: string; tlsCert?: string; tlsKey?: string }): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ format: config.logFormat, level: config.logLevel });
  const policy = loadPolicyFile(flags.policyFile ?? config.policyFile);
  const stopWatching = reloadOnChange(policy, logger);
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) throw new ConfigError('--tls-cert and --tls-key go together.');
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...config.connection, connectTimeout: '10s' });
  } catch (err) {
    throw new TemporalUnreachable(config.address, err);
  }
  const backend = await Approvals.connect({ connection, namespace: config.namespace, taskQueue: config.taskQueue });
  const running = await startServer({
    backend,
    policy,
    logger,
    sessionSecret: sessionSecret(config.home),
    listen: flags.listen ?? process.env.COUNTERSIGN_LISTEN ?? '127.0.0.1:8233',
    trustProxy: process.env.COUNTERSIGN_TRUST_PROXY === '1',
    publicHosts: (process.env.COUNTERSIGN_PUBLIC_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean),
    ...(flags.tlsCert && flags.tlsKey ? { tls: { cert: readFileSync(flags.tlsCert), key: readFileSync(flags.tlsKey) } } : {}),
  });
  logger.info({ url: running.url, policy: policy.file, policyDigest: policy.digest, directoryDigest: policy.directory.digest, temporal: config.address }, 'countersign server listening');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  stopWatching();
  await running.close();
  await connection.close();
  logger.info('countersign server stopped');
}
