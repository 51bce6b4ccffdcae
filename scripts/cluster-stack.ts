/**
 * The production-shaped stack on one machine, without Docker (issue 14, DESIGN §8): a private
 * PostgreSQL, the Temporal server as separate frontend, matching, worker and two history processes
 * (PostgreSQL persistence and visibility), the countersign search attributes, countersign's own
 * database in the same PostgreSQL (the store, scripts/postgres.ts), then the countersign server and
 * two countersign workers. `npm run cluster` runs it in the foreground; tests start it
 * with startClusterStack().
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { SA } from '../common/search-attributes';
import { findOrBuildTemporalCli, onPath } from '../cli/temporal-cli';
import { registerSearchAttributes } from '../worker/cluster';
import { countersignLayout } from './cluster-countersign';
import { initPostgres, postgresCommand, postgresReady, provisionStore, stopPostgresServer, type StoreProvision } from './postgres';
import { listening, run, waitFor } from './processes';

export { postgresBin } from './postgres';

export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
/** Shards the history processes divide between them. */
export const HISTORY_SHARDS = 8;

const ROOT = join(__dirname, '..');

/** Ports on 127.0.0.1. Membership ports stay below 32768: Temporal keeps them in a smallint column. */
export const CLUSTER_PORTS = {
  postgres: 55432,
  frontend: { grpc: 47233, membership: 16933, http: 47243 },
  matching: { grpc: 47235, membership: 16935 },
  worker: { grpc: 47239, membership: 16939 },
  history: [
    { grpc: 47234, membership: 16934 },
    { grpc: 47334, membership: 17034 },
  ],
  server: 7281,
} as const;

/**
 * The dynamic config the cluster runs with: the same file docker-compose.yml mounts into its Temporal
 * services (test/cluster-config.test.ts holds them together).
 */
export const DYNAMIC_CONFIG_FILE = join(ROOT, 'deploy', 'temporal', 'dynamicconfig', 'countersign.yaml');

/**
 * The Temporal server is configured the way its image is: by its own config template filled from the
 * environment. The cluster runs the module's config/docker.yaml, which the server renders itself; the
 * temporalio/server 1.29.1 image renders docker/config_template.yaml, which reads the same variables
 * with the same defaults. TEMPORAL_SETTINGS are the values that decide behaviour (persistence,
 * visibility, shards); docker-compose.yml sets exactly these on its Temporal services.
 */
export const TEMPORAL_SETTINGS: Readonly<Record<string, string>> = {
  DB: 'postgres12',
  POSTGRES_USER: 'temporal',
  NUM_HISTORY_SHARDS: String(HISTORY_SHARDS),
};

/**
 * Where one process of this cluster listens and finds the others: addresses, ports, the password, the
 * dynamic config's path, the log level. They differ between this machine and a compose network, not in
 * what the server does. `history` is this process's own history ports (the two history processes share a host).
 */
export function temporalPlacement(dir: string, history: { grpc: number; membership: number }, password: string): Record<string, string> {
  const p = CLUSTER_PORTS;
  return {
    POSTGRES_SEEDS: '127.0.0.1',
    DB_PORT: String(p.postgres),
    // Said twice on purpose: config/docker.yaml reads the visibility store's port from POSTGRES_PORT, the
    // image's config_template.yaml from DB_PORT; both read VISIBILITY_DB_PORT first.
    VISIBILITY_DB_PORT: String(p.postgres),
    POSTGRES_PWD: password,
    BIND_ON_IP: '127.0.0.1',
    TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
    DYNAMIC_CONFIG_FILE_PATH: join(dir, 'dynamicconfig.yaml'),
    LOG_LEVEL: 'warn',
    FRONTEND_GRPC_PORT: String(p.frontend.grpc),
    FRONTEND_MEMBERSHIP_PORT: String(p.frontend.membership),
    FRONTEND_HTTP_PORT: String(p.frontend.http),
    MATCHING_GRPC_PORT: String(p.matching.grpc),
    MATCHING_MEMBERSHIP_PORT: String(p.matching.membership),
    HISTORY_GRPC_PORT: String(history.grpc),
    HISTORY_MEMBERSHIP_PORT: String(history.membership),
    WORKER_GRPC_PORT: String(p.worker.grpc),
    WORKER_MEMBERSHIP_PORT: String(p.worker.membership),
  };
}

/** Connections PostgreSQL accepts: the five Temporal processes' pools (20 + 10 each) and the tools. docker-compose.yml says the same. */
export const POSTGRES_MAX_CONNECTIONS = 200;
/** How long the namespace keeps closed workflows (and so their histories); docker-compose.yml creates it with the same. */
export const NAMESPACE_RETENTION = '30d';

