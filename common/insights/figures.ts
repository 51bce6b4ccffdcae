/**
 * The figures of insights (issue 28) from the facts of many requests: outcomes by action, rule and
 * agent; the share decided without a human; time to decide per group and per reviewer; SLA breaches
 * and escalations; and, per reviewer, the signals of rubber-stamping with the numbers behind them.
 * Pure: the same facts give the same figures, to the millisecond.
 */
import type { Outcome, RequestFacts } from './facts';
import type { Figures, OutcomeCounts, ReviewerFigures, Timing } from './report';

/**
 * A decision made within this long of its version being put up for review is "fast": less than it
 * takes to read a summary, a resource and a payload. Fixed, so figures compare across teams and time.
 */
export const FAST_DECISION_MS = 10_000;
/** A reviewer is judged only with at least this many decisions in the window. */
export const MIN_DECISIONS_JUDGED = 5;
/** Flagged: approves at least this share of what they decide… */
export const RUBBER_STAMP_APPROVAL_RATE = 0.9;
/** …and decides at least this share of it fast. */
export const RUBBER_STAMP_FAST_SHARE = 0.5;

/** The p-th percentile by nearest rank: the smallest value with at least p % of values at or below it (0 for none). */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/** part / whole, rounded to 4 decimals; 0 when there is no whole. */
export function share(part: number, whole: number): number {
  return whole ? Math.round((part / whole) * 10_000) / 10_000 : 0;
}

export function timing(values: readonly number[]): Timing {
  return { count: values.length, p50Ms: percentile(values, 50), p90Ms: percentile(values, 90) };
}

const REVIEWED: ReadonlySet<Outcome> = new Set(['approved', 'denied', 'changes_requested', 'expired']);

export function emptyCounts(): OutcomeCounts {
  return { requests: 0, auto_allowed: 0, edge_allowed: 0, policy_denied: 0, invalid: 0, reviewed: 0, approved: 0, denied: 0, changes_requested: 0, expired: 0, cancelled: 0, executed: 0, failed: 0 };
}

function count(into: OutcomeCounts, f: RequestFacts): void {
  into.requests += 1;
  into[f.outcome] += 1;
  if (f.atEdge) into.edge_allowed += 1;
  if (REVIEWED.has(f.outcome) || (f.outcome === 'cancelled' && f.verdict?.decision === 'review')) into.reviewed += 1;
  if (f.execution) into[f.execution] += 1;
}

function countBy<K extends string>(facts: readonly RequestFacts[], name: K, keys: (f: RequestFacts) => string[]): ({ [k in K]: string } & OutcomeCounts)[] {
  const rows = new Map<string, OutcomeCounts>();
  for (const f of facts) {
    for (const key of new Set(keys(f))) {
      const row = rows.get(key) ?? emptyCounts();
      count(row, f);
      rows.set(key, row);
    }
  }
  return [...rows].sort(([a, x], [b, y]) => y.requests - x.requests || (a < b ? -1 : 1)).map(([key, counts]) => ({ [name]: key, ...counts }) as { [k in K]: string } & OutcomeCounts);
}

/** Whether a reviewer's decisions look like rubber-stamping, and the sentence that says why. */
export function rubberStampFlag(decisions: number, approvalRate: number, fastShare: number, medianMs: number): string | undefined {
  if (decisions < MIN_DECISIONS_JUDGED || approvalRate < RUBBER_STAMP_APPROVAL_RATE || fastShare < RUBBER_STAMP_FAST_SHARE) return undefined;
  const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;
  return `approved ${pct(approvalRate)} of ${decisions} decisions, ${pct(fastShare)} of them within ${FAST_DECISION_MS / 1000} s of being shown (median ${Math.round(medianMs / 100) / 10} s)`;
}

function reviewerFigures(facts: readonly RequestFacts[]): ReviewerFigures[] {
  const by = new Map<string, { ms: number[]; approved: number }>();
  for (const f of facts) {
    for (const d of f.decisions) {
      const r = by.get(d.reviewer) ?? { ms: [], approved: 0 };
      r.ms.push(Math.max(0, d.decidedAt - d.shownAt));
      if (d.decision === 'approve') r.approved += 1;
      by.set(d.reviewer, r);
    }
  }
  return [...by]
    .map(([reviewer, { ms, approved }]) => {
      const approvalRate = share(approved, ms.length);
      const fastShare = share(ms.filter((m) => m <= FAST_DECISION_MS).length, ms.length);
      const medianMs = percentile(ms, 50);
      const flag = rubberStampFlag(ms.length, approvalRate, fastShare, medianMs);
      return { reviewer, ...timing(ms), approved, approvalRate, medianMs, fastShare, ...(flag ? { flag } : {}) };
    })
    .sort((a, b) => b.count - a.count || (a.reviewer < b.reviewer ? -1 : 1));
}

function groupFigures(facts: readonly RequestFacts[]): Figures['timeToDecideByGroup'] {
  const by = new Map<string, { ms: number[]; slaBreaches: number; escalations: number }>();
  for (const f of facts) {
    const group = f.verdict?.decision === 'review' ? f.verdict.group : undefined;
    if (!group) continue;
    const g = by.get(group) ?? { ms: [], slaBreaches: 0, escalations: 0 };
    if (f.outcome === 'approved' || f.outcome === 'denied' || f.outcome === 'changes_requested') g.ms.push(Math.max(0, f.decidedAt - f.evaluatedAt));
    if (f.slaBreached) g.slaBreaches += 1;
    g.escalations += f.escalations;
    by.set(group, g);
  }
  return [...by].sort(([a], [b]) => (a < b ? -1 : 1)).map(([group, g]) => ({ group, ...timing(g.ms), slaBreaches: g.slaBreaches, escalations: g.escalations }));
}

/** Every figure of insights over these requests' facts. */
export function figures(facts: readonly RequestFacts[]): Figures {
  const outcomes = emptyCounts();
  for (const f of facts) count(outcomes, f);
  return {
    outcomes,
    automatedShare: share(outcomes.auto_allowed + outcomes.policy_denied + outcomes.invalid, outcomes.requests),
    byAction: countBy(facts, 'action', (f) => [f.action]),
    byRule: countBy(facts, 'rule', (f) => (f.verdict?.ruleIds.length ? f.verdict.ruleIds : ['(not evaluated)'])),
    byAgent: countBy(facts, 'agent', (f) => [f.agent]),
    timeToDecideByGroup: groupFigures(facts),
    reviewers: reviewerFigures(facts),
    slaBreaches: facts.filter((f) => f.slaBreached).length,
    escalatedRequests: facts.filter((f) => f.escalations > 0).length,
    escalations: facts.reduce((n, f) => n + f.escalations, 0),
    thresholds: { fastDecisionMs: FAST_DECISION_MS, minDecisionsJudged: MIN_DECISIONS_JUDGED, approvalRate: RUBBER_STAMP_APPROVAL_RATE, fastShare: RUBBER_STAMP_FAST_SHARE },
  };
}
