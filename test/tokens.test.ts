import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import { ConsumeRefusedError, Countersign, DecisionRefusedError, ForbiddenError, UnauthenticatedError, type ApprovalRequest } from '../client/sdk';
import { nodeFetch, type SimpleFetch } from '../client/node-http';
import { verifyBundle } from '../common/bundle';
import { actionDigest } from '../common/digest';
import { sealedBundle } from './support/evidence';
import { action, useStack } from './support/stack';
import { decideSeen } from './support/review';
import { ConsumeRequest, ReviewerDecision } from '../common/inputs';
import type { ReviewView } from '../common/views';
import { answered, assertOneSentence, serverRuns, SERVER_TIMEOUT_MS, wire } from './support/arbitraries';
import { eventually } from './support/eventually';
import { consumeJunk, DECISION_FIELDS, junkDecision, MEMBERS, type Tagged } from './support/junk-inputs';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: support, sla: 1h, tokenTtl: 5m }
groups:
  support: { members: [alice, bob] }
rules:
  - id: refund-small
    match: { action: payments.refund }
    when: "payload.amount <= 100"
    decision: allow
  - id: refund-review
    match: { action: payments.refund }
    when: "payload.amount > 100"
    decision: review
    reviewers: support
  - id: refund-huge
    match: { action: payments.refund }
    when: "payload.amount > 10000"
    decision: deny
    reason: Refunds over 10,000 are never automated.
  - id: quick-expiry
    match: { action: payments.refundFast }
    decision: allow
    tokenTtl: 2s
  - id: short-sla
    match: { action: email.send }
    decision: review
    reviewers: support
    sla: 2s
`;

const ctx = useStack(POLICY);

async function refusedWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ConsumeRefusedError, `expected a refusal, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

async function approved(overrides: Record<string, unknown> = {}): Promise<ApprovalRequest> {
  const request = await ctx.stack.cs.submit(action({ payload: { amount: 40, currency: 'USD' }, ...overrides }), { waitMs: 5000 });
  assert.equal(request.status, 'approved');
  return request;
}

const bundleOf = (workflowId: string) => sealedBundle(ctx.stack.cs, workflowId);

