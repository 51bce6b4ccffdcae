/**
 * `countersign insights` and `countersign policy simulate` (issue 28), with an auditor's API key
 * through the front door: the figures the server computes from sealed evidence, and the recorded
 * requests re-evaluated here, in this process, with a candidate policy file — so simulation starts
 * nothing, writes nothing, and the candidate never leaves this machine.
 */
import { ExitCode } from '../../common/codes';
import { formatDuration, parseDuration } from '../../common/duration';
import { InsightsReport, RecordedRequests, type OutcomeCounts, type RecordedRequest } from '../../common/insights/report';
import type { HttpClient } from '../../client/http';
import { formatPolicyError, loadPolicyFile, PolicyLoadError } from '../../policy/load';
import { simulate, type Simulation } from '../../policy/simulate';
import { connectAgent } from '../connect';
import { CliError, usage } from '../errors';
import { out, parseFlags, printJson, table } from '../io';

/** The longest window, as the server takes it (server/insights.ts MAX_WINDOW_MS). */
const MAX_WINDOW = '366d';
/** Pages of recorded requests one simulation reads at most (200 each): 100,000 requests. */
const MAX_PAGES = 500;

function since(value: string | undefined, fallback: string): string {
  const given = value ?? fallback;
  const ms = parseDuration(given);
  if (ms === undefined || ms <= 0 || ms > parseDuration(MAX_WINDOW)!) throw usage(`--since must be a duration back from now such as 7d or 12h, at most ${MAX_WINDOW}, got "${given.slice(0, 50)}".`);
  return given;
}

/** The front door with an auditor's key: insights and recorded requests name every agent's requests. */
async function asAuditor<T>(command: string, work: (http: HttpClient) => Promise<T>): Promise<T> {
  if (!process.env.COUNTERSIGN_API_KEY) throw usage(`${command} needs an auditor's API key in COUNTERSIGN_API_KEY (countersign keys auditor NAME).`);
  const { cs, close } = await connectAgent();
  try {
    if (cs.role !== 'auditor') throw usage(`${command} needs an auditor's API key in COUNTERSIGN_API_KEY (countersign keys auditor NAME); this one is ${cs.role} ${cs.agentId}'s.`);
    return await work(cs.http);
  } finally {
    await close();
  }
}

const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;
const dur = (ms: number) => (ms ? formatDuration(ms) : '—');

function outcomeRows<K extends string>(key: K, rows: (OutcomeCounts & Record<K, string>)[]): string {
  return table(
    [key.toUpperCase(), 'REQUESTS', 'AUTO-ALLOWED', 'POLICY-DENIED', 'INVALID', 'REVIEWED', 'APPROVED', 'DENIED', 'CHANGES', 'EXPIRED', 'EXECUTED', 'FAILED'],
    rows.map((r) => [r[key], r.requests, r.auto_allowed, r.policy_denied, r.invalid, r.reviewed, r.approved, r.denied, r.changes_requested, r.expired, r.executed, r.failed].map(String)),
  );
}

export function printInsights(r: InsightsReport, window: string): void {
  const o = r.outcomes;
  out(`Insights for the last ${window} (${r.window.since} to ${r.window.until}): ${o.requests} requests${r.window.complete ? '' : ', the newest only: the window holds more than one answer reads'}${r.window.unreadable ? `; ${r.window.unreadable} bundles not read` : ''}.`);
  out(`Automated: ${pct(r.automatedShare)} (${o.auto_allowed} auto-allowed${o.edge_allowed ? `, ${o.edge_allowed} of them at the edge` : ''}, ${o.policy_denied} denied by policy, ${o.invalid} invalid). Reviewed: ${o.reviewed} — ${o.approved} approved, ${o.denied} denied, ${o.changes_requested} changes requested, ${o.expired} expired. Executed ${o.executed}, failed ${o.failed}.`);
  out(`SLA breaches: ${r.slaBreaches}. Escalations: ${r.escalations} (${r.escalatedRequests} request${r.escalatedRequests === 1 ? '' : 's'}).`);
  if (!o.requests) return;
  out('');
  out(outcomeRows('action', r.byAction));
  out('');
  out(outcomeRows('rule', r.byRule));
  out('');
  out(outcomeRows('agent', r.byAgent));
  if (r.timeToDecideByGroup.length) {
    out('');
    out(table(['GROUP', 'DECIDED', 'P50', 'P90', 'SLA BREACHES', 'ESCALATIONS'], r.timeToDecideByGroup.map((g) => [g.group, String(g.count), dur(g.p50Ms), dur(g.p90Ms), String(g.slaBreaches), String(g.escalations)])));
  }
  if (r.reviewers.length) {
    out('');
    const fast = `≤${r.thresholds.fastDecisionMs / 1000}S`;
    out(table(['REVIEWER', 'DECISIONS', 'APPROVED', 'MEDIAN', 'P90', `DECIDED ${fast}`, 'FLAG'], r.reviewers.map((v) => [v.reviewer, String(v.count), pct(v.approvalRate), dur(v.medianMs), dur(v.p90Ms), pct(v.fastShare), v.flag ? `rubber stamp? ${v.flag}` : ''])));
  }
}

