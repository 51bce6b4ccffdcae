/**
 * What the review rules ask of a batch approval (one signature over many requests, common/batch.ts)
 * before its signature is checked. Pure, beside ./review.ts, which calls it from checkDecision.
 */
import { batchStatement, inBatch, type BatchItem, type BatchStatement } from '../common/batch';
import { ReasonCode } from '../common/codes';
import { escapeName } from '../common/errors';
import type { ReviewerDecision } from '../common/inputs';

type BatchApproval = Extract<ReviewerDecision, { decision: 'approve' }>;

/** The batch statement a batch approval's signature must cover: its root and size from the decision, who and what from the decision itself. */
export function batchStatementOf(d: BatchApproval, signedAt: string): BatchStatement {
  return batchStatement(d.reviewer, { root: d.batch!.root, size: d.batch!.size }, d.comment, signedAt);
}

/**
 * Why a batch approval may not decide this request: a run from before batches, an edit, a rule that
 * forbids batching (from the route the workflow computed, never the caller), a chat click, or a
 * request that is not the leaf the proof names under the signed root (a replayed batch).
 */
export function batchRefusal(
  review: { taken?: boolean; allowed?: boolean; ruleIds: readonly string[]; item: BatchItem },
  d: BatchApproval,
): { ok: false; code: ReasonCode; message: string } | undefined {
  const refuse = (code: ReasonCode, message: string) => ({ ok: false as const, code, message });
  const { requestId } = review.item;
  if (!review.taken) return refuse(ReasonCode.INVALID_REQUEST, `Request ${requestId} was made before batch decisions: approve it on its own.`);
  if (d.editedPayload !== undefined) return refuse(ReasonCode.INVALID_REQUEST, 'Field "editedPayload": a batch approval approves each request as shown; edit a request on its own.');
  if (review.allowed !== true) return refuse(ReasonCode.BATCH_NOT_ALLOWED, `Rule ${review.ruleIds.join(', ') || '(default)'} does not allow batch approval of request ${requestId}: approve it on its own.`);
  if (!d.signature || 'chat' in d.signature) return refuse(ReasonCode.UNAUTHENTICATED, `A batch approval is signed by ${escapeName(d.reviewer)}'s own key or passkey.`);
  if (!inBatch(review.item, d.batch!)) return refuse(ReasonCode.UNAUTHENTICATED, `Request ${requestId}, version ${review.item.versionDigest.slice(0, 12)}, is not in the batch that signature covers.`);
  return undefined;
}