describe('token lifecycle', () => {
  test('happy path: review, token, consume, report — and the evidence verifies', async () => {
    const request = await ctx.stack.cs.submit(action({ payload: { amount: 450, currency: 'USD' } }), { waitMs: 1000 });
    assert.equal(request.status, 'pending');
    await decideSeen(ctx.stack.cs, request.workflowId, { decision: 'approve', reviewer: 'alice' });
    await request.wait(5000);
    assert.equal(request.status, 'approved');
    const token = request.openToken();
    assert.match(token ?? '', /^cst_[A-Za-z0-9_-]{43}$/);
    const receipt = await request.consume();
    assert.equal(receipt.body.requestId, request.requestId);
    assert.equal(receipt.body.tokenId, request.outcome?.token?.tokenId);
    assert.equal(receipt.keyId, ctx.stack.signer.keyId);
    await request.report({ status: 'succeeded', message: 'refund issued' });
    const outcome = await ctx.stack.cs.outcome(request.workflowId);
    assert.equal(outcome.status, 'executed');
    assert.equal(outcome.execution?.status, 'succeeded');
    assert.equal(outcome.execution?.receiptId, receipt.body.receiptId);
    const bundle = await bundleOf(request.workflowId);
    const verification = verifyBundle(bundle, { publicKey: ctx.stack.signer.publicKey });
    assert.deepEqual(verification, { ok: true, checks: verification.checks });
    assert.deepEqual(
      bundle.events.map((e) => e.type),
      ['requested', 'evaluated', 'notified', 'approved', 'token_minted', 'consumed', 'reported', 'closed'],
    );
    const approvedEvent = bundle.events.find((e) => e.type === 'approved')!;
    assert.equal(approvedEvent.actor, 'alice');
    assert.equal(approvedEvent.data?.signed, true, 'every decision is signed by its reviewer\'s registered key');
    assert.ok(verification.checks.some((c) => c.startsWith('reviewer signature of alice')), JSON.stringify(verification.checks));
    assert.deepEqual((approvedEvent.data?.shown as { ruleIds: string[] }).ruleIds, ['refund-review']);
    assert.deepEqual(bundle.approvalRecord?.body.decisions.map((d) => d.reviewer), ['alice']);
    assert.equal(bundle.receipt?.body.approvalRecordDigest.length, 64);
  });

  test('50 concurrent consume attempts with the same token: exactly one succeeds, the rest TOKEN_CONSUMED', async () => {
    const request = await approved();
    const token = request.openToken()!;
    const consume = { token, agentId: request.request.agentId, taskId: request.request.taskId, actionDigest: actionDigest(request.request) };
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => ctx.stack.cs.consume(request.workflowId, consume)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(ok.length, 1);
    assert.equal(refused.length, 49);
    for (const r of refused) assert.equal((r.reason as ConsumeRefusedError).code, 'TOKEN_CONSUMED');
    const view = await ctx.stack.cs.view(request.workflowId);
    assert.equal(view.history.filter((e) => e.type === 'consumed').length, 1);
  });

  test('a token presented for another task, agent or payload, a token from another request and a forged one are refused; the real one still works', async () => {
    const request = await approved();
    const other = await approved();
    const token = request.openToken()!;
    const base = { token, agentId: request.request.agentId, taskId: request.request.taskId, actionDigest: actionDigest(request.request) };
    await refusedWith(ctx.stack.cs.consume(request.workflowId, { ...base, taskId: 'some-other-task' }), 'BINDING_MISMATCH');
    // Through the server an agent cannot even name another agent; around it, the workflow refuses the binding.
    await assert.rejects(ctx.stack.cs.consume(request.workflowId, { ...base, agentId: 'another-agent' }), (err: unknown) => err instanceof ForbiddenError);
    await refusedWith(ctx.stack.ops.consume(request.workflowId, { ...base, agentId: 'another-agent' }), 'BINDING_MISMATCH');
    const tampered = actionDigest({ ...request.request, payload: { ...request.request.payload, amount: 4000 } });
    await refusedWith(ctx.stack.cs.consume(request.workflowId, { ...base, actionDigest: tampered }), 'BINDING_MISMATCH');
    await refusedWith(ctx.stack.cs.consume(request.workflowId, { ...base, token: other.openToken()! }), 'TOKEN_INVALID');
    await refusedWith(ctx.stack.cs.consume(request.workflowId, { ...base, token: `cst_${randomBytes(32).toString('base64url')}` }), 'TOKEN_INVALID');
    await refusedWith(ctx.stack.cs.report(request.workflowId, { status: 'succeeded' }), 'NOT_CONSUMED');
    // A key the server does not know (revoked, mistyped) is no verdict on the token: UnauthenticatedError, not ConsumeRefusedError.
    const wrongKey: SimpleFetch = (url, init) => nodeFetch()(url, /\/(consume|report)$/.test(url.pathname) ? { ...init, headers: { ...init.headers, authorization: 'Bearer cs_agent_not-a-key' } } : init);
    const unknown = await Countersign.connect({ url: ctx.stack.url, apiKey: ctx.stack.agentKeys.get('support-bot')!, fetch: wrongKey as unknown as typeof fetch });
    await assert.rejects(unknown.consume(request.workflowId, base), (err: unknown) => err instanceof UnauthenticatedError);
    await assert.rejects(unknown.report(request.workflowId, { status: 'succeeded' }), (err: unknown) => err instanceof UnauthenticatedError);
    const receipt = await ctx.stack.cs.consume(request.workflowId, base);
    assert.equal(receipt.body.actionDigest, base.actionDigest);
    await request.report({ status: 'failed', message: 'payment provider down' });
    await refusedWith(request.report({ status: 'succeeded' }), 'ALREADY_DECIDED');
    const outcome = await ctx.stack.cs.outcome(request.workflowId);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.execution?.message, 'payment provider down');
  });

  test('an expired token is refused and the request ends not_executed', async () => {
    const request = await approved({ action: 'payments.refundFast' });
    const token = request.openToken()!;
    const outcome = await ctx.stack.cs.outcome(request.workflowId);
    assert.equal(outcome.status, 'not_executed');
    assert.equal(outcome.execution?.status, 'not_executed');
    await refusedWith(request.consume(undefined, token), 'TOKEN_EXPIRED');
    const bundle = await bundleOf(request.workflowId);
    assert.ok(bundle.events.some((e) => e.type === 'token_expired'));
    assert.equal(verifyBundle(bundle, { publicKey: ctx.stack.signer.publicKey }).ok, true);
  });

  test('approve-with-edit binds the token to the edited digest: the original payload is refused', async () => {
    const request = await ctx.stack.cs.submit(action({ payload: { amount: 300, currency: 'USD' } }), { waitMs: 1000 });
    const edited = { amount: 250, currency: 'USD' };
    await decideSeen(ctx.stack.cs, request.workflowId, { decision: 'approve', reviewer: 'bob', editedPayload: edited });
    await request.wait(5000);
    assert.deepEqual(request.outcome?.payload, edited);
    const token = request.openToken()!;
    await refusedWith(request.consume(request.request.payload, token), 'BINDING_MISMATCH');
    const receipt = await request.consume(edited, token);
    assert.equal(receipt.body.actionDigest, actionDigest({ ...request.request, payload: edited }));
  });

  test('no usable token is ever in Temporal history, the worker log or the evidence', async () => {
    const request = await approved();
    const token = request.openToken()!;
    const handle = ctx.env.client.workflow.getHandle(request.workflowId);
    // fetchHistory gives payload bytes as base64 "data" strings: decode every one before searching.
    const historyText = async () =>
      JSON.stringify(await handle.fetchHistory(), (key, value: unknown) => (key === 'data' && typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : value));
    const beforeConsume = await historyText();
    assert.ok(beforeConsume.includes(request.outcome!.token!.tokenId), 'the history searched is the real one');
    assert.ok(beforeConsume.includes(request.outcome!.token!.sealed!.ciphertext), 'only the sealed box travels');
    assert.ok(!beforeConsume.includes(token.slice(4)), 'plaintext token in history before consumption');
    assert.ok(!beforeConsume.includes(Buffer.from(token).toString('base64').slice(0, 40)), 'token bytes in history');
    await request.consume();
    await request.report({ status: 'succeeded' });
    await ctx.stack.cs.outcome(request.workflowId);
    // The consume Update's own input carries the token, recorded once it has been spent: it is worthless there.
    const afterConsume = await historyText();
    const occurrences = afterConsume.split(token.slice(4)).length - 1;
    assert.ok(occurrences <= 1, 'the spent token appears at most once, as the accepted consume input');
    await refusedWith(ctx.stack.cs.consume(request.workflowId, { token, agentId: request.request.agentId, taskId: request.request.taskId, actionDigest: actionDigest(request.request) }), 'TOKEN_CONSUMED');
    assert.ok(!JSON.stringify(ctx.stack.logs).includes(token.slice(4)), 'token in the worker log');
    assert.ok(ctx.stack.logs.some((l) => l.msg === 'token minted' && l.workflowId === request.workflowId), 'the log searched is the real one');
    assert.ok((await ctx.stack.cs.outcome(request.workflowId)).evidence, 'evidence sealed');
    const evidence = await ctx.stack.cs.sealedText(request.workflowId);
    assert.ok(evidence.includes(request.outcome!.token!.tokenId));
    assert.ok(!evidence.includes(token.slice(4)), 'token in the evidence');
  });

  test('the worker restarting between approval and consumption loses nothing', async () => {
    const request = await ctx.stack.cs.submit(action({ payload: { amount: 600, currency: 'USD' } }), { waitMs: 1000 });
    await decideSeen(ctx.stack.cs, request.workflowId, { decision: 'approve', reviewer: 'alice' });
    await request.wait(5000);
    await ctx.stack.restartWorker();
    const receipt = await request.consume();
    assert.equal(receipt.body.requestId, request.requestId);
    await request.report({ status: 'succeeded' });
    const outcome = await ctx.stack.cs.outcome(request.workflowId);
    assert.equal(outcome.status, 'executed');
    assert.equal(verifyBundle(await bundleOf(request.workflowId), { publicKey: ctx.stack.signer.publicKey }).ok, true);
  });
});

