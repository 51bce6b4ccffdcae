import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { actionDigest, approvalWorkflowId } from '../common/digest';
import { DecisionRefusedError, InvalidRequestError } from '../client/sdk';
import type { SubmitState } from '../common/views';
import { eventually } from './support/eventually';
import { action, useStack } from './support/stack';
import { decideSeen, notFoundFor, signedDecision } from './support/review';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: ops, sla: 1h, tokenTtl: 5m }
groups:
  support: { members: [alice, bob, mallory], escalatesTo: support-leads }
  support-leads: { members: [carol] }
  finance: { members: [dave, erin, frank] }
  ops: { members: [oscar] }
owners:
  - { match: "customer:*", group: support }
rules:
  - id: refund-small
    match: { action: payments.refund }
    when: "payload.amount <= 100"
    decision: allow
  - id: refund-medium
    match: { action: payments.refund }
    when: "payload.amount > 100"
    decision: review
    risk: medium
    reason: Refunds over 100 need a human.
    reviewers: owner
  - id: refund-large
    match: { action: payments.refund }
    when: "payload.amount > 500"
    decision: review
    risk: high
    reason: Large refunds need finance twice.
    reviewers: finance
    approvals: 2
  - id: refund-huge
    match: { action: payments.refund }
    when: "payload.amount > 10000"
    decision: deny
    reason: Refunds over 10,000 are never automated.
  - id: email-quick
    match: { action: email.send }
    decision: review
    reviewers: support
    sla: 3s
  - id: escalating
    match: { action: account.close }
    decision: review
    reviewers: support
    sla: 1m
    escalate: { after: 3s }
`;

const ctx = useStack(POLICY);

async function pending(overrides: Record<string, unknown> = {}): Promise<SubmitState> {
  const state = await ctx.stack.cs.submit(action({ payload: { amount: 250, currency: 'USD' }, ...overrides }), { waitMs: 2000 });
  assert.equal(state.status, 'pending');
  assert.equal(state.outcome, undefined);
  return state;
}

async function refused(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof DecisionRefusedError, `expected a refusal, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('policy decides alone', () => {
  test('auto-allow: approved by policy at once, with the rule and the payload to run', async () => {
    const request = action({ payload: { amount: 40, currency: 'USD' } });
    const state = await ctx.stack.cs.submit(request, { waitMs: 5000 });
    assert.equal(state.status, 'approved');
    assert.equal(state.outcome?.decidedBy, 'policy');
    assert.deepEqual(state.outcome?.ruleIds, ['refund-small']);
    assert.deepEqual(state.outcome?.payload, request.payload);
    assert.equal(state.outcome?.code, undefined);
  });

  test('auto-allow is one round: one local activity gives the verdict and the token, and the evidence still shows both steps', async () => {
    const request = action({ payload: { amount: 30, currency: 'USD' } });
    const state = await ctx.stack.cs.submit(request, { waitMs: 5000 });
    assert.equal(state.status, 'approved');
    const token = state.outcome?.token;
    assert.ok(token?.sealed, 'the token comes sealed to the agent');
    const { events } = await ctx.env.client.workflow.getHandle(state.workflowId).fetchHistory();
    const localActivities = events!
      .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
      .map((e) => {
        const data = e.markerRecordedEventAttributes!.details!.data!.payloads![0]!.data as unknown as string;
        return (JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { activity_type: string }).activity_type;
      });
    assert.deepEqual(localActivities, ['evaluateRequestAndRelease']);
    const { bundle } = await ctx.stack.cs.evidence(state.workflowId);
    assert.deepEqual(bundle.events.slice(0, 3).map((e) => e.type), ['requested', 'evaluated', 'token_minted']);
    const record = bundle.approvalRecord!.body;
    assert.equal(record.decidedBy, 'policy');
    assert.equal(record.tokenId, token.tokenId);
    assert.equal(record.expiresAt, token.expiresAt);
    assert.deepEqual(record.binding, { agentId: request.agentId, taskId: request.taskId, actionDigest: actionDigest(request as Parameters<typeof actionDigest>[0]), workflowId: state.workflowId });
    assert.deepEqual(record.ruleIds, ['refund-small']);
  });

  test('policy deny: POLICY_DENIED with the rule reason', async () => {
    const state = await ctx.stack.cs.submit(action({ payload: { amount: 20000 } }), { waitMs: 5000 });
    assert.equal(state.status, 'denied');
    assert.equal(state.outcome?.code, 'POLICY_DENIED');
    assert.equal(state.outcome?.message, 'Refunds over 10,000 are never automated.');
    assert.equal(state.outcome?.payload, undefined);
  });

  test('an invalid request is refused with the field named and starts no workflow', async () => {
    const request = action({ resource: { type: 'customer' } });
    await assert.rejects(ctx.stack.cs.submit(request, { waitMs: 1000 }), (err: unknown) => {
      assert.ok(err instanceof InvalidRequestError);
      assert.equal(err.message, 'Field "resource.id" is required.');
      return true;
    });
    const { workflowId } = approvalWorkflowId(request as never);
    await assert.rejects(ctx.env.client.workflow.getHandle(workflowId).describe(), WorkflowNotFoundError);
  });
});

