/**
 * Issue 22 D1 and the open-request cap, on a dev server whose visibility never catches up
 * (history.visibilityProcessorSchedulerWorkerCount=0: the visibility tasks queue and never run), the
 * far end of the lag a busy machine shows. What a reviewer and an agent see right after a start, by
 * raw HTTP and the CLI; and a burst of submissions that visibility cannot count.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { approvalWorkflowId } from '../common/digest';
import type { SubmitState } from '../common/views';
import { findOrBuildTemporalCli } from '../cli/temporal-cli';
import { cliFor } from './support/cli';
import { eventually } from './support/eventually';
import { action, agentAction, startStack, type StackContext } from './support/stack';
import { x25519KeyPair } from '../crypto/tokens';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: support, sla: 1h, tokenTtl: 5m }
groups:
  support: { members: [alice, bob] }
  finance: { members: [dave] }
rules:
  - id: refund
    match: { action: payments.refund }
    decision: review
    reviewers: support
`;
/** The cap this file's server runs with. */
const CAP = 3;

const ctx = {} as StackContext;
before(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  ctx.env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: findOrBuildTemporalCli() },
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
      extraArgs: ['--dynamic-config-value', 'history.visibilityProcessorSchedulerWorkerCount=0'],
    },
  });
  ctx.stack = await startStack(ctx.env, POLICY, { maxOpenRequestsPerAgent: CAP });
});
after(async () => {
  await ctx.stack?.stop();
  await ctx.env?.teardown();
});
const cli = cliFor(ctx);

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** One raw HTTP call, as curl would make it. */
async function call(method: string, path: string, bearer: string, body?: unknown): Promise<Answer> {
  const res = await fetch(new URL(path, ctx.stack.url), { method, headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const agentKey = (name: string) => ctx.stack.agentKeys.get(name)!;
const session = async (name: string) => (ctx.stack.reviewer(name) as Promise<unknown>).then((r) => (r as { bearer(): Promise<string> }).bearer());
const x25519 = () => Buffer.from(x25519KeyPair().publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64');
/** A refund for `agent` as the agent sends it (its delivery key included). */
const refund = (agent: string) => ({ ...action({ agentId: agent, payload: { amount: 200, currency: 'USD' } }), agentKey: x25519() });

/** Visibility lists nothing here: the premise of every test below, checked where it matters. */
async function assertNotListed(workflowId: string) {
  const rows = await ctx.stack.ops.listPending({ open: false });
  assert.equal(rows.some((r) => r.workflowId === workflowId), false, 'visibility should not list the request yet: this server lags on purpose');
}

describe('D1. a request just submitted, while visibility lags', () => {
  test('a reviewer opens it by workflow id or full request id (200), one of another group gets the same 404 as none at all, and a prefix says it may not be listed yet', async () => {
    const submitted = await call('POST', '/v1/requests?wait=1s', agentKey('support-bot'), refund('support-bot'));
    assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
    const state = submitted.body as unknown as SubmitState;
    assert.equal(state.status, 'pending');
    await assertNotListed(state.workflowId);

    const alice = await session('alice');
    for (const id of [state.workflowId, state.requestId]) {
      const seen = await call('GET', `/v1/reviews/${id}`, alice);
      assert.equal(seen.status, 200, `${id}: ${JSON.stringify(seen.body)}`);
      assert.equal(seen.body.workflowId, state.workflowId);
    }
    // dave is in finance only: the request is hidden from him exactly as one that does not exist.
    const dave = await session('dave');
    for (const id of [state.workflowId, state.requestId, 'f'.repeat(16)]) {
      const hidden = await call('GET', `/v1/reviews/${id}`, dave);
      assert.equal(hidden.status, 404);
      assert.equal(hidden.body.detail, `No request ${id} in your queue.`);
    }
    const prefix = state.requestId.slice(0, 10);
    const listedYet = await call('GET', `/v1/reviews/${prefix}`, alice);
    assert.equal(listedYet.status, 404);
    assert.equal(listedYet.body.detail, `No request ${prefix} in your queue. A request submitted in the last few seconds may not be listed yet: give its full request id (16 hex digits) or its workflow id (cs-…).`);

    // The agent: its full id reads at once; a prefix gets the same hint.
    const own = await call('GET', `/v1/requests/${state.requestId}`, agentKey('support-bot'));
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(own.body.status, 'pending');
    const ownPrefix = await call('GET', `/v1/requests/${prefix}`, agentKey('support-bot'));
    assert.equal(ownPrefix.status, 404);
    assert.match(String(ownPrefix.body.detail), /^No request [0-9a-f]{10}\. A request submitted in the last few seconds may not be listed yet/);
    // Another agent still finds nothing by the full id.
    assert.equal((await call('GET', `/v1/requests/${state.requestId}`, agentKey('ops-bot'))).status, 404);
  });

  test('the CLI shows it by the id a notification names, and the review round trip by workflow id lands its decision', async () => {
    const request = await (await ctx.stack.agent('sales-bot')).submit(agentAction({ payload: { amount: 300, currency: 'USD' } }));
    assert.equal(request.status, 'pending');
    await assertNotListed(request.workflowId);
    const shown = await cli(['review', 'show', request.requestId, '--as', 'bob']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^Request ${request.requestId}  \\(${request.workflowId}\\)`));
    const bob = await ctx.stack.reviewer('bob');
    const receipt = await bob.decide(await bob.view(request.workflowId), { decision: 'approve' });
    assert.equal(receipt.status, 'approved');
    await request.wait(10_000);
    assert.equal(request.status, 'approved');
    assert.ok(request.openToken(), 'the agent holds its token');
  });
});

describe('the cap on an agent\'s open requests, while visibility counts none of them', () => {
  test(`a burst of 8 opens ${CAP}: the rest get 409 TOO_MANY_OPEN_REQUESTS, the sentence, and start nothing; a resubmission joins; a decision frees a slot`, async () => {
    const agent = 'bot-1';
    const bodies = Array.from({ length: 8 }, () => refund(agent));
    const answers = await Promise.all(bodies.map((body) => call('POST', '/v1/requests', agentKey(agent), body)));
    const opened = answers.flatMap((a, i) => (a.status === 200 ? [{ body: bodies[i]!, state: a.body as unknown as SubmitState }] : []));
    const refused = answers.flatMap((a, i) => (a.status === 200 ? [] : [{ body: bodies[i]!, answer: a }]));
    assert.equal(opened.length, CAP, answers.map((a) => a.status).join(' '));
    for (const { state } of opened) assert.equal(state.status, 'pending');
    for (const { body, answer } of refused) {
      assert.equal(answer.status, 409);
      assert.equal(answer.body.code, 'TOO_MANY_OPEN_REQUESTS');
      assert.equal(answer.body.detail, `Agent ${agent} already has ${CAP} requests waiting for a reviewer, the most it may have open at once: nothing was started; submit again once one is decided.`);
      await assert.rejects(ctx.stack.ops.status(approvalWorkflowId(body as never).workflowId), /not found/i, 'nothing started');
    }
    for (const { state } of opened) await assertNotListed(state.workflowId);

    // Submitting one of the open requests again joins it: that opens nothing, so it is answered.
    const again = await call('POST', '/v1/requests', agentKey(agent), opened[0]!.body);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal((again.body as unknown as SubmitState).workflowId, opened[0]!.state.workflowId);

    // alice denies one: the next submission is admitted (the server asks the workflow, not visibility).
    const alice = await ctx.stack.reviewer('alice');
    await alice.decide(await alice.view(opened[1]!.state.workflowId), { decision: 'deny', reasonCode: 'NOT_NEEDED', message: 'No.' });
    const next = refund(agent);
    const admitted = await eventually(async () => {
      const answer = await call('POST', '/v1/requests', agentKey(agent), next);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body as unknown as SubmitState;
    }, 'a submission admitted once a slot is free');
    assert.equal(admitted.status, 'pending');
    // And the cap holds again, for the CLI too: exit 1 (refused), the sentence on stderr, nothing started.
    const over = await call('POST', '/v1/requests', agentKey(agent), refund(agent));
    assert.equal(over.status, 409);
    const file = join(ctx.stack.dir, 'over-the-cap.json');
    const { agentKey: _k, ...fromCli } = refund(agent);
    writeFileSync(file, JSON.stringify(fromCli));
    const run = await cli(['submit', '--file', file]);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, `countersign: Agent ${agent} already has ${CAP} requests waiting for a reviewer, the most it may have open at once: nothing was started; submit again once one is decided.\n`);
    await assert.rejects(ctx.stack.ops.status(approvalWorkflowId(fromCli as never).workflowId), /not found/i, 'nothing started');
  });
});
