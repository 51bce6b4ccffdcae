/**
 * The PostgreSQL store (issue 27), against a real PostgreSQL and real countersign processes. Run by
 * `npm run test:cluster` against the cluster's PostgreSQL (COUNTERSIGN_TEST_STORE) and Temporal; run
 * alone (node --import tsx --test test/store.cluster.ts) it starts a PostgreSQL of its own and a
 * Temporal dev server. What it shows: the store contract; the database refusing the processes' roles
 * any UPDATE, DELETE or TRUNCATE; `countersign setup` applying each migration whole or not at all;
 * single use across two workers with different homes under a workflow reset; evidence served and
 * verified after Temporal has deleted the run; no password in anything a process prints.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ConsumeRefusedError } from '../client/sdk';
import { adminDatabaseSettings, databaseSettings, type DatabaseSettings } from '../config/database';
import type { ApprovalOutcome } from '../common/views';
import { loadMigrations, setupDatabase, MigrationError, type Migration } from '../store/migrate';
import { postgresStore } from '../store/postgres';
import type { Store } from '../store/types';
import { POSTGRES_SUPERUSER, provisionStore, startPostgres, STORE_READER, STORE_WRITER, type RunningPostgres, type StoreProvision } from '../scripts/postgres';
import { eventually } from './support/eventually';
import { FINANCE_TWICE_POLICY } from './support/refund-policy';
import { asRole } from './support/pg-role';
import { freePort } from './support/ports';
import { decideSeen } from './support/review';
import { testEnvironment } from './support/server';
import { action, startStack, type Stack } from './support/stack';
import { storeContract } from './support/store-contract';
import { startWorkerProcess, type WorkerProcess } from './support/worker-process';

const BIN = join(__dirname, '..', 'bin', 'countersign.js');
const EventType = temporal.api.enums.v1.EventType;

const dir = mkdtempSync(join(tmpdir(), 'countersign-store-'));
let own: RunningPostgres | undefined;
let provision: StoreProvision;
let env: TestWorkflowEnvironment;
const databases: string[] = [];
const opened: Store[] = [];
/** The workers' settings for the database each contract store was opened on. */
const databasesOf = new WeakMap<Store, NodeJS.ProcessEnv>();

/** The cluster's database settings (npm run test:cluster), or a PostgreSQL of this file's own. */
before(async () => {
  const given = process.env.COUNTERSIGN_TEST_STORE;
  if (given) provision = JSON.parse(given) as StoreProvision;
  else {
    chmodSync(dir, 0o711); // PostgreSQL runs as its own user (we may be root) and must pass through to its folder
    own = await startPostgres(join(dir, 'pg'), await freePort());
    provision = await provisionStore({ port: own.port, superuserPasswordFile: own.passwordFile, workerPasswordFile: join(dir, 'worker.password'), serverPasswordFile: join(dir, 'server.password') });
    // The stacks this file starts (test/support/stack.ts) then run on this database too, as under test:cluster.
    process.env.COUNTERSIGN_TEST_STORE = JSON.stringify(provision);
  }
  env = await testEnvironment();
});
after(async () => {
  await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
  if (databases.length) await superuser(async (c) => {
    for (const db of databases) await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(db)} WITH (FORCE)`);
  });
  await env?.teardown();
  await own?.stop();
  if (own) delete process.env.COUNTERSIGN_TEST_STORE;
  rmSync(dir, { recursive: true, force: true });
});

/** A connection as the superuser, to the database `db`. */
async function superuser<T>(work: (c: pg.Client) => Promise<T>, db = 'postgres'): Promise<T> {
  const admin = adminDatabaseSettings(provision.adminEnv)!.connection;
  const c = new pg.Client({ host: admin.host, port: admin.port, user: POSTGRES_SUPERUSER, database: db, password: await admin.password!() });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

/** A new, empty database in the same PostgreSQL: its name, and the settings of each role for it. */
async function freshDatabase(): Promise<{ name: string; admin: DatabaseSettings; writer: NodeJS.ProcessEnv; reader: NodeJS.ProcessEnv }> {
  const name = `cs_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  await superuser((c) => c.query(`CREATE DATABASE ${name}`));
  databases.push(name);
  return { name, admin: adminDatabaseSettings({ ...provision.adminEnv, COUNTERSIGN_DATABASE_NAME: name })!, writer: { ...provision.workerEnv, COUNTERSIGN_DATABASE_NAME: name }, reader: { ...provision.serverEnv, COUNTERSIGN_DATABASE_NAME: name } };
}


async function openWriter(roleEnv: NodeJS.ProcessEnv): Promise<Store> {
  const store = await postgresStore(databaseSettings(roleEnv)!, { applicationName: 'countersign-test', access: 'write' });
  opened.push(store);
  return store;
}

function cli(args: string[], extra: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('COUNTERSIGN_DATABASE_')));
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, ...args], { env: { ...inherited, ...extra }, timeout: 120_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })),
  );
}

