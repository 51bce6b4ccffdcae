/**
 * A PostgreSQL connection as one of countersign's own roles, from the env a process of that role is
 * given (what a compromised worker or server holds): for the cluster tests that try what a role may not do.
 */
import pg from 'pg';
import { databaseSettings } from '../../config/database';

export async function asRole<T>(roleEnv: NodeJS.ProcessEnv, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const s = databaseSettings(roleEnv)!.connection;
  const c = new pg.Client({ host: s.host, port: s.port, user: s.user, database: s.database, password: await s.password!() });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}
