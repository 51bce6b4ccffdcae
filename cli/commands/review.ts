import { createInterface } from 'node:readline/promises';
import { ExitCode, ReasonCode } from '../../common/codes';
import { formatDuration } from '../../common/duration';
import { MAX_PAGE_SIZE } from '../../common/paging';
import { MAX_BATCH_SIZE, type ReviewerDecision } from '../../common/inputs';
import type { ReviewView } from '../../common/views';
import { DecisionRefusedError } from '../../common/refusals';
import { connectReviewer } from '../connect';
import { CliError, usage } from '../errors';
import { out, parseFlags, printJson, readJsonFile, table } from '../io';
import { lastSeen, rememberSeen, type SeenVersion } from '../seen';
import { groupHelp } from '../help';


export async function reviewCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'list':
      return list(rest);
    case 'show':
      return show(rest);
    case 'approve':
    case 'deny':
    case 'request-changes':
      return decide(sub, rest);
    default:
      throw usage(sub ? `Unknown review command "${sub}".\n${groupHelp('review')}` : groupHelp('review'));
  }
}

async function list(args: string[]): Promise<number> {
  const { values } = parseFlags(args, 'review list');
  let limit: number | undefined;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!/^\d+$/.test(values.limit) || limit < 1 || limit > MAX_PAGE_SIZE) throw usage(`--limit must be a whole number from 1 to ${MAX_PAGE_SIZE}, got "${values.limit.slice(0, 50)}".`);
  }
  const { reviewer } = await connectReviewer(values.as, values.key);
  {
    const page = await reviewer.queuePage({ group: values.group, limit, cursor: values.cursor });
    const rows = page.requests;
    // The data goes to stdout; how to read on goes to stderr, so --json stays one array.
    if (page.nextCursor) {
      const again = ['countersign review list', ...(values.group ? [`--group ${values.group}`] : []), ...(limit ? [`--limit ${limit}`] : []), `--cursor ${page.nextCursor}`];
      process.stderr.write(`More requests may wait than this page shows (newest first). The next page: ${again.join(' ')}\n`);
    }
    if (values.json) {
      printJson(rows);
      return ExitCode.ok;
    }
    if (!rows.length) {
      out(values.group ? `No open requests for ${values.group}.` : `No open requests for ${reviewer.name}.`);
      return ExitCode.ok;
    }
    const now = Date.now();
    out(
      table(
        ['ID', 'ACTION', 'RESOURCE', 'RISK', 'GROUP', 'AGENT', 'AGE', 'TIME LEFT'],
        rows.map((r) => [
          r.requestId.slice(0, 10),
          r.action,
          r.resource,
          r.risk ?? '',
          r.groups.join(',') + (r.status === 'escalated' ? ' (escalated)' : ''),
          r.agent,
          formatDuration(now - Date.parse(r.startedAt)),
          r.deadline ? formatDuration(Date.parse(r.deadline) - now) : '',
        ]),
      ),
    );
    return ExitCode.ok;
  }
}

async function show(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, 'review show');
  const id = positionals[0];
  if (!id) throw usage('review show needs a request id.');
  const { reviewer, home } = await connectReviewer(values.as, values.key);
  const view = await reviewer.view(id);
  if (values.json) printJson(view);
  else out(renderView(view));
  rememberSeen(home, reviewer.name, seenOf(view));
  return ExitCode.ok;
}