describe('the PostgreSQL store keeps the store contract', () => {
  storeContract(
    async () => {
      const db = await freshDatabase();
      await setupDatabase(db.admin, { writers: [STORE_WRITER], readers: [STORE_READER] });
      const store = await openWriter(db.writer);
      databasesOf.set(store, db.writer);
      return store;
    },
    // 32 sealers at once as two workers on two hosts: two pools of 16 connections, each append on its own connection.
    async (store, leaves) => {
      const hosts = await Promise.all([0, 1].map(() => openWriter({ ...databasesOf.get(store)!, COUNTERSIGN_DATABASE_POOL_SIZE: '16' })));
      const appended = await Promise.all(leaves.map((leaf, i) => hosts[i % 2]!.appendLeaf(leaf)));
      return appended.map((a) => a.index);
    },
  );
});
describe('the database refuses countersign\'s own roles what would rewrite the record', () => {
  test('as the workers\' role and as the server\'s: UPDATE, DELETE and TRUNCATE of evidence, leaves, checkpoints and spends are permission denied (42501)', async () => {
    const db = await freshDatabase();
    await setupDatabase(db.admin, { writers: [STORE_WRITER], readers: [STORE_READER] });
    const store = await openWriter(db.writer);
    const workflowId = `cs-bot-${randomUUID().slice(0, 8)}`;
    await store.putEvidence({ workflowId, runId: 'r1', requestId: 'a'.repeat(16), bundleDigest: 'b'.repeat(64), text: `{"workflowId":"${workflowId}"}` });
    await store.recordSpend({ workflowId, runId: 'r1', tokenId: 't', requestId: 'a'.repeat(16), actionDigest: 'd', spentAt: new Date().toISOString() });
    await store.appendLeaf(Buffer.from('leaf'));
    await store.putCheckpoint({ treeSize: 1, rootHash: new Uint8Array(32), note: 'note\n' });
    const attempts = {
      'countersign.evidence': ["UPDATE countersign.evidence SET bundle = '{}'", 'DELETE FROM countersign.evidence', 'TRUNCATE countersign.evidence'],
      'countersign.log_leaves': ["UPDATE countersign.log_leaves SET leaf_data = '\\x00'", 'DELETE FROM countersign.log_leaves', 'TRUNCATE countersign.log_leaves'],
      'countersign.log_checkpoints': ['UPDATE countersign.log_checkpoints SET tree_size = 0', 'DELETE FROM countersign.log_checkpoints', 'TRUNCATE countersign.log_checkpoints'],
      'countersign.spends': ["UPDATE countersign.spends SET run_id = 'r2'", 'DELETE FROM countersign.spends', 'TRUNCATE countersign.spends'],
    };
    for (const [role, roleEnv] of [[STORE_WRITER, db.writer], [STORE_READER, db.reader]] as const) {
      await asRole(roleEnv, async (c) => {
        for (const [table, statements] of Object.entries(attempts)) {
          for (const sql of statements) {
            await assert.rejects(c.query(sql), (err: { code?: string; message?: string }) => {
              assert.equal(err.code, '42501', `${role}: ${sql}: ${err.message}`);
              assert.match(err.message!, new RegExp(`permission denied for table ${table.split('.')[1]}`));
              return true;
            });
          }
        }
      });
    }
    // The server's role reads evidence and the log, and may not write a spend, evidence or a leaf, nor read the spends.
    await asRole(db.reader, async (c) => {
      assert.equal((await c.query('SELECT count(*)::int AS n FROM countersign.evidence')).rows[0].n, 1);
      for (const sql of [`INSERT INTO countersign.spends (workflow_id, token_id, run_id, request_id, action_digest, spent_at) VALUES ('cs-x', 't', 'r', 'q', 'd', now())`, "INSERT INTO countersign.log_leaves (leaf_hash, leaf_data) VALUES (sha256('\\x0001'::bytea), '\\x01')", 'SELECT * FROM countersign.spends']) {
        await assert.rejects(c.query(sql), (err: { code?: string }) => err.code === '42501', sql);
      }
    });
    // The workers' role appends, but the database picks the index and checks the hash: it cannot place a leaf or forge its hash.
    await asRole(db.writer, async (c) => {
      const placed = await c.query("INSERT INTO countersign.log_leaves (leaf_index, leaf_hash, leaf_data) VALUES (1000, sha256('\\x0002'::bytea), '\\x02') RETURNING leaf_index");
      assert.equal(Number(placed.rows[0].leaf_index), 1, 'the next index, not the one asked for');
      await assert.rejects(c.query("INSERT INTO countersign.log_leaves (leaf_hash, leaf_data) VALUES (sha256('\\x03'::bytea), '\\x03')"), (err: { code?: string }) => err.code === '23514', 'a leaf hash that is not SHA-256(0x00 ‖ data)');
    });
    assert.deepEqual((await store.readLeaves(0, 2)).map((l) => l.index), [0, 1]);
    // And a process connected as a role that could rewrite (here the owner) refuses to start.
    await assert.rejects(postgresStore(db.admin, { applicationName: 'test', access: 'write' }), (err: Error) => err.name === 'StoreNotReady' && /may update, delete or truncate/.test(err.message));
  });
});

