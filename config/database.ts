/**
 * Where the store lives when it is PostgreSQL (issue 27): COUNTERSIGN_DATABASE_URL, or the parts
 * (COUNTERSIGN_DATABASE_HOST, _PORT, _NAME, _USER, _PASSWORD_FILE, _SSLMODE, _SSLROOTCERT) as the
 * cluster gives Temporal its database. `countersign setup` connects as the database's owner
 * (COUNTERSIGN_DATABASE_ADMIN_URL, or _ADMIN_USER and _ADMIN_PASSWORD_FILE with the same host);
 * workers and the server connect as roles that may only insert and read. A password never leaves
 * this module except to the driver: what logs and errors show is `display`, which has none.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ConfigError } from './env';

/** The connection as node-postgres takes it; the password is a function, so it is in no plain property and a rotated file is read again. */
export interface DatabaseConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: () => Promise<string>;
  ssl: false | { rejectUnauthorized: boolean; ca?: string };
}

export interface DatabaseSettings {
  connection: DatabaseConnection;
  /** postgresql://user@host:port/database: safe to log, with no password and no query. */
  display: string;
  /** Connections a process keeps open at most (COUNTERSIGN_DATABASE_POOL_SIZE, default 10). */
  poolSize: number;
}

const SSLMODES = ['disable', 'require', 'verify-full'] as const;
type SslMode = (typeof SSLMODES)[number];
const NAME = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;

const fail = (message: string) => new ConfigError(message);

/** The processes' connection (workers, server), or undefined when no database is configured: then the store is files. */
export function databaseSettings(env: NodeJS.ProcessEnv = process.env): DatabaseSettings | undefined {
  const url = value(env, 'COUNTERSIGN_DATABASE_URL');
  const host = value(env, 'COUNTERSIGN_DATABASE_HOST');
  if (url && host) throw fail('Set either COUNTERSIGN_DATABASE_URL or COUNTERSIGN_DATABASE_HOST (with _PORT, _NAME, _USER, _PASSWORD_FILE), not both.');
  if (url) return fromUrl(url, 'COUNTERSIGN_DATABASE_URL', env);
  if (!host) {
    const stray = ['PORT', 'NAME', 'USER', 'PASSWORD_FILE', 'SSLMODE', 'SSLROOTCERT'].find((p) => value(env, `COUNTERSIGN_DATABASE_${p}`));
    if (stray) throw fail(`COUNTERSIGN_DATABASE_${stray} is set, but neither COUNTERSIGN_DATABASE_URL nor COUNTERSIGN_DATABASE_HOST says where the database is.`);
    return undefined;
  }
  return fromParts(env, value(env, 'COUNTERSIGN_DATABASE_USER') ?? 'countersign', 'COUNTERSIGN_DATABASE_USER', value(env, 'COUNTERSIGN_DATABASE_PASSWORD_FILE'), 'COUNTERSIGN_DATABASE_PASSWORD_FILE');
}

/**
 * The owner's connection, for `countersign setup` only: COUNTERSIGN_DATABASE_ADMIN_URL, or
 * COUNTERSIGN_DATABASE_ADMIN_USER (and _ADMIN_PASSWORD_FILE) on the processes' host and database.
 */
export function adminDatabaseSettings(env: NodeJS.ProcessEnv = process.env): DatabaseSettings | undefined {
  const url = value(env, 'COUNTERSIGN_DATABASE_ADMIN_URL');
  if (url) {
    if (value(env, 'COUNTERSIGN_DATABASE_ADMIN_USER')) throw fail('Set either COUNTERSIGN_DATABASE_ADMIN_URL or COUNTERSIGN_DATABASE_ADMIN_USER, not both.');
    return fromUrl(url, 'COUNTERSIGN_DATABASE_ADMIN_URL', env);
  }
  const user = value(env, 'COUNTERSIGN_DATABASE_ADMIN_USER');
  if (!user) {
    if (value(env, 'COUNTERSIGN_DATABASE_ADMIN_PASSWORD_FILE')) throw fail('COUNTERSIGN_DATABASE_ADMIN_PASSWORD_FILE is set without COUNTERSIGN_DATABASE_ADMIN_USER.');
    return undefined;
  }
  const processes = databaseSettings(env);
  if (!processes) throw fail('COUNTERSIGN_DATABASE_ADMIN_USER is set, but neither COUNTERSIGN_DATABASE_URL nor COUNTERSIGN_DATABASE_HOST says where the database is.');
  const { host, port, database, ssl } = processes.connection;
  const password = value(env, 'COUNTERSIGN_DATABASE_ADMIN_PASSWORD_FILE');
  if (!NAME.test(user)) throw fail('COUNTERSIGN_DATABASE_ADMIN_USER must be a role name (letters, digits, _, $ or -, at most 63).');
  return settings({ host, port, database, user, ssl, ...(password ? { password: passwordFile(password, 'COUNTERSIGN_DATABASE_ADMIN_PASSWORD_FILE') } : {}) }, poolSize(env));
}

