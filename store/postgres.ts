/**
 * The store in PostgreSQL (issue 27), for workers on several hosts: a spend is one row per workflow
 * id, so single use holds whichever host spends; evidence and the log are insert-only for the role
 * the processes use (store/migrations/0001_store.sql grants nothing else). node-postgres, no ORM:
 * each operation is one statement, or an insert and a read back.
 */
import pg from 'pg';
import type { DatabaseSettings } from '../config/database';
import { connectionConfig } from './connection';
import { checkCheckpoint, checkCursor, checkEdgeToken, checkEvidence, checkId, checkLeafData, checkPage, checkRange, checkSpend, cursorAfter } from './bounds';
import { StoreNotReady, StoreUnavailable } from './connection';
import { expectedVersion } from './migrate';
import { leafHash } from '../common/tlog/merkle';
import { CheckpointConflictError, EvidenceConflictError, LogDamagedError, StoreInputError, type AppendedLeaf, type EdgeTokenEntry, type LogCheckpoint, type SealedEvidence, type SpendEntry, type Store, type StoredEvidence } from './types';

/** A pool, or one client of it: what a write is run on. */
type Queryable = Pick<pg.Pool, 'query'>;

const TABLES = ['countersign.spends', 'countersign.evidence', 'countersign.log_leaves', 'countersign.log_checkpoints'];
const READ_TABLES = ['countersign.evidence', 'countersign.log_leaves', 'countersign.log_checkpoints'];
/** What the front door inserts into when it decides at the edge (issue 29; store/migrations/0003_edge.sql). */
const EDGE_TABLES = ['countersign.edge_tokens', 'countersign.spends', 'countersign.evidence', 'countersign.log_leaves'];
const ALL_TABLES = [...TABLES, 'countersign.edge_tokens'];

export interface PostgresOptions {
  /** Shown in pg_stat_activity: countersign-worker, countersign-server. */
  applicationName: string;
  /** 'write' (workers): INSERT and SELECT on every table; 'read' (the server): SELECT on evidence and the log; 'edge' (a server deciding at the edge): read, and INSERT into EDGE_TABLES. */
  access: 'write' | 'read' | 'edge';
  /** An idle connection failed (the database restarted): said once per failure, with no secret in it. */
  onError?: (message: string) => void;
}

/**
 * Opens the pool and checks, before any request is served: the schema is at the version these
 * sources expect, the role may do what `access` needs, and it may not update, delete or truncate
 * anything (a superuser or the tables' owner is refused: it could rewrite evidence).
 */