export async function insightsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, 'insights');
  if (positionals.length) throw usage(`insights takes no argument, got "${positionals[0]!.slice(0, 100)}" (see countersign insights --help).`);
  const window = since(values.since, '7d');
  const report = await asAuditor('insights', async (http) => InsightsReport.parse(await http.request('GET', `/v1/insights?since=${encodeURIComponent(window)}`)));
  if (values.json) printJson(report);
  else printInsights(report, window);
  return ExitCode.ok;
}

/** Every recorded request of the window, page by page, newest first. */
async function* recordedOver(http: HttpClient, window: string): AsyncGenerator<RecordedRequest> {
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = RecordedRequests.parse(await http.request('GET', `/v1/insights/requests?since=${encodeURIComponent(window)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`));
    yield* page.items;
    cursor = page.next;
    pages += 1;
  } while (cursor && pages < MAX_PAGES);
}

function printSimulation(s: Simulation, file: string, window: string): void {
  out(`${file} against ${s.requests} requests recorded in the last ${window}: ${s.changed} would change, ${s.unchanged} would not.`);
  if (s.failingSchemas.count) out(`${s.failingSchemas.count} no longer pass the candidate's schemas or catalog, e.g. ${s.failingSchemas.examples.map((e) => `${e.requestId} (${e.message})`).join('; ')}.`);
  if (s.refusedByDirectory.count) out(`${s.refusedByDirectory.count} are from agents the candidate's directory refuses, e.g. ${s.refusedByDirectory.examples.map((e) => `${e.requestId} (${e.message})`).join('; ')}.`);
  if (s.notEvaluated) out(`${s.notEvaluated} were refused before evaluation when recorded: not compared.`);
  if (!s.changed) return;
  out('');
  out(table(['CHANGE', 'REQUESTS', 'EXAMPLES'], s.byChange.map((r) => [r.change, String(r.count), r.examples.join(' ')])));
  out('');
  out(table(['ACTION', 'CHANGE', 'REQUESTS', 'EXAMPLES'], s.byAction.map((r) => [r.action, r.change, String(r.count), r.examples.join(' ')])));
  out('');
  out(table(['RULE (CANDIDATE)', 'CHANGE', 'REQUESTS', 'EXAMPLES'], s.byRule.map((r) => [r.rule, r.change, String(r.count), r.examples.join(' ')])));
}

export async function simulateCommand(rest: string[]): Promise<number> {
  const { values, positionals } = parseFlags(rest, 'policy simulate');
  const file = positionals[0];
  if (!file || positionals.length > 1) throw usage('policy simulate needs one CANDIDATE policy file (see countersign policy simulate --help).');
  const window = since(values.since, '30d');
  let candidate;
  try {
    candidate = loadPolicyFile(file);
  } catch (err) {
    if (!(err instanceof PolicyLoadError)) throw err;
    for (const e of err.errors) process.stderr.write(`${formatPolicyError(e)}\n`);
    throw new CliError(`${file}: ${err.errors.length} error${err.errors.length > 1 ? 's' : ''}.`, ExitCode.usage);
  }
  const recorded: RecordedRequest[] = [];
  await asAuditor('policy simulate', async (http) => {
    for await (const r of recordedOver(http, window)) recorded.push(r);
  });
  const result = simulate(candidate, recorded);
  if (values.json) printJson({ candidate: { file, digest: candidate.digest }, since: window, ...result });
  else printSimulation(result, file, window);
  return ExitCode.ok;
}
