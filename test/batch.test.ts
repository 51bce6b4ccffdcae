/**
 * Batch approvals (issue 28, part 3) against a real Temporal server, a worker and the front door:
 * one signature over a Merkle root of several requests, each workflow checking its own leaf. Attacked
 * the way a reviewer acting beyond their rights would: raw HTTP with their own session, a replayed
 * batch signature, and the raw @temporalio/client Update around the server.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { BATCH_DOMAIN, batchStatement, batchTree, type BatchItem } from '../common/batch';
import type { ReviewerDecision } from '../common/inputs';
import type { BatchAnswer } from '../common/responses';
import type { ReviewView } from '../common/views';
import { decideUpdate } from '../workflows/messages';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApprovalRequest } from '../client/approval-request';
import { signerFromKey } from '../crypto/keys';
import { cliFor } from './support/cli';
import { action, useStack } from './support/stack';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: support, sla: 1h, tokenTtl: 5m }
groups:
  support: { members: [alice, bob] }
  finance: { members: [dave] }
rules:
  - id: refund-support
    match: { action: payments.refund }
    when: "payload.amount <= 500"
    decision: review
    reviewers: support
  - id: refund-pair
    match: { action: payments.refund }
    when: "payload.amount > 500 && payload.amount <= 1000"
    decision: review
    reviewers: support
    approvals: 2
  - id: refund-finance
    match: { action: payments.refund }
    when: "payload.amount > 1000"
    decision: review
    reviewers: finance
  - id: account-close
    match: { action: accounts.close }
    decision: review
    reviewers: support
    batch: false
`;

const ctx = useStack(POLICY);

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** One raw HTTP call, as curl would make it. */
async function call(method: string, path: string, bearer: string, body?: unknown): Promise<Answer> {
  const res = await fetch(new URL(path, ctx.stack.url), {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A request submitted through the server by support-bot's SDK, waiting for review. */
async function submitted(overrides: Record<string, unknown>): Promise<ApprovalRequest> {
  const request = await ctx.stack.cs.submit(action(overrides), { waitMs: 1000 });
  assert.equal(request.status, 'pending');
  return request;
}

const refund = (amount: number) => submitted({ payload: { amount, currency: 'USD', order: String(amount) } });

async function session(name: string): Promise<string> {
  const r = await ctx.stack.reviewer(name);
  return (r as unknown as { bearer(): Promise<string> }).bearer();
}

const view = (id: string): Promise<ReviewView> => ctx.stack.ops.view(id);
const leaf = (v: ReviewView, versionDigest = v.currentDigest): BatchItem => ({ workflowId: v.workflowId, runId: v.runId!, requestId: v.requestId, versionDigest, policyDigest: v.policy!.policyDigest });

/** A batch body as a reviewer's key signs it: the leaves, and one signature over their root. */
function signedBatch(reviewer: string, items: BatchItem[], comment?: string) {
  const signer = signerFromKey(createPrivateKey(readFileSync(ctx.stack.reviewerKeys.get(reviewer)!)));
  const signedAt = new Date().toISOString();
  const tree = batchTree(items);
  const value = signer.sign(BATCH_DOMAIN, batchStatement(reviewer, tree, comment, signedAt)).signature;
  return { body: { items, ...(comment !== undefined ? { comment } : {}), signature: { signedAt, value } }, tree };
}

/** Nothing changed: each request still pending, with no approval. */
async function untouched(states: ApprovalRequest[]): Promise<void> {
  for (const s of states) {
    const v = await view(s.workflowId);
    assert.equal(v.status, 'pending', `${s.requestId} is ${v.status}`);
    assert.deepEqual(v.approvals, [], `${s.requestId} has approvals`);
  }
}

async function refusedWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
    assert.equal((err.cause as { type?: string }).type, code, err.cause?.message);
    if (message) assert.match(err.cause?.message ?? '', message);
    return true;
  });
}

function assertProblem(res: Answer, status: number, code: string, detail?: RegExp) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.code, code);
  if (detail) assert.match(String(res.body.detail), detail);
}

