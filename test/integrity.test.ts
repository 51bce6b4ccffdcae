/**
 * Issue 9's attacks, each run the way an attacker would — the CLI, or a raw @temporalio/client
 * start, signal, update or reset — and each refused: one reviewer never counts twice, an edit is
 * re-routed, a decision binds to the version its reviewer was shown, the token binds to what policy
 * saw, signed decisions cannot be replayed, a reset cannot re-arm a spent token, evidence is written
 * once per run and verified only against keys the user names, and a flood cannot freeze a request.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { reviewerKeyPath } from '../config/home';
import { createKeyFile, newEd25519Key, signerFromKey } from '../crypto/keys';
import { generateAgentKey, openToken } from '../client/agent-keys';
import { ConsumeRefusedError, DecisionRefusedError } from '../client/sdk';
import { bundleDigest, verifyBundle, type EvidenceBundle } from '../common/bundle';
import { actionDigest, approvalWorkflowId, requestIdFor } from '../common/digest';
import type { ApprovalOutcome, ReviewView } from '../common/views';
import { decisionStatement, statementTarget } from '../common/signing';
import { cliFor, lookThenDecide } from './support/cli';
import { sealedBundle } from './support/evidence';
import { signedDecision } from './support/review';
import { action, useStack } from './support/stack';

const home = mkdtempSync(join(tmpdir(), 'countersign-integrity-'));
const kim = createKeyFile(reviewerKeyPath(home, 'kim'));

const policyText = (kimKey: string) => `
version: 1
defaults: { decision: review, reviewers: ops, sla: 1h, tokenTtl: 5m }
groups:
  support: { members: [alice, bob], escalatesTo: support-leads }
  support-leads: { members: [carol] }
  finance:
    members: [dave, erin, kim]
    escalatesTo: cfo-office
    reviewerKeys: { kim: "${kimKey}" }
  cfo-office: { members: [fiona] }
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
    reviewers: owner
    reason: Refunds over $100 need a support lead's eye.
  - id: refund-large
    match: { action: payments.refund }
    when: "payload.amount > 500"
    decision: review
    risk: high
    reviewers: finance
    approvals: 2
    reason: Refunds over $500 move real money; finance signs off twice.
  - id: refund-huge
    match: { action: payments.refund }
    when: "payload.amount > 100000"
    decision: deny
    reason: Refunds over $100,000 are never automated.
`;
const POLICY = policyText(kim.publicKey);

const ctx = useStack(POLICY);
const shell = cliFor(ctx, { COUNTERSIGN_REVIEWER: '' });
/** The CLI with the stack's home; kim made her key on her own machine (home), so it goes there first. */
const cli: typeof shell = (args, env) => {
  if (!existsSync(reviewerKeyPath(ctx.stack.dir, 'kim'))) {
    mkdirSync(dirname(reviewerKeyPath(ctx.stack.dir, 'kim')), { recursive: true });
    copyFileSync(reviewerKeyPath(home, 'kim'), reviewerKeyPath(ctx.stack.dir, 'kim'));
  }
  return shell(args, env);
};

