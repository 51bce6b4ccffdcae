/**
 * The one-round auto-allow (patch 'one-round-allow'): the local activity that evaluates policy mints
 * the token only on allow, and the workflow releases it only when the signed record is exactly what
 * its own release would have asked a mint to sign (common/release.ts). Runs the real activity in
 * the SDK's mock activity context with a real signer; tampers with what it returns as a compromised
 * activity or a corrupted history would.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createActivities, type EvaluationAndRelease, type MintResult } from '../../activities';
import { newEd25519Key, signerFromKey } from '../../crypto/keys';
import { compilePolicy } from '../../policy/load';
import { hashToken } from '../../crypto/tokens';
import { generateAgentKey, openToken } from '../../client/agent-keys';
import { requestDigest } from '../../common/bundle';
import { actionDigest, requestIdFor } from '../../common/digest';
import type { ActionRequest } from '../../common/inputs';
import { mintRequest, preMintedMismatch } from '../../common/release';

const policy = compilePolicy(
  `
version: 1
defaults: { decision: review, reviewers: ops, sla: 4h, tokenTtl: 15m }
groups:
  ops: { members: [oscar] }
rules:
  - id: refund-small
    match: { action: payments.refund }
    when: "payload.amount <= 100"
    decision: allow
    reason: Small refunds run at once.
`,
  'policy.yaml',
);
const signer = signerFromKey(newEd25519Key());
const activities = createActivities({
  policy,
  signer,
  logger: pino({ level: 'silent' }, new Writable({ write: (_c, _e, done) => done() })),
  evidenceDir: mkdtempSync(join(os.tmpdir(), 'release-')),
});
const agentKey = generateAgentKey();
const issuedAt = Date.parse('2026-11-26T10:00:00.000Z');

function requestFor(amount: number): ActionRequest {
  return {
    agentId: 'support-bot',
    taskId: `task-${amount}`,
    action: 'payments.refund',
    summary: 'Refund a double charge.',
    resource: { type: 'customer', id: 'C-42' },
    payload: { amount, currency: 'USD' },
    agentKey: agentKey.publicKey,
  };
}

/** What the workflow knows, and sends, for a request. */
function workflowFacts(request: ActionRequest) {
  const digest = actionDigest(request);
  const requestId = requestIdFor(request.agentId, request.taskId, digest);
  const { agentKey: _key, ...shown } = request;
  return { workflowId: `cs-${request.agentId}-${requestId}`, requestId, requestDigest: requestDigest(shown), actionDigest: digest, issuedAt };
}

async function evaluate(request: unknown, facts: ReturnType<typeof workflowFacts>): Promise<EvaluationAndRelease> {
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId: facts.workflowId, runId: 'run-1' } });
  return env.run(activities.evaluateRequestAndRelease, { request, release: facts });
}

/** The record the workflow's release asks for, after the policy allowed. */
function asked(request: ActionRequest, facts: ReturnType<typeof workflowFacts>, evaluation: EvaluationAndRelease) {
  assert.ok(evaluation.ok);
  return mintRequest({
    request,
    workflowId: facts.workflowId,
    requestId: facts.requestId,
    requestDigest: facts.requestDigest,
    actionDigest: facts.actionDigest,
    policy: evaluation.decision,
    decidedBy: 'policy',
    decisions: [],
    expiresAt: issuedAt + evaluation.decision.tokenTtlMs,
  });
}

const clone = (minted: MintResult): MintResult => structuredClone(minted);

describe('one-round auto-allow: verdict and token in one local activity', () => {
  test('an allow comes with a token sealed to the agent, its record exactly what the release asks for', async () => {
    const request = requestFor(40);
    const facts = workflowFacts(request);
    const evaluation = await evaluate(request, facts);
    assert.ok(evaluation.ok);
    assert.equal(evaluation.decision.decision, 'allow');
    const minted = evaluation.minted;
    assert.ok(minted, 'the token comes with the verdict');
    assert.equal(preMintedMismatch(minted, asked(request, facts, evaluation)), undefined);
    assert.equal(minted.grant.expiresAt, '2026-11-26T10:15:00.000Z', 'the policy TTL after the workflow time it asked at');
    assert.deepEqual(minted.approvalRecord.body.binding, { agentId: 'support-bot', taskId: 'task-40', actionDigest: facts.actionDigest, workflowId: facts.workflowId });
    assert.equal(minted.approvalRecord.keyId, signer.keyId);
    const token = openToken(agentKey, minted.grant.sealed!, facts.workflowId, minted.grant.tokenId);
    assert.match(token, /^cst_/);
    assert.equal(hashToken(token), minted.tokenHash, 'only the hash of the sealed token is kept');
    assert.ok(!JSON.stringify(minted).includes(token.slice(4)), 'the plaintext token is not in what the workflow records');
  });

  test('a request for review, or one policy refuses to read, gets no token', async () => {
    const review = requestFor(250);
    const reviewed = await evaluate(review, workflowFacts(review));
    assert.ok(reviewed.ok);
    assert.equal(reviewed.decision.decision, 'review');
    assert.equal(reviewed.minted, undefined);
    const invalid = { ...requestFor(10), payload: 'refund everything' };
    const refused = await evaluate(invalid, workflowFacts(requestFor(10)));
    assert.equal(refused.ok, false);
    assert.equal(refused.minted, undefined);
    assert.match(refused.ok ? '' : refused.message, /payload/);
  });

  test('a token whose record, id, hash or expiry differs from what the release asks for is not released', async () => {
    const request = requestFor(60);
    const facts = workflowFacts(request);
    const evaluation = await evaluate(request, facts);
    const minted = evaluation.minted!;
    const want = asked(request, facts, evaluation);

    const otherDigest = clone(minted);
    otherDigest.approvalRecord.body.binding.actionDigest = actionDigest({ ...request, payload: { amount: 6000, currency: 'USD' } });
    assert.equal(preMintedMismatch(otherDigest, want), 'its signed record is not the one this release asks for');

    const otherReviewers = clone(minted);
    otherReviewers.approvalRecord.body.decidedBy = 'reviewers';
    assert.equal(preMintedMismatch(otherReviewers, want), 'its signed record is not the one this release asks for');

    const otherToken = clone(minted);
    otherToken.grant.tokenId = 'tok_000000000000000000000000';
    assert.equal(preMintedMismatch(otherToken, want), 'its signed record names another token');

    const otherHash = clone(minted);
    otherHash.tokenHash = hashToken('cst_guessed');
    assert.equal(preMintedMismatch(otherHash, want), 'its signed record names another token');

    const later = clone(minted);
    later.grant.expiresAt = '2026-11-27T10:00:00.000Z';
    assert.equal(preMintedMismatch(later, want), 'it does not expire when its policy says');

    // Minted for another task of the same agent: the release for this one refuses it.
    const other = requestFor(70);
    assert.equal(preMintedMismatch(minted, asked(other, workflowFacts(other), evaluation)), 'its signed record is not the one this release asks for');
  });
});