describe('guard', () => {
  test('runs execute once with the approved payload and reports success', async () => {
    const calls: unknown[] = [];
    const result = await ctx.stack.cs.guard(action({ payload: { amount: 30, currency: 'USD' } }), async (payload) => {
      calls.push(payload);
      return 'done';
    });
    assert.equal(result.executed, true);
    assert.deepEqual(calls, [{ amount: 30, currency: 'USD' }]);
    if (result.executed) assert.equal((await ctx.stack.cs.outcome(result.outcome.workflowId)).status, 'executed');
  });

  test('never calls execute on a deny, an expiry, a pending request or a refused consumption', async () => {
    let calls = 0;
    const execute = async () => void calls++;
    const denied = await ctx.stack.cs.guard(action({ payload: { amount: 50000 } }), execute, { waitMs: 5000 });
    assert.deepEqual([denied.executed, denied.status, denied.executed ? '' : denied.code], [false, 'denied', 'POLICY_DENIED']);
    const expired = await ctx.stack.cs.guard(action({ action: 'email.send', payload: { to: ['a@example.com'] } }), execute, { waitMs: 20_000 });
    assert.deepEqual([expired.executed, expired.status], [false, 'expired']);
    const pending = await ctx.stack.cs.guard(action({ payload: { amount: 500 } }), execute, { waitMs: 500 });
    assert.deepEqual([pending.executed, pending.status], [false, 'pending']);
    // Already consumed once: a second guard on the same action gets its final state, not a new run.
    const request = action({ payload: { amount: 20 } });
    assert.equal((await ctx.stack.cs.guard(request, execute)).executed, true);
    const again = await ctx.stack.cs.guard(request, execute);
    assert.equal(again.executed, false);
    assert.equal(calls, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Junk reviewer decisions and consume calls (fast-check) against a pending and an approved request
// ---------------------------------------------------------------------------------------------

function expectedDecisionCode(junk: Tagged<unknown>, target: 'pending' | 'approved'): string | undefined {
  const parsed = ReviewerDecision.safeParse(wire(junk.value));
  if (junk.mustBeInvalid) assert.ok(!parsed.success, `the schema accepts a decision that must be invalid: ${JSON.stringify(junk.value)?.slice(0, 300)}`);
  if (!parsed.success) return 'INVALID_REQUEST';
  if (target === 'approved') return 'ALREADY_DECIDED';
  return MEMBERS.includes(parsed.data.reviewer) ? undefined : 'NOT_ELIGIBLE';
}

function snapshot(view: ReviewView) {
  return { status: view.status, approvals: view.approvals, currentPayload: view.currentPayload, currentDigest: view.currentDigest, history: view.history.length };
}

// Sent straight to Temporal, around countersign server: the workflow's own validators are the last line.
describe('junk reviewer decisions and consume calls against the server', () => {
  let pending: ApprovalRequest;
  let approved: ApprovalRequest;
  before(async () => {
    pending = await ctx.stack.cs.submit(action({ payload: { amount: 250, currency: 'USD' } }), { waitMs: 2000 });
    assert.equal(pending.status, 'pending');
    approved = await ctx.stack.cs.submit(action({ payload: { amount: 40, currency: 'USD' } }), { waitMs: 5000 });
    assert.equal(approved.status, 'approved');
    // Notifications are recorded beside the review: wait for them, so the evidence is at rest before the junk starts.
    await eventually(async () => {
      const view = await ctx.stack.cs.view(pending.workflowId);
      assert.ok(view.history.some((e) => e.type === 'notified' || e.type === 'notification_failed'), 'reviewers notified');
    }, 'pending request settled');
  });

  test('junk decisions are refused (INVALID_REQUEST, NOT_ELIGIBLE, ALREADY_DECIDED) and change nothing', { timeout: SERVER_TIMEOUT_MS }, async () => {
    const before = { pending: snapshot(await ctx.stack.cs.view(pending.workflowId)), approved: snapshot(await ctx.stack.cs.view(approved.workflowId)) };
    await fc.assert(
      fc.asyncProperty(junkDecision, fc.constantFrom('pending' as const, 'pending' as const, 'approved' as const), async (junk, target) => {
        const code = expectedDecisionCode(junk, target);
        fc.pre(code !== undefined);
        const request = target === 'pending' ? pending : approved;
        await assert.rejects(answered(ctx.stack.ops.decide(request.workflowId, junk.value as never), 'decide'), (err: unknown) => {
          assert.ok(err instanceof DecisionRefusedError, `decide threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
          assert.equal(err.code, code, err.message);
          if (code === 'INVALID_REQUEST') assertOneSentence(err.message, 'decision', DECISION_FIELDS);
          return true;
        });
        assert.deepEqual(snapshot(await answered(ctx.stack.cs.view(request.workflowId), 'view')), before[target]);
      }),
      serverRuns(40),
    );
  });

  test('junk consume calls are refused (INVALID_REQUEST, TOKEN_INVALID, BINDING_MISMATCH) and the real token still works', { timeout: SERVER_TIMEOUT_MS }, async () => {
    const token = approved.openToken();
    assert.ok(token, 'the approved request has a token');
    const real = { token, agentId: approved.request.agentId, taskId: approved.request.taskId, actionDigest: actionDigest(approved.request) };
    const historyBefore = (await ctx.stack.cs.view(approved.workflowId)).history.length;
    const junkConsume = consumeJunk(real);
    await fc.assert(
      fc.asyncProperty(junkConsume, fc.constantFrom('approved' as const, 'approved' as const, 'pending' as const), async (junk, target) => {
        const parsed = ConsumeRequest.safeParse(wire(junk.value));
        if (junk.mustBeInvalid) assert.ok(!parsed.success, `the schema accepts a consume call that must be invalid: ${JSON.stringify(junk.value)}`);
        let code: string | undefined;
        if (!parsed.success) code = 'INVALID_REQUEST';
        else if (target === 'pending' || parsed.data.token !== real.token) code = 'TOKEN_INVALID';
        else if (parsed.data.agentId !== real.agentId || parsed.data.taskId !== real.taskId || parsed.data.actionDigest !== real.actionDigest) code = 'BINDING_MISMATCH';
        fc.pre(code !== undefined);
        const request = target === 'pending' ? pending : approved;
        await assert.rejects(answered(ctx.stack.ops.consume(request.workflowId, junk.value as never), 'consume'), (err: unknown) => {
          assert.ok(err instanceof ConsumeRefusedError, `consume threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
          assert.equal(err.code, code, err.message);
          if (code === 'INVALID_REQUEST') assertOneSentence(err.message, 'consume request', Object.keys(real));
          return true;
        });
      }),
      serverRuns(40),
    );
    const view = await ctx.stack.cs.view(approved.workflowId);
    assert.equal(view.history.length, historyBefore, 'no refused call left a trace in the evidence');
    const receipt = await approved.consume();
    assert.equal(receipt.body.requestId, approved.requestId);
    await approved.report({ status: 'succeeded' });
    assert.equal((await ctx.stack.cs.outcome(approved.workflowId)).status, 'executed');
  });
});
