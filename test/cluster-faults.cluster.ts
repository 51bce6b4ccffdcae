/**
 * Faults on the production-shaped cluster (issue 14), run by `npm run test:cluster` only (this file
 * starts its own cluster, so it is not a *.test.ts that npm test would run): kill -9 of a history
 * process with approvals pending and decisions in flight, a PostgreSQL restart (Temporal's database and
 * countersign's store alike), and a rolling restart of the two workers under load. Nothing is lost,
 * nothing is applied twice. And the database lets no one but the cluster in, and the cluster's own
 * front door cannot reach the workers' keys, nor write a spend or evidence in the store.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import pg from 'pg';
import { Countersign, DecisionRefusedError } from '../client/sdk';
import { CLUSTER_PORTS, postgresBin, startClusterStack, type ClusterStack } from '../scripts/cluster-stack';
import { eventually } from './support/eventually';
import { decideSeen } from './support/review';
import { action, startStack, type Stack } from './support/stack';
import { startWorkerProcess, type WorkerProcess } from './support/worker-process';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: ops, sla: 1h, tokenTtl: 10m }
groups:
  ops: { members: [r0, r1, r2, r3, r4, r5, r6, r7, r8, r9] }
rules:
  - id: status-reads
    match: { action: ["ops.status"] }
    decision: allow
    risk: low
`;

describe('faults on the cluster', () => {
  let cluster: ClusterStack;
  let env: TestWorkflowEnvironment;
  let front: Stack;
  /** Two countersign workers on the task queue, as a deployment runs them. */
  const workers: WorkerProcess[] = [];
  let workerEnv: NodeJS.ProcessEnv;
  const dir = mkdtempSync(join(tmpdir(), 'countersign-cluster-faults-'));

  before(async () => {
    cluster = await startClusterStack({ dir, log: () => undefined });
    env = await TestWorkflowEnvironment.createFromExistingServer({ address: cluster.temporalAddress, namespace: 'default' });
    process.env.COUNTERSIGN_TEST_STORE = JSON.stringify(cluster.store); // the front door here reads evidence from the cluster's store too
    front = await startStack(env, POLICY, { worker: false });
    workerEnv = { TEMPORAL_ADDRESS: cluster.temporalAddress, COUNTERSIGN_TASK_QUEUE: front.taskQueue, COUNTERSIGN_HOME: front.dir, COUNTERSIGN_POLICY: front.policyFile, ...cluster.store.workerEnv };
    workers.push(...(await Promise.all([startWorkerProcess(workerEnv), startWorkerProcess(workerEnv)])));
  });
  after(async () => {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await front?.stop();
    await env?.teardown();
    await cluster?.stop();
    delete process.env.COUNTERSIGN_TEST_STORE;
    rmSync(dir, { recursive: true, force: true });
  });

  /** A decision that may meet the fault: sent again until it is recorded once (ALREADY_DECIDED means it was). */
  async function decideOnce(id: string, reviewer: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await decideSeen(front.cs, id, { decision: 'approve', reviewer });
        return;
      } catch (err) {
        if (err instanceof DecisionRefusedError && err.code === 'ALREADY_DECIDED') return;
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  test('the database refuses a local user: no password over TCP, a wrong one, or the socket as another user', () => {
    const psql = join(postgresBin(), 'psql');
    const login = (args: string[], env: NodeJS.ProcessEnv = {}, asUser?: string) => {
      const argv = [...args, '-p', String(CLUSTER_PORTS.postgres), '-U', 'temporal', '-w', '-c', 'select 1', 'temporal'];
      const r = asUser ? spawnSync('runuser', ['-u', asUser, '--', psql, ...argv], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } }) : spawnSync(psql, argv, { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
      return { status: r.status, stderr: r.stderr };
    };
    const noPassword = login(['-h', '127.0.0.1']);
    assert.notEqual(noPassword.status, 0);
    assert.match(noPassword.stderr, /no password supplied/);
    const wrong = login(['-h', '127.0.0.1'], { PGPASSWORD: 'temporal' });
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /password authentication failed for user "temporal"/);
    if (process.getuid?.() === 0) {
      const socket = login(['-h', join(cluster.dir, 'socket')], {}, 'nobody');
      assert.notEqual(socket.status, 0);
      assert.match(socket.stderr, /Permission denied/);
    }
    // ...and the cluster's own password is what lets Temporal in.
    const right = login(['-h', '127.0.0.1'], { PGPASSWORD: readFileSync(join(cluster.dir, 'postgres.password'), 'utf8').trim() });
    assert.equal(right.status, 0, right.stderr);
  });

  test('the cluster\'s front door runs apart from the workers\' keys: it cannot read the layer key, nor write a spend or evidence, and the workers run what it vouches for', async () => {
    const server = cluster.processes.get('countersign-server')!;
    const environ = readFileSync(`/proc/${server.pid}/environ`, 'utf8').split('\0');
    const serverHome = environ.find((e) => e.startsWith('COUNTERSIGN_HOME='))!.slice('COUNTERSIGN_HOME='.length);
    assert.equal(serverHome, cluster.serverHome);
    assert.notEqual(serverHome, cluster.home);
    assert.deepEqual(readdirSync(serverHome).sort(), ['database.password', 'keys', 'session.secret'], 'the server\'s home holds its session secret, its start key and its own database password');
    assert.deepEqual(readdirSync(join(serverHome, 'keys')).sort(), ['server-start.key', 'server-start.pub']);
    const layerKey = join(cluster.home, 'keys', 'layer.key');
    assert.ok(existsSync(layerKey), 'the workers\' layer key exists');

    // An agent through the front door: the cluster's workers evaluate the start the server vouched for.
    const body = JSON.parse(readFileSync(join(__dirname, '..', 'examples', 'actions', 'refund-small.json'), 'utf8')) as Record<string, unknown>;
    const agent = await Countersign.connect({ url: cluster.url, apiKey: readFileSync(join(cluster.home, 'agents', `${String(body.agentId)}.key`), 'utf8').trim() });
    const submitted = await agent.submit({ ...body, taskId: `layout-${Date.now()}` } as never, { waitMs: 30_000 });
    assert.notEqual(submitted.outcome?.code, 'INVALID_REQUEST', submitted.outcome?.message);
    assert.ok(['approved', 'pending'].includes(submitted.status), `${submitted.status} ${submitted.outcome?.code ?? ''}`);

    // In the store it connects as a role of its own, which reads evidence and the log and may write nothing.
    const started = readFileSync(join(cluster.dir, 'logs', 'countersign-server.log'), 'utf8').split('\n').find((l) => l.includes('countersign server listening'));
    assert.match(started ?? '', /"store":"postgresql:\/\/countersign_server@127\.0\.0\.1:\d+\/countersign"/);
    const serverRole = new pg.Client({ host: '127.0.0.1', port: CLUSTER_PORTS.postgres, database: 'countersign', user: 'countersign_server', password: readFileSync(join(serverHome, 'database.password'), 'utf8').trim() });
    await serverRole.connect();
    try {
      for (const sql of ["INSERT INTO countersign.spends (workflow_id, token_id, run_id, request_id, action_digest, spent_at) VALUES ('cs-forged-0000000000000000', 't', 'r', 'q', 'd', now())", "INSERT INTO countersign.evidence (workflow_id, run_id, request_id, bundle_digest, bundle) VALUES ('cs-x', 'r', 'q', repeat('0', 64), '{}')", 'DELETE FROM countersign.evidence', 'SELECT * FROM countersign.spends']) {
        await assert.rejects(serverRole.query(sql), (err: { code?: string }) => err.code === '42501', sql);
      }
    } finally {
      await serverRole.end();
    }

    if (process.getuid?.() !== 0) return; // one user runs everything: the separate home is all a non-root run can show
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]);
    const gid = Number(/^Gid:\s+(\d+)/m.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]);
    assert.notEqual(uid, 0, 'the server does not run as root');
    // As the server's own uid and gid, the way its process would try: read the key, list the evidence, write a spend.
    const probe = spawnSync(process.execPath, ['-e', `
      const fs = require('node:fs');
      const codes = [];
      for (const attempt of [() => fs.readFileSync(process.argv[1]), () => fs.readdirSync(process.argv[2]), () => fs.writeFileSync(process.argv[3], '{}')]) {
        try { attempt(); codes.push('OPENED'); } catch (err) { codes.push(err.code); }
      }
      process.stdout.write(codes.join(','));
    `, layerKey, join(cluster.home, 'evidence'), join(cluster.home, 'evidence', 'spent', 'forged.json')], { uid, gid, encoding: 'utf8' });
    assert.equal(probe.stdout, 'EACCES,EACCES,EACCES', probe.stderr);
  });

  test('kill -9 of a history process with 20 approvals pending and 10 decisions in flight: each applied once', async () => {
    const requests = await Promise.all(Array.from({ length: 20 }, (_, i) => front.cs.submit(action({ agentId: 'ops-bot', onBehalfOf: undefined, action: 'ops.restart', payload: { n: i } }), { waitMs: 5000 })));
    assert.ok(requests.every((r) => r.status === 'pending'), requests.map((r) => r.status).join(','));
    const inFlight = requests.slice(0, 10).map((r, i) => decideOnce(r.workflowId, `r${i}`));
    cluster.processes.get('history-1')!.kill('SIGKILL');
    await Promise.all(inFlight);
    cluster.restart('history-1');
    await Promise.all(requests.slice(10).map((r, i) => decideOnce(r.workflowId, `r${i}`)));
    for (const r of requests) {
      await eventually(async () => {
        await r.wait(10_000);
        assert.equal(r.status, 'approved');
      }, 'approved after the fault', 30, 1000);
      const view = await front.ops.view(r.workflowId);
      assert.equal(view.history.filter((e) => e.type === 'approved').length, 1, `${r.requestId}: one approval recorded`);
      assert.equal(view.history.filter((e) => e.type === 'token_minted').length, 1, `${r.requestId}: one token`);
    }
  });

  test('PostgreSQL restarts: pending approvals survive and are decided; new requests go through', async () => {
    const pending = await front.cs.submit(action({ agentId: 'ops-bot', onBehalfOf: undefined, action: 'ops.restart', payload: { db: 'restart' } }), { waitMs: 5000 });
    assert.equal(pending.status, 'pending');
    await cluster.stopPostgres();
    cluster.restart('postgres');
    await decideOnce(pending.workflowId, 'r1');
    await eventually(async () => {
      await pending.wait(10_000);
      assert.equal(pending.status, 'approved');
    }, 'approved after the database restart', 30, 1000);
    const later = await eventually(() => front.cs.submit(action({ agentId: 'ops-bot', onBehalfOf: undefined, action: 'ops.restart', payload: { db: 'after' } }), { waitMs: 5000 }), 'a new request after the restart', 30, 1000);
    assert.equal(later.status, 'pending');
    await decideOnce(later.workflowId, 'r2');
    await later.wait(20_000);
    assert.equal(later.status, 'approved');
  });

  test('rolling restart of both workers while agents keep submitting and reviewers keep deciding: nothing lost, nothing twice', async () => {
    const pending = await Promise.all(Array.from({ length: 12 }, (_, i) => front.cs.submit(action({ agentId: 'ops-bot', onBehalfOf: undefined, action: 'ops.restart', payload: { roll: i } }), { waitMs: 5000 })));
    assert.ok(pending.every((r) => r.status === 'pending'), pending.map((r) => r.status).join(','));
    // Agents keep asking for auto-allowed reads the whole time; every answer must be an allow with a token.
    let rolling = true;
    const allowed: string[] = [];
    const failures: string[] = [];
    const agents = Array.from({ length: 4 }, async (_, agent) => {
      for (let i = 0; rolling; i++) {
        try {
          const r = await front.cs.submit(action({ agentId: 'ops-bot', onBehalfOf: undefined, action: 'ops.status', payload: { agent, i } }), { waitMs: 30_000 });
          if (r.status === 'approved' && r.openToken()) allowed.push(r.workflowId);
          else failures.push(`${r.workflowId}: ${r.status}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    });
    // Reviewers decide a third of the requests before, a third between and a third after the two restarts.
    const decide = (from: number) => Promise.all(pending.slice(from, from + 4).map((r, i) => decideOnce(r.workflowId, `r${(from + i) % 10}`)));
    try {
      await decide(0);
      for (const [n, old] of workers.entries()) {
        old.child.kill('SIGTERM');
        assert.equal(await old.exited, 0, `worker ${n + 1} stops cleanly on SIGTERM`);
        workers[n] = await startWorkerProcess(workerEnv);
        if (n === 0) await decide(4);
      }
      await decide(8);
    } finally {
      rolling = false; // a failure above must not leave the agents submitting forever
      await Promise.all(agents);
    }
    assert.deepEqual(failures, [], 'every auto-allowed request was answered during the roll');
    assert.ok(allowed.length >= 4, `agents were answered during the roll (${allowed.length})`);
    for (const r of pending) {
      await r.wait(30_000);
      assert.equal(r.status, 'approved', `${r.requestId} approved`);
      const view = await front.ops.view(r.workflowId);
      assert.equal(view.history.filter((e) => e.type === 'approved').length, 1, `${r.requestId}: one approval recorded`);
      assert.equal(view.history.filter((e) => e.type === 'token_minted').length, 1, `${r.requestId}: one token`);
    }
  });
});