/** Every fixed port of the cluster. */
function clusterPorts(): number[] {
  const p = CLUSTER_PORTS;
  return [p.postgres, p.frontend.grpc, p.frontend.membership, p.frontend.http, p.matching.grpc, p.matching.membership, p.worker.grpc, p.worker.membership, ...p.history.flatMap((h) => [h.grpc, h.membership]), p.server];
}

/** The Temporal processes of the cluster: name, service, that process's history ports. */
export const TEMPORAL_PROCESSES: readonly (readonly [string, 'history' | 'matching' | 'frontend' | 'worker', { grpc: number; membership: number }])[] = [
  ['history-1', 'history', CLUSTER_PORTS.history[0]],
  ['history-2', 'history', CLUSTER_PORTS.history[1]],
  ['matching', 'matching', CLUSTER_PORTS.history[0]],
  ['frontend', 'frontend', CLUSTER_PORTS.history[0]],
  ['worker', 'worker', CLUSTER_PORTS.history[0]],
];

/** The Temporal server and its SQL tool, built once from their Go module into ~/.cache/countersign (a few minutes). */
export function findOrBuildTemporalServer(log: (line: string) => void): { server: string; sql: string; module: string; schema: string } {
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'countersign', `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  const go = onPath('go');
  if (!existsSync(join(dir, 'server')) || !existsSync(join(dir, 'sql'))) {
    if (!go) throw new Error(`The Temporal server is not built and Go is not installed: run "GOBIN=${dir} go install ${TEMPORAL_SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION} ${TEMPORAL_SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}" where Go is.`);
    mkdirSync(dir, { recursive: true });
    const staging = mkdtempSync(join(dir, '.build-'));
    log(`Building the Temporal server ${TEMPORAL_SERVER_VERSION} and its SQL tool from their Go module into ${dir} (once; a few minutes)...`);
    const r = spawnSync(go, ['install', `${TEMPORAL_SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`, `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`], { env: { ...process.env, GOBIN: staging }, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error(`go install of the Temporal server failed (exit ${r.status}).`);
    for (const f of readdirSync(staging)) renameSync(join(staging, f), join(dir, f));
    rmSync(staging, { recursive: true, force: true });
  }
  const module = temporalServerModule();
  const schema = join(module, 'schema', 'postgresql', 'v12');
  return { server: join(dir, 'server'), sql: join(dir, 'sql'), module, schema };
}

/** The server's Go module in the module cache (go install leaves it there; else downloaded): its schemas and config templates. */
export function temporalServerModule(): string {
  const go = onPath('go');
  const modCache = go ? run(go, ['env', 'GOMODCACHE']).trim() : join(homedir(), 'go', 'pkg', 'mod');
  const module = join(modCache, `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`);
  if (!existsSync(join(module, 'go.mod'))) {
    if (!go) throw new Error(`The Temporal server's module is not in ${module}, and Go is not installed to download it.`);
    run(go, ['mod', 'download', `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`]);
  }
  return module;
}

export interface ClusterStack {
  /** Temporal's frontend (host:port). */
  temporalAddress: string;
  /** The countersign server's URL. */
  url: string;
  /** The workers' COUNTERSIGN_HOME (layer key, database password, the dev principals' keys). */
  home: string;
  /** The server's own COUNTERSIGN_HOME (session secret, start key). */
  serverHome: string;
  policyFile: string;
  dir: string;
  /** Every process, by name: postgres, frontend, matching, worker, history-1, history-2, countersign-server, countersign-worker-1, countersign-worker-2. */
  processes: Map<string, ChildProcess>;
  stop(): Promise<void>;
  /** Starts a process of the stack again, as it was started (after a test killed it). */
  restart(name: string): ChildProcess;
  /** Stops PostgreSQL (fast shutdown) and waits for it; restart('postgres') starts it again. */
  stopPostgres(): Promise<void>;
  /** countersign's database in the cluster's PostgreSQL: the COUNTERSIGN_DATABASE_* settings of the workers, the server and setup. */
  store: StoreProvision;
}

interface ProcessOptions {
  /** Run as this user (through runuser; we are root). */
  user?: string;
  /** Run as this uid and gid, with no supplementary groups (set by Node before exec: the pid is the process's own). */
  ids?: { uid: number; gid: number };
  /** Our whole environment, not only PATH (the countersign processes: NODE_OPTIONS and the like apply). */
  inheritEnv?: boolean;
}

export interface ClusterOptions {
  /** Where data, configuration and logs live (git-ignored .countersign/cluster by default). */
  dir?: string;
  log?: (line: string) => void;
  /** The countersign server and workers too (default true). */
  countersign?: boolean;
}