describe('countersign setup', () => {
  test('twice: the second run applies nothing and exits 0; then a worker\'s role may insert and read', async () => {
    const db = await freshDatabase();
    const setupEnv = { ...provision.adminEnv, ...provision.workerEnv, COUNTERSIGN_DATABASE_NAME: db.name, TEMPORAL_ADDRESS: env.address };
    const first = await cli(['setup', '--reader', STORE_READER], setupEnv);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applied {2}0001_store/);
    assert.match(first.stdout, new RegExp(`granted {2}countersign_writer to ${STORE_WRITER}`), 'the processes\' role is the writer by default');
    assert.match(first.stdout, new RegExp(`granted {2}countersign_reader to ${STORE_READER}`));
    const appliedAt = await superuser(async (c) => (await c.query('SELECT version, applied_at FROM countersign.schema_migrations')).rows, db.name);
    const second = await cli(['setup', '--reader', STORE_READER, '--json'], setupEnv);
    assert.equal(second.code, 0, second.stderr);
    const report = JSON.parse(second.stdout) as { database: { applied: string[]; present: string[] } };
    assert.deepEqual([report.database.applied, report.database.present], [[], loadMigrations().map((m) => m.name)]);
    assert.deepEqual(await superuser(async (c) => (await c.query('SELECT version, applied_at FROM countersign.schema_migrations')).rows, db.name), appliedAt, 'nothing was applied again');
    const store = await openWriter(db.writer);
    assert.equal((await store.appendLeaf(Buffer.from('x'))).index, 0);
    // Setup refuses to hand a superuser the writer's group: the grants would mean nothing for it.
    const refused = await cli(['setup', '--writer', POSTGRES_SUPERUSER], setupEnv);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /is a superuser, which may update and delete evidence/);
  });

  test('a failed migration leaves nothing of itself: its table, its rows and its schema_migrations row are rolled back; an edited one is refused', async () => {
    const db = await freshDatabase();
    const real = loadMigrations();
    const broken: Migration = { version: real.length + 1, name: `${String(real.length + 1).padStart(4, '0')}_broken`, checksum: 'x', sql: "CREATE TABLE countersign.half (x int); INSERT INTO countersign.half VALUES (1); ALTER TABLE countersign.evidence ADD COLUMN half int; SELECT 1 / 0;" };
    const before = real.map((m) => m.name);
    await assert.rejects(setupDatabase(db.admin, { migrations: [...real, broken] }), (err: Error) => err instanceof MigrationError && err.message === `Migration ${broken.name} failed and was rolled back, nothing of it applied (applied before it: ${before.join(', ')}): division by zero`);
    await superuser(async (c) => {
      assert.deepEqual((await c.query('SELECT name FROM countersign.schema_migrations ORDER BY version')).rows.map((r) => r.name), before, 'the migrations before it stay applied');
      assert.equal((await c.query("SELECT to_regclass('countersign.half') AS t")).rows[0].t, null, 'no table of the failed migration');
      assert.equal((await c.query("SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = 'countersign' AND column_name = 'half'")).rows[0].n, 0, 'no column either');
    }, db.name);
    const again = await setupDatabase(db.admin);
    assert.deepEqual([again.applied, again.present], [[], before]);
    await assert.rejects(setupDatabase(db.admin, { migrations: [{ ...real[0]!, checksum: 'edited' }] }), /has changed since it was applied/);
    await assert.rejects(setupDatabase(db.admin, { migrations: [] }), /which this countersign does not know/);
  });

  test('a process refuses a database that is not set up, with the command to run', async () => {
    const db = await freshDatabase();
    await assert.rejects(postgresStore(databaseSettings(db.writer)!, { applicationName: 'test', access: 'write' }), (err: Error) => err.name === 'StoreNotReady' && /has no countersign schema: run countersign setup/.test(err.message));
  });
});

