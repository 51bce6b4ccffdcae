/**
 * What an approval run shows the world: search attributes and the UI's current details after every
 * transition, the review view and submit state its queries answer, and the evidence body it seals.
 */
import { patched, setCurrentDetails, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import { canonicalJson } from '../common/canonical';
import { BUNDLE_FORMAT, type EvidenceBody, type EvidenceView } from '../common/bundle';
import { SA } from '../common/search-attributes';
import type { ApprovalOutcome, ReviewView, SubmitState } from '../common/views';
import { refreshChatMessages } from './chat';
import { QUEUE_MEMO_PATCH } from './patches';
import { approvalsNeeded, approvers, current, eligibleNames, isOpen, type ApprovalRun } from './state';

/** Search attributes and the UI's current details follow every transition; identity attributes are the recomputed ones. */
export function publish(r: ApprovalRun): void {
  const { request, review, status, token, outcome } = r;
  const p = current(r).policy;
  upsertSearchAttributes([
    { key: SA.status, value: status },
    { key: SA.group, value: eligibleNames(r) },
    { key: SA.requestId, value: r.requestId },
    { key: SA.agent, value: request.agentId },
    { key: SA.action, value: request.action },
    ...(p ? [{ key: SA.risk, value: p.risk }] : []),
    ...(review && isOpen(r) ? [{ key: SA.deadline, value: new Date(review.deadline) }] : []),
    ...(token && status === 'approved' ? [{ key: SA.deadline, value: new Date(token.expiresAt) }] : []),
  ]);
  const needed = approvalsNeeded(r);
  const headline =
    isOpen(r) && review
      ? `**${request.action}** — needs ${eligibleNames(r).join(' or ')} (${needed} approval${needed > 1 ? 's' : ''})${status === 'escalated' ? ', escalated' : ''}`
      : `**${request.action}** — ${status}`;
  const lines = [
    headline,
    `**Status:** ${status}`,
    review ? `**Reviewers:** ${eligibleNames(r).join(', ')} (${approvers(r).length}/${needed} approvals)` : '',
    approvers(r).length ? `**Approved by:** ${approvers(r).join(', ')}` : '',
    review && review.versions > 1 ? `**Version:** ${review.versions} (edited by ${review.version.editedBy}), digest ${review.version.digest.slice(0, 16)}` : '',
    isOpen(r) && review?.nextEscalation ? `**Escalates:** ${new Date(review.nextEscalation).toISOString()}` : '',
    isOpen(r) && review ? `**Expires (SLA):** ${new Date(review.deadline).toISOString()}` : '',
    token && status === 'approved' ? `**Token:** ${token.tokenId}, ${token.consumed ? 'consumed; awaiting the outcome report' : `unused, expires ${new Date(token.expiresAt).toISOString()}`}` : '',
    outcome ? `**Outcome:** ${outcome.status}${outcome.code ? ` (${outcome.code})` : ''}${outcome.message ? ` — ${outcome.message}` : ''}` : '',
  ];
  setCurrentDetails(lines.filter(Boolean).join('\n\n'));
  publishQueueMemo(r);
  refreshChatMessages(r);
}

/**
 * What a queue row shows of a review beyond its search attributes: the catalog's display fields and
 * the approvals so far and needed (visibility lists memos, not payloads). Upserted only when it
 * changed, and only by runs that took QUEUE_MEMO_PATCH.
 */
function publishQueueMemo(r: ApprovalRun): void {
  if (!r.review) return;
  const display = current(r).policy?.display;
  const memo = { display: display ?? null, approvals: approvers(r).length, approvalsNeeded: approvalsNeeded(r) };
  const stamp = canonicalJson(memo);
  if (stamp === r.queueMemo || !patched(QUEUE_MEMO_PATCH)) return;
  r.queueMemo = stamp;
  upsertMemo(memo);
}

/** The reviewViewQuery's answer: what a reviewer is shown. */
export const view = (r: ApprovalRun): ReviewView => ({
  requestId: r.requestId,
  workflowId: r.workflowId,
  runId: r.runId,
  status: r.status,
  request: r.shownRequest,
  actionDigest: r.digest,
  currentDigest: current(r).digest,
  currentPayload: current(r).payload,
  policy: current(r).policy,
  eligibleGroups: eligibleNames(r),
  approvals: approvers(r),
  approvalsNeeded: approvalsNeeded(r),
  deadline: r.review && isOpen(r) ? new Date(r.review.deadline).toISOString() : undefined,
  nextEscalation: r.review?.nextEscalation && isOpen(r) ? new Date(r.review.nextEscalation).toISOString() : undefined,
  outcome: r.outcome && { ...r.outcome, token: r.outcome.token && { tokenId: r.outcome.token.tokenId, expiresAt: r.outcome.token.expiresAt } },
  history: r.events,
});

/** What the agent's awaitDecision Update (and the submitStateQuery) answers. */
export const submitState = (r: ApprovalRun): SubmitState => ({
  requestId: r.requestId,
  workflowId: r.workflowId,
  status: r.status,
  outcome: r.outcome,
  deadline: r.review && isOpen(r) ? new Date(r.review.deadline).toISOString() : undefined,
});

/** The evidence as sealed at the end of the run, signature aside. */
export const evidenceBody = (r: ApprovalRun): Omit<EvidenceBody, 'signer'> => ({ ...evidenceSoFar(r), outcome: stripForEvidence(r.outcome!) });

/** What the bundle holds before the outcome: while a request is open, its evidence is this chain. */
const evidenceSoFar = (r: ApprovalRun): Omit<EvidenceBody, 'signer' | 'outcome'> => ({
  format: BUNDLE_FORMAT,
  workflowId: r.workflowId,
  requestId: r.requestId,
  request: r.shownRequest,
  requestDigest: r.shownRequestDigest,
  events: r.events,
  ...(r.approvalRecord ? { approvalRecord: r.approvalRecord } : {}),
  ...(r.receipt ? { receipt: r.receipt } : {}),
});

/** The evidenceQuery's answer: the bundle so far (no outcome while the request is open), and whether it is sealed. */
export const evidenceView = (r: ApprovalRun): EvidenceView => ({
  sealed: Boolean(r.sealed),
  bundle: { ...evidenceSoFar(r), ...(r.outcome ? { outcome: stripForEvidence(r.outcome) } : {}), ...(r.sealed ?? {}) },
});

/** The evidence keeps what was decided and executed, not the sealed token box. */
function stripForEvidence(outcome: ApprovalOutcome): EvidenceBody['outcome'] {
  const { evidence: _evidence, token, ...rest } = outcome;
  return { ...rest, ...(token ? { token: { tokenId: token.tokenId, expiresAt: token.expiresAt } } : {}) };
}