export function renderView(v: ReviewView): string {
  const r = v.request;
  const p = v.policy;
  const now = Date.now();
  const when = (iso?: string) => (iso ? `${iso} (${Date.parse(iso) > now ? `in ${formatDuration(Date.parse(iso) - now)}` : `${formatDuration(now - Date.parse(iso))} ago`})` : '—');
  const lines = [
    `Request ${v.requestId}  (${v.workflowId})`,
    `Status:      ${v.status}${v.outcome?.code ? ` — ${v.outcome.code}` : ''}${v.outcome?.message ? `: ${v.outcome.message}` : ''}`,
    '',
    // The catalog's display fields (countersign's, from the payload) first; the summary is the agent's own words.
    ...(p?.display?.length ? ['From the catalog:', ...p.display.map((f) => `  ${`${f.name}:`.padEnd(12)} ${f.value}`), ''] : []),
    `Summary:     ${r.summary}`,
    `Action:      ${r.action}`,
    `Resource:    ${r.resource.type} ${r.resource.id}${r.resource.owner ? `, owner ${r.resource.owner}` : ''}${r.resource.environment ? `, environment ${r.resource.environment}` : ''}`,
    `Agent:       ${r.agentId} (task ${r.taskId})${r.onBehalfOf ? ` on behalf of ${r.onBehalfOf}` : ''}`,
    ...(r.context && Object.keys(r.context).length ? [`Context:     ${Object.entries(r.context).map(([k, val]) => `${k}=${val}`).join(', ')}`] : []),
    '',
    `Policy:      ${p ? `${p.decision} — rules ${p.ruleIds.join(', ')}` : 'not yet evaluated'}`,
    `Risk:        ${p ? `${p.risk} — ${p.reason}` : '—'}`,
    `Reviewers:   ${p?.route ? `${p.route.group.name} (suggested)` : '—'}${v.eligibleGroups.length > 1 ? `; eligible now: ${v.eligibleGroups.join(', ')}` : ''}`,
    `Approvals:   ${v.approvals.length}/${v.approvalsNeeded}${v.approvals.length ? ` by ${v.approvals.join(', ')}` : ''}`,
    `Deadline:    ${when(v.deadline)}`,
    ...(v.outcome?.token ? [`Token:       ${v.outcome.token.tokenId}, expires ${when(v.outcome.token.expiresAt)}`] : []),
    ...(v.outcome?.execution ? [`Execution:   ${v.outcome.execution.status}${v.outcome.execution.message ? ` — ${v.outcome.execution.message}` : ''}`] : []),
    ...(v.nextEscalation ? [`Escalates:   ${when(v.nextEscalation)}`] : []),
    '',
    `Payload${v.currentDigest !== v.actionDigest ? ' (edited by a reviewer)' : ''} — version ${v.currentDigest}:`,
    JSON.stringify(v.currentPayload, null, 2),
    '',
    'History:',
    ...v.history.map((e) => `  ${e.at}  ${e.type.padEnd(19)} ${e.actor ? `${e.actor}: ` : ''}${e.detail}`),
  ];
  return lines.join('\n');
}

function seenOf(view: ReviewView): SeenVersion {
  return {
    workflowId: view.workflowId,
    ...(view.runId ? { runId: view.runId } : {}),
    requestId: view.requestId,
    versionDigest: view.currentDigest,
    policyDigest: view.policy?.policyDigest ?? '',
    shownAt: new Date().toISOString(),
  };
}

/**
 * The version this reviewer decides on: named by --digest, else the one `review show --as` showed
 * them, else (on a terminal) the current one after showing it and asking. Never silently the current one.
 */
async function versionToDecide(view: ReviewView, reviewer: string, home: string, digest: string | undefined, kind: string): Promise<SeenVersion> {
  if (digest !== undefined) {
    // The whole digest, sent as given: a prefix could be matched by an editor who grinds a payload for it.
    if (!/^[0-9a-f]{64}$/.test(digest)) throw usage('--digest must be the whole version digest (64 hex digits) review show prints.');
    return { ...seenOf(view), versionDigest: digest };
  }
  const seen = lastSeen(home, reviewer, view.workflowId);
  if (seen) return seen;
  if (process.stdin.isTTY && process.stdout.isTTY) {
    out(renderView(view));
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      const answer = await rl.question(`\n${kind} version ${view.currentDigest.slice(0, 12)} of request ${view.requestId} as ${reviewer}? [y/N] `);
      if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('Nothing was decided.', ExitCode.refused);
    } finally {
      rl.close();
    }
    const shown = seenOf(view);
    rememberSeen(home, reviewer, shown);
    return shown;
  }
  throw usage(`${reviewer} has not looked at request ${view.requestId}: run countersign review show ${view.requestId} --as ${reviewer} first (or pass --digest with the version it prints).`);
}

