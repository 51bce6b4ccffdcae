/**
 * Batch decisions below the server: the tree and its proofs (common/batch.ts), the policy's `batch:`
 * (false by default from high risk, most restrictive over the matching rules), and the review rules
 * taking one signature over a batch's root only for a request that is a leaf of it — with its own
 * signing domain, so a single decision's signature is never a batch's, nor a batch's a single one's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BATCH_DOMAIN, batchChallenge, batchStatement, batchTree, inBatch, type BatchItem } from '../../common/batch';
import { actionDigest } from '../../common/digest';
import { MAX_BATCH_SIZE, type PolicyDecision, type ReviewerDecision } from '../../common/inputs';
import type { Payload } from '../../common/json';
import { decisionChallenge } from '../../common/signing';
import { ed25519KeyPair, signerFromKey } from '../../crypto/keys';
import { evaluatePolicy } from '../../policy/evaluate';
import { compilePolicy, PolicyLoadError } from '../../policy/load';
import { batchItemOf, decide, openReview, statementOf, type ReviewState } from '../../workflows/review';
import { simulatedAuthenticator } from '../support/authenticator';

const RP = { rpId: 'inbox.example.com', origin: 'https://inbox.example.com' };
const dave = simulatedAuthenticator('p256', RP);
const { privateKey: erinKey, publicKey: erinPublic } = ed25519KeyPair();
const erin = signerFromKey(erinKey);
const erinKeyBase64 = Buffer.from(erinPublic.export({ format: 'jwk' }).x!, 'base64url').toString('base64');

const POLICY = `
version: 1
defaults: { decision: review, reviewers: finance, sla: 1h }
groups:
  finance: { members: [dave, erin] }
rules:
  - { id: refunds, match: { action: payments.refund }, decision: review, reviewers: finance }
  - { id: wires, match: { action: payments.wire }, decision: review, reviewers: finance, risk: high }
  - { id: wires-batched, match: { action: payments.wire }, when: "payload.amount < 10", decision: review, reviewers: finance, risk: high, batch: true }
  - { id: payroll, match: { action: payroll.run }, decision: review, reviewers: finance, batch: false }
  - { id: payroll-audit, match: { action: payroll.run }, decision: review, reviewers: finance, batch: true }
directory:
  webauthn: { rpId: ${RP.rpId}, origins: ["${RP.origin}"] }
  reviewers:
    dave: { passkeys: [{ id: ${dave.credential.credentialId}, publicKey: ${dave.credential.publicKey} }] }
    erin: { key: "${erinKeyBase64}" }
`;
const policy = compilePolicy(POLICY);
const START = Date.parse('2026-12-07T10:00:00Z');
const signedAt = new Date(START).toISOString();

/** An open review of one request, as the workflow opens it under 'batch-decisions' (or before, with batchDecisions false). */
function review(n: number, action = 'payments.refund', payload: Payload = { amount: 100 + n }, batchDecisions = true): ReviewState {
  const request = { agentId: 'support-bot', taskId: `t-${n}`, action, summary: 'Refund', resource: { type: 'customer', id: `C-${n}` }, payload };
  const decision = evaluatePolicy(policy, request) as PolicyDecision & { route: NonNullable<PolicyDecision['route']> };
  const id = n.toString(16).padStart(16, '0');
  return openReview({
    workflowId: `cs-support-bot-${id}`,
    runId: `run-${n}`,
    requestId: id,
    action,
    resource: request.resource,
    agentId: request.agentId,
    version: { payload, digest: actionDigest({ action, resource: request.resource, payload }), policy: decision },
    now: START,
    signaturesRequired: true,
    currentKeys: false,
    batchDecisions,
  }).state;
}

const item = (s: ReviewState): BatchItem => ({ workflowId: s.workflowId, runId: s.runId, requestId: s.requestId, versionDigest: s.version.digest, policyDigest: s.version.policy.policyDigest });