const refund = (amount: number, extra: Record<string, unknown> = {}) => action({ payload: { amount, currency: 'USD', order: 'A-1' }, ...extra });
const file = (name: string, content: unknown) => {
  const path = join(home, `${name}-${randomUUID().slice(0, 8)}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
};

async function pending(amount: number) {
  const request = await ctx.stack.cs.submit(refund(amount), { waitMs: 2000 });
  assert.equal(request.status, 'pending');
  return request;
}

/** A $1,200 refund approved by kim (signed, from the CLI) and dave, then consumed and reported. */
async function executedWithKim() {
  const request = await pending(1200);
  assert.equal((await lookThenDecide(cli, ['approve', request.requestId, '--as', 'kim'])).code, 0);
  assert.equal((await lookThenDecide(cli, ['approve', request.requestId, '--as', 'dave'])).code, 0);
  await request.wait(5000);
  await request.consume();
  await request.report({ status: 'succeeded' });
  return request;
}

/** Resets a workflow's latest run to a WorkflowTaskCompleted event chosen from its history; returns the new run id. */
async function resetTo(workflowId: string, reason: string, pick: (events: temporal.api.history.v1.IHistoryEvent[]) => temporal.api.history.v1.IHistoryEvent | undefined): Promise<string> {
  const handle = ctx.env.client.workflow.getHandle(workflowId);
  const { events } = await handle.fetchHistory();
  const point = pick(events!);
  assert.ok(point, 'the reset point is in the history');
  const reset = await ctx.env.client.workflowService.resetWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId, runId: (await handle.describe()).runId },
    reason,
    workflowTaskFinishEventId: point.eventId,
    requestId: randomUUID(),
  });
  return reset.runId!;
}

const EventType = temporal.api.enums.v1.EventType;

async function refusedWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    const refusal = err instanceof WorkflowUpdateFailedError ? { code: (err.cause as { type?: string }).type, message: err.cause?.message ?? '' } : (err as DecisionRefusedError);
    assert.equal(refusal.code, code, `${String(err)}: ${refusal.message}`);
    if (message) assert.match(refusal.message, message);
    return true;
  });
}

const view = (id: string): Promise<ReviewView> => ctx.stack.cs.view(id);

describe('1. one reviewer never counts twice', () => {
  test('dave approves, then "edits" to the identical payload: refused ALREADY_DECIDED, still 1/2 (CLI and raw update)', async () => {
    const request = await pending(1200);
    const first = await lookThenDecide(cli, ['approve', request.requestId, '--as', 'dave']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /status pending \(1\/2 approvals\)/);
    const same = file('same', request.request.payload);
    const twice = await lookThenDecide(cli, ['approve', request.requestId, '--as', 'dave', '--edit', same]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /Refused \(ALREADY_DECIDED\): dave has already approved this version/);

    const raw = ctx.env.client.workflow.getHandle(request.workflowId);
    const { currentDigest } = await view(request.workflowId);
    await refusedWith(raw.executeUpdate('decide', { args: [{ decision: 'approve', reviewer: 'dave', versionDigest: currentDigest, editedPayload: request.request.payload }] }), 'ALREADY_DECIDED');
    await raw.signal('decide', { decision: 'approve', reviewer: 'dave', versionDigest: currentDigest, editedPayload: request.request.payload });
    const after = await view(request.workflowId);
    assert.equal(after.status, 'pending');
    assert.deepEqual(after.approvals, ['dave']);
    assert.ok(after.history.some((e) => e.type === 'refused' && e.actor === 'dave' && e.detail.startsWith('ALREADY_DECIDED')));
  });
});

describe('2. an edit is re-routed', () => {
  test('support edits a $200 refund to $50,000: it goes to finance for two approvals, and support no longer counts', async () => {
    const request = await pending(200);
    const before = await view(request.workflowId);
    assert.deepEqual(before.eligibleGroups, ['support']);
    const big = file('big', { amount: 50000, currency: 'USD', order: 'A-1' });
    const edit = await lookThenDecide(cli, ['approve', request.requestId, '--as', 'alice', '--edit', big]);
    assert.equal(edit.code, 0, edit.stderr);
    assert.match(edit.stdout, /status pending \(0\/2 approvals\)/);
    const after = await view(request.workflowId);
    assert.deepEqual(after.eligibleGroups, ['finance']);
    assert.equal(after.approvalsNeeded, 2);
    assert.equal(after.policy?.risk, 'high');
    assert.ok(Date.parse(after.deadline!) <= Date.parse(before.deadline!), 'the deadline never moves later');
    const edited = after.history.find((e) => e.type === 'edited')!;
    assert.equal(edited.data?.group, 'finance');
    assert.ok(after.history.some((e) => e.type === 'refused' && e.actor === 'alice' && /does not count/.test(e.detail)));
    // Support's bob no longer sees it: not found through the server; around it, the workflow says why.
    const bob = await lookThenDecide(cli, ['approve', request.requestId, '--as', 'bob']);
    assert.equal(bob.code, 3);
    assert.match(bob.stderr, /No request [0-9a-f]{16} in your queue/);
    await refusedWith(ctx.stack.ops.decide(request.workflowId, await signedDecision(ctx.stack, request.workflowId, { decision: 'approve', reviewer: 'bob' })), 'NOT_ELIGIBLE', /bob is not in an eligible group \(finance\)/);
    await eventuallyNotified(request.workflowId, 'finance');
    assert.equal((await lookThenDecide(cli, ['approve', request.requestId, '--as', 'dave'])).code, 0);
    const done = await lookThenDecide(cli, ['approve', request.requestId, '--as', 'erin']);
    assert.match(done.stdout, /status approved \(2\/2 approvals\)/);
    const outcome = (await request.wait(5000)).outcome!;
    assert.deepEqual(outcome.reviewers, ['dave', 'erin']);
    assert.deepEqual(outcome.payload, { amount: 50000, currency: 'USD', order: 'A-1' });
    assert.equal(outcome.actionDigest, actionDigest({ ...request.request, payload: outcome.payload! }));
  });
});

async function eventuallyNotified(workflowId: string, group: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await view(workflowId)).history.some((e) => e.type === 'notified' && e.data?.group === group)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${group} was never notified`);
}