async function decide(kind: 'approve' | 'deny' | 'request-changes', args: string[]): Promise<number> {
  // Each decision takes its own flags (review deny has no --edit): the parser refuses the others.
  const parsed = kind === 'approve' ? parseFlags(args, 'review approve') : kind === 'deny' ? parseFlags(args, 'review deny') : parseFlags(args, 'review request-changes');
  const { positionals } = parsed;
  const values: Partial<Record<'as' | 'key' | 'digest' | 'edit' | 'comment' | 'reason' | 'message' | 'propose', string>> & { json?: boolean } = parsed.values;
  const id = positionals[0];
  if (!id) throw usage(`review ${kind} needs a request id.`);
  const reviewer = values.as ?? process.env.COUNTERSIGN_REVIEWER;
  if (!reviewer) throw usage('Say who is deciding with --as NAME or the COUNTERSIGN_REVIEWER environment variable.');
  if (positionals.length > 1) {
    if (kind !== 'approve') throw usage(`review ${kind} decides one request at a time; only review approve takes several ids (a batch).`);
    return approveBatch(positionals, reviewer, values);
  }
  let decision: ReviewerDecision;
  if (kind === 'approve') {
    decision = {
      decision: 'approve',
      reviewer,
      ...(values.edit ? { editedPayload: readJsonFile(values.edit, '--edit') as Record<string, never> } : {}),
      ...(values.comment ? { comment: values.comment } : {}),
    };
  } else if (kind === 'deny') {
    if (!values.reason) throw usage('review deny needs --reason CODE (such as AMOUNT_TOO_HIGH).');
    if (!values.message) throw usage('review deny needs --message "why", shown to the agent.');
    decision = { decision: 'deny', reviewer, reasonCode: values.reason, message: values.message };
  } else {
    if (!values.comment) throw usage('review request-changes needs --comment "what to change".');
    decision = {
      decision: 'request_changes',
      reviewer,
      comment: values.comment,
      ...(values.propose ? { proposedPayload: readJsonFile(values.propose, '--propose') as Record<string, never> } : {}),
    };
  }

  const session = await connectReviewer(reviewer, values.key);
  try {
    const view = await session.reviewer.view(id);
    const seen = await versionToDecide(view, reviewer, session.home, values.digest, { approve: 'Approve', deny: 'Deny', 'request-changes': 'Request changes on' }[kind]);
    // Signed with the reviewer's key over this request, the version they were shown and its policy.
    const { reviewer: _named, ...unsigned } = { ...decision, versionDigest: seen.versionDigest };
    const receipt = await session.reviewer.decide(view, unsigned, { versionDigest: seen.versionDigest, policyDigest: seen.policyDigest, ...(seen.runId ? { runId: seen.runId } : {}) });
    if (values.json) printJson({ accepted: true, ...receipt });
    else {
      const verb = { approve: 'Approved', deny: 'Denied', 'request-changes': 'Requested changes on' }[kind];
      out(`${verb} request ${receipt.requestId} as ${reviewer}: status ${receipt.status} (${receipt.approvals.length}/${receipt.approvalsNeeded} approvals).`);
    }
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof DecisionRefusedError) {
      if (values.json) printJson({ accepted: false, code: err.code, message: err.message });
      const again = err.code === ReasonCode.STALE_VERSION ? ` Run: countersign review show ${id} --as ${reviewer}` : '';
      throw new CliError(`Refused (${err.code}): ${err.message}${again}`, ExitCode.refused);
    }
    throw err;
  }
}

/** `review approve ID ID …`: one signature over every request, each on the version its reviewer was shown. */
async function approveBatch(ids: string[], reviewer: string, values: { key?: string; digest?: string; edit?: string; comment?: string; json?: boolean }): Promise<number> {
  if (ids.length > MAX_BATCH_SIZE) throw usage(`review approve takes at most ${MAX_BATCH_SIZE} request ids at once (a batch), got ${ids.length}.`);
  if (new Set(ids).size !== ids.length) throw usage('review approve names a request twice: give each id once.');
  if (values.digest !== undefined) throw usage('--digest names one version: with several ids, look at each request first (review show ID --as NAME).');
  if (values.edit !== undefined) throw usage('--edit changes one request: a batch approves each request as shown.');
  const session = await connectReviewer(reviewer, values.key);
  try {
    const targets = [];
    for (const id of ids) {
      const view = await session.reviewer.view(id);
      const seen = await versionToDecide(view, reviewer, session.home, undefined, 'Approve (in a batch)');
      targets.push({ view, shown: { versionDigest: seen.versionDigest, policyDigest: seen.policyDigest, ...(seen.runId ? { runId: seen.runId } : {}) } });
    }
    const answer = await session.reviewer.approveBatch(targets, values.comment);
    const refused = answer.results.filter((r) => !r.accepted);
    if (values.json) printJson(answer);
    else {
      for (const r of answer.results) {
        out(r.accepted ? `Approved request ${r.requestId} as ${reviewer}: status ${r.status} (${r.approvals.length}/${r.approvalsNeeded} approvals).` : `Refused request ${r.requestId} (${r.code}): ${r.message}`);
      }
      out(`Batch of ${answer.size} signed once (root ${answer.root.slice(0, 16)}): ${answer.size - refused.length} approved, ${refused.length} refused.`);
    }
    if (refused.some((r) => !r.accepted && r.code === ReasonCode.STALE_VERSION)) process.stderr.write(`A request changed since ${reviewer} was shown it: run countersign review show ID --as ${reviewer}, then approve it again.\n`);
    return refused.length ? ExitCode.refused : ExitCode.ok;
  } catch (err) {
    if (err instanceof DecisionRefusedError) {
      if (values.json) printJson({ accepted: false, code: err.code, message: err.message });
      throw new CliError(`Refused (${err.code}): ${err.message}`, ExitCode.refused);
    }
    throw err;
  }
}