export async function startClusterStack(options: ClusterOptions = {}): Promise<ClusterStack> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = options.dir ?? join(ROOT, '.countersign', 'cluster');
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const bins = findOrBuildTemporalServer(log);
  const temporalCli = findOrBuildTemporalCli({ log });
  const processes = new Map<string, ChildProcess>();
  const specs = new Map<string, [string, string[], NodeJS.ProcessEnv, ProcessOptions]>();
  /**
   * Temporal and PostgreSQL get only PATH and what is given here: a stray PROMETHEUS_ENDPOINT, PPROF_PORT or
   * DBNAME in our environment would change what is tested, and root's environment is not the database user's business.
   */
  const startProcess = (name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}, options: ProcessOptions = {}) => {
    specs.set(name, [command, args, env, options]);
    const out = join(logs, `${name}.log`);
    const [cmd, argv] = options.user ? ['runuser', ['-u', options.user, '--', command, ...args]] : [command, args];
    const base = options.inheritEnv ? process.env : { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: options.user ? '/' : (process.env.HOME ?? '/'), LANG: 'C.UTF-8' };
    const child = spawn(cmd, argv, { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(options.ids ?? {}) });
    const sink = (chunk: Buffer) => writeFileSync(out, chunk, { flag: 'a' });
    child.stdout!.on('data', sink);
    child.stderr!.on('data', sink);
    child.on('error', (err) => writeFileSync(out, `could not start ${command}: ${err.message}\n`, { flag: 'a' }));
    processes.set(name, child);
    return child;
  };
  let stopPostgres = async (): Promise<void> => undefined;
  const stop = async () => {
    // countersign first, then Temporal, then the database (through pg_ctl: a signal to runuser would not reach it).
    for (const name of [...processes.keys()].reverse()) {
      const child = processes.get(name)!;
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      if (name === 'postgres') await stopPostgres().catch(() => child.kill('SIGTERM'));
      else child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  };

  try {
    // Fixed ports: whatever already listens there (another cluster, a bench run) would be mistaken for ours.
    const taken = (await Promise.all(clusterPorts().map(async (port) => ((await listening(port)) ? port : undefined)))).filter((port) => port !== undefined);
    if (taken.length) throw new Error(`Ports ${taken.join(', ')} on 127.0.0.1 are in use: is another npm run cluster, test:cluster or bench -- --cluster running? They use the same ports, one at a time.`);
    // PostgreSQL refuses to run as root: as root, it runs as the postgres user (Debian's package creates it).
    const pgd = initPostgres(dir, log);
    const { password } = pgd;
    const [postgresProgram, postgresArgs] = postgresCommand(pgd, CLUSTER_PORTS.postgres, POSTGRES_MAX_CONNECTIONS);
    startProcess('postgres', postgresProgram, postgresArgs, {}, { user: pgd.user });
    /** PostgreSQL's fast shutdown, until it has exited. */
    stopPostgres = async () => {
      const child = processes.get('postgres')!;
      const exited = child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
      stopPostgresServer(pgd);
      await exited;
    };
    const sql = (db: string, ...args: string[]) => run(bins.sql, ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(CLUSTER_PORTS.postgres), '-u', 'temporal', '--db', db, ...args], { env: { SQL_PASSWORD: password } });
    await waitFor('PostgreSQL', () => postgresReady(pgd, CLUSTER_PORTS.postgres), 60, processes.get('postgres'));
    const marker = join(dir, 'schema.done');
    if (!existsSync(marker)) {
      log('Creating the temporal and temporal_visibility databases and their schemas...');
      for (const [db, schema] of [['temporal', 'temporal'], ['temporal_visibility', 'visibility']] as const) {
        sql(db, 'create-database');
        sql(db, 'setup-schema', '-v', '0.0');
        sql(db, 'update-schema', '-d', join(bins.schema, schema, 'versioned'));
      }
      writeFileSync(marker, new Date().toISOString());
    }

    // Temporal: one process per service, two for history, each configured by the server's own template.
    const config = join(dir, 'config');
    mkdirSync(config, { recursive: true });
    // Written, not copied: the module cache's files are read-only, and a copy would keep that mode.
    writeFileSync(join(config, 'docker.yaml'), readFileSync(join(bins.module, 'config', 'docker.yaml')));
    writeFileSync(join(dir, 'dynamicconfig.yaml'), readFileSync(DYNAMIC_CONFIG_FILE));
    const startTemporal = ([name, service, history]: (typeof TEMPORAL_PROCESSES)[number]) =>
      startProcess(name, bins.server, ['-r', dir, '-c', 'config', '-e', 'docker', '--allow-no-auth', 'start', '--service', service], { ...TEMPORAL_SETTINGS, ...temporalPlacement(dir, history, password) });
    // The first process writes the cluster's metadata into a new database; 1.29 processes starting
    // alongside it fail with "failed to initialize current cluster metadata" (compose restarts them;
    // here the others wait until the first serves).
    const [first, ...rest] = TEMPORAL_PROCESSES;
    startTemporal(first!);
    await waitFor(`Temporal's ${first![0]}`, () => listening(first![2].grpc), 120, processes.get(first![0]));
    for (const next of rest) startTemporal(next);
    const temporalAddress = `127.0.0.1:${CLUSTER_PORTS.frontend.grpc}`;
    log(`Waiting for the Temporal frontend at ${temporalAddress}...`);
    await waitFor('the Temporal frontend', () => spawnSync(temporalCli, ['operator', 'cluster', 'health', '--address', temporalAddress]).stdout?.toString().includes('SERVING') ?? false, 120, processes.get('frontend'));
    const described = spawnSync(temporalCli, ['operator', 'namespace', 'describe', '--namespace', 'default', '--address', temporalAddress]);
    if (described.status !== 0) run(temporalCli, ['operator', 'namespace', 'create', '--namespace', 'default', '--retention', NAMESPACE_RETENTION, '--address', temporalAddress]);
    await waitFor('the default namespace', () => spawnSync(temporalCli, ['operator', 'namespace', 'describe', '--namespace', 'default', '--address', temporalAddress]).status === 0);
    // A new namespace reaches every frontend's cache within seconds: until then, registering search attributes is NOT_FOUND.
    const connection = await Connection.connect({ address: temporalAddress });
    try {
      await waitFor('the countersign search attributes', async () => Boolean(await registerSearchAttributes(connection, 'default')), 60);
      // ...and a registered attribute is accepted once the frontend's namespace cache has it: wait for a start that carries one.
      await waitFor('the search attributes to be accepted', () => searchAttributesAccepted(connection), 60);
    } finally {
      await connection.close();
    }

    const url = `http://127.0.0.1:${CLUSTER_PORTS.server}`;
    const layout = countersignLayout(dir, join(ROOT, 'examples'), temporalAddress, `127.0.0.1:${CLUSTER_PORTS.server}`);
    const { home, policyFile } = layout;
    // countersign's own database in the same PostgreSQL (issue 27): its roles' passwords live in each home, the server's owned by its user.
    log('Setting up countersign\'s database (the store: spends, evidence, the transparency log)...');
    const store = await provisionStore({
      port: CLUSTER_PORTS.postgres,
      superuserPasswordFile: pgd.passwordFile,
      workerPasswordFile: join(home, 'database.password'),
      serverPasswordFile: join(layout.serverHome, 'database.password'),
      ...(layout.serverUser ? { serverOwner: layout.serverUser } : {}),
    });
    if (options.countersign !== false) {
      const bin = join(ROOT, 'bin', 'countersign.js');
      if (!existsSync(join(home, 'keys', 'layer.key'))) run(process.execPath, [bin, 'keys', 'init'], { env: layout.workerEnv });
      const [workerEnv, serverEnv] = [{ ...layout.workerEnv, ...store.workerEnv }, { ...layout.serverEnv, ...store.serverEnv }];
      startProcess('countersign-server', process.execPath, [bin, 'server'], serverEnv, { inheritEnv: true, ...(layout.serverUser ? { ids: layout.serverUser } : {}) });
      startProcess('countersign-worker-1', process.execPath, [bin, 'worker'], workerEnv, { inheritEnv: true });
      startProcess('countersign-worker-2', process.execPath, [bin, 'worker'], workerEnv, { inheritEnv: true });
      await waitFor('the countersign server', async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true, 120);
      await waitFor('the countersign workers', () => ['countersign-worker-1', 'countersign-worker-2'].every((n) => readLog(logs, n).includes('countersign worker started')), 180);
    }
    const restart = (name: string) => {
      const spec = specs.get(name);
      if (!spec) throw new Error(`No cluster process is called ${name}.`);
      return startProcess(name, ...spec);
    };
    return { temporalAddress, url, home, serverHome: layout.serverHome, policyFile, dir, processes, stop, restart, stopPostgres, store };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Starts (and at once terminates) a workflow carrying a countersign search attribute: false while the server refuses it. */
async function searchAttributesAccepted(connection: Connection): Promise<boolean> {
  const workflowId = `countersign-cluster-probe-${randomBytes(6).toString('hex')}`;
  const handle = await new Client({ connection }).workflow.start('countersign-probe', { taskQueue: 'countersign-probe', workflowId, typedSearchAttributes: [{ key: SA.status, value: 'probe' }] });
  await handle.terminate('search attribute probe');
  return true;
}

function readLog(logs: string, name: string): string {
  const path = join(logs, `${name}.log`);
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}
