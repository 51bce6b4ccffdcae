import { createServer as createHttpsServer } from 'node:https';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import { loadPolicyFile, type CompiledPolicy } from '../policy/load';
import { reloadOnChange } from '../policy/watch';
import { ConfigError, loadConfig, TemporalUnreachable } from '../config/env';
import { createLogger } from '../config/logger';
import { edgeKeyPath, layerKeyPath, serverStartKeyPath, sessionSecretPath } from '../config/home';
import { loadKeyFile, type Signer } from '../crypto/keys';
import { createApp } from './app';
import { Approvals } from './approvals';
import { startsNeedVoucher } from '../common/start-voucher';
import { createSessions } from './sessions';
import { Enrollments } from './enrollments';
import { TrustedProxies } from './forwarded';
import { temporalLedger, type DoorLedger } from './ledger';
import { capConnectionsPerAddress, DEFAULT_CONNECTION_LIMITS, limitsFromEnv, timeoutOptions, type ConnectionLimits } from './connections';
import { loadSlackSettings, SlackConfigError, type SlackSettings } from '../config/slack';
import { createSlackApp, type SlackApp } from './slack';
import { temporalLinks, type SlackLinks } from './slack/links';
import { openStoreEdge, openStoreReader } from '../store/open';
import type { EdgeWriter, StoreReader } from '../store/types';
import { EdgeDesk } from './edge';

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
  /** Proxies whose X-Forwarded-For is believed; the client is the right-most hop none of them is. */
  trustedProxies?: TrustedProxies;
  /** Where answered challenges and ended sessions are recorded; by default in Temporal, shared by every instance on the task queue. */
  ledger?: DoorLedger;
  /** Header and request timeouts and the per-address connection cap (DEFAULT_CONNECTION_LIMITS). */
  connections?: ConnectionLimits;
  /** Requests one agent may have waiting for a reviewer at once; default COUNTERSIGN_MAX_OPEN_REQUESTS, else 100. */
  maxOpenRequestsPerAgent?: number;
  /** The Slack app (config/slack.ts): its interactivity and slash-command endpoints answer only when it is set. */
  slack?: SlackSettings;
  /** Signs the front door's chat attestations: the server start key (by default the backend's, which vouches for its starts). */
  attester?: Signer;
  /** Where Slack links are kept; by default in Temporal, shared by every instance on the task queue. */
  slackLinks?: SlackLinks;
  /** Sealed evidence and the log, read only (store/open.ts): a closed request's evidence is served from it, after Temporal has forgotten the run. */
  store?: StoreReader;
  /** Allows decided at the front door (issue 29): the edge key and the store that records their tokens, spends and bundles. */
  edge?: { signer: Signer; store: EdgeWriter };
}