describe('3. a decision binds to the version its reviewer was shown', () => {
  test('erin looks at $1,200; dave edits to $9,999; erin\'s approve is refused STALE_VERSION until she looks again', async () => {
    const request = await pending(1200);
    assert.equal((await cli(['review', 'show', request.requestId, '--as', 'erin'])).code, 0);
    const other = file('other', { amount: 9999, currency: 'USD', order: 'B-2', to: 'acct-666' });
    assert.equal((await lookThenDecide(cli, ['approve', request.requestId, '--as', 'dave', '--edit', other])).code, 0);
    const stale = await cli(['review', 'approve', request.requestId, '--as', 'erin']);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /Refused \(STALE_VERSION\): The payload changed since erin was shown it .* look at the request again .*review show/);
    assert.equal((await view(request.workflowId)).status, 'pending');

    const prefix = await cli(['review', 'approve', request.requestId, '--as', 'erin', '--digest', (await view(request.workflowId)).currentDigest.slice(0, 12)]);
    assert.equal(prefix.code, 2, 'a prefix could be ground for: the whole digest is required');
    assert.match(prefix.stderr, /--digest must be the whole version digest \(64 hex digits\)/);
    const wrongDigest = await cli(['review', 'approve', request.requestId, '--as', 'erin', '--digest', (await view(request.workflowId)).actionDigest]);
    assert.equal(wrongDigest.code, 1, 'the original version by --digest is stale too');
    assert.match(wrongDigest.stderr, /Refused \(STALE_VERSION\)/);
    const current = (await view(request.workflowId)).currentDigest;
    const ok = await cli(['review', 'approve', request.requestId, '--as', 'erin', '--digest', current]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /status approved \(2\/2 approvals\)/);
  });

  test('on a terminal, a reviewer who has not looked is shown the version and asked before it is decided', async () => {
    const request = await pending(1200);
    const bin = join(__dirname, '..', 'bin', 'countersign.js');
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_'))), COUNTERSIGN_URL: ctx.stack.url, COUNTERSIGN_HOME: ctx.stack.dir };
    const tty = (answer: string) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        const child = spawn('script', ['-qec', `${process.execPath} ${bin} review approve ${request.requestId} --as dave`, '/dev/null'], { env });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (/\[y\/N\]/.test(out) && !child.stdin.writableEnded) child.stdin.end(`${answer}\n`);
        });
        child.on('close', (code) => resolve({ code: code ?? 1, out }));
      });
    const no = await tty('n');
    assert.match(no.out, /Summary:\s+Refund order/);
    assert.match(no.out, /Approve version [0-9a-f]{12} of request [0-9a-f]{16} as dave\? \[y\/N\]/);
    assert.match(no.out, /Nothing was decided/);
    assert.notEqual(no.code, 0);
    assert.deepEqual((await view(request.workflowId)).approvals, []);
    const yes = await tty('y');
    assert.equal(yes.code, 0, yes.out);
    assert.match(yes.out, /Approved request [0-9a-f]{16} as dave: status pending \(1\/2 approvals\)/);
  });
});