/** Dave's batch approval of `states`, signed once with his passkey: one decision per request, each with its position. */
function passkeyBatch(states: ReviewState[], comment?: string): ReviewerDecision[] {
  const tree = batchTree(states.map(item));
  const signature = { signedAt, passkey: dave.assert(batchChallenge(batchStatement('dave', tree, comment, signedAt))) };
  return states.map((s, i) => ({ decision: 'approve', reviewer: 'dave', versionDigest: s.version.digest, ...(comment ? { comment } : {}), signature, batch: tree.positions[i]! }));
}

function refusedWith(state: ReviewState, d: ReviewerDecision, code: string, message?: RegExp) {
  const r = decide(state, d, START);
  assert.equal(r.ok, false, `expected ${code}, the decision was accepted`);
  assert.equal((r as { code: string }).code, code, (r as { message: string }).message);
  if (message) assert.match((r as { message: string }).message, message);
}

test('the batch tree: every leaf proves under the root, nothing else does, and the size is bounded', () => {
  const items = [1, 2, 3, 4, 5].map((n) => item(review(n)));
  const tree = batchTree(items);
  assert.equal(tree.size, 5);
  items.forEach((it, i) => assert.ok(inBatch(it, tree.positions[i]!), `leaf ${i}`));
  assert.equal(inBatch(items[0]!, tree.positions[1]!), false, 'a leaf at another index');
  assert.equal(inBatch({ ...items[0]!, versionDigest: items[1]!.versionDigest }, tree.positions[0]!), false, 'another version');
  assert.equal(inBatch({ ...items[0]!, runId: 'run-other' }, tree.positions[0]!), false, 'another run');
  assert.equal(inBatch(item(review(6)), tree.positions[4]!), false, 'a request not in the batch');
  assert.equal(inBatch(items[4]!, { ...tree.positions[4]!, index: 7 }), false, 'an index past the size');
  assert.equal(inBatch(items[4]!, { ...tree.positions[4]!, proof: [...tree.positions[4]!.proof, tree.root] }), false, 'a padded proof');
  assert.equal(inBatch(items[4]!, { ...tree.positions[4]!, root: 'zz' }), false, 'a root that is not hex');
  assert.throws(() => batchTree([]), /from 1 to 50/);
  assert.throws(() => batchTree(Array.from({ length: MAX_BATCH_SIZE + 1 }, () => items[0]!)), /from 1 to 50/);
  // The order is the signer's: the same requests in another order are another root.
  assert.notEqual(batchTree([...items].reverse()).root, tree.root);
});

test('policy: batch is allowed below high risk unless a rule says batch: false; the most restrictive matching rule wins', () => {
  const decided = (action: string, payload: Payload) => evaluatePolicy(policy, { agentId: 'support-bot', taskId: 't', action, summary: 's', resource: { type: 'customer', id: 'C-1' }, payload });
  assert.equal(decided('payments.refund', { amount: 1 }).batch, true);
  assert.equal(decided('payments.wire', { amount: 500 }).batch, false, 'high risk: false by default');
  assert.equal(decided('payments.wire', { amount: 5 }).batch, false, 'one matching high-risk rule without batch: true still forbids it');
  assert.equal(decided('payroll.run', { amount: 5 }).batch, false, 'batch: false wins over batch: true');
  assert.equal(decided('other.thing', {}).batch, true, 'the default review at the default (medium) risk');
  const highDefault = compilePolicy(POLICY.replace('defaults: { decision: review,', 'defaults: { risk: high, decision: review,'));
  assert.equal(evaluatePolicy(highDefault, { agentId: 'a', taskId: 't', action: 'other.thing', summary: 's', resource: { type: 'x', id: '1' }, payload: {} }).batch, false);
  assert.throws(() => compilePolicy(POLICY.replace('batch: false', 'batch: sometimes')), (err: unknown) => err instanceof PolicyLoadError && /rules\[3\] \(payroll\)\.batch: must be a boolean/.test(err.message));
});

