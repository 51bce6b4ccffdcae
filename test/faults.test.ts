import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ConsumeRefusedError, DecisionRefusedError } from '../client/sdk';
import { actionDigest } from '../common/digest';
import { ALL_SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { findOrBuildTemporalCli } from '../cli/temporal-cli';
import { startStack, action, useStack } from './support/stack';
import { freePort } from './support/ports';
import { startWorkerProcess } from './support/worker-process';
import { decideSeen, signedDecision } from './support/review';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: ops, sla: 1h, tokenTtl: 10m }
groups:
  ops: { members: [r0, r1, r2, r3, r4, r5, r6, r7, r8, r9] }
rules:
  - id: two-person
    match: { action: payments.transfer }
    decision: review
    reviewers: ops
    approvals: 2
`;
const ctx = useStack(POLICY);

describe('the worker is killed', () => {
  test('kill -9 with 50 approvals pending and 10 decisions in flight: a new worker finishes every one, nothing twice', async () => {
    const taskQueue = `kill-${randomUUID()}`;
    // The server in front, the worker a process of its own that the test kills.
    const front = await startStack(ctx.env, POLICY, { taskQueue, worker: false });
    after(() => front.stop());
    const env = { TEMPORAL_ADDRESS: ctx.env.address, COUNTERSIGN_TASK_QUEUE: taskQueue, COUNTERSIGN_HOME: front.dir, COUNTERSIGN_POLICY: front.policyFile };
    const first = await startWorkerProcess(env);
    const cs = front.cs;
    const requests = await Promise.all(
      Array.from({ length: 50 }, (_, i) => cs.submit(action({ agentId: 'ops-bot', onBehalfOf: undefined, payload: { n: i }, action: i % 2 ? 'payments.transfer' : 'ops.restart' }), { waitMs: 3000 })),
    );
    assert.ok(requests.every((r) => r.status === 'pending'));

    // Ten decisions go out; the worker dies while they are in flight.
    const inFlight = requests.slice(0, 10).map((r, i) => decideSeen(cs, r.workflowId, { decision: 'approve', reviewer: `r${i}` }).then(
      (receipt) => ({ ok: true as const, receipt }),
      (err: unknown) => ({ ok: false as const, err }),
    ));
    first.child.kill('SIGKILL');
    assert.notEqual(await first.exited, 0);

    const second = await startWorkerProcess(env);
    try {
      const decided = await Promise.all(inFlight);
      for (const d of decided) assert.ok(d.ok, `a decision was lost: ${d.ok ? '' : String(d.err)}`);
      // Finish the rest: a second approver where two are needed, one elsewhere.
      await Promise.all(
        requests.map(async (r, i) => {
          if (i >= 10) await decideSeen(cs, r.workflowId, { decision: 'approve', reviewer: `r${i % 10}` });
          if (i % 2 === 1) await decideSeen(cs, r.workflowId, { decision: 'approve', reviewer: `r${(i + 1) % 10}` });
        }),
      );
      await Promise.all(
        requests.map(async (r) => {
          await r.wait(30_000);
          assert.equal(r.status, 'approved');
          await r.consume();
          await r.report({ status: 'succeeded' });
        }),
      );
      for (const [i, r] of requests.entries()) {
        const outcome = await cs.outcome(r.workflowId);
        assert.equal(outcome.status, 'executed');
        const view = await cs.view(r.workflowId);
        const count = (type: string) => view.history.filter((e) => e.type === type).length;
        assert.equal(count('token_minted'), 1, `request ${i}: tokens minted`);
        assert.equal(count('approved'), i % 2 ? 2 : 1, `request ${i}: decisions applied`);
        assert.equal(count('consumed'), 1);
        assert.deepEqual(outcome.reviewers.length, i % 2 ? 2 : 1);
      }
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});

describe('the Temporal server restarts', () => {
  test('pending approvals survive a server restart on its database file, then are approved and consumed', async () => {
    const dbFilename = join(mkdtempSync(join(tmpdir(), 'countersign-db-')), 'temporal.db');
    const port = await freePort();
    const server = () =>
      TestWorkflowEnvironment.createLocal({
        server: { executable: { type: 'existing-path', path: findOrBuildTemporalCli() }, port, dbFilename, searchAttributes: ALL_SEARCH_ATTRIBUTES, log: { format: 'pretty', level: 'error' } },
      });
    const before = await server();
    const stackBefore = await startStack(before, POLICY);
    const pending = await stackBefore.cs.submit(action({ action: 'ops.restart', payload: { service: 'api' } }), { waitMs: 3000 });
    assert.equal(pending.status, 'pending');
    await stackBefore.stop();
    await before.teardown();

    const restarted = await server();
    try {
      const stackAfter = await startStack(restarted, POLICY, { taskQueue: stackBefore.taskQueue, dir: stackBefore.dir });
      try {
        const view = await stackAfter.cs.view(pending.workflowId);
        assert.equal(view.status, 'pending');
        await decideSeen(stackAfter.cs, pending.workflowId, { decision: 'approve', reviewer: 'r3' });
        const agent = await stackAfter.cs.submit(pending.request, { waitMs: 10_000 });
        assert.equal(agent.workflowId, pending.workflowId);
        assert.equal(agent.status, 'approved');
        // The agent kept its key in memory across the server restart, as a real agent process would.
        stackAfter.cs.keys.put(pending.workflowId, stackBefore.cs.keys.get(pending.workflowId)!);
        await agent.consume();
        await agent.report({ status: 'succeeded' });
        assert.equal((await stackAfter.cs.outcome(pending.workflowId)).status, 'executed');
      } finally {
        await stackAfter.stop();
      }
    } finally {
      await restarted.teardown();
    }
  });
});

describe('duplicate and out-of-order messages', () => {
  test('the same decision signal twice counts once; the duplicate is recorded as refused', async () => {
    const request = await ctx.stack.cs.submit(action({ action: 'payments.transfer', payload: { amount: 10 } }), { waitMs: 2000 });
    const handle = ctx.env.client.workflow.getHandle(request.workflowId);
    const signed = await signedDecision(ctx.stack, request.workflowId, { decision: 'approve', reviewer: 'r1' });
    await handle.signal('decide', signed);
    await handle.signal('decide', signed);
    const view = await ctx.stack.cs.view(request.workflowId);
    assert.equal(view.status, 'pending');
    assert.deepEqual(view.approvals, ['r1']);
    assert.equal(view.history.filter((e) => e.type === 'approved').length, 1);
    assert.ok(view.history.some((e) => e.type === 'refused' && e.actor === 'r1' && e.detail.startsWith('ALREADY_DECIDED')));
  });

  test('a consume before the decision and a report before a consume are refused and change nothing', async () => {
    const request = await ctx.stack.cs.submit(action({ action: 'payments.transfer', payload: { amount: 11 } }), { waitMs: 2000 });
    const consume = { token: `cst_${randomUUID()}`, agentId: request.request.agentId, taskId: request.request.taskId, actionDigest: actionDigest(request.request) };
    await assert.rejects(ctx.stack.cs.consume(request.workflowId, consume), (err: unknown) => err instanceof ConsumeRefusedError && err.code === 'TOKEN_INVALID');
    await assert.rejects(ctx.stack.cs.report(request.workflowId, { status: 'succeeded' }), (err: unknown) => err instanceof ConsumeRefusedError && err.code === 'NOT_CONSUMED');
    const view = await ctx.stack.cs.view(request.workflowId);
    assert.equal(view.status, 'pending');
    assert.ok(!view.history.some((e) => ['consumed', 'reported'].includes(e.type)));
    // The agent is no reviewer: straight to Temporal, its "approval" is refused too.
    const { currentDigest: versionDigest } = await ctx.stack.cs.view(request.workflowId);
    await assert.rejects(ctx.stack.ops.decide(request.workflowId, { decision: 'approve', reviewer: 'ops-bot', versionDigest }), DecisionRefusedError);
  });
});

