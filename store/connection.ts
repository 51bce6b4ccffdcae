/** Connecting to the store's database: the driver's settings from ours, and the two ways a connection is refused. */
import type pg from 'pg';
import type { DatabaseSettings } from '../config/database';

/** node-postgres settings from ours: bounded waits, so a hung database fails an activity instead of holding it. */
export function connectionConfig(s: DatabaseSettings): pg.ClientConfig {
  const { host, port, database, user, password, ssl } = s.connection;
  return { host, port, database, user, ...(password ? { password } : {}), ssl, connectionTimeoutMillis: 10_000, statement_timeout: 15_000, query_timeout: 20_000 };
}

/** The database cannot be reached (exit 4 in the CLI); the message names it without its password. */
export class StoreUnavailable extends Error {
  override name = 'StoreUnavailable';
  constructor(settings: DatabaseSettings, cause: unknown) {
    super(`Cannot reach the store's database ${settings.display}: ${(cause as Error)?.message ?? String(cause)}.`);
  }
}

/** The database answers but is not one a process may use: not set up, set up by an older countersign, or a role that could rewrite evidence. */
export class StoreNotReady extends Error {
  override name = 'StoreNotReady';
}