describe('two workers with different homes, one database: single use across hosts', () => {
  let front: Stack;
  const workers: WorkerProcess[] = [];
  before(async () => {
    front = await startStack(env, FINANCE_TWICE_POLICY, { worker: false });
  });
  const stopWorkers = async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  };
  after(async () => {
    await stopWorkers();
    await front?.stop();
  });

  /** A worker process as on another host: its own COUNTERSIGN_HOME with a copy of the layer key, the shared policy, and `store` (database settings, or none: files in its home). */
  async function host(name: string, store: NodeJS.ProcessEnv): Promise<WorkerProcess> {
    const home = join(dir, `${name}-${randomUUID().slice(0, 8)}`);
    mkdirSync(join(home, 'keys'), { recursive: true, mode: 0o700 });
    for (const f of ['layer.key', 'layer.pub']) copyFileSync(join(front.dir, 'keys', f), join(home, 'keys', f));
    const worker = await startWorkerProcess({ TEMPORAL_ADDRESS: env.address, COUNTERSIGN_TASK_QUEUE: front.taskQueue, COUNTERSIGN_HOME: home, COUNTERSIGN_POLICY: front.policyFile, ...store });
    workers.push(worker);
    return worker;
  }

  /**
   * Approved, consumed and executed on host A; A stops; the operator resets the run to just before
   * the consume with raw Temporal access; the agent spends the same token again, now served by host B.
   */
  async function spendAgainOnAnotherHost(store: NodeJS.ProcessEnv): Promise<{ second: Promise<unknown>; workflowId: string; firstRunId: string; executed: number; hostB: WorkerProcess }> {
    await stopWorkers(); // an earlier test's hosts would poll the same task queue
    const a = await host('host-a', store);
    const request = await front.cs.submit(action());
    await decideSeen(front.cs, request.workflowId, { reviewer: 'dave', decision: 'approve' });
    await decideSeen(front.cs, request.workflowId, { reviewer: 'erin', decision: 'approve' });
    await request.wait(10_000);
    assert.equal(request.status, 'approved');
    const token = request.openToken()!;
    let executed = 0;
    const receipt = await request.consume();
    executed += 1; // the agent runs the action after a consume that succeeded, and only then
    await request.report({ status: 'succeeded' });
    assert.equal(((await front.cs.outcome(request.workflowId)) as ApprovalOutcome).status, 'executed');
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0);
    const hostB = await host('host-b', store);

    const handle = env.client.workflow.getHandle(request.workflowId);
    const { events } = await handle.fetchHistory();
    const consumeAt = events!.findIndex((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED && e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'consume');
    const point = events!.slice(0, consumeAt).reverse().find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)!;
    const firstRunId = (await handle.describe()).runId;
    // Without reapplying the consume Update: the reset run holds the token unspent, and the agent spends it itself.
    await env.client.workflowService.resetWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId: request.workflowId, runId: firstRunId },
      reason: 'an operator resets to before the consume',
      workflowTaskFinishEventId: point.eventId,
      requestId: randomUUID(),
      resetReapplyExcludeTypes: [temporal.api.enums.v1.ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE],
    });
    // The same token, the same binding, through the front door: the reset run holds it unspent in its own state.
    const second = front.cs.consume(request.workflowId, { token, agentId: request.request.agentId, taskId: request.request.taskId, actionDigest: receipt.body.actionDigest }).then((r) => {
      executed += 1;
      return r;
    });
    return { second, workflowId: request.workflowId, firstRunId, hostB, get executed() { return executed; } };
  }

  test('with PostgreSQL: the second spend, on the other host, is refused TOKEN_CONSUMED and nothing is applied twice', async () => {
    const attack = await spendAgainOnAnotherHost(provision.workerEnv);
    await assert.rejects(attack.second, (err: unknown) => err instanceof ConsumeRefusedError && err.code === 'TOKEN_CONSUMED');
    assert.equal(attack.executed, 1, 'the action ran once');
    const spends = await superuser(async (c) => (await c.query('SELECT run_id FROM countersign.spends WHERE workflow_id = $1', [attack.workflowId])).rows, provision.adminEnv.COUNTERSIGN_DATABASE_NAME);
    assert.deepEqual(spends, [{ run_id: attack.firstRunId }], 'one spend, by the first run');
    // Refused by the ledger on host B, not by the run's own state: B looked the spend up and found A's.
    assert.ok(attack.hostB.lines.some((l) => l.includes('already spent by another run of this workflow')), 'host B consulted the shared ledger');
    const reset = (await env.client.workflow.getHandle(attack.workflowId).result()) as ApprovalOutcome;
    assert.equal(reset.status, 'outcome_unknown');
    assert.match(reset.execution?.message ?? '', /already spent by an earlier run/);
    assert.equal(reset.execution?.receiptId, undefined, 'the reset run signed no second receipt');
  });

  test('the control: with each host on its own files, the same attack spends the token twice (why several hosts need the database)', async () => {
    const attack = await spendAgainOnAnotherHost({});
    await attack.second;
    assert.equal(attack.executed, 2, 'host B\'s ledger had never seen the spend');
  });
});

