/**
 * Recorded traffic with known outcomes and decision times, for insights' figures (issue 28): sealed
 * bundles crafted as the workflow seals them — the request, the chained events with the times a
 * scripted clock gives, the outcome — and signed with a test layer key. Insights read bundles only,
 * so a bundle whose events say "dave approved 4 s after it was put up for review" is exactly what a
 * workflow under that clock would have sealed, without sleeping through the hour an SLA takes.
 */
import { randomUUID } from 'node:crypto';
import { signEvidence } from '../../activities/evidence';
import { BUNDLE_FORMAT, requestDigest, type EvidenceBody } from '../../common/bundle';
import { actionDigest, requestIdFor } from '../../common/digest';
import { appendEvent, type EvidenceEvent } from '../../common/evidence';
import { logLeafData } from '../../common/tlog/leaf';
import type { Payload } from '../../common/json';
import type { Signer } from '../../crypto/keys';
import type { Store } from '../../store/types';

export interface RecordedSpec {
  agent: string;
  action: string;
  resource?: { type: string; id: string; environment?: string };
  payload?: Payload;
  verdict: { decision: 'allow' | 'deny' | 'review'; ruleIds: string[]; risk?: string; group?: string; approvals?: number };
  /** When the agent asked (ms since the epoch); policy answers in the same millisecond. */
  at: number;
  /** Reviewer decisions, each this long after the request was put up for review. */
  decisions?: { reviewer: string; decision: 'approve' | 'deny' | 'request_changes'; afterMs: number }[];
  escalations?: { group: string; afterMs: number }[];
  /** No decision: the SLA timer expired it this long after review began. */
  expiredAfterMs?: number;
  execution?: 'succeeded' | 'failed';
}

