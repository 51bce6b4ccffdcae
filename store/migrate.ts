/**
 * `countersign setup` for the store: plain SQL migrations (store/migrations/NNNN_name.sql), applied in
 * order as the database's owner, each in its own transaction together with its row in
 * countersign.schema_migrations — so a migration is applied whole or not at all, and running setup
 * again applies nothing. Then the processes' login roles are made members of countersign_writer
 * (workers) or countersign_reader (the server). No ORM: the SQL in those files is what runs.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseSettings } from '../config/database';
import { StoreUnavailable, connectionConfig } from './connection';

export interface Migration {
  version: number;
  /** The file's name without .sql, e.g. 0001_store. */
  name: string;
  sql: string;
  /** SHA-256 of the file: a migration changed after it was applied is refused. */
  checksum: string;
}

export interface SetupReport {
  database: string;
  applied: string[];
  present: string[];
  granted: string[];
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Where the migrations are: beside this file, in the sources and in dist/ alike (worker/build.ts copies them). */
export const MIGRATIONS_DIR = join(__dirname, 'migrations');
/** Serialises two setups run at once (session-scoped advisory lock; SHA-256("countersign/setup"), first 8 bytes). */
const SETUP_LOCK = '-9014892705119081896';
/** The group roles the first migration creates; a login role is made a member of one. */
export const WRITER_ROLE = 'countersign_writer';
export const READER_ROLE = 'countersign_reader';
/** The role of a server that decides edge allows (0003_edge.sql): it reads, and records its own edge tokens, spends and bundles. */
export const EDGE_ROLE = 'countersign_edge';
const ROLE_NAME = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;

/** The migrations in `dir`, in order: files named NNNN_name.sql, versions 1, 2, 3… with none missing. */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  return files.map((file, i) => {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m || Number(m[1]) !== i + 1) throw new MigrationError(`Migration files are named 0001_name.sql, 0002_name.sql, … with no gaps; ${file} is not the next one.`);
    const sql = readFileSync(join(dir, file), 'utf8');
    // Each migration runs inside the transaction setup opens: a migration that commits on its own could be half applied.
    if (/^\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION)\s*(WORK|TRANSACTION)?\s*;/im.test(sql)) throw new MigrationError(`${file} controls its own transaction: setup runs each migration in one.`);
    return { version: i + 1, name: file.replace(/\.sql$/, ''), sql, checksum: createHash('sha256').update(sql).digest('hex') };
  });
}

/** The newest migration version these sources know: what a process checks the database has. */
export const expectedVersion = (migrations = loadMigrations()) => migrations.length;

/**
 * Applies what is missing, as the owner; refuses a database that has a migration changed since, or
 * one these sources do not know. Then grants the group roles to the named login roles.
 */
export async function setupDatabase(admin: DatabaseSettings, options: { writers?: string[]; readers?: string[]; edges?: string[]; migrations?: Migration[] } = {}): Promise<SetupReport> {
  const migrations = options.migrations ?? loadMigrations();
  const client = new pg.Client({ ...connectionConfig(admin), application_name: 'countersign-setup' });
  try {
    await client.connect();
  } catch (err) {
    throw new StoreUnavailable(admin, err);
  }
  const report: SetupReport = { database: admin.display, applied: [], present: [], granted: [] };
  try {
    await client.query('SELECT pg_advisory_lock($1)', [SETUP_LOCK]);
    await client.query('BEGIN');
    await client.query('CREATE SCHEMA IF NOT EXISTS countersign');
    await client.query('CREATE TABLE IF NOT EXISTS countersign.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    await client.query('COMMIT');
    const done = new Map((await client.query<{ version: number; name: string; checksum: string }>('SELECT version, name, checksum FROM countersign.schema_migrations ORDER BY version')).rows.map((r) => [r.version, r]));
    for (const [version, row] of done) {
      const known = migrations[version - 1];
      if (!known) throw new MigrationError(`The database has migration ${row.name}, which this countersign does not know: run setup from the newer countersign that applied it.`);
      if (known.checksum !== row.checksum) throw new MigrationError(`Migration ${known.name} has changed since it was applied to this database: a migration is never edited, a new one is added.`);
    }
    for (const m of migrations) {
      if (done.has(m.version)) {
        report.present.push(m.name);
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(m.sql);
        await client.query('INSERT INTO countersign.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new MigrationError(`Migration ${m.name} failed and was rolled back, nothing of it applied (${report.applied.length ? `applied before it: ${report.applied.join(', ')}` : 'nothing else was applied'}): ${(err as Error).message}`);
      }
      report.applied.push(m.name);
    }
    for (const [group, members] of [[WRITER_ROLE, options.writers ?? []], [READER_ROLE, options.readers ?? []], [EDGE_ROLE, options.edges ?? []]] as const) {
      for (const member of members) report.granted.push(await grant(client, group, member));
    }
    return report;
  } finally {
    await client.end().catch(() => undefined); // the session's advisory lock goes with it
  }
}

/** Makes `member` a member of `group`, after checking it is a login role that would not turn the grant into a bypass. */
async function grant(client: pg.Client, group: string, member: string): Promise<string> {
  if (!ROLE_NAME.test(member)) throw new MigrationError(`"${member.slice(0, 64)}" is not a role name.`);
  const role = (await client.query<{ rolsuper: boolean; rolbypassrls: boolean }>('SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1', [member])).rows[0];
  if (!role) throw new MigrationError(`There is no role ${member} in the database: create it (a login role with its own password) before setup grants it ${group}.`);
  if (role.rolsuper) throw new MigrationError(`Role ${member} is a superuser, which may update and delete evidence whatever is granted: give the countersign processes a role of their own.`);
  const owns = (await client.query<{ n: string }>("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'countersign' AND tableowner = $1", [member])).rows[0]!;
  if (Number(owns.n) > 0) throw new MigrationError(`Role ${member} owns countersign's tables, so it may update and delete them: run setup as the owner and give the processes another role.`);
  await client.query(`GRANT ${client.escapeIdentifier(group)} TO ${client.escapeIdentifier(member)}`);
  return `${group} to ${member}`;
}