describe('4. the workflow recomputes what a raw start asserts', () => {
  const start = async (args: { request: Record<string, unknown>; requestId: string; actionDigest: string }, workflowId: string): Promise<ApprovalOutcome> => {
    const handle = await ctx.env.client.workflow.start('approvalWorkflow', { taskQueue: ctx.stack.taskQueue, workflowId, args: [args] });
    return (await handle.result()) as ApprovalOutcome;
  };

  test('a $40 refund started with the digest of a $250,000 refund is denied INVALID_REQUEST and nothing is minted', async () => {
    const small = refund(40);
    const forged = actionDigest({ action: 'payments.refund', resource: small.resource as never, payload: { amount: 250000, currency: 'USD', order: 'A-1' } });
    const requestId = requestIdFor(small.agentId as string, small.taskId as string, forged);
    const outcome = await start({ request: small, requestId, actionDigest: forged }, `cs-${small.agentId}-${requestId}`);
    assert.equal(outcome.status, 'denied');
    assert.equal(outcome.code, 'INVALID_REQUEST');
    assert.match(outcome.message!, /actionDigest is not the digest of its action, resource and payload/);
    assert.equal(outcome.token, undefined);
    const bundle = JSON.parse(readFileSync(outcome.evidence!.path, 'utf8')) as EvidenceBundle;
    assert.equal(bundle.events.some((e) => e.type === 'token_minted' || e.type === 'evaluated'), false, 'policy never ran, no token');
    assert.equal(bundle.approvalRecord, undefined);
  });

  test('a wrong requestId or a workflow id of the caller\'s choosing is denied; the honest start of the same request is approved', async () => {
    const small = refund(40);
    const honest = approvalWorkflowId(small as never);
    const wrongId = await start({ request: small, requestId: 'ffffffffffffffff', actionDigest: honest.actionDigest }, honest.workflowId);
    assert.equal(wrongId.code, 'INVALID_REQUEST');
    assert.match(wrongId.message!, /requestId is not the one derived/);
    const chosen = refund(40);
    const chosenIds = approvalWorkflowId(chosen as never);
    const wrongWorkflow = await start({ request: chosen, requestId: chosenIds.requestId, actionDigest: chosenIds.actionDigest }, `cs-support-bot-${randomUUID().slice(0, 8)}`);
    assert.equal(wrongWorkflow.code, 'INVALID_REQUEST');
    assert.match(wrongWorkflow.message!, /workflow id is not the one derived/);
    const control = refund(40);
    const ids = approvalWorkflowId(control as never);
    const handle = await ctx.env.client.workflow.start('approvalWorkflow', { taskQueue: ctx.stack.taskQueue, workflowId: ids.workflowId, args: [ctx.stack.vouch({ request: control, requestId: ids.requestId, actionDigest: ids.actionDigest }, ids.workflowId)] });
    const state = (await handle.executeUpdate('awaitDecision', { args: [{ waitMs: 5000 }] })) as { outcome?: ApprovalOutcome };
    assert.equal(state.outcome?.status, 'approved', 'the honest start, vouched for by the server\'s start key, is approved by policy');
    assert.equal(state.outcome?.decidedBy, 'policy');
    await handle.cancel();
  });

  test('a raw start of support-bot\'s request with the starter\'s own delivery key is refused before policy runs: no voucher, a lifted one, one for another key, one signed by a stranger', async () => {
    const squatter = generateAgentKey();
    const deniedBeforePolicy = async (args: Record<string, unknown> & { request: Record<string, unknown>; requestId: string; actionDigest: string }, workflowId: string, why: RegExp) => {
      const outcome = await start(args, workflowId);
      assert.equal(outcome.status, 'denied');
      assert.equal(outcome.code, 'INVALID_REQUEST');
      assert.match(outcome.message!, why);
      assert.equal(outcome.token, undefined);
      const bundle = JSON.parse(readFileSync(outcome.evidence!.path, 'utf8')) as EvidenceBundle;
      assert.equal(bundle.events.some((e) => e.type === 'token_minted'), false, 'nothing minted');
      assert.equal(bundle.approvalRecord, undefined);
    };
    const squatted = { ...refund(40), agentKey: squatter.publicKey };
    const ids = approvalWorkflowId(squatted as never);
    await deniedBeforePolicy({ request: squatted, requestId: ids.requestId, actionDigest: ids.actionDigest }, ids.workflowId, /The start is refused: it carries no voucher from the countersign server/);

    // A voucher read from the history of an honest start names that request, not this one.
    const honest = await ctx.stack.cs.submit(refund(40), { waitMs: 5000 });
    assert.equal(honest.status, 'approved');
    const [started] = (await ctx.env.client.workflow.getHandle(honest.workflowId).fetchHistory()).events!;
    const honestInput = JSON.parse(Buffer.from(started!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!.data!).toString('utf8')) as { voucher: unknown; request: Record<string, unknown> };
    assert.ok(honestInput.voucher, 'the server vouched for its own start');
    assert.equal(JSON.stringify(honestInput.voucher).includes('PRIVATE'), false);
    const other = { ...refund(40), agentKey: squatter.publicKey };
    const otherIds = approvalWorkflowId(other as never);
    await deniedBeforePolicy({ request: other, requestId: otherIds.requestId, actionDigest: otherIds.actionDigest, voucher: honestInput.voucher }, otherIds.workflowId, /its voucher was issued for another request/);

    // A voucher the server gave the real agent's request, reused with the squatter's key in its place.
    const real = refund(40);
    const realIds = approvalWorkflowId(real as never);
    const { voucher } = ctx.stack.vouch({ request: real, requestId: realIds.requestId, actionDigest: realIds.actionDigest }, realIds.workflowId);
    const swapped = { ...real, agentKey: squatter.publicKey };
    const swappedIds = approvalWorkflowId(swapped as never);
    assert.equal(swappedIds.workflowId, realIds.workflowId, 'the delivery key is not part of the workflow id');
    await deniedBeforePolicy({ request: swapped, requestId: swappedIds.requestId, actionDigest: swappedIds.actionDigest, voucher }, swappedIds.workflowId, /its voucher was issued for another request body \(another delivery key/);

    // A voucher of the right shape, signed by a key the directory does not register.
    const stranger = signerFromKey(newEd25519Key());
    const mine = { ...refund(40), agentKey: squatter.publicKey };
    const mineIds = approvalWorkflowId(mine as never);
    const { voucher: real_ } = ctx.stack.vouch({ request: mine, requestId: mineIds.requestId, actionDigest: mineIds.actionDigest }, mineIds.workflowId);
    const body = (real_ as { body: Parameters<typeof stranger.sign>[1] }).body;
    await deniedBeforePolicy({ request: mine, requestId: mineIds.requestId, actionDigest: mineIds.actionDigest, voucher: stranger.sign('countersign/start-voucher/v1', body) }, mineIds.workflowId, /its voucher is not signed by the server start key the directory registers/);
  });
});

describe('5. signed decisions cannot be replayed', () => {
  test('kim\'s signature for one request is refused on another, and a fresh-looking statement signed 11 minutes ago is refused', async () => {
    const a = await pending(1200);
    const signed = await lookThenDecide(cli, ['approve', a.requestId, '--as', 'kim']);
    assert.equal(signed.code, 0, signed.stderr);
    const approved = (await view(a.workflowId)).history.find((e) => e.type === 'approved' && e.actor === 'kim')!;
    const { signature, statement } = approved.data as { signature: string; statement: { signedAt: string } };

    const b = await pending(1200);
    const bView = await view(b.workflowId);
    assert.equal(bView.currentDigest, (await view(a.workflowId)).currentDigest, 'same payload, same version digest: only the workflow id tells them apart');
    const raw = ctx.env.client.workflow.getHandle(b.workflowId);
    await refusedWith(
      raw.executeUpdate('decide', { args: [{ decision: 'approve', reviewer: 'kim', versionDigest: bView.currentDigest, signature: { signedAt: statement.signedAt, value: signature } }] }),
      'UNAUTHENTICATED',
      /does not verify against their registered key for this request and version/,
    );

    const signedAt = new Date(Date.now() - 11 * 60_000).toISOString();
    const target = statementTarget(bView);
    const old = kim.sign('countersign/reviewer-decision/v2', decisionStatement(target, { decision: 'approve', reviewer: 'kim' }, signedAt));
    await refusedWith(
      raw.executeUpdate('decide', { args: [{ decision: 'approve', reviewer: 'kim', versionDigest: bView.currentDigest, signature: { signedAt, value: old.signature } }] }),
      'UNAUTHENTICATED',
      /outside the 10 minutes a signature is accepted for/,
    );
    const fresh = new Date().toISOString();
    const now = kim.sign('countersign/reviewer-decision/v2', decisionStatement(target, { decision: 'approve', reviewer: 'kim' }, fresh));
    const accepted = (await raw.executeUpdate('decide', { args: [{ decision: 'approve', reviewer: 'kim', versionDigest: bView.currentDigest, signature: { signedAt: fresh, value: now.signature } }] })) as { approvals: string[] };
    assert.deepEqual(accepted.approvals, ['kim'], 'the same statement, signed now for this request, is accepted');
  });
});

describe('5b. nor into a new run of the same workflow id', () => {
  test('a raw start reusing a finished workflow id: refused without the server\'s voucher or with the squatter\'s key; replayed whole, kim\'s first-run decision is refused and the token opens only with the agent\'s key', async () => {
    const request = await executedWithKim();
    const first = await sealedBundle(ctx.stack.cs, request.workflowId);
    const kimsDecision = first.events.find((e) => e.type === 'approved' && e.actor === 'kim')!.data as { signature: string; statement: { signedAt: string; versionDigest: string } };
    const [started] = (await ctx.env.client.workflow.getHandle(request.workflowId).fetchHistory()).events!;
    const firstInput = JSON.parse(Buffer.from(started!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!.data!).toString('utf8')) as Record<string, unknown> & { voucher: unknown };

    const attacker = generateAgentKey();
    const ids = approvalWorkflowId(request.request);
    const rerun = (args: Record<string, unknown>) =>
      ctx.env.client.workflow.start('approvalWorkflow', { taskQueue: ctx.stack.taskQueue, workflowId: request.workflowId, workflowIdReusePolicy: 'ALLOW_DUPLICATE', args: [args] });
    const squatted = { request: { ...request.request, agentKey: attacker.publicKey }, requestId: ids.requestId, actionDigest: ids.actionDigest };
    for (const [args, why] of [
      [squatted, /carries no voucher/],
      [{ ...squatted, voucher: firstInput.voucher }, /issued for another request body/],
    ] as const) {
      const outcome = (await (await rerun(args)).result()) as ApprovalOutcome;
      assert.equal(outcome.status, 'denied');
      assert.equal(outcome.code, 'INVALID_REQUEST');
      assert.match(outcome.message!, why);
      assert.equal(outcome.token, undefined);
    }

    const again = await rerun(firstInput);
    await again.executeUpdate('awaitDecision', { args: [{ waitMs: 0 }] });
    await refusedWith(
      again.executeUpdate('decide', { args: [{ decision: 'approve', reviewer: 'kim', versionDigest: kimsDecision.statement.versionDigest, signature: { signedAt: kimsDecision.statement.signedAt, value: kimsDecision.signature } }] }),
      'UNAUTHENTICATED',
      /does not verify/,
    );
    for (const reviewer of ['dave', 'erin']) {
      await again.executeUpdate('decide', { args: [await signedDecision(ctx.stack, request.workflowId, { decision: 'approve', reviewer })] });
    }
    const state = (await again.executeUpdate('awaitDecision', { args: [{ waitMs: 5000 }] })) as { outcome?: ApprovalOutcome };
    const grant = state.outcome!.token!;
    assert.throws(() => openToken(attacker, grant.sealed!, request.workflowId, grant.tokenId), 'sealed to the agent\'s key, not the squatter\'s');
    assert.equal(spendsOf(request.workflowId).length, 1);
  });
});

describe('6. a workflow reset cannot re-arm a spent token', () => {
  test('reset to before the consume: the same plaintext is refused TOKEN_CONSUMED, no second receipt, the first evidence stays', async () => {
    const request = await ctx.stack.cs.submit(refund(40), { waitMs: 5000 });
    assert.equal(request.status, 'approved');
    const token = request.openToken()!;
    const receipt = await request.consume();
    await request.report({ status: 'succeeded' });
    const first = await ctx.stack.cs.outcome(request.workflowId);
    assert.equal(first.status, 'executed');
    const firstEvidence = readFileSync(first.evidence!.path, 'utf8');

    const firstRunId = (await ctx.env.client.workflow.getHandle(request.workflowId).describe()).runId;
    const resetRunId = await resetTo(request.workflowId, 'attack: re-arm the token', (events) => {
      const accepted = events.findIndex((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED && e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'consume');
      assert.ok(accepted > 0, 'the consume update is in the history');
      return events.slice(0, accepted).reverse().find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
    });
    assert.notEqual(resetRunId, firstRunId);

    await assert.rejects(
      ctx.stack.cs.consume(request.workflowId, { token, agentId: request.request.agentId, taskId: request.request.taskId, actionDigest: receipt.body.actionDigest }),
      (err: unknown) => err instanceof ConsumeRefusedError && err.code === 'TOKEN_CONSUMED',
    );
    const second = (await ctx.env.client.workflow.getHandle(request.workflowId, resetRunId).result()) as ApprovalOutcome;
    assert.equal(second.status, 'outcome_unknown');
    assert.match(second.execution?.message ?? '', /already spent by an earlier run of its workflow/);
    assert.notEqual(second.evidence!.path, first.evidence!.path, 'each run has its own evidence file');
    const secondBundle = JSON.parse(readFileSync(second.evidence!.path, 'utf8')) as EvidenceBundle;
    assert.equal(secondBundle.receipt, undefined, 'no second receipt');
    assert.ok(secondBundle.events.some((e) => e.type === 'consume_refused' && /already spent/.test(e.detail)));
    assert.equal(readFileSync(first.evidence!.path, 'utf8'), firstEvidence, 'the first run\'s evidence is unchanged');
    const spent = spendsOf(request.workflowId);
    assert.equal(spent.length, 1);
    assert.equal(spent[0]!.runId, firstRunId);
    assert.equal(spent[0]!.tokenId, receipt.body.tokenId);
  });

  test('reset to before the mint: the new run mints a fresh token, and spending it is refused all the same', async () => {
    const request = await ctx.stack.cs.submit(refund(40), { waitMs: 5000 });
    const agentKey = ctx.stack.cs.keys.get(request.workflowId)!; // the agent's own key: it opens whatever token a run seals to it
    const first = await request.consume();
    await request.report({ status: 'succeeded' });
    assert.equal((await ctx.stack.cs.outcome(request.workflowId)).status, 'executed');
    const resetRunId = await resetTo(request.workflowId, 'attack: mint again', (events) => events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED));
    const rerun = ctx.env.client.workflow.getHandle(request.workflowId, resetRunId);
    const state = (await rerun.executeUpdate('awaitDecision', { args: [{ waitMs: 5000 }] })) as { outcome?: ApprovalOutcome };
    const grant = state.outcome?.token;
    assert.ok(grant?.sealed, 'the reset run minted a token of its own');
    assert.notEqual(grant.tokenId, first.body.tokenId);
    const fresh = openToken(agentKey, grant.sealed, request.workflowId, grant.tokenId);
    await assert.rejects(
      ctx.stack.cs.consume(request.workflowId, { token: fresh, agentId: request.request.agentId, taskId: request.request.taskId, actionDigest: first.body.actionDigest }),
      (err: unknown) => err instanceof ConsumeRefusedError && err.code === 'TOKEN_CONSUMED',
    );
    const second = (await rerun.result()) as ApprovalOutcome;
    assert.equal(second.status, 'outcome_unknown');
    assert.equal(second.execution?.receiptId, undefined, 'no second receipt');
    assert.equal(spendsOf(request.workflowId).length, 1);
  });
});

/** What the ledger holds for one workflow id. */
function spendsOf(workflowId: string): { workflowId: string; runId: string; tokenId: string }[] {
  const dir = join(ctx.stack.evidenceDir, 'spent');
  return readdirSync(dir)
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
    .filter((e) => e.workflowId === workflowId);
}

describe('7. evidence', () => {
  test('an agent that cancels its run after consuming still leaves a sealed bundle, status cancelled', async () => {
    const request = await ctx.stack.cs.submit(refund(40), { waitMs: 5000 });
    const receipt = await request.consume();
    await ctx.env.client.workflow.getHandle(request.workflowId).cancel();
    const outcome = await ctx.stack.cs.outcome(request.workflowId);
    assert.equal(outcome.status, 'cancelled');
    assert.deepEqual(outcome.execution, { status: 'unknown', receiptId: receipt.body.receiptId });
    const bundle = await sealedBundle(ctx.stack.cs, request.workflowId);
    assert.deepEqual(bundle.events.slice(-2).map((e) => e.type), ['cancelled', 'closed']);
    assert.equal(bundle.receipt?.body.receiptId, receipt.body.receiptId);
    assert.equal(verifyBundle(bundle, { publicKey: ctx.stack.signer.publicKey }).ok, true);

    const racing = await ctx.stack.cs.submit(refund(40), { waitMs: 5000 });
    const token = racing.openToken()!;
    await ctx.env.client.workflow.getHandle(racing.workflowId).cancel();
    // When the cancellation and the consume land in one workflow task, the SDK runs the update first and
    // its spend is cancelled with the run before Temporal hands it out: TOKEN_CONSUMED, outcome unknown.
    await assert.rejects(racing.consume(undefined, token), (err: unknown) => err instanceof ConsumeRefusedError && /TOKEN_INVALID|ALREADY_DECIDED|TOKEN_CONSUMED/.test(err.code));
    const raced = await ctx.stack.cs.outcome(racing.workflowId);
    assert.equal(raced.status, 'cancelled');
    assert.ok(raced.execution === undefined || (raced.execution.status === 'unknown' && raced.execution.receiptId === undefined), `nothing ran: ${JSON.stringify(raced.execution)}`);
    assert.deepEqual(spendsOf(racing.workflowId), [], 'cancelled before any spend: nothing was spent');

    const open = await pending(1200);
    await ctx.env.client.workflow.getHandle(open.workflowId).cancel();
    const cancelled = await ctx.stack.cs.outcome(open.workflowId);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.decidedBy, 'cancellation');
    assert.ok(existsSync(cancelled.evidence!.path));
  });

  test('ids that sanitise alike (ops@acme, ops_acme) get their own files, and evidence serves each request its own bundle', async () => {
    const legit = await ctx.stack.cs.submit(refund(40, { agentId: 'ops@acme' }), { waitMs: 5000 });
    await legit.consume();
    await legit.report({ status: 'succeeded' });
    const legitOutcome = await ctx.stack.cs.outcome(legit.workflowId);
    // The attacker starts a run whose workflow id differs only in the character a file name cannot hold.
    const lookalike = legit.workflowId.replace('@', '_');
    const forged = await ctx.env.client.workflow.start('approvalWorkflow', {
      taskQueue: ctx.stack.taskQueue,
      workflowId: lookalike,
      args: [{ request: { ...refund(40, { agentId: 'ops_acme' }), payload: { amount: 1, currency: 'USD' } }, requestId: legit.requestId, actionDigest: legitOutcome.actionDigest }],
    });
    const forgedOutcome = (await forged.result()) as ApprovalOutcome;
    assert.equal(forgedOutcome.status, 'denied');
    assert.notEqual(forgedOutcome.evidence!.path, legitOutcome.evidence!.path);
    const exported = await cli(['evidence', legit.workflowId]);
    assert.equal(exported.code, 0, exported.stderr);
    const bundle = JSON.parse(exported.stdout) as EvidenceBundle;
    assert.equal(bundle.workflowId, legit.workflowId);
    assert.equal(bundle.outcome.status, 'executed');
    const { signature: _s, log: _log, ...body } = bundle; // the log proof rides outside the signed body
    assert.equal(bundleDigest(body), legitOutcome.evidence!.digest);
  });

  test('verify trusts only the key it is told to, and checks reviewer signatures against the policy\'s directory', async () => {
    const request = await executedWithKim();
    const path = join(home, `bundle-${request.requestId}.json`);
    assert.equal((await cli(['evidence', request.requestId, '--agent', 'support-bot', '--out', path])).code, 0);
    const layerPub = join(home, 'layer.pub');
    writeFileSync(layerPub, ctx.stack.signer.publicKey);
    const policyFile = join(home, 'policy.yaml');
    writeFileSync(policyFile, readFileSync(ctx.stack.policyFile, 'utf8')); // with the directory the stack registered

    const noKey = await cli(['verify', path]);
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /NOT TRUSTED at signer: the bundle is signed by key [0-9a-f]{16}, which you did not name as trusted: pass --key/);
    const trusted = await cli(['verify', path, '--key', layerPub, '--policy', policyFile]);
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.match(trusted.stdout, /reviewer signature of kim \(events\[\d+\]\) by a key the policy registers/);

    // A forger edits the outcome and signs the bundle with a key of their own.
    const forger = signerFromKey(newEd25519Key());
    const bundle = JSON.parse(readFileSync(path, 'utf8')) as EvidenceBundle;
    const { signature: _old, ...body } = { ...bundle, outcome: { ...bundle.outcome, reviewers: ['dave', 'erin'] }, signer: { keyId: forger.keyId, publicKey: forger.publicKey } };
    const forgedPath = file('forged', { ...body, signature: forger.sign('countersign/evidence-bundle/v1', body).signature });
    const forgedNoKey = await cli(['verify', forgedPath]);
    assert.equal(forgedNoKey.code, 1, 'a self-signed forgery is never OK');
    assert.doesNotMatch(forgedNoKey.stdout, /OK/);
    const forgedKey = await cli(['verify', forgedPath, '--key', layerPub]);
    assert.equal(forgedKey.code, 1);
    assert.match(forgedKey.stderr, /NOT TRUSTED at signer: signed by key [0-9a-f]{16}, not by the trusted key/);

    const otherKim = createKeyFile(join(home, `other-kim-${randomUUID().slice(0, 6)}.key`));
    const otherPolicy = join(home, 'other-policy.yaml');
    writeFileSync(otherPolicy, policyText(otherKim.publicKey));
    const wrongDirectory = await cli(['verify', path, '--key', layerPub, '--policy', otherPolicy]);
    assert.equal(wrongDirectory.code, 1);
    assert.match(wrongDirectory.stderr, /kim's decision is signed by key [0-9a-f]{16}, which the policy's directory does not register for them/);
  });
});

