/**
 * An allow decided at the front door (issue 29), as pure data and functions: the decision record the
 * store keeps beside the token's hash, and the evidence body sealed from it when the token is spent
 * (and again, with the outcome, when the agent reports: edgeReportedBody). No Temporal, no I/O. The bundle says
 * `decidedAt: 'edge'` and is signed by the edge key, never the layer's: `verifyBundle` holds it to
 * what an edge may decide — a policy allow, no reviewer — whatever else it claims (edgeOverreach).
 */
import { appendEvent, type EvidenceEvent } from './evidence';
import type { EvidenceBody } from './bundle';
import type { ActionRequest, ExecutionReport, PolicyDecision } from './inputs';
import type { Payload } from './json';
import type { ApprovalRecord, ExecutionReceipt, Signed, TokenBinding } from './views';

export const EDGE_DECISION_FORMAT = 'countersign/edge-decision/v1';

/** What the front door decided and minted, kept (as JSON text) with the token's hash: everything its bundle needs. */
export interface EdgeDecision {
  format: typeof EDGE_DECISION_FORMAT;
  workflowId: string;
  requestId: string;
  request: Omit<ActionRequest, 'agentKey'>;
  requestDigest: string;
  actionDigest: string;
  policy: Pick<PolicyDecision, 'ruleIds' | 'risk' | 'reason' | 'policyDigest' | 'directoryDigest'>;
  binding: TokenBinding;
  tokenId: string;
  tokenHash: string;
  issuedAt: string;
  expiresAt: string;
  approvalRecord: Signed<ApprovalRecord>;
}

/** The run id an edge decision's bundles are kept and logged under: one for the spend, one for the report. */
export const edgeRunId = (tokenId: string, stage: 'consumed' | 'reported') => `edge-${tokenId}${stage === 'reported' ? '-reported' : ''}`;

/** The evidence body of an edge decision once its token is spent (`receipt`): request, evaluation, token minted (hash only), consumption. */
export function edgeEvidenceBody(d: EdgeDecision, receipt: Signed<ExecutionReceipt>): Omit<EvidenceBody, 'signer'> {
  const events: EvidenceEvent[] = [];
  const { request } = d;
  appendEvent(events, { at: d.issuedAt, type: 'requested', actor: request.agentId, detail: `${request.action} on ${request.resource.type}:${request.resource.id}`, data: { requestDigest: d.requestDigest, actionDigest: d.actionDigest } });
  appendEvent(events, {
    at: d.issuedAt,
    type: 'evaluated',
    detail: `allow at the edge by ${d.policy.ruleIds.join(', ')} (risk ${d.policy.risk}): ${d.policy.reason}`,
    data: { decision: 'allow', edge: true, ruleIds: d.policy.ruleIds, risk: d.policy.risk, reason: d.policy.reason, policyDigest: d.policy.policyDigest },
  });
  appendEvent(events, {
    at: d.issuedAt,
    type: 'token_minted',
    detail: `token ${d.tokenId} for digest ${d.actionDigest.slice(0, 16)}, expires ${d.expiresAt}`,
    data: { tokenId: d.tokenId, tokenHash: d.tokenHash, expiresAt: d.expiresAt, actionDigest: d.actionDigest, keyId: d.approvalRecord.keyId, sealed: true },
  });
  const r = receipt.body;
  appendEvent(events, { at: r.consumedAt, type: 'consumed', actor: r.agentId, detail: `token ${r.tokenId} consumed for digest ${r.actionDigest.slice(0, 16)}`, data: { tokenId: r.tokenId, actionDigest: r.actionDigest } });
  appendEvent(events, { at: r.consumedAt, type: 'closed', detail: 'approved (decided at the edge); consumed, outcome not reported yet', data: { status: 'approved' } });
  return {
    format: 'countersign/evidence/v1',
    decidedAt: 'edge',
    workflowId: d.workflowId,
    requestId: d.requestId,
    request,
    requestDigest: d.requestDigest,
    outcome: {
      requestId: d.requestId,
      workflowId: d.workflowId,
      status: 'approved',
      message: d.policy.reason,
      decidedBy: 'policy',
      reviewers: [],
      payload: request.payload as Payload,
      edited: false,
      actionDigest: d.actionDigest,
      ruleIds: d.policy.ruleIds,
      risk: d.policy.risk,
      policyDigest: d.policy.policyDigest,
      decidedAt: d.issuedAt,
      token: { tokenId: d.tokenId, expiresAt: d.expiresAt },
      execution: { status: 'unknown', receiptId: r.receiptId, message: 'Decided at the edge: the outcome, once reported, is sealed in a bundle of its own.' },
    },
    events,
    approvalRecord: d.approvalRecord,
    receipt,
  };
}

/**
 * The bundle of an edge decision once its agent reports: the consumed bundle's chain without its
 * closing event, then the report and a new close; the outcome is the report's. Sealed under its own run id.
 */
export function edgeReportedBody(consumed: Omit<EvidenceBody, 'signer'>, report: ExecutionReport, at: string): Omit<EvidenceBody, 'signer'> {
  const events = consumed.events.slice(0, -1).map((e) => ({ ...e }));
  const agentId = consumed.request.agentId;
  appendEvent(events, { at, type: 'reported', actor: agentId, detail: `${report.status}${report.message ? `: ${report.message}` : ''}`, data: { ...report } });
  const status = report.status === 'succeeded' ? 'executed' : 'failed';
  appendEvent(events, { at, type: 'closed', detail: `${status} (decided at the edge)`, data: { status } });
  const receiptId = consumed.receipt?.body.receiptId;
  return { ...consumed, events, outcome: { ...consumed.outcome, status, execution: { ...report, ...(receiptId ? { receiptId } : {}) } } };
}