export interface RecordedBundle {
  workflowId: string;
  runId: string;
  requestId: string;
  digest: string;
  text: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function recordedBundle(signer: Signer, spec: RecordedSpec): RecordedBundle {
  const taskId = `t-${randomUUID()}`;
  const request = { agentId: spec.agent, taskId, action: spec.action, summary: `${spec.action} by ${spec.agent}`, resource: spec.resource ?? { type: 'customer', id: 'C-1' }, payload: spec.payload ?? { amount: 10 } };
  const aDigest = actionDigest(request);
  const rDigest = requestDigest(request);
  const requestId = requestIdFor(spec.agent, taskId, aDigest);
  const workflowId = `cs-${spec.agent}-${requestId}`;
  const v = spec.verdict;
  const events: EvidenceEvent[] = [];
  appendEvent(events, { at: iso(spec.at), type: 'requested', actor: spec.agent, detail: `${spec.action}`, data: { requestDigest: rDigest, actionDigest: aDigest } });
  appendEvent(events, {
    at: iso(spec.at),
    type: 'evaluated',
    detail: `${v.decision} by ${v.ruleIds.join(', ')}`,
    data: { decision: v.decision, ruleIds: v.ruleIds, risk: v.risk ?? 'low', reason: 'scripted', policyDigest: 'p'.repeat(64), ...(v.group ? { group: v.group, approvals: v.approvals ?? 1 } : {}) },
  });
  let status = 'approved';
  let code: string | undefined;
  let decidedBy = 'policy';
  let decidedAt = spec.at;
  const reviewers: string[] = [];
  if (v.decision === 'deny') {
    appendEvent(events, { at: iso(spec.at), type: 'denied', detail: 'scripted' });
    [status, code] = ['denied', 'POLICY_DENIED'];
  } else if (v.decision === 'review') {
    appendEvent(events, { at: iso(spec.at), type: 'notified', detail: `review_requested sent to ${v.group}`, data: { group: v.group!, event: 'review_requested', channels: ['log'] } });
    const steps = [
      ...(spec.escalations ?? []).map((e) => ({ at: spec.at + e.afterMs, escalate: e.group })),
      ...(spec.decisions ?? []).map((d) => ({ at: spec.at + d.afterMs, decide: d })),
    ].sort((a, b) => a.at - b.at);
    for (const step of steps) {
      if ('escalate' in step) appendEvent(events, { at: iso(step.at), type: 'escalated', detail: 'scripted', data: { group: step.escalate! } });
      else {
        const d = step.decide!;
        const type = d.decision === 'approve' ? 'approved' : d.decision === 'deny' ? 'denied' : 'changes_requested';
        appendEvent(events, { at: iso(step.at), type, actor: d.reviewer, detail: 'scripted', data: { decision: d.decision, versionDigest: aDigest, shown: { payloadDigest: aDigest, ruleIds: v.ruleIds, group: v.group!, approvals: v.approvals ?? 1 }, signed: false } });
        reviewers.push(d.reviewer);
        [decidedBy, decidedAt] = ['reviewers', step.at];
        if (d.decision === 'deny') [status, code] = ['denied', 'REVIEWER_DENIED'];
        if (d.decision === 'request_changes') [status, code] = ['changes_requested', 'CHANGES_REQUESTED'];
      }
    }
    if (spec.expiredAfterMs !== undefined) {
      decidedAt = spec.at + spec.expiredAfterMs;
      appendEvent(events, { at: iso(decidedAt), type: 'expired', detail: 'no decision within the SLA' });
      [status, code, decidedBy] = ['expired', 'SLA_EXPIRED', 'timer'];
    }
  }
  if (status === 'approved' && spec.execution) {
    appendEvent(events, { at: iso(decidedAt + 1000), type: 'reported', actor: spec.agent, detail: spec.execution, data: { status: spec.execution } });
    status = spec.execution === 'succeeded' ? 'executed' : 'failed';
  }
  appendEvent(events, { at: iso(decidedAt + 2000), type: 'closed', detail: status, data: { status } });
  const outcome = {
    requestId,
    workflowId,
    status,
    ...(code ? { code } : {}),
    decidedBy,
    reviewers,
    edited: false,
    actionDigest: aDigest,
    ruleIds: v.ruleIds,
    risk: v.risk ?? 'low',
    decidedAt: iso(decidedAt),
    ...(spec.execution && status !== 'denied' ? { execution: { status: spec.execution } } : {}),
  };
  const body: Omit<EvidenceBody, 'signer'> = { format: BUNDLE_FORMAT, workflowId, requestId, request, requestDigest: rDigest, outcome: outcome as unknown as EvidenceBody['outcome'], events };
  const sealed = signEvidence(signer, body);
  return { workflowId, runId: randomUUID(), requestId, digest: sealed.digest, text: sealed.text };
}

/** What sealEvidence does to the store for one bundle: the bundle, then its leaf. */
export async function sealRecorded(store: Store, b: RecordedBundle): Promise<void> {
  await store.putEvidence({ workflowId: b.workflowId, runId: b.runId, requestId: b.requestId, bundleDigest: b.digest, text: b.text });
  await store.appendLeaf(logLeafData({ workflowId: b.workflowId, runId: b.runId, requestId: b.requestId, bundleDigest: b.digest }));
}

const T0 = Date.parse('2026-12-01T09:00:00Z');
const S = 1000;
const refund = (agent: string, extra: Partial<RecordedSpec>): RecordedSpec => ({ agent, action: 'payments.refund', at: T0, verdict: { decision: 'review', ruleIds: ['large-refunds'], risk: 'high', group: 'finance', approvals: 2 }, ...extra });

/**
 * The scripted mix insights are asserted on (test/unit/insights.test.ts, test/insights.test.ts):
 * ten requests with known outcomes and decision times. dave approves all five of his within 10 s.
 */
export const SCRIPTED_MIX: RecordedSpec[] = [
  { agent: 'support-bot', action: 'payments.refund', at: T0, verdict: { decision: 'allow', ruleIds: ['small-refunds'] }, execution: 'succeeded' },
  { agent: 'support-bot', action: 'payments.refund', at: T0, verdict: { decision: 'allow', ruleIds: ['small-refunds'] }, execution: 'failed' },
  { agent: 'ops-bot', action: 'db.drop', resource: { type: 'database', id: 'orders', environment: 'prod' }, at: T0, verdict: { decision: 'deny', ruleIds: ['no-prod-drops'], risk: 'critical' } },
  refund('support-bot', { decisions: [{ reviewer: 'dave', decision: 'approve', afterMs: 4 * S }, { reviewer: 'erin', decision: 'approve', afterMs: 60 * S }], execution: 'succeeded' }),
  refund('support-bot', { decisions: [{ reviewer: 'dave', decision: 'approve', afterMs: 3 * S }, { reviewer: 'erin', decision: 'deny', afterMs: 120 * S }] }),
  { agent: 'support-bot', action: 'account.email.change', resource: { type: 'account', id: 'A-7' }, at: T0, verdict: { decision: 'review', ruleIds: ['email-change'], risk: 'medium', group: 'support', approvals: 1 }, decisions: [{ reviewer: 'alice', decision: 'request_changes', afterMs: 300 * S }] },
  { agent: 'support-bot', action: 'account.email.change', resource: { type: 'account', id: 'A-8' }, at: T0, verdict: { decision: 'review', ruleIds: ['email-change'], risk: 'medium', group: 'support', approvals: 1 }, escalations: [{ group: 'support-leads', afterMs: 1800 * S }], expiredAfterMs: 3600 * S },
  ...[2, 5, 8].map((s) => refund('ops-bot', { verdict: { decision: 'review', ruleIds: ['large-refunds'], risk: 'high', group: 'finance', approvals: 1 }, decisions: [{ reviewer: 'dave', decision: 'approve', afterMs: s * S }] })),
];
