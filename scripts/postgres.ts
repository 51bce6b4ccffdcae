/**
 * A private PostgreSQL from Debian's programs (DESIGN §8), and countersign's own database in it
 * (issue 27): what `npm run cluster`, `npm run test:cluster` and the store's tests run. The server
 * listens on 127.0.0.1 only, with a random superuser password kept 0600 beside the data; its Unix
 * socket is in a folder only the database's user can enter.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { onPath } from '../cli/temporal-cli';
import { adminDatabaseSettings } from '../config/database';
import { setupDatabase } from '../store/migrate';
import { aptInstall } from './apt';
import { run, waitFor } from './processes';

/** The superuser initdb creates: the cluster's Temporal connects as it (POSTGRES_USER=temporal, as in compose). */
export const POSTGRES_SUPERUSER = 'temporal';
/** countersign's database, and the login roles its workers and its server use (docker-compose.yml makes the same). */
export const STORE_DATABASE = 'countersign';
export const STORE_WRITER = 'countersign';
export const STORE_READER = 'countersign_server';

/** PostgreSQL's server programs: on PATH, else Debian's /usr/lib/postgresql/<version>/bin. */
export function postgresBin(installing = false): string {
  const initdb = onPath('initdb');
  if (initdb && onPath('postgres')) return dirname(realpathSync(initdb)); // Debian links them from /usr/lib/postgresql/<v>/bin
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  if (!installing) {
    // A fresh Debian CI machine: install Debian's postgresql (only its programs are used; its own cluster stays unused).
    const failure = aptInstall('postgresql', 'cluster');
    if (!failure) return postgresBin(true);
    throw new Error(`PostgreSQL is not installed and ${failure}: apt-get install postgresql (its server programs, initdb and postgres, are what the cluster runs).`);
  }
  throw new Error('PostgreSQL is not installed: apt-get install postgresql (its server programs, initdb and postgres, are what the cluster runs).');
}

export interface PostgresData {
  bin: string;
  data: string;
  socket: string;
  /** The superuser's password, 0600 beside the data. */
  passwordFile: string;
  password: string;
  /** The system user PostgreSQL runs as when we are root (it refuses to run as root). */
  user?: string;
}

