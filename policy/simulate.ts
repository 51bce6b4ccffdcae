/**
 * Policy simulation (issue 28): every recorded request re-evaluated with a candidate policy through
 * the worker's own checks (policy/verdict.ts), compared with the verdict its evidence records. What
 * would change, per kind, per action and per rule, with example request ids; requests the candidate
 * refuses before its rules (schema, catalog, directory) are counted apart. Pure: nothing is started,
 * nothing is written.
 */
import type { RecordedRequest } from '../common/insights/report';
import type { CompiledPolicy } from './load';
import { verdictOf } from './verdict';

/** Example request ids a row keeps. */
export const MAX_EXAMPLES = 3;

export interface ChangeRow {
  /** allow→review, review→deny, deny→allow…; "routed finance→cfo-office"; "approvals 1→2". */
  change: string;
  count: number;
  examples: string[];
}

export interface Refusals {
  count: number;
  examples: { requestId: string; message: string }[];
}

export interface Simulation {
  /** Distinct requests replayed (the run sealed last of each workflow id). */
  requests: number;
  unchanged: number;
  /** Requests with at least one change. */
  changed: number;
  byChange: ChangeRow[];
  byAction: (ChangeRow & { action: string })[];
  /** Keyed by the candidate's deciding rules (its "defaults" when none matches). */
  byRule: (ChangeRow & { rule: string })[];
  /** Payloads (or requests) that no longer pass the candidate's schemas or catalog. */
  failingSchemas: Refusals;
  /** Agents the candidate's directory does not list, or MCP context from a non-gateway. */
  refusedByDirectory: Refusals;
  /** Refused before evaluation when recorded: nothing to compare with. */
  notEvaluated: number;
}

/** What changes between the recorded verdict and the candidate's, one entry per kind of change. */
export function changesOf(before: NonNullable<RecordedRequest['verdict']>, after: { decision: string; route?: { group: { name: string }; approvals: number } }): string[] {
  if (before.decision !== after.decision) return [`${before.decision}→${after.decision}`];
  if (after.decision !== 'review' || !after.route) return [];
  const changes: string[] = [];
  if (before.group !== undefined && before.group !== after.route.group.name) changes.push(`routed ${before.group}→${after.route.group.name}`);
  if (before.approvals !== undefined && before.approvals !== after.route.approvals) changes.push(`approvals ${before.approvals}→${after.route.approvals}`);
  return changes;
}

class Rows<K extends string> {
  private rows = new Map<string, ChangeRow & Record<K, string>>();
  constructor(private readonly key: K) {}
  add(value: string, change: string, requestId: string): void {
    const id = `${value}\n${change}`;
    const row = this.rows.get(id) ?? ({ [this.key]: value, change, count: 0, examples: [] } as unknown as ChangeRow & Record<K, string>);
    row.count += 1;
    if (row.examples.length < MAX_EXAMPLES) row.examples.push(requestId);
    this.rows.set(id, row);
  }
  list(): (ChangeRow & Record<K, string>)[] {
    return [...this.rows.values()].sort((a, b) => b.count - a.count || (a[this.key] + a.change < b[this.key] + b.change ? -1 : 1));
  }
}

/** Replays the recorded requests (newest first, as listed) with the candidate; a workflow id seen again is an older run and is skipped. */
export function simulate(candidate: CompiledPolicy, recorded: Iterable<RecordedRequest>): Simulation {
  const seen = new Set<string>();
  const byChange = new Rows('kind');
  const byAction = new Rows('action');
  const byRule = new Rows('rule');
  const failingSchemas: Refusals = { count: 0, examples: [] };
  const refusedByDirectory: Refusals = { count: 0, examples: [] };
  let [requests, unchanged, changed, notEvaluated] = [0, 0, 0, 0];
  for (const r of recorded) {
    if (seen.has(r.workflowId)) continue;
    seen.add(r.workflowId);
    requests += 1;
    if (!r.verdict) {
      notEvaluated += 1;
      continue;
    }
    const verdict = verdictOf(candidate, r.request);
    if (!verdict.ok) {
      const into = verdict.at === 'directory' ? refusedByDirectory : failingSchemas;
      into.count += 1;
      if (into.examples.length < MAX_EXAMPLES) into.examples.push({ requestId: r.requestId, message: verdict.message.slice(0, 300) });
      continue;
    }
    const changes = changesOf(r.verdict, verdict.decision);
    if (!changes.length) {
      unchanged += 1;
      continue;
    }
    changed += 1;
    const rule = verdict.decision.ruleIds.join(', ') || 'defaults';
    for (const change of changes) {
      byChange.add('', change, r.requestId);
      byAction.add(String(r.request.action), change, r.requestId);
      byRule.add(rule, change, r.requestId);
    }
  }
  return {
    requests,
    unchanged,
    changed,
    byChange: byChange.list().map(({ change, count, examples }) => ({ change, count, examples })),
    byAction: byAction.list(),
    byRule: byRule.list(),
    failingSchemas,
    refusedByDirectory,
    notEvaluated,
  };
}