describe('8. a flood of oversized messages cannot freeze a request', () => {
  test('three 1.5 MB decide signals and 30 junk ones are refused, recorded bounded, and the request is still shown, decided and sealed', async () => {
    const request = await pending(1200);
    const raw = ctx.env.client.workflow.getHandle(request.workflowId);
    const { currentDigest } = await view(request.workflowId);
    for (let i = 0; i < 3; i++) await raw.signal('decide', { decision: 'approve', reviewer: `${i}${'x'.repeat(1_500_000)}`, versionDigest: currentDigest });
    for (let i = 0; i < 30; i++) await raw.signal('decide', { decision: 'approve', reviewer: 'nobody', versionDigest: currentDigest, [`junk${i}`]: 'y'.repeat(1000) });
    const shown = await cli(['review', 'show', request.requestId, '--as', 'dave']);
    assert.equal(shown.code, 0, shown.stderr);
    const v = await view(request.workflowId);
    const refused = v.history.filter((e) => e.type === 'refused');
    assert.equal(refused.length, 21, '20 refusals recorded, then one line saying later ones are not');
    assert.match(refused.at(-1)!.detail, /later refusals are not recorded/);
    for (const e of refused) {
      assert.ok((e.actor ?? '').length <= 129, 'the reviewer field is truncated');
      assert.ok(e.detail.length <= 400, 'the message is truncated');
    }
    assert.ok(JSON.stringify(v).length < 200_000, 'the view stays small');
    assert.equal((await lookThenDecide(cli, ['approve', request.requestId, '--as', 'dave'])).code, 0);
    assert.equal((await lookThenDecide(cli, ['approve', request.requestId, '--as', 'erin'])).code, 0);
    await request.wait(5000);
    await request.consume();
    await request.report({ status: 'succeeded' });
    const bundle = await sealedBundle(ctx.stack.cs, request.workflowId);
    assert.equal(bundle.outcome.status, 'executed');
    assert.equal(verifyBundle(bundle, { publicKey: ctx.stack.signer.publicKey }).ok, true);
    const exported = await cli(['evidence', request.requestId, '--agent', 'support-bot']);
    assert.equal(exported.code, 0, exported.stderr);
  });

  test('reviewers editing back and forth with 200 KiB payloads: at most 10 versions, the view and the evidence stay bounded', async () => {
    const request = await pending(1200);
    const big = (n: number) => ({ amount: 1200 + n, currency: 'USD', order: 'A-1', note: 'z'.repeat(200_000) });
    const raw = ctx.env.client.workflow.getHandle(request.workflowId);
    let refusedAt = -1;
    for (let i = 1; i <= 11; i++) {
      const { currentDigest } = await view(request.workflowId);
      try {
        await raw.executeUpdate('decide', { args: [await signedDecision(ctx.stack, request.workflowId, { decision: 'approve', reviewer: i % 2 ? 'dave' : 'erin', versionDigest: currentDigest, editedPayload: big(i % 2) })] });
      } catch (err) {
        refusedAt = i;
        assert.match(String((err as WorkflowUpdateFailedError).cause?.message), /has 10 versions already/);
        break;
      }
    }
    assert.equal(refusedAt, 10, 'the tenth version is refused (the request is version 1)');
    const v = await view(request.workflowId);
    assert.equal(v.status, 'pending');
    assert.ok(JSON.stringify(v).length < 800_000, `the view stays under 800 KB (${JSON.stringify(v).length})`);
    const deny = await lookThenDecide(cli, ['deny', request.requestId, '--as', 'fiona', '--reason', 'TOO_MANY_EDITS', '--message', 'Settle it first.']);
    assert.equal(deny.code, 3, 'fiona is not eligible yet: the request is not in her queue');
    const unsigned = await raw.executeUpdate('decide', { args: [{ decision: 'deny', reviewer: 'kim', versionDigest: v.currentDigest, reasonCode: 'TOO_MANY_EDITS', message: 'x' }] }).catch((e: WorkflowUpdateFailedError) => e.cause?.message);
    assert.match(String(unsigned), /must be signed/, 'kim must sign');
    const other = ['dave', 'erin'].find((r) => !v.approvals.includes(r))!; // the author of the last version has approved it
    await raw.executeUpdate('decide', { args: [await signedDecision(ctx.stack, request.workflowId, { decision: 'request_changes', reviewer: other, versionDigest: v.currentDigest, comment: 'Settle on one version.' })] });
    const bundle = await sealedBundle(ctx.stack.cs, request.workflowId);
    assert.equal(bundle.outcome.status, 'changes_requested');
    assert.ok(bundle.events.filter((e) => e.type === 'edited').every((e) => e.data?.payloadOmitted === true && e.data.payload === undefined));
    assert.equal(verifyBundle(bundle, { publicKey: ctx.stack.signer.publicKey }).ok, true);
  });

  test('context is bounded in count and size: one sentence names the field and nothing starts', async () => {
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']));
    await assert.rejects(ctx.stack.cs.submit(refund(40, { context: many })), /Field "context" must have at most 32 entries/);
    const big = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'v'.repeat(2000)]));
    await assert.rejects(ctx.stack.cs.submit(refund(40, { context: big })), /Field "context" must be at most 16 KiB as JSON/);
  });
});