/** Starts the front door on `listen`; resolves once it accepts connections. */
export async function startServer(s: ServerSettings): Promise<RunningServer> {
  const [host, portText] = splitListen(s.listen ?? '127.0.0.1:7280');
  const maxOpenRequestsPerAgent = s.maxOpenRequestsPerAgent ?? maxOpenRequests(process.env.COUNTERSIGN_MAX_OPEN_REQUESTS);
  const allowedHosts = [...(s.publicHosts ?? [])];
  let app: ReturnType<typeof createApp> | undefined;
  const limits = s.connections ?? DEFAULT_CONNECTION_LIMITS;
  const proxies = s.trustedProxies ?? new TrustedProxies([]);
  const serverOptions = { ...timeoutOptions(limits), ...(s.tls ? { cert: s.tls.cert, key: s.tls.key } : {}) };
  const server: ServerType = await new Promise((resolve) => {
    const srv = serve(
      {
        fetch: (req, env) => app!.fetch(req, env),
        hostname: host,
        port: Number(portText),
        serverOptions,
        ...(s.tls ? { createServer: createHttpsServer } : {}),
      },
      () => resolve(srv),
    );
    capConnectionsPerAddress(srv as Server, limits.maxPerAddress, proxies);
  });
  // Longer than any client's or load balancer's idle timeout, so the server is never the one that
  // closes a kept-alive connection just as a request is sent on it (an idle connection is not held
  // to the headers timeout, which counts from a request's first byte).
  (server as Server).keepAliveTimeout = 65_000;
  const port = (server.address() as AddressInfo).port;
  for (const name of [host, 'localhost', '127.0.0.1', '[::1]']) allowedHosts.push(`${name}:${port}`);
  const ledger = s.ledger ?? temporalLedger(s.backend.client, s.backend.taskQueue);
  const slack = slackApp(s, ledger);
  app = createApp({
    backend: s.backend,
    policy: s.policy,
    logger: s.logger,
    sessions: createSessions(s.sessionSecret, { ttlSeconds: s.sessionTtlSeconds, ledger }),
    ledger,
    allowedHosts,
    rateLimit: s.rateLimit,
    listRateLimit: s.listRateLimit,
    trustedProxies: proxies,
    maxOpenRequestsPerAgent,
    enrollments: new Enrollments(s.backend.client, s.backend.taskQueue),
    secure: Boolean(s.tls),
    ...(slack ? { slack } : {}),
    ...(s.store ? { store: s.store } : {}),
    ...(s.edge ? { edge: new EdgeDesk(s.edge.signer, s.edge.store, s.logger) } : {}),
  });
  const url = `${s.tls ? 'https' : 'http'}://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  return {
    url,
    // Slack's clicks were answered before they were decided: their decisions finish before the server is gone.
    close: async () => {
      await Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), slack?.desk.settle()]);
    },
  };
}

/** The Slack app, when its settings have a signing secret (nothing else lets Slack's requests in); fails closed without a key to attest with. */
function slackApp(s: ServerSettings, ledger: DoorLedger): SlackApp | undefined {
  const settings = s.slack;
  if (!settings?.signingSecret) return undefined;
  // The backend's start key is a full Signer whenever the server loaded one (serverStartSigner): the same key the directory registers.
  const attester = s.attester ?? (s.backend.startSigner as Signer | undefined);
  if (!attester) throw new ConfigError('Slack decisions are attested with the server start key, and there is none: create it with countersign keys server and register it as directory.server.startKey.');
  return createSlackApp({
    settings: { ...settings, signingSecret: settings.signingSecret },
    backend: s.backend,
    policy: s.policy,
    logger: s.logger,
    ledger,
    links: s.slackLinks ?? temporalLinks(s.backend.client, s.backend.taskQueue),
    sessionSecret: s.sessionSecret,
    attester,
  });
}

/** COUNTERSIGN_MAX_OPEN_REQUESTS: a whole number from 1 to 1,000,000, or unset for the default. */
export function maxOpenRequests(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^\d{1,7}$/.test(text) || Number(text) < 1 || Number(text) > 1_000_000) throw new ConfigError(`Environment variable COUNTERSIGN_MAX_OPEN_REQUESTS must be a whole number from 1 to 1000000, got "${text.slice(0, 50)}".`);
  return Number(text);
}

function splitListen(listen: string): [string, string] {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(listen);
  if (!m) throw new ConfigError(`--listen must be host:port, such as 127.0.0.1:7280, got "${listen}".`);
  return [m[1]!, m[2]!];
}

/** The secret every server instance signs sessions with: COUNTERSIGN_SESSION_SECRET, else $COUNTERSIGN_HOME/session.secret. */
export function sessionSecret(home: string, options: { createIfMissing?: boolean } = {}): Uint8Array {
  const fromEnv = process.env.COUNTERSIGN_SESSION_SECRET;
  if (fromEnv) {
    if (fromEnv.length < 32) throw new ConfigError('Environment variable COUNTERSIGN_SESSION_SECRET must be at least 32 characters (use: openssl rand -base64 32).');
    return Buffer.from(fromEnv, 'utf8');
  }
  const path = sessionSecretPath(home);
  if (!existsSync(path)) {
    if (!options.createIfMissing) throw new ConfigError(`No session secret: set COUNTERSIGN_SESSION_SECRET (the same for every server instance) or create ${path}.`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600 });
  }
  try {
    // Owner-only, set outright: the umask or an older version may have left it readable by others.
    if (statSync(path).mode & 0o077) chmodSync(path, 0o600);
  } catch {
    // not ours to change (a read-only mount): left as it is
  }
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'utf8');
}

/**
 * The server's start key ($COUNTERSIGN_HOME/keys/server-start.key, or COUNTERSIGN_START_KEY_FILE):
 * required when the directory lists agents, and it must be the key the directory registers.
 */
export function serverStartSigner(home: string, policy: CompiledPolicy, env: NodeJS.ProcessEnv = process.env): Signer | undefined {
  const path = serverStartKeyPath(home, env);
  if (!existsSync(path)) {
    if (!startsNeedVoucher(policy.directory)) return undefined;
    throw new ConfigError(`No server start key at ${path}: create it with countersign keys server (or set COUNTERSIGN_START_KEY_FILE), and register its public key as directory.server.startKey.`);
  }
  const signer = loadKeyFile(path);
  if (policy.directory.startKey && signer.publicKey !== policy.directory.startKey) {
    throw new ConfigError(`The start key at ${path} is not the one the policy registers as directory.server.startKey: the workers would refuse every request.`);
  }
  return signer;
}

/**
 * The edge key ($COUNTERSIGN_HOME/keys/edge.key, or COUNTERSIGN_EDGE_KEY_FILE), when there is one: with
 * it the server decides edge allows; without it they run as workflows. Never the layer key.
 */
export function edgeKey(home: string, env: NodeJS.ProcessEnv = process.env): Signer | undefined {
  const path = edgeKeyPath(home, env);
  if (!existsSync(path)) return undefined;
  const signer = loadKeyFile(path);
  const layer = layerKeyPath(home);
  if (existsSync(layer) && loadKeyFile(layer).publicKey === signer.publicKey) throw new ConfigError(`The edge key at ${path} is the layer key: an edge key must be a key of its own (countersign keys edge), so a verifier can tell edge allows from the layer's decisions.`);
  return signer;
}