describe('reviewers decide', () => {
  test('approve: the routed group approves and the agent gets the decision', async () => {
    const state = await pending();
    const view = await ctx.stack.cs.view(state.requestId);
    assert.equal(view.policy?.route?.group.name, 'support');
    assert.deepEqual(view.eligibleGroups, ['support']);
    assert.equal(view.request.summary, 'Refund order #1234: the customer was charged twice.');
    const receipt = await decideSeen(ctx.stack.cs, state.requestId, { decision: 'approve', reviewer: 'alice' });
    assert.equal(receipt.status, 'approved');
    const final = await ctx.stack.cs.wait(state.workflowId, 5000);
    assert.equal(final.status, 'approved');
    assert.deepEqual(final.outcome?.reviewers, ['alice']);
    assert.equal(final.outcome?.decidedBy, 'reviewers');
    assert.equal(final.outcome?.edited, false);
  });

  test('reviewer deny: REVIEWER_DENIED with the reviewer reason code and message', async () => {
    const state = await pending();
    await decideSeen(ctx.stack.cs, state.workflowId, { decision: 'deny', reviewer: 'bob', reasonCode: 'DUPLICATE_REFUND', message: 'Already refunded last week.' });
    const final = await ctx.stack.cs.wait(state.workflowId, 5000);
    assert.equal(final.status, 'denied');
    assert.equal(final.outcome?.code, 'REVIEWER_DENIED');
    assert.equal(final.outcome?.reviewerReason, 'DUPLICATE_REFUND');
    assert.equal(final.outcome?.message, 'Already refunded last week.');
  });

  test('a deny without a reason code is refused and changes nothing', async () => {
    const state = await pending();
    await refused(decideSeen(ctx.stack.cs, state.workflowId, { decision: 'deny', reviewer: 'bob', message: 'no' } as never), 'INVALID_REQUEST', /reasonCode/);
    assert.equal((await ctx.stack.cs.view(state.workflowId)).status, 'pending');
  });

  test('request changes: the agent gets CHANGES_REQUESTED with the comment and the proposed payload', async () => {
    const state = await pending();
    const proposed = { amount: 150, currency: 'USD', order: '1234' };
    await decideSeen(ctx.stack.cs, state.workflowId, { decision: 'request_changes', reviewer: 'alice', comment: 'Refund only the duplicate charge.', proposedPayload: proposed });
    const final = await ctx.stack.cs.wait(state.workflowId, 5000);
    assert.equal(final.status, 'changes_requested');
    assert.equal(final.outcome?.code, 'CHANGES_REQUESTED');
    assert.equal(final.outcome?.comment, 'Refund only the duplicate charge.');
    assert.deepEqual(final.outcome?.proposedPayload, proposed);
  });

  test('approve with an edit that passes re-validation: the edited payload is the one to execute', async () => {
    const state = await pending();
    const edited = { amount: 180, currency: 'USD', order: '1234', note: 'partial' };
    await decideSeen(ctx.stack.cs, state.workflowId, { decision: 'approve', reviewer: 'alice', editedPayload: edited });
    const final = await ctx.stack.cs.wait(state.workflowId, 5000);
    assert.equal(final.status, 'approved');
    assert.equal(final.outcome?.edited, true);
    assert.deepEqual(final.outcome?.payload, edited);
    assert.notEqual(final.outcome?.actionDigest, (await ctx.stack.cs.view(state.workflowId)).actionDigest);
    const view = await ctx.stack.cs.view(state.workflowId);
    assert.ok(view.history.some((e) => e.type === 'edited' && e.actor === 'alice'));
  });

  test('approve with an edit that policy now denies is refused with the reason, and the request stays pending', async () => {
    const state = await pending();
    await refused(
      decideSeen(ctx.stack.cs, state.workflowId, { decision: 'approve', reviewer: 'alice', editedPayload: { amount: 50000, currency: 'USD' } }),
      'POLICY_DENIED',
      /Refunds over 10,000 are never automated/,
    );
    await refused(
      decideSeen(ctx.stack.cs, state.workflowId, { decision: 'approve', reviewer: 'alice', editedPayload: [1, 2] as never }),
      'INVALID_REQUEST',
      /editedPayload/,
    );
    const view = await ctx.stack.cs.view(state.workflowId);
    assert.equal(view.status, 'pending');
    assert.deepEqual(view.currentPayload, { amount: 250, currency: 'USD' });
    assert.deepEqual(view.approvals, []);
  });

  test('two-approver rule: one approval is not enough and the same reviewer twice is refused', async () => {
    const state = await pending({ payload: { amount: 900, currency: 'USD' } });
    const first = await decideSeen(ctx.stack.cs, state.workflowId, { decision: 'approve', reviewer: 'dave' });
    assert.equal(first.status, 'pending');
    assert.deepEqual(first.approvals, ['dave']);
    assert.equal(first.approvalsNeeded, 2);
    await refused(decideSeen(ctx.stack.cs, state.workflowId, { decision: 'approve', reviewer: 'dave' }), 'ALREADY_DECIDED');
    assert.equal((await ctx.stack.cs.wait(state.workflowId, 0)).status, 'pending');
    const second = await decideSeen(ctx.stack.cs, state.workflowId, { decision: 'approve', reviewer: 'erin' });
    assert.equal(second.status, 'approved');
    const final = await ctx.stack.cs.wait(state.workflowId, 5000);
    assert.deepEqual(final.outcome?.reviewers, ['dave', 'erin']);
    await refused(decideSeen(ctx.stack.cs, state.workflowId, { decision: 'approve', reviewer: 'frank' }), 'ALREADY_DECIDED');
  });

  test('a reviewer outside the eligible groups finds no such request; sent around the server, the workflow refuses it NOT_ELIGIBLE', async () => {
    const state = await pending();
    await notFoundFor(decideSeen(ctx.stack.cs, state.workflowId, { decision: 'approve', reviewer: 'dave' }));
    await notFoundFor(decideSeen(ctx.stack.cs, state.workflowId, { decision: 'approve', reviewer: 'carol' }));
    await notFoundFor((await ctx.stack.reviewer('dave')).view(state.requestId));
    // A party with Temporal access and dave's own signature still cannot make dave eligible.
    const signed = await signedDecision(ctx.stack, state.workflowId, { decision: 'approve', reviewer: 'dave' });
    await refused(ctx.stack.ops.decide(state.workflowId, signed), 'NOT_ELIGIBLE', /not in an eligible group \(support\)/);
    assert.equal((await ctx.stack.cs.view(state.workflowId)).status, 'pending');
  });

  test('self-approval is refused: neither the human the agent acts for nor the agent itself may decide', async () => {
    const state = await pending({ onBehalfOf: 'mallory' });
    await refused(decideSeen(ctx.stack.cs, state.workflowId, { decision: 'approve', reviewer: 'mallory' }), 'NOT_ELIGIBLE', /on behalf of themselves/);
    const byAgent = await pending({ agentId: 'bob' });
    await refused(decideSeen(ctx.stack.cs, byAgent.workflowId, { decision: 'approve', reviewer: 'bob' }), 'NOT_ELIGIBLE');
    assert.equal((await ctx.stack.cs.view(state.workflowId)).status, 'pending');
  });

  test('a decision sent as a Signal is applied, and a refused one is recorded without effect', async () => {
    const state = await pending();
    const handle = ctx.env.client.workflow.getHandle(state.workflowId);
    const { currentDigest: versionDigest } = await ctx.stack.cs.view(state.workflowId);
    await handle.signal('decide', await signedDecision(ctx.stack, state.workflowId, { decision: 'approve', reviewer: 'carol', versionDigest }));
    await handle.signal('decide', { decision: 'approve', reviewer: 'bob', versionDigest }); // unsigned: refused
    await handle.signal('decide', await signedDecision(ctx.stack, state.workflowId, { decision: 'approve', reviewer: 'bob', versionDigest }));
    const final = await ctx.stack.cs.wait(state.workflowId, 5000);
    assert.equal(final.status, 'approved');
    assert.deepEqual(final.outcome?.reviewers, ['bob']);
    const view = await ctx.stack.cs.view(state.workflowId);
    assert.ok(view.history.some((e) => e.type === 'refused' && e.actor === 'carol' && e.detail.startsWith('NOT_ELIGIBLE')));
    assert.ok(view.history.some((e) => e.type === 'refused' && e.actor === 'bob' && e.detail.startsWith('UNAUTHENTICATED')));
  });
});