export async function postgresStore(settings: DatabaseSettings, options: PostgresOptions): Promise<Store> {
  const pool = new pg.Pool({ ...connectionConfig(settings), max: settings.poolSize, idleTimeoutMillis: 30_000, application_name: options.applicationName });
  pool.on('error', (err) => options.onError?.(`an idle connection to ${settings.display} failed: ${err.message}`));
  try {
    await checkReady(pool, settings, options.access);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  const location = (workflowId: string, runId: string) => `${settings.display}#countersign.evidence/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}`;
  const size = async () => Number((await pool.query<{ size: string }>('SELECT coalesce(max(leaf_index) + 1, 0) AS size FROM countersign.log_leaves')).rows[0]!.size);
  const checkpoint = (r: { tree_size: string; root_hash: Buffer; note: string }): LogCheckpoint => ({ treeSize: Number(r.tree_size), rootHash: new Uint8Array(r.root_hash), note: r.note });
  const leafIndex = async (hash: Uint8Array) => {
    const row = (await pool.query<{ leaf_index: string }>('SELECT leaf_index FROM countersign.log_leaves WHERE leaf_hash = $1', [Buffer.from(hash)])).rows[0];
    return row ? Number(row.leaf_index) : undefined;
  };
  const checkpointAt = async (treeSize: number) => {
    if (!Number.isSafeInteger(treeSize) || treeSize < 0) return undefined;
    const row = (await pool.query<{ tree_size: string; root_hash: Buffer; note: string }>('SELECT tree_size, root_hash, note FROM countersign.log_checkpoints WHERE tree_size = $1', [treeSize])).rows[0];
    return row ? checkpoint(row) : undefined;
  };

  return {
    description: settings.display,

    async recordSpend(entry) {
      checkSpend(entry);
      const inserted = await pool.query(
        'INSERT INTO countersign.spends (workflow_id, token_id, run_id, request_id, action_digest, spent_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workflow_id) DO NOTHING',
        [entry.workflowId, entry.tokenId, entry.runId, entry.requestId, entry.actionDigest, entry.spentAt],
      );
      if (inserted.rowCount === 1) return { recorded: true };
      const first = (await pool.query<{ run_id: string; token_id: string; spent_at: Date }>('SELECT run_id, token_id, spent_at FROM countersign.spends WHERE workflow_id = $1', [entry.workflowId])).rows[0];
      if (!first) throw new Error(`The spend of ${entry.workflowId.slice(0, 200)} conflicted, yet no spend is recorded for it.`);
      if (first.run_id === entry.runId && first.token_id === entry.tokenId) return { recorded: true };
      return { recorded: false, runId: first.run_id, spentAt: first.spent_at.toISOString() };
    },

    async getSpend(workflowId) {
      checkId('the workflow id', workflowId);
      const row = (await pool.query<{ workflow_id: string; token_id: string; run_id: string; request_id: string; action_digest: string; spent_at: Date }>('SELECT workflow_id, token_id, run_id, request_id, action_digest, spent_at FROM countersign.spends WHERE workflow_id = $1', [workflowId])).rows[0];
      return row ? ({ workflowId: row.workflow_id, tokenId: row.token_id, runId: row.run_id, requestId: row.request_id, actionDigest: row.action_digest, spentAt: row.spent_at.toISOString() } satisfies SpendEntry) : undefined;
    },

    async putEdgeToken(e) {
      checkEdgeToken(e);
      const inserted = await pool.query('INSERT INTO countersign.edge_tokens (token_hash, token_id, workflow_id, request_id, expires_at, record) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING', [e.tokenHash, e.tokenId, e.workflowId, e.requestId, e.expiresAt, e.record]);
      if (inserted.rowCount !== 1) throw new EvidenceConflictError(`An edge token with this hash or id is already stored (token ${e.tokenId}).`);
    },

    async edgeMinted(workflowId) {
      checkId('the workflow id', workflowId);
      return (await pool.query('SELECT 1 FROM countersign.edge_tokens WHERE workflow_id = $1 LIMIT 1', [workflowId])).rowCount === 1;
    },

    async getEdgeToken(tokenHash) {
      if (!/^[0-9a-f]{64}$/.test(tokenHash)) return undefined;
      const row = (await pool.query<{ token_hash: string; token_id: string; workflow_id: string; request_id: string; expires_at: Date; record: string }>('SELECT token_hash, token_id, workflow_id, request_id, expires_at, record FROM countersign.edge_tokens WHERE token_hash = $1', [tokenHash])).rows[0];
      return row ? ({ tokenHash: row.token_hash, tokenId: row.token_id, workflowId: row.workflow_id, requestId: row.request_id, expiresAt: row.expires_at.toISOString(), record: row.record } satisfies EdgeTokenEntry) : undefined;
    },

    async putEvidence(e) {
      checkEvidence(e);
      return { created: await insertEvidence(pool, e), location: location(e.workflowId, e.runId) };
    },

    // One statement, so one transaction and one round trip: no bundle is ever stored without its leaf. The leaf's advisory lock (0001_store.sql) is taken last.
    async sealEvidence(e, leafData) {
      checkEvidence(e);
      checkLeafData(leafData);
      const hash = leafHash(leafData);
      const row = (await pool.query<{ created: boolean; same: boolean; leaf_index: string | null }>(SEAL, [e.workflowId, e.runId, e.requestId, e.bundleDigest, e.text, Buffer.from(hash), Buffer.from(leafData)])).rows[0]!;
      const done = (leaf: AppendedLeaf) => ({ created: row.created, location: location(e.workflowId, e.runId), leaf });
      if (row.leaf_index !== null) return done({ index: Number(row.leaf_index), hash, appended: true });
      // The bundle was there already: the same one (a retry, or the same seal committed by another attempt after this statement began) gets its leaf; another is a conflict.
      if (!row.same) await insertEvidence(pool, e);
      return done(await insertLeaf(pool, leafData));
    },

    async listBundles(after, limit) {
      const from = checkCursor(after, limit);
      const rows = (
        await pool.query<{ workflow_id: string; run_id: string; request_id: string; bundle_digest: string }>(
          `SELECT workflow_id, run_id, request_id, bundle_digest FROM countersign.evidence ${from ? 'WHERE (workflow_id, run_id) > ($2, $3)' : ''} ORDER BY workflow_id, run_id LIMIT $1`,
          from ? [limit + 1, ...from] : [limit + 1],
        )
      ).rows;
      const entries = rows.slice(0, limit).map((r) => ({ workflowId: r.workflow_id, runId: r.run_id, requestId: r.request_id, bundleDigest: r.bundle_digest }));
      const last = entries.at(-1);
      return rows.length > limit && last ? { entries, next: cursorAfter([last.workflowId, last.runId]) } : { entries };
    },

    async getEvidence(workflowId, runId) {
      checkId('the workflow id', workflowId);
      if (runId !== undefined) checkId('the run id', runId, 128);
      const row = (
        await pool.query<{ workflow_id: string; run_id: string; request_id: string; bundle_digest: string; bundle: string; sealed_at: Date }>(
          `SELECT workflow_id, run_id, request_id, bundle_digest, bundle, sealed_at FROM countersign.evidence WHERE workflow_id = $1 ${runId !== undefined ? 'AND run_id = $2' : ''} ORDER BY sealed_at DESC, run_id LIMIT 1`,
          runId !== undefined ? [workflowId, runId] : [workflowId],
        )
      ).rows[0];
      if (!row) return undefined;
      return { workflowId: row.workflow_id, runId: row.run_id, requestId: row.request_id, bundleDigest: row.bundle_digest, text: row.bundle, sealedAt: row.sealed_at.toISOString() } satisfies StoredEvidence;
    },

    async workflowsOfRequest(requestId, limit) {
      checkId('the request id', requestId, 128);
      const rows = (await pool.query<{ workflow_id: string }>('SELECT DISTINCT workflow_id FROM countersign.evidence WHERE request_id = $1 ORDER BY workflow_id LIMIT $2', [requestId, Math.max(1, Math.min(limit, 10))])).rows;
      return rows.map((r) => r.workflow_id);
    },

    async listEvidence(page) {
      const since = new Date(checkPage(page));
      const after = page.cursor === undefined ? undefined : readCursor(page.cursor);
      const rows = (
        await pool.query<{ workflow_id: string; run_id: string; request_id: string; bundle_digest: string; bundle: string; sealed_at: Date; sealed_key: string }>(
          `SELECT workflow_id, run_id, request_id, bundle_digest, bundle, sealed_at, to_char(sealed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS sealed_key
           FROM countersign.evidence WHERE sealed_at >= $1 ${after ? 'AND (sealed_at, workflow_id, run_id) < ($3::timestamptz, $4, $5)' : ''}
           ORDER BY sealed_at DESC, workflow_id DESC, run_id DESC LIMIT $2`,
          after ? [since, page.limit + 1, ...after] : [since, page.limit + 1],
        )
      ).rows;
      const items = rows.slice(0, page.limit).map((r): StoredEvidence => ({ workflowId: r.workflow_id, runId: r.run_id, requestId: r.request_id, bundleDigest: r.bundle_digest, text: r.bundle, sealedAt: r.sealed_at.toISOString() }));
      const last = rows.length > page.limit ? rows[page.limit - 1]! : undefined;
      return last ? { items, next: Buffer.from(JSON.stringify([last.sealed_key, last.workflow_id, last.run_id])).toString('base64url') } : { items };
    },

    logSize: size,

    async readLeaves(start, end) {
      checkRange(start, end, await size());
      if (start === end) return [];
      const rows = (await pool.query<{ leaf_index: string; leaf_data: Buffer; leaf_hash: Buffer }>('SELECT leaf_index, leaf_data, leaf_hash FROM countersign.log_leaves WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index', [start, end])).rows;
      if (rows.length !== end - start || rows.some((r, i) => Number(r.leaf_index) !== start + i)) throw new LogDamagedError(`Leaves ${start} to ${end - 1} are not all in the log at ${settings.display}: it has been tampered with.`);
      return rows.map((r) => ({ index: Number(r.leaf_index), data: new Uint8Array(r.leaf_data), hash: new Uint8Array(r.leaf_hash) }));
    },

    leafIndex,

    async appendLeaf(data) {
      checkLeafData(data);
      return insertLeaf(pool, data);
    },

    async putCheckpoint(c) {
      checkCheckpoint(c);
      const inserted = await pool.query('INSERT INTO countersign.log_checkpoints (tree_size, root_hash, note) VALUES ($1, $2, $3) ON CONFLICT (tree_size) DO NOTHING', [c.treeSize, Buffer.from(c.rootHash), c.note]);
      if (inserted.rowCount === 1) return;
      const stored = await checkpointAt(c.treeSize);
      if (!stored || !Buffer.from(stored.rootHash).equals(c.rootHash) || stored.note !== c.note) {
        throw new CheckpointConflictError(`A different checkpoint of tree size ${c.treeSize} is stored already: a checkpoint is never replaced.`);
      }
    },

    async latestCheckpoint() {
      const row = (await pool.query<{ tree_size: string; root_hash: Buffer; note: string }>('SELECT tree_size, root_hash, note FROM countersign.log_checkpoints ORDER BY tree_size DESC LIMIT 1')).rows[0];
      return row ? checkpoint(row) : undefined;
    },

    checkpointAt,

    async close() {
      await pool.end();
    },
  };
}

/** A listing's cursor back to (sealed_at, workflow_id, run_id): only the shape this store gives. */
function readCursor(cursor: string): [string, string, string] {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const ok = Array.isArray(key) && key.length === 3 && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(String(key[0])) && key.every((k) => typeof k === 'string' && k.length > 0 && k.length <= 1000 && !k.includes('\0'));
  if (!ok) throw new StoreInputError("A listing's cursor is not one this store gave.");
  return key as [string, string, string];
}

/**
 * A seal as one statement: the bundle if its run has none; the leaf if the bundle is now this one
 * (inserted here, or the same text there before); and which of those happened.
 */
const SEAL = `
WITH e AS (
  INSERT INTO countersign.evidence (workflow_id, run_id, request_id, bundle_digest, bundle) VALUES ($1::text, $2::text, $3::text, $4::text, $5::text)
  ON CONFLICT (workflow_id, run_id) DO NOTHING RETURNING 1
), same AS (
  SELECT 1 FROM countersign.evidence WHERE workflow_id = $1::text AND run_id = $2::text AND bundle = $5::text
), l AS (
  INSERT INTO countersign.log_leaves (leaf_hash, leaf_data) SELECT $6::bytea, $7::bytea WHERE EXISTS (SELECT 1 FROM e) OR EXISTS (SELECT 1 FROM same)
  ON CONFLICT (leaf_hash) DO NOTHING RETURNING leaf_index
)
SELECT EXISTS (SELECT 1 FROM e) AS created, EXISTS (SELECT 1 FROM same) AS same, (SELECT leaf_index FROM l) AS leaf_index`;

/** Inserts a bundle once: true when this call stored it; the same text again is false; other text for the run is EvidenceConflictError. */
async function insertEvidence(db: Queryable, e: SealedEvidence): Promise<boolean> {
  const inserted = await db.query(
    'INSERT INTO countersign.evidence (workflow_id, run_id, request_id, bundle_digest, bundle) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workflow_id, run_id) DO NOTHING',
    [e.workflowId, e.runId, e.requestId, e.bundleDigest, e.text],
  );
  if (inserted.rowCount === 1) return true;
  const stored = (await db.query<{ bundle: string }>('SELECT bundle FROM countersign.evidence WHERE workflow_id = $1 AND run_id = $2', [e.workflowId, e.runId])).rows[0];
  if (stored?.bundle !== e.text) throw new EvidenceConflictError(`Evidence for run ${e.runId} of ${e.workflowId} is already stored and differs: it is never overwritten.`);
  return false;
}

/** Appends a leaf, its index the database's (the trigger in 0001_store.sql); a leaf already there keeps its own. */
async function insertLeaf(db: Queryable, data: Uint8Array): Promise<AppendedLeaf> {
  const hash = leafHash(data);
  const inserted = (await db.query<{ leaf_index: string }>('INSERT INTO countersign.log_leaves (leaf_hash, leaf_data) VALUES ($1, $2) ON CONFLICT (leaf_hash) DO NOTHING RETURNING leaf_index', [Buffer.from(hash), Buffer.from(data)])).rows[0];
  if (inserted) return { index: Number(inserted.leaf_index), hash, appended: true };
  const row = (await db.query<{ leaf_index: string }>('SELECT leaf_index FROM countersign.log_leaves WHERE leaf_hash = $1', [Buffer.from(hash)])).rows[0];
  if (!row) throw new Error('A leaf conflicted with one in the log, yet the log does not hold it.');
  return { index: Number(row.leaf_index), hash, appended: false };
}

async function checkReady(pool: pg.Pool, settings: DatabaseSettings, access: 'write' | 'read' | 'edge'): Promise<void> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw new StoreUnavailable(settings, err);
  }
  try {
    let version: number;
    try {
      version = Number((await client.query<{ v: number | null }>('SELECT max(version) AS v FROM countersign.schema_migrations')).rows[0]!.v ?? 0);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === '3F000' || code === '42P01') throw new StoreNotReady(`The database ${settings.display} has no countersign schema: run countersign setup as its owner.`);
      if (code === '42501') throw new StoreNotReady(`Role ${settings.connection.user} may not read countersign's tables in ${settings.display}: run countersign setup --${access === 'write' ? 'writer' : access} ${settings.connection.user}.`);
      throw err;
    }
    if (version < expectedVersion()) throw new StoreNotReady(`The database ${settings.display} has countersign's migrations up to ${version}, and this countersign needs ${expectedVersion()}: run countersign setup.`);
    const tables = access === 'write' ? TABLES : READ_TABLES;
    const rights = (
      await client.query<{ rewrites: boolean }>(
        "SELECT bool_or(has_table_privilege(t, 'UPDATE') OR has_table_privilege(t, 'DELETE') OR has_table_privilege(t, 'TRUNCATE')) AS rewrites FROM unnest($1::text[]) AS t",
        [ALL_TABLES],
      )
    ).rows[0]!;
    if (rights.rewrites) {
      throw new StoreNotReady(`Role ${settings.connection.user} may update, delete or truncate countersign's tables in ${settings.display} (a superuser, the owner, or granted so): connect the processes as a role that may only insert and read (countersign setup --writer ROLE).`);
    }
    const enough = (
      await client.query<{ ok: boolean }>(`SELECT bool_and(has_table_privilege(t, 'SELECT')${access === 'write' ? " AND has_table_privilege(t, 'INSERT')" : ''}) AS ok FROM unnest($1::text[]) AS t`, [tables])
    ).rows[0]!;
    if (!enough.ok) throw new StoreNotReady(`Role ${settings.connection.user} may not ${access === 'write' ? 'insert into and read' : 'read'} countersign's tables in ${settings.display}: run countersign setup --${access === 'write' ? 'writer' : access} ${settings.connection.user}.`);
    if (access === 'edge') {
      const inserts = (await client.query<{ ok: boolean }>("SELECT bool_and(has_table_privilege(t, 'INSERT') AND has_table_privilege(t, 'SELECT')) AS ok FROM unnest($1::text[]) AS t", [EDGE_TABLES])).rows[0]!;
      if (!inserts.ok) throw new StoreNotReady(`Role ${settings.connection.user} may not record edge allows in ${settings.display}: run countersign setup --edge ${settings.connection.user}.`);
    }
  } finally {
    client.release();
  }
}