describe('evidence outlives Temporal', () => {
  let front: Stack;
  before(async () => {
    front = await startStack(env, FINANCE_TWICE_POLICY.replace('decision: review\n    reviewers: finance\n    approvals: 2', 'decision: allow'));
  });
  after(() => front?.stop());

  test('a closed workflow deleted with DeleteWorkflowExecution still has its evidence served (agent and auditor, by either id), and it verifies', async () => {
    const request = await front.cs.submit(action(), { waitMs: 10_000 });
    assert.equal(request.status, 'approved');
    await request.consume();
    await request.report({ status: 'succeeded' });
    const outcome = (await front.cs.outcome(request.workflowId)) as ApprovalOutcome;
    assert.equal(outcome.status, 'executed');
    assert.match(outcome.evidence!.path, /^postgresql:\/\/countersign@[^:/]+:\d+\/[^#]+#countersign\.evidence\//, 'sealed into the database');
    const before = await front.cs.evidence(request.workflowId);

    const { runId } = await env.client.workflow.getHandle(request.workflowId).describe();
    await env.client.workflowService.deleteWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId: request.workflowId, runId } });
    // Temporal deletes a closed run once its close task is acknowledged (history.transferProcessorUpdateAckInterval, 30 s by default).
    await eventually(async () => {
      await assert.rejects(env.client.workflow.getHandle(request.workflowId).describe(), (err: Error) => err.name === 'WorkflowNotFoundError');
    }, 'Temporal has deleted the run', 240, 500);

    const agentEnv = { COUNTERSIGN_URL: front.url, COUNTERSIGN_HOME: front.dir, COUNTERSIGN_API_KEY: front.agentKeys.get('support-bot')! };
    for (const id of [request.requestId, request.workflowId]) {
      const file = join(dir, `evidence-${id}.json`);
      const exported = await cli(['evidence', id, '--out', file], agentEnv);
      assert.equal(exported.code, 0, exported.stderr);
      assert.doesNotMatch(exported.stderr, /still open/);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), before.bundle, 'the same bundle as before the deletion');
      const verified = await cli(['verify', file, '--key', front.signer.publicKey], {});
      assert.equal(verified.code, 0, verified.stderr);
      assert.match(verified.stdout, /OK — hash chain of \d+ events.*execution receipt signature; bundle signature/);
    }
    const auditor = await cli(['evidence', request.requestId], { ...agentEnv, COUNTERSIGN_API_KEY: front.auditorKeys.get('audrey')! });
    assert.equal(auditor.code, 0, auditor.stderr);
    assert.equal(JSON.parse(auditor.stdout).workflowId, request.workflowId);
    const other = await cli(['evidence', request.requestId], { ...agentEnv, COUNTERSIGN_API_KEY: front.agentKeys.get('ops-bot')! });
    assert.equal(other.code, 3, 'another agent does not find it: its requests only');
  });
});