describe('time', () => {
  test('escalation widens who may decide and notifies the next group', async () => {
    const state = await ctx.stack.cs.submit(action({ action: 'account.close', payload: { account: 'AC-1' } }), { waitMs: 1000 });
    assert.equal(state.status, 'pending');
    await notFoundFor(decideSeen(ctx.stack.cs, state.workflowId, { decision: 'approve', reviewer: 'carol' }));
    const view = await eventually(async () => {
      const v = await ctx.stack.cs.view(state.workflowId);
      assert.equal(v.status, 'escalated');
      assert.ok(v.history.some((e) => e.type === 'notified' && e.detail.startsWith('escalated sent to support-leads')));
      return v;
    }, 'request escalated', 200);
    assert.deepEqual(view.eligibleGroups, ['support', 'support-leads']);
    assert.ok(ctx.stack.logs.some((l) => l.event === 'escalated' && l.group === 'support-leads' && l.requestId === state.requestId));
    const receipt = await decideSeen(ctx.stack.cs, state.workflowId, { decision: 'approve', reviewer: 'carol' });
    assert.equal(receipt.status, 'approved');
  });

  test('SLA expiry: no decision in time ends the request expired with SLA_EXPIRED', async () => {
    const state = await ctx.stack.cs.submit(action({ action: 'email.send', payload: { to: ['x@example.com'] } }), { waitMs: 0 });
    const final = await ctx.stack.cs.wait(state.workflowId, 30_000);
    assert.equal(final.status, 'expired');
    assert.equal(final.outcome?.code, 'SLA_EXPIRED');
    assert.equal(final.outcome?.decidedBy, 'timer');
    await refused(decideSeen(ctx.stack.cs, state.workflowId, { decision: 'approve', reviewer: 'alice' }), 'ALREADY_DECIDED');
  });
});