/** Initialises a data folder under `dir` the first time (initdb, superuser `temporal` with a random password); reuses it after. */
export function initPostgres(dir: string, log: (line: string) => void): PostgresData {
  const bin = postgresBin();
  const user = process.getuid?.() === 0 ? 'postgres' : undefined;
  if (user && spawnSync('id', ['-u', user]).status !== 0) throw new Error('Running as root, the cluster runs PostgreSQL as the postgres user, which does not exist: apt-get install postgresql creates it.');
  const data = join(dir, 'postgres');
  const socket = join(dir, 'socket');
  mkdirSync(socket, { recursive: true });
  if (user) chmodSync(dir, 0o711); // the database's user must reach its folders inside
  // TCP connections need the superuser's password; the Unix socket, in a folder only the database's user can enter, is for pg_ctl.
  const passwordFile = join(dir, 'postgres.password');
  if (!existsSync(join(data, 'PG_VERSION'))) {
    mkdirSync(data, { recursive: true, mode: 0o700 });
    chmodSync(socket, 0o700);
    const owner = user ? ([Number(run('id', ['-u', user]).trim()), Number(run('id', ['-g', user]).trim())] as const) : undefined;
    if (owner) for (const d of [data, socket]) chownSync(d, ...owner);
    writeFileSync(passwordFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
    const pwfile = join(socket, 'initdb.pw'); // initdb reads it as the database's user (and wants an empty data folder)
    writeFileSync(pwfile, readFileSync(passwordFile), { mode: 0o600 });
    if (owner) chownSync(pwfile, ...owner);
    log(`Initialising PostgreSQL in ${data}...`);
    try {
      run(join(bin, 'initdb'), ['-D', data, '-U', POSTGRES_SUPERUSER, `--pwfile=${pwfile}`, '--auth-host=scram-sha-256', '--auth-local=trust', '--encoding=UTF8'], { user });
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  if (!existsSync(passwordFile)) throw new Error(`${data} was initialised by an earlier countersign without a database password (any local user could connect): remove ${dir} and start again.`);
  return { bin, data, socket, passwordFile, password: readFileSync(passwordFile, 'utf8').trim(), ...(user ? { user } : {}) };
}

/** The server's command line: 127.0.0.1 only, on `port`. */
export function postgresCommand(pgd: PostgresData, port: number, maxConnections: number): [string, string[]] {
  return [join(pgd.bin, 'postgres'), ['-D', pgd.data, '-p', String(port), '-k', pgd.socket, '-c', 'listen_addresses=127.0.0.1', '-c', `max_connections=${maxConnections}`]];
}

/** PostgreSQL's fast shutdown (pg_ctl: a signal to runuser would not reach the server). */
export function stopPostgresServer(pgd: PostgresData): void {
  run(join(pgd.bin, 'pg_ctl'), ['-D', pgd.data, 'stop', '-m', 'fast'], { user: pgd.user });
}

export const postgresReady = (pgd: PostgresData, port: number) => spawnSync(join(pgd.bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]).status === 0;

export interface RunningPostgres extends PostgresData {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A PostgreSQL of its own for a test file: initialised in `dir`, on `port`, stopped by `stop()`. */
export async function startPostgres(dir: string, port: number, log: (line: string) => void = () => undefined): Promise<RunningPostgres> {
  const pgd = initPostgres(dir, log);
  const [command, args] = postgresCommand(pgd, port, 100);
  const [cmd, argv] = pgd.user ? ['runuser', ['-u', pgd.user, '--', command, ...args]] : [command, args];
  const child = spawn(cmd, argv, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const output: string[] = [];
  child.stderr!.on('data', (chunk) => output.push(String(chunk)));
  await waitFor('PostgreSQL', () => postgresReady(pgd, port), 60, child).catch((err) => {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${output.join('').slice(-2000)}`);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    ...pgd,
    port,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        stopPostgresServer(pgd);
      } catch {
        child.kill('SIGTERM');
      }
      await exited;
    },
  };
}

/** Environment variables (COUNTERSIGN_DATABASE_*) for each kind of countersign process. */
export interface StoreProvision {
  /** The workers: role countersign, a member of countersign_writer (insert and read). */
  workerEnv: Record<string, string>;
  /** The server: role countersign_server, a member of countersign_reader (read evidence and the log). */
  serverEnv: Record<string, string>;
  /** `countersign setup`: the database's owner. */
  adminEnv: Record<string, string>;
}

/**
 * countersign's own database in a PostgreSQL: the database, a login role for the workers and one for
 * the server, each with a random password in its own 0600 file (kept across runs), then the store's
 * migrations and grants — the code `countersign setup` runs — as the superuser, who owns the tables.
 */
export async function provisionStore(options: {
  port: number;
  superuserPasswordFile: string;
  workerPasswordFile: string;
  serverPasswordFile: string;
  /** Owner of the server's password file (the server runs as nobody when we are root). */
  serverOwner?: { uid: number; gid: number };
  database?: string;
}): Promise<StoreProvision> {
  const database = options.database ?? STORE_DATABASE;
  // Five connections a process: the cluster's PostgreSQL takes 200, and Temporal's five processes keep up to 150 of them.
  const at = { COUNTERSIGN_DATABASE_HOST: '127.0.0.1', COUNTERSIGN_DATABASE_PORT: String(options.port), COUNTERSIGN_DATABASE_NAME: database, COUNTERSIGN_DATABASE_POOL_SIZE: '5' };
  const adminEnv = { ...at, COUNTERSIGN_DATABASE_ADMIN_USER: POSTGRES_SUPERUSER, COUNTERSIGN_DATABASE_ADMIN_PASSWORD_FILE: options.superuserPasswordFile };
  const passwordOf = (file: string, owner?: { uid: number; gid: number }) => {
    if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString('base64url'), { mode: 0o600 });
    chmodSync(file, 0o600);
    if (owner) chownSync(file, owner.uid, owner.gid);
    return readFileSync(file, 'utf8').trim();
  };
  const roles: [string, string][] = [
    [STORE_WRITER, passwordOf(options.workerPasswordFile)],
    [STORE_READER, passwordOf(options.serverPasswordFile, options.serverOwner)],
  ];
  const client = new pg.Client({ host: '127.0.0.1', port: options.port, database: 'postgres', user: POSTGRES_SUPERUSER, password: readFileSync(options.superuserPasswordFile, 'utf8').trim() });
  await client.connect();
  try {
    for (const [role, password] of roles) {
      const exists = (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;
      // The password is a literal here (utility statements take no parameters); statements are not logged.
      await client.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${client.escapeIdentifier(role)} LOGIN PASSWORD ${client.escapeLiteral(password)}`);
    }
    if ((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
  await setupDatabase(adminDatabaseSettings(adminEnv)!, { writers: [STORE_WRITER], readers: [STORE_READER] });
  return {
    workerEnv: { ...at, COUNTERSIGN_DATABASE_USER: STORE_WRITER, COUNTERSIGN_DATABASE_PASSWORD_FILE: options.workerPasswordFile },
    serverEnv: { ...at, COUNTERSIGN_DATABASE_USER: STORE_READER, COUNTERSIGN_DATABASE_PASSWORD_FILE: options.serverPasswordFile },
    adminEnv,
  };
}