describe('no password in what a process prints', () => {
  test('a worker given the workers\' role with a wrong password: it stops before polling, and names the database, the role and the failure, never a password', async () => {
    const wrong = `wrong-${randomUUID()}`;
    const file = join(dir, 'wrong.password');
    writeFileSync(file, wrong, { mode: 0o600 });
    const real = readFileSync(provision.workerEnv.COUNTERSIGN_DATABASE_PASSWORD_FILE!, 'utf8').trim();
    const home = mkdtempSync(join(dir, 'home-'));
    assert.equal((await cli(['keys', 'init'], { COUNTERSIGN_HOME: home })).code, 0);
    const base = { COUNTERSIGN_HOME: home, COUNTERSIGN_POLICY: join(__dirname, '..', 'examples', 'policy.yaml'), TEMPORAL_ADDRESS: env.address };
    const s = provision.workerEnv;
    for (const store of [{ ...s, COUNTERSIGN_DATABASE_PASSWORD_FILE: file }, { COUNTERSIGN_DATABASE_URL: `postgresql://${s.COUNTERSIGN_DATABASE_USER}:${wrong}@${s.COUNTERSIGN_DATABASE_HOST}:${s.COUNTERSIGN_DATABASE_PORT}/${s.COUNTERSIGN_DATABASE_NAME}` }]) {
      const r = await cli(['worker'], { ...base, ...store });
      const printed = `${r.stdout}\n${r.stderr}`;
      assert.equal(r.code, 4, printed);
      assert.match(printed, new RegExp(`Cannot reach the store's database postgresql://${STORE_WRITER}@.*password authentication failed for user "${STORE_WRITER}"`));
      assert.ok(!printed.includes(wrong) && !printed.includes(real), `a password was printed: ${printed}`);
    }
  });
});
