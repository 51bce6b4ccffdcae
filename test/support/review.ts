import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { signerFromKey } from '../../crypto/keys';
import { RequestNotFoundError } from '../../common/refusals';
import type { ReviewerDecision } from '../../common/inputs';
import type { DecisionReceipt } from '../../common/views';
import { decisionStatement, statementTarget } from '../../common/signing';
import type { Stack, TestClient as Countersign } from './stack';

/** A reviewer who looks at the request, then decides on the version shown (a decision may override versionDigest). */
export async function decideSeen(cs: Countersign, id: string, decision: ReviewerDecision): Promise<DecisionReceipt> {
  const view = await cs.view(id);
  return cs.decide(id, { versionDigest: view.currentDigest, ...decision });
}

/**
 * The decision as its reviewer's key signs it for the current version (or `decision.versionDigest`):
 * for sending around the server (a raw Update or Signal), to show the workflow's own checks.
 */
export async function signedDecision(stack: Stack, id: string, decision: ReviewerDecision, keyPath = stack.reviewerKeys.get(decision.reviewer)): Promise<ReviewerDecision> {
  assert.ok(keyPath, `the stack has a key for ${decision.reviewer}`);
  const view = await stack.ops.view(id);
  const versionDigest = decision.versionDigest ?? view.currentDigest;
  const signedAt = new Date().toISOString();
  const signer = signerFromKey(createPrivateKey(readFileSync(keyPath)));
  const d = { ...decision, versionDigest };
  const signed = signer.sign('countersign/reviewer-decision/v2', decisionStatement(statementTarget(view as typeof view & { runId: string }, { versionDigest, policyDigest: view.policy!.policyDigest }), d, signedAt));
  return { ...d, signature: { signedAt, value: signed.signature } };
}

/** Through the server, a request outside the reviewer's groups does not exist for them. */
export async function notFoundFor(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof RequestNotFoundError, `expected not found, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    return true;
  });
}