const value = (env: NodeJS.ProcessEnv, name: string) => (env[name] === '' ? undefined : env[name]);

function fromParts(env: NodeJS.ProcessEnv, user: string, userVar: string, password: string | undefined, passwordVar: string): DatabaseSettings {
  const host = value(env, 'COUNTERSIGN_DATABASE_HOST')!;
  if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]{1,253}|\/[^\0]{1,200})$/.test(host)) throw fail('COUNTERSIGN_DATABASE_HOST must be a host name, an IP address or a socket folder.');
  const port = portOf(value(env, 'COUNTERSIGN_DATABASE_PORT') ?? '5432', 'COUNTERSIGN_DATABASE_PORT');
  const database = value(env, 'COUNTERSIGN_DATABASE_NAME') ?? 'countersign';
  if (!NAME.test(database)) throw fail('COUNTERSIGN_DATABASE_NAME must be a database name (letters, digits, _, $ or -, at most 63).');
  if (!NAME.test(user)) throw fail(`${userVar} must be a role name (letters, digits, _, $ or -, at most 63).`);
  const ssl = sslOf(value(env, 'COUNTERSIGN_DATABASE_SSLMODE') ?? 'disable', value(env, 'COUNTERSIGN_DATABASE_SSLROOTCERT'), 'COUNTERSIGN_DATABASE_SSLMODE');
  return settings({ host: host.replace(/^\[|\]$/g, ''), port, database, user, ssl, ...(password ? { password: passwordFile(password, passwordVar) } : {}) }, poolSize(env));
}

/** A postgres:// URL, read here rather than by the driver, so that no error or log line can carry it whole. */
function fromUrl(text: string, name: string, env: NodeJS.ProcessEnv): DatabaseSettings {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail(`${name} is not a URL such as postgresql://countersign@db.example.com:5432/countersign.`); // the value is not repeated: it may hold a password
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') throw fail(`${name} must start with postgresql://, got ${url.protocol}//.`);
  if (!url.hostname) throw fail(`${name} names no host.`);
  const user = decodeURIComponent(url.username);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!NAME.test(user)) throw fail(`${name} must name a user (a role name).`);
  if (!NAME.test(database)) throw fail(`${name} must name a database, as in postgresql://user@host/countersign.`);
  const params = new Map(url.searchParams);
  const unknown = [...params.keys()].find((k) => k !== 'sslmode' && k !== 'sslrootcert');
  if (unknown) throw fail(`${name} has a parameter countersign does not read: ${unknown.slice(0, 40)} (only sslmode and sslrootcert).`);
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  return settings(
    {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: portOf(url.port || '5432', name),
      database,
      user,
      ssl: sslOf(params.get('sslmode') ?? 'disable', params.get('sslrootcert'), `${name}'s sslmode`),
      ...(password !== undefined ? { password: async () => password } : {}),
    },
    poolSize(env),
  );
}

function settings(connection: DatabaseConnection, pool: number): DatabaseSettings {
  const host = connection.host.includes(':') ? `[${connection.host}]` : connection.host;
  return { connection, display: `postgresql://${connection.user}@${host}:${connection.port}/${connection.database}`, poolSize: pool };
}

function portOf(text: string, name: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65535) throw fail(`${name} must give a port from 1 to 65535.`);
  return port;
}

function poolSize(env: NodeJS.ProcessEnv): number {
  const text = value(env, 'COUNTERSIGN_DATABASE_POOL_SIZE') ?? '10';
  if (!/^\d{1,3}$/.test(text) || Number(text) < 1 || Number(text) > 100) throw fail(`Environment variable COUNTERSIGN_DATABASE_POOL_SIZE must be a whole number from 1 to 100, got "${text.slice(0, 20)}".`);
  return Number(text);
}

function sslOf(mode: string, rootCert: string | undefined, name: string): DatabaseConnection['ssl'] {
  if (!(SSLMODES as readonly string[]).includes(mode)) throw fail(`${name} must be one of ${SSLMODES.join(', ')}.`); // the value is not repeated: in a URL it sits beside the password
  if ((mode as SslMode) === 'disable') return false;
  if ((mode as SslMode) === 'require') return { rejectUnauthorized: false };
  let ca: string | undefined;
  if (rootCert) {
    try {
      ca = readFileSync(rootCert, 'utf8');
    } catch (err) {
      throw fail(`The database's CA certificate ${rootCert} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`);
    }
  }
  return { rejectUnauthorized: true, ...(ca ? { ca } : {}) };
}

/** Read at every new connection, so a rotated password is picked up; checked once now, so a missing file stops the process at start. */
function passwordFile(path: string, name: string): () => Promise<string> {
  try {
    readFileSync(path);
  } catch (err) {
    throw fail(`${name} names ${path}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
  return async () => (await readFile(path, 'utf8')).trim();
}