/** COUNTERSIGN_TRUSTED_PROXIES; the old COUNTERSIGN_TRUST_PROXY=1 believed any X-Forwarded-For and is refused. */
function trustedProxiesSetting(): TrustedProxies {
  if (process.env.COUNTERSIGN_TRUST_PROXY) {
    throw new ConfigError('COUNTERSIGN_TRUST_PROXY is no longer read (it believed any X-Forwarded-For): name your proxies instead, e.g. COUNTERSIGN_TRUSTED_PROXIES=10.0.0.5,10.1.0.0/16.');
  }
  try {
    return TrustedProxies.parse(process.env.COUNTERSIGN_TRUSTED_PROXIES);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** `countersign server`: the front door, with the operator's Temporal credentials. */
export async function runServer(flags: { listen?: string; policyFile?: string; tlsCert?: string; tlsKey?: string }): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ format: config.logFormat, level: config.logLevel });
  const policy = loadPolicyFile(flags.policyFile ?? config.policyFile);
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) throw new ConfigError('--tls-cert and --tls-key go together.');
  const startSigner = serverStartSigner(config.home, policy);
  const edgeSigner = edgeKey(config.home);
  // Evidence is read from the database when one is configured (a role that may only read, or with an edge key countersign_edge), else from the files of this server's own home.
  const onError = (message: string) => logger.warn({ store: 'postgresql' }, message);
  const edgeStore = edgeSigner ? await openStoreEdge({ home: config.home, onError }) : undefined;
  const store = edgeStore ?? (await openStoreReader({ home: config.home, onError }));
  const stopWatching = reloadOnChange(policy, logger);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...config.connection, connectTimeout: '10s' });
  } catch (err) {
    await store.close();
    throw new TemporalUnreachable(config.address, err);
  }
  const backend = await Approvals.connect({ connection, namespace: config.namespace, taskQueue: config.taskQueue, startSigner });
  let slack: SlackSettings | undefined;
  try {
    slack = loadSlackSettings();
  } catch (err) {
    if (err instanceof SlackConfigError) throw new ConfigError(err.message);
    throw err;
  }
  const running = await startServer({
    ...(slack ? { slack } : {}),
    ...(startSigner ? { attester: startSigner } : {}),
    backend,
    policy,
    logger,
    store,
    ...(edgeSigner && edgeStore ? { edge: { signer: edgeSigner, store: edgeStore } } : {}),
    sessionSecret: sessionSecret(config.home),
    listen: flags.listen ?? process.env.COUNTERSIGN_LISTEN ?? '127.0.0.1:7280',
    trustedProxies: trustedProxiesSetting(),
    connections: limitsFromEnv(process.env, (message) => new ConfigError(message)),
    publicHosts: (process.env.COUNTERSIGN_PUBLIC_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean),
    ...(flags.tlsCert && flags.tlsKey ? { tls: { cert: readFileSync(flags.tlsCert), key: readFileSync(flags.tlsKey) } } : {}),
  });
  logger.info({ url: running.url, policy: policy.file, policyDigest: policy.digest, directoryDigest: policy.directory.digest, temporal: config.address, store: store.description, edgeKey: edgeSigner?.keyId ?? null }, 'countersign server listening');
  if (!edgeSigner && policy.rules.some((r) => r.edge)) logger.warn({ edgeKey: edgeKeyPath(config.home) }, 'the policy has edge rules, but this server has no edge key: their allows run as workflows (create one with countersign keys edge)');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  stopWatching();
  await running.close();
  await connection.close();
  await store.close();
  logger.info('countersign server stopped');
}