test('review rules: one passkey signature approves every request of the batch, and each keeps the batch in its evidence', () => {
  const states = [1, 2, 3].map((n) => review(n));
  const decisions = passkeyBatch(states, 'weekly refunds');
  states.forEach((s, i) => {
    const r = decide(s, decisions[i]!, START);
    assert.ok(r.ok, (r as { message?: string }).message);
    assert.equal(r.state.status, 'approved');
    const approved = r.events.find((e) => e.type === 'approved')!;
    const batch = approved.data!.batch as unknown as { root: string; size: number; index: number; leaf: BatchItem };
    assert.deepEqual({ root: batch.root, size: batch.size, index: batch.index }, { root: decisions[0]!.decision === 'approve' ? decisions[0]!.batch!.root : '', size: 3, index: i });
    assert.deepEqual(batch.leaf, batchItemOf(s, decisions[i]!));
    assert.equal((approved.data!.statement as { root: string }).root, batch.root, 'the statement kept is the batch statement');
    assert.equal(approved.data!.assurance, 'passkey');
  });
});

test('review rules: an Ed25519 key signs a batch too, under the batch domain only', () => {
  const states = [4, 5].map((n) => review(n));
  const tree = batchTree(states.map(item));
  const statement = batchStatement('erin', tree, undefined, signedAt);
  const value = erin.sign(BATCH_DOMAIN, statement).signature;
  const r = decide(states[0]!, { decision: 'approve', reviewer: 'erin', versionDigest: states[0]!.version.digest, signature: { signedAt, value }, batch: tree.positions[0]! }, START);
  assert.ok(r.ok, (r as { message?: string }).message);
  // The same statement signed under the single-decision domain is not a batch signature.
  const wrongDomain = erin.sign('countersign/reviewer-decision/v2', statement).signature;
  refusedWith(states[1]!, { decision: 'approve', reviewer: 'erin', versionDigest: states[1]!.version.digest, signature: { signedAt, value: wrongDomain }, batch: tree.positions[1]! }, 'UNAUTHENTICATED', /does not verify/);
});

test('review rules: a replayed batch signature on a request outside its tree, and signatures across domains, are UNAUTHENTICATED', () => {
  const states = [1, 2, 3].map((n) => review(n));
  const decisions = passkeyBatch(states);
  const stranger = review(9);
  // Its own version, every position of the batch: its leaf is in none.
  for (const d of decisions) refusedWith(stranger, { ...d, versionDigest: stranger.version.digest }, 'UNAUTHENTICATED', /not in the batch that signature covers/);
  // A single decision's passkey signature sent as a batch one, and a batch's sent as a single decision.
  const single = statementOf(states[0]!, { decision: 'approve', reviewer: 'dave', versionDigest: states[0]!.version.digest }, signedAt);
  const singleSig = { signedAt, passkey: dave.assert(decisionChallenge(single)) };
  refusedWith(states[0]!, { ...decisions[0]!, signature: singleSig }, 'UNAUTHENTICATED', /answers another challenge/);
  const { batch: _position, ...asSingle } = decisions[0]! as Extract<ReviewerDecision, { decision: 'approve' }>;
  refusedWith(states[0]!, asSingle, 'UNAUTHENTICATED', /answers another challenge/);
  // A comment changed after signing is another statement.
  refusedWith(states[0]!, { ...decisions[0]!, comment: 'added later' } as ReviewerDecision, 'UNAUTHENTICATED', /answers another challenge/);
});

test('review rules: batch: false, a run from before batches, an edit and a stale version are each refused with their own code', () => {
  const payroll = review(1, 'payroll.run', { amount: 1 });
  refusedWith(payroll, passkeyBatch([payroll])[0]!, 'BATCH_NOT_ALLOWED', /does not allow batch approval/);
  const wire = review(2, 'payments.wire', { amount: 500 });
  refusedWith(wire, passkeyBatch([wire])[0]!, 'BATCH_NOT_ALLOWED');
  const old = review(3, 'payments.refund', { amount: 3 }, false);
  refusedWith(old, passkeyBatch([old])[0]!, 'INVALID_REQUEST', /made before batch decisions/);
  const fresh = review(4);
  refusedWith(fresh, { ...passkeyBatch([fresh])[0]!, editedPayload: { amount: 1 } } as ReviewerDecision, 'INVALID_REQUEST', /editedPayload/);
  const [d] = passkeyBatch([fresh]);
  refusedWith(fresh, { ...d!, versionDigest: actionDigest({ action: 'payments.refund', resource: fresh.resource, payload: { amount: 2 } }) }, 'STALE_VERSION');
});