describe('idempotent submission', () => {
  test('resubmitting the same action joins the running workflow, then returns the final decision without a new review', async () => {
    const request = action({ payload: { amount: 300, currency: 'USD' } });
    const first = await ctx.stack.cs.submit(request, { waitMs: 500 });
    const again = await ctx.stack.cs.submit({ ...request, summary: 'same action, reworded' }, { waitMs: 500 });
    assert.equal(again.workflowId, first.workflowId);
    assert.equal(again.status, 'pending');
    await decideSeen(ctx.stack.cs, first.workflowId, { decision: 'deny', reviewer: 'alice', reasonCode: 'NOT_NEEDED', message: 'Customer withdrew the request.' });
    await ctx.stack.cs.wait(first.workflowId, 5000);
    await eventually(async () => {
      const afterEnd = await ctx.stack.cs.submit(request, { waitMs: 500 });
      assert.equal(afterEnd.workflowId, first.workflowId);
      assert.equal(afterEnd.status, 'denied');
      assert.equal(afterEnd.outcome?.reviewerReason, 'NOT_NEEDED');
    }, 'closed request returns its outcome', 50);
    const runs = await ctx.env.client.workflow.count(`WorkflowId = "${first.workflowId}"`);
    assert.equal(runs.count, 1);
    const fresh = await ctx.stack.cs.submit({ ...request, taskId: `${request.taskId}-retry` }, { waitMs: 500 });
    assert.notEqual(fresh.workflowId, first.workflowId);
    assert.equal(fresh.status, 'pending');
  });
});

describe('visibility', () => {
  test('pending requests are listed for their group with search attributes and memo', async () => {
    const state = await pending({ payload: { amount: 777, currency: 'EUR' } });
    const row = await eventually(async () => {
      const rows = await ctx.stack.cs.listPending({ group: 'finance' });
      const found = rows.find((r) => r.workflowId === state.workflowId);
      assert.ok(found);
      return found;
    }, 'listed in the finance queue');
    assert.equal(row.action, 'payments.refund');
    assert.equal(row.resource, 'customer:C-42');
    assert.equal(row.risk, 'high');
    assert.deepEqual(row.groups, ['finance']);
    assert.equal(row.agent, 'support-bot');
    assert.ok(row.deadline);
    assert.ok(!(await ctx.stack.cs.listPending({ group: 'ops' })).some((r) => r.workflowId === state.workflowId));
    const described = await ctx.env.client.workflow.getHandle(state.workflowId).describe();
    assert.match((await described.staticSummary()) ?? '', /^payments\.refund on customer:C-42 — Refund order #1234/);
    assert.match((await described.staticDetails()) ?? '', /"amount": 777/);
  });
});