describe('a batch of requests approved with one signature', () => {
  test('the CLI approves five at once; one edited since it was shown is refused STALE_VERSION alone, the four others are approved', async () => {
    const cli = cliFor(ctx);
    const requests = [await refund(110), await refund(120), await refund(130), await refund(140), await refund(700)];
    for (const r of requests) assert.equal((await cli(['review', 'show', r.requestId, '--as', 'alice'])).code, 0);
    // bob edits the fifth after alice looked at it: a new version, one of its two approvals.
    const fifth = await view(requests[4]!.workflowId);
    const edited = await ctx.stack.cs.decide(fifth.workflowId, { decision: 'approve', reviewer: 'bob', versionDigest: fifth.currentDigest, editedPayload: { amount: 650, currency: 'USD', order: '700' } });
    assert.equal(edited.status, 'pending');

    const run = await cli(['review', 'approve', ...requests.map((r) => r.requestId), '--as', 'alice', '--comment', 'duplicate charges, checked']);
    assert.equal(run.code, 1, run.stderr);
    for (const r of requests.slice(0, 4)) assert.match(run.stdout, new RegExp(`Approved request ${r.requestId} as alice: status approved \\(1/1 approvals\\)`));
    assert.match(run.stdout, new RegExp(`Refused request ${requests[4]!.requestId} \\(STALE_VERSION\\): The payload changed since alice was shown it`));
    assert.match(run.stdout, /Batch of 5 signed once \(root [0-9a-f]{16}\): 4 approved, 1 refused\./);
    assert.match(run.stderr, /changed since alice was shown it: run countersign review show ID --as alice/);

    for (const r of requests.slice(0, 4)) assert.equal((await view(r.workflowId)).status, 'approved');
    const stale = await view(requests[4]!.workflowId);
    assert.equal(stale.status, 'pending');
    assert.deepEqual(stale.approvals, ['bob']);

    // Each approved request's evidence records the batch: root, size, its index.
    const roots = new Set<string>();
    for (const [i, r] of requests.slice(0, 4).entries()) {
      const approved = (await ctx.stack.cs.evidence(r.workflowId)).bundle.events.find((e) => e.type === 'approved')!;
      const batch = approved.data!.batch as { root: string; size: number; index: number };
      assert.deepEqual([batch.size, batch.index, approved.data!.comment], [5, i, 'duplicate charges, checked']);
      roots.add(batch.root);
    }
    // The agent runs the first; its sealed evidence verifies offline, the batch signature against alice's key in the policy.
    const first = requests[0]!;
    await first.wait(5000);
    await first.consume();
    await first.report({ status: 'succeeded' });
    await ctx.stack.cs.outcome(first.workflowId);
    const file = join(ctx.stack.dir, 'batch-evidence.json');
    const exported = await cli(['evidence', first.requestId, '--out', file], { COUNTERSIGN_API_KEY: ctx.stack.agentKeys.get('support-bot')! });
    assert.equal(exported.code, 0, exported.stderr);
    writeFileSync(join(ctx.stack.dir, 'layer.pub'), ctx.stack.signer.publicKey);
    const verified = await cli(['verify', file, '--key', join(ctx.stack.dir, 'layer.pub'), '--policy', ctx.stack.policyFile]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /reviewer signature of alice \(events\[\d+\]\) by a key the policy registers: assurance key/);
    assert.equal(roots.size, 1, 'one root for the whole batch');
  });

  test('a batch including another group\'s request is refused whole, by the server and by the CLI, and nothing changes', async () => {
    const cli = cliFor(ctx);
    const ours = [await refund(210), await refund(220)];
    const finance = await refund(2000);
    const alice = await session('alice');
    // alice cannot see finance's request: she signs what she can name of it, as an attacker would.
    const theirs: BatchItem = { workflowId: finance.workflowId, runId: (await view(finance.workflowId)).runId!, requestId: finance.requestId, versionDigest: (await view(finance.workflowId)).currentDigest, policyDigest: (await view(finance.workflowId)).policy!.policyDigest };
    const { body } = signedBatch('alice', [leaf(await view(ours[0]!.workflowId)), theirs, leaf(await view(ours[1]!.workflowId))]);
    assertProblem(await call('POST', '/v1/batches', alice, body), 403, 'NOT_ELIGIBLE', /items\.1\) is not in your queue to decide: the batch is refused and nothing was decided/);
    await untouched([...ours, finance]);

    for (const r of ours) await cli(['review', 'show', r.requestId, '--as', 'alice']);
    const run = await cli(['review', 'approve', ours[0]!.requestId, finance.requestId, ours[1]!.requestId, '--as', 'alice']);
    // Finance's request is not found for alice: nothing is signed or sent.
    assert.equal(run.code, 3, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, new RegExp(`No request ${finance.requestId} in your queue`));
    await untouched([...ours, finance]);

    // The same two alone are approved together: exit 0, each answer in the JSON.
    const both = await cli(['review', 'approve', ours[0]!.requestId, ours[1]!.requestId, '--as', 'alice', '--json']);
    assert.equal(both.code, 0, both.stderr);
    const answer = JSON.parse(both.stdout) as BatchAnswer;
    assert.equal(answer.size, 2);
    assert.deepEqual(answer.results.map((r) => [r.requestId, r.accepted && r.status]), ours.map((r) => [r.requestId, 'approved']));
    await untouched([finance]);

    // Around the server: dave is not in support, whatever batch he signs for support's requests.
    const third = await refund(230);
    const daves = signedBatch('dave', [leaf(await view(third.workflowId))]);
    const raw = ctx.env.client.workflow.getHandle(third.workflowId);
    await refusedWith(raw.executeUpdate(decideUpdate, { args: [{ decision: 'approve', reviewer: 'dave', versionDigest: (await view(third.workflowId)).currentDigest, signature: daves.body.signature, batch: daves.tree.positions[0]! }] }), 'NOT_ELIGIBLE');
    await untouched([third]);
  });

  test('a replayed batch signature on a new request is refused, through the server and around it, and nothing changes', async () => {
    const first = [await refund(310), await refund(320)];
    const alice = await session('alice');
    const { body, tree } = signedBatch('alice', await Promise.all(first.map(async (r) => leaf(await view(r.workflowId)))));
    const answer = await call('POST', '/v1/batches', alice, body);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual((answer.body as unknown as BatchAnswer).results.map((r) => r.accepted), [true, true]);

    const fresh = await refund(330);
    const freshView = await view(fresh.workflowId);
    const other = await refund(340);
    // The same signature over new requests' leaves, alone or two of them: another root, so it does not verify.
    assertProblem(await call('POST', '/v1/batches', alice, { ...body, items: [leaf(freshView)] }), 401, 'UNAUTHENTICATED', /does not verify against alice's registered key for this batch/);
    assertProblem(await call('POST', '/v1/batches', alice, { ...body, items: [leaf(freshView), leaf(await view(other.workflowId))] }), 401, 'UNAUTHENTICATED');
    await untouched([fresh, other]);
    // The same body again: its requests are closed, so no longer in alice's queue to decide.
    assertProblem(await call('POST', '/v1/batches', alice, body), 403, 'NOT_ELIGIBLE', /not in your queue to decide/);

    // Around the server, straight to the new request's workflow: every position of the old batch, with its own version.
    const raw = ctx.env.client.workflow.getHandle(fresh.workflowId);
    for (const position of tree.positions) {
      const replay: ReviewerDecision = { decision: 'approve', reviewer: 'alice', versionDigest: freshView.currentDigest, signature: body.signature, batch: position };
      await refusedWith(raw.executeUpdate(decideUpdate, { args: [replay] }), 'UNAUTHENTICATED', /is not in the batch that signature covers/);
    }
    // A signal is refused the same way, and recorded.
    await raw.signal('decide', { decision: 'approve', reviewer: 'alice', versionDigest: freshView.currentDigest, signature: body.signature, batch: tree.positions[0]! });
    await untouched([fresh]);
    const refused = (await view(fresh.workflowId)).history.filter((e) => e.type === 'refused');
    assert.ok(refused.some((e) => /UNAUTHENTICATED: Request .* is not in the batch that signature covers/.test(e.detail)), JSON.stringify(refused));
  });

  test('a batch including a request whose rule says batch: false is refused whole; the workflow refuses it too, from its own route', async () => {
    const cli = cliFor(ctx);
    const refunds = [await refund(410), await refund(420)];
    const close = await submitted({ action: 'accounts.close', payload: { account: 'A-1' } });
    assert.equal((await view(close.workflowId)).policy!.batch, false);
    const alice = await session('alice');
    const items = [leaf(await view(refunds[0]!.workflowId)), leaf(await view(close.workflowId)), leaf(await view(refunds[1]!.workflowId))];
    const { body, tree } = signedBatch('alice', items);
    assertProblem(await call('POST', '/v1/batches', alice, body), 403, 'BATCH_NOT_ALLOWED', /Rule account-close does not allow batch approval of request .* \(items\.1\): approve it on its own; nothing was decided/);
    await untouched([...refunds, close]);

    for (const r of [...refunds, close]) await cli(['review', 'show', r.requestId, '--as', 'alice']);
    const run = await cli(['review', 'approve', refunds[0]!.requestId, close.requestId, refunds[1]!.requestId, '--as', 'alice', '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(Object.keys(JSON.parse(run.stdout)), ['accepted', 'code', 'message']);
    assert.equal(JSON.parse(run.stdout).code, 'BATCH_NOT_ALLOWED');
    assert.match(run.stderr, /Refused \(BATCH_NOT_ALLOWED\): Rule account-close does not allow batch approval/);
    await untouched([...refunds, close]);

    // Around the server, with a genuine batch signature: the workflow checks its own route, not the caller's word.
    const raw = ctx.env.client.workflow.getHandle(close.workflowId);
    await refusedWith(
      raw.executeUpdate(decideUpdate, { args: [{ decision: 'approve', reviewer: 'alice', versionDigest: items[1]!.versionDigest, signature: body.signature, batch: tree.positions[1]! }] }),
      'BATCH_NOT_ALLOWED',
      /Rule account-close does not allow batch approval/,
    );
    await untouched([close]);
  });

  test('bad batches get one sentence naming the field (422), and nothing changes', async () => {
    const r = await refund(510);
    const alice = await session('alice');
    const one = leaf(await view(r.workflowId));
    const { body } = signedBatch('alice', [one]);
    assertProblem(await call('POST', '/v1/batches', alice, { ...body, items: [] }), 422, 'INVALID_REQUEST', /items/);
    assertProblem(await call('POST', '/v1/batches', alice, { ...body, items: [one, one] }), 422, 'INVALID_REQUEST', /each request at most once/);
    assertProblem(await call('POST', '/v1/batches', alice, { ...body, items: Array.from({ length: 51 }, () => one) }), 422, 'INVALID_REQUEST', /at most 50/);
    assertProblem(await call('POST', '/v1/batches', alice, { ...body, items: [{ ...one, requestId: 'ffffffffffffffff' }] }), 422, 'INVALID_REQUEST', /items\.0/);
    assertProblem(await call('POST', '/v1/batches', alice, { items: body.items }), 422, 'INVALID_REQUEST', /signature/);
    await untouched([r]);
    const cli = cliFor(ctx);
    const dup = await cli(['review', 'approve', r.requestId, r.requestId, '--as', 'alice']);
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /names a request twice/);
    const denyMany = await cli(['review', 'deny', r.requestId, r.requestId, '--as', 'alice', '--reason', 'NO', '--message', 'no']);
    assert.equal(denyMany.code, 2);
    assert.match(denyMany.stderr, /only review approve takes several ids/);
    await untouched([r]);
  });
});
