/**
 * Edge allows on PostgreSQL (issue 29): two countersign server instances, each with its own pool as
 * the edge role, on one database — the ledger alone holds single use, there is no workflow to reset —
 * and what that role may not do. Run alone (node --import tsx --test test/edge.cluster.ts) it starts
 * a PostgreSQL of its own and a Temporal dev server (no worker: an edge allow needs none).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { withDevCredentials } from '../cli/dev-credentials';
import { actionDigest } from '../common/digest';
import type { SubmitState } from '../common/views';
import { adminDatabaseSettings, databaseSettings } from '../config/database';
import { createLogger } from '../config/logger';
import { createKeyFile, loadKeyFile } from '../crypto/keys';
import { generateAgentKey, openToken } from '../crypto/tokens';
import { compilePolicy } from '../policy/load';
import { POSTGRES_SUPERUSER, provisionStore, startPostgres, type RunningPostgres, type StoreProvision } from '../scripts/postgres';
import { Approvals } from '../server/approvals';
import { startServer, type RunningServer } from '../server/main';
import { setupDatabase } from '../store/migrate';
import { postgresStore } from '../store/postgres';
import { StoreNotReady } from '../store/connection';
import type { Store } from '../store/types';
import { asRole } from './support/pg-role';
import { freePort } from './support/ports';
import { testEnvironment } from './support/server';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: support, sla: 1h }
groups:
  support: { members: [alice] }
rules:
  - id: lookups
    match: { action: crm.lookupCustomer }
    decision: allow
    edge: true
`;
const EDGE_ROLE_LOGIN = 'countersign_edge_server';

const dir = mkdtempSync(join(tmpdir(), 'countersign-edge-pg-'));
let own: RunningPostgres | undefined;
let provision: StoreProvision;
let env: TestWorkflowEnvironment;
let edgeEnv: Record<string, string>;
const opened: Store[] = [];
const servers: RunningServer[] = [];
let backend: Approvals;

before(async () => {
  const given = process.env.COUNTERSIGN_TEST_STORE;
  if (given) provision = JSON.parse(given) as StoreProvision;
  else {
    chmodSync(dir, 0o711);
    own = await startPostgres(join(dir, 'pg'), await freePort());
    provision = await provisionStore({ port: own.port, superuserPasswordFile: own.passwordFile, workerPasswordFile: join(dir, 'worker.password'), serverPasswordFile: join(dir, 'server.password') });
  }
  // A login role for the edge server, granted countersign_edge by setup, as an operator would.
  const passwordFile = join(dir, 'edge.password');
  writeFileSync(passwordFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
  await superuser((c) => c.query(`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${EDGE_ROLE_LOGIN}') THEN CREATE ROLE ${EDGE_ROLE_LOGIN} LOGIN; END IF; END $$`));
  await superuser((c) => c.query(`ALTER ROLE ${EDGE_ROLE_LOGIN} PASSWORD ${c.escapeLiteral(readFileSync(passwordFile, 'utf8'))}`));
  await setupDatabase(adminDatabaseSettings(provision.adminEnv)!, { edges: [EDGE_ROLE_LOGIN] });
  edgeEnv = { ...provision.serverEnv, COUNTERSIGN_DATABASE_USER: EDGE_ROLE_LOGIN, COUNTERSIGN_DATABASE_PASSWORD_FILE: passwordFile };
  env = await testEnvironment();
  backend = await Approvals.connect({ connection: env.connection, taskQueue: `edge-${randomUUID()}` });
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
  await env?.teardown();
  await own?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function superuser<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const admin = adminDatabaseSettings(provision.adminEnv)!.connection;
  const c = new pg.Client({ host: admin.host, port: admin.port, user: POSTGRES_SUPERUSER, database: admin.database, password: await admin.password!() });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}


async function edgeStore(): Promise<Store> {
  const store = await postgresStore(databaseSettings(edgeEnv)!, { applicationName: 'countersign-test-edge', access: 'edge' });
  opened.push(store);
  return store;
}

describe('edge allows on PostgreSQL', () => {
  test('two server instances, each with its own pool, on one database: every token is spent exactly once', { timeout: 120_000 }, async () => {
    const home = join(dir, 'home');
    const creds = withDevCredentials(POLICY, home, { agents: ['support-bot'] });
    const policy = compilePolicy(creds.policyText, 'policy.yaml');
    createKeyFile(join(home, 'keys', 'edge.key'));
    for (let i = 0; i < 2; i++) {
      const store = await edgeStore();
      servers.push(await startServer({ backend, policy, logger: createLogger({ level: 'silent' }), store, edge: { signer: loadKeyFile(join(home, 'keys', 'edge.key')), store }, sessionSecret: randomBytes(32), listen: '127.0.0.1:0', rateLimit: { perSecond: 1000, burst: 2000 } }));
    }
    const apiKey = creds.agentKeys.get('support-bot')!;
    const call = async (url: string, path: string, body: unknown) => {
      const res = await fetch(new URL(path, url), { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    for (let round = 0; round < 16; round++) {
      const key = generateAgentKey();
      const input = { taskId: `t-${randomUUID()}`, action: 'crm.lookupCustomer', summary: 'Look up', resource: { type: 'customer', id: 'C-1' }, payload: { customer: 'C-1' }, agentKey: key.publicKey };
      const submitted = await call(servers[round % 2]!.url, '/v1/requests', input);
      assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
      const state = submitted.body as unknown as SubmitState;
      const grant = state.outcome!.token!;
      const body = { token: openToken(key, grant.sealed!, state.workflowId, grant.tokenId), agentId: 'support-bot', taskId: input.taskId, actionDigest: actionDigest(input) };
      const answers = await Promise.all([0, 1, 0, 1, 0, 1].map((i) => call(servers[i]!.url, `/v1/requests/${state.requestId}/consume`, body)));
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409, 409, 409, 409, 409], JSON.stringify(answers.map((a) => a.body)));
      assert.ok(answers.filter((a) => a.status === 409).every((a) => a.body.code === 'TOKEN_CONSUMED'));
    }
    const spends = await superuser((c) => c.query<{ n: string }>("SELECT count(*) AS n FROM countersign.spends WHERE run_id LIKE 'edge-%'"));
    assert.equal(Number(spends.rows[0]!.n), 16, 'one spend per edge request, in the ledger');
    const bundles = await superuser((c) => c.query<{ n: string }>("SELECT count(*) AS n FROM countersign.evidence WHERE run_id LIKE 'edge-tok_%'"));
    assert.equal(Number(bundles.rows[0]!.n), 16, 'one sealed bundle per spend');
  });

  test('the edge role inserts and reads its records, and may not rewrite, delete, truncate or sign a checkpoint', async () => {
    const store = await edgeStore();
    assert.equal(await store.getEdgeToken('f'.repeat(64)), undefined);
    for (const sql of [
      "UPDATE countersign.edge_tokens SET record = '{}'",
      'DELETE FROM countersign.spends',
      'DELETE FROM countersign.evidence',
      'TRUNCATE countersign.log_leaves',
      "INSERT INTO countersign.log_checkpoints (tree_size, root_hash, note) VALUES (0, decode(repeat('00', 32), 'hex'), 'x')",
      // A workflow's rows (a Temporal run id, not edge-…): taking its bundle's place or spending its token. Row-level security (0004_edge_rows.sql).
      "INSERT INTO countersign.evidence (workflow_id, run_id, request_id, bundle_digest, bundle) VALUES ('cs-support-bot-0123456789abcdef', '3f2b7c1e-0000-4000-8000-000000000000', '0123456789abcdef', repeat('a', 64), '{}')",
      "INSERT INTO countersign.spends (workflow_id, token_id, run_id, request_id, action_digest, spent_at) VALUES ('cs-support-bot-0123456789abcdef', 'tok_x', '3f2b7c1e-0000-4000-8000-000000000000', '0123456789abcdef', repeat('a', 64), now())",
    ]) {
      await assert.rejects(asRole(edgeEnv, (c) => c.query(sql)), (err: unknown) => (err as { code?: string }).code === '42501', sql);
    }
    // The reader role (a server without an edge key) is refused the edge access with a sentence naming what to run.
    await assert.rejects(postgresStore(databaseSettings(provision.serverEnv)!, { applicationName: 'countersign-test-reader', access: 'edge' }), (err: unknown) => err instanceof StoreNotReady && /countersign setup --edge countersign_server/.test(err.message));
  });
});
