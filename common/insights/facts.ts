/**
 * What one sealed evidence bundle says about its request, as insights count it (issue 28): who
 * asked for what, what policy said, how it ended, and each reviewer decision with the time its
 * version was put up for review and the time it was decided — all read from the bundle's own
 * events, whose times are the workflow's. Pure: the bundle text in, facts out; a bundle this does
 * not recognise gives nothing rather than a guess.
 */
import { z } from 'zod';
import { BUNDLE_FORMAT } from '../bundle';

/** How a request ended, as insights name it. */
export const OUTCOMES = ['auto_allowed', 'policy_denied', 'invalid', 'approved', 'denied', 'changes_requested', 'expired', 'cancelled'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** What policy said when the request was evaluated (absent for a request refused before evaluation). */
export interface RecordedVerdict {
  decision: 'allow' | 'deny' | 'review';
  ruleIds: string[];
  risk?: string;
  group?: string;
  approvals?: number;
}

export interface ReviewerDecisionFacts {
  reviewer: string;
  decision: 'approve' | 'deny' | 'request_changes';
  /** When the version this reviewer decided was put up for review (the evaluation, or the edit that made it). */
  shownAt: number;
  decidedAt: number;
}

export interface RequestFacts {
  workflowId: string;
  requestId: string;
  agent: string;
  action: string;
  verdict?: RecordedVerdict;
  outcome: Outcome;
  /** How the approved action's run ended, when it was reported: executed (succeeded) or failed. */
  execution?: 'executed' | 'failed';
  requestedAt: number;
  /** When policy's verdict was recorded: for a review, when the request was put up for review. */
  evaluatedAt: number;
  /** When the request was decided (by policy, reviewers or the SLA timer). */
  decidedAt: number;
  decisions: ReviewerDecisionFacts[];
  /** An allow decided at the front door, with no workflow (common/edge.ts). */
  atEdge?: true;
  escalations: number;
  /** No decision within the SLA: the request expired. */
  slaBreached: boolean;
}

const Event = z.looseObject({ at: z.string(), type: z.string(), actor: z.string().optional(), data: z.record(z.string(), z.unknown()).optional() });
/** The parts of a bundle insights read (common/bundle.ts EvidenceBody); anything else in it is left alone. */
const RecordedBundle = z.looseObject({
  format: z.literal(BUNDLE_FORMAT),
  /** 'edge' on an allow decided at the front door (common/edge.ts). */
  decidedAt: z.string().optional(),
  workflowId: z.string(),
  requestId: z.string(),
  request: z.looseObject({ agentId: z.string(), action: z.string() }),
  outcome: z.looseObject({
    status: z.string(),
    code: z.string().optional(),
    decidedBy: z.string(),
    decidedAt: z.string(),
    execution: z.looseObject({ status: z.string() }).optional(),
  }),
  events: z.array(Event).max(10_000),
});
export type RecordedBundle = z.infer<typeof RecordedBundle>;

const Verdict = z.looseObject({
  decision: z.enum(['allow', 'deny', 'review']),
  ruleIds: z.array(z.string()),
  risk: z.string().optional(),
  group: z.string().optional(),
  approvals: z.number().optional(),
});
const DECISIONS = new Set(['approve', 'deny', 'request_changes']);

/** The bundle, if it is one this version of countersign sealed. */
export function readRecordedBundle(text: string): RecordedBundle | undefined {
  try {
    const parsed = RecordedBundle.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The verdict the bundle's `evaluated` event records. */
export function recordedVerdict(bundle: RecordedBundle): RecordedVerdict | undefined {
  const parsed = Verdict.safeParse(bundle.events.find((e) => e.type === 'evaluated')?.data);
  if (!parsed.success) return undefined;
  const { decision, ruleIds, risk, group, approvals } = parsed.data;
  return { decision, ruleIds, ...(risk !== undefined ? { risk } : {}), ...(group !== undefined ? { group } : {}), ...(approvals !== undefined ? { approvals } : {}) };
}

function outcomeOf(bundle: RecordedBundle, verdict: RecordedVerdict | undefined): Outcome {
  const { status, code, decidedBy } = bundle.outcome;
  if (code === 'INVALID_REQUEST' && decidedBy === 'policy') return 'invalid';
  if (decidedBy === 'policy') return verdict?.decision === 'allow' ? 'auto_allowed' : verdict ? 'policy_denied' : 'invalid';
  if (decidedBy === 'timer' || code === 'SLA_EXPIRED') return 'expired';
  if (decidedBy === 'cancellation' || (status === 'cancelled' && decidedBy !== 'reviewers')) return 'cancelled';
  if (code === 'REVIEWER_DENIED') return 'denied';
  if (code === 'CHANGES_REQUESTED') return 'changes_requested';
  return 'approved';
}

const time = (iso: string) => Date.parse(iso);

/** The facts of one bundle's request, or undefined for a bundle that is not one of ours or has unreadable times. */
export function requestFacts(bundle: RecordedBundle): RequestFacts | undefined {
  const verdict = recordedVerdict(bundle);
  const requested = bundle.events.find((e) => e.type === 'requested');
  const evaluated = bundle.events.find((e) => e.type === 'evaluated');
  const requestedAt = time(requested?.at ?? '');
  const decidedAt = time(bundle.outcome.decidedAt);
  if (Number.isNaN(requestedAt) || Number.isNaN(decidedAt)) return undefined;
  // Each version's digest and when it was put up for review: the first at evaluation, each edit when made.
  const shown = new Map<string, number>();
  const first = requested?.data?.actionDigest;
  if (typeof first === 'string' && evaluated) shown.set(first, time(evaluated.at));
  const decisions: ReviewerDecisionFacts[] = [];
  for (const e of bundle.events) {
    if (e.type === 'edited' && typeof e.data?.actionDigest === 'string') shown.set(e.data.actionDigest, time(e.at));
    const decision = e.data?.decision;
    if (!e.actor || typeof decision !== 'string' || !DECISIONS.has(decision) || !['approved', 'denied', 'changes_requested'].includes(e.type)) continue;
    const shownAt = shown.get(String(e.data?.versionDigest));
    const at = time(e.at);
    if (shownAt === undefined || Number.isNaN(shownAt) || Number.isNaN(at)) continue;
    decisions.push({ reviewer: e.actor, decision: decision as ReviewerDecisionFacts['decision'], shownAt, decidedAt: at });
  }
  const outcome = outcomeOf(bundle, verdict);
  const run = bundle.outcome.execution?.status;
  return {
    workflowId: bundle.workflowId,
    requestId: bundle.requestId,
    agent: bundle.request.agentId,
    action: bundle.request.action,
    ...(verdict ? { verdict } : {}),
    outcome,
    ...(run === 'succeeded' ? { execution: 'executed' as const } : run === 'failed' ? { execution: 'failed' as const } : {}),
    requestedAt,
    evaluatedAt: evaluated && !Number.isNaN(time(evaluated.at)) ? time(evaluated.at) : requestedAt,
    decidedAt,
    decisions,
    ...(bundle.decidedAt === 'edge' && outcome === 'auto_allowed' ? { atEdge: true as const } : {}),
    escalations: bundle.events.filter((e) => e.type === 'escalated').length,
    slaBreached: outcome === 'expired',
  };
}
