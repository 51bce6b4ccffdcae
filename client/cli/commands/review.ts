import { existsSync } from 'node:fs';
import { loadKeyFile, reviewerKeyPath } from '../../../activities/keys';
import { ExitCode } from '../../../common/codes';
import { formatDuration } from '../../../common/duration';
import type { ReviewerDecision, ReviewView } from '../../../common/schema';
import { statementFor } from '../../../common/signing';
import { DecisionRefusedError } from '../../sdk';
import { connectCli } from '../connect';
import { CliError, usage } from '../errors';
import { out, parseFlags, printJson, readJsonFile, table } from '../io';

export const reviewHelp = `countersign review <command>
  list [--group G] [--json]                      open requests: id, action, resource, risk, group, agent, age, time left
  show <id> [--json]                             everything needed to decide
  approve <id> [--edit payload.json] [--comment C]
  deny <id> --reason CODE --message "..."
  request-changes <id> --comment "..." [--propose payload.json]
  Decisions take --as NAME (or COUNTERSIGN_REVIEWER) and --json. A refused decision exits 1.
  A reviewer with a key ($COUNTERSIGN_HOME/keys/reviewers/NAME.key, or --key FILE) signs the decision.`;

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
      throw usage(sub ? `Unknown review command "${sub}".\n${reviewHelp}` : reviewHelp);
  }
}

async function list(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { group: { type: 'string', short: 'g' }, json: { type: 'boolean' } });
  const { cs, close } = await connectCli();
  try {
    const rows = await cs.listPending({ group: values.group });
    if (values.json) {
      printJson(rows);
      return ExitCode.ok;
    }
    if (!rows.length) {
      out(values.group ? `No open requests for ${values.group}.` : 'No open requests.');
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
  } finally {
    await close();
  }
}

async function show(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { json: { type: 'boolean' } });
  const id = positionals[0];
  if (!id) throw usage('review show needs a request id.');
  const { cs, close } = await connectCli();
  try {
    const view = await cs.view(id);
    if (values.json) printJson(view);
    else out(renderView(view));
    return ExitCode.ok;
  } finally {
    await close();
  }
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
    `Payload${v.outcome?.edited || JSON.stringify(v.currentPayload) !== JSON.stringify(r.payload) ? ' (edited by a reviewer)' : ''} — digest ${v.outcome?.actionDigest ?? v.actionDigest}:`,
    JSON.stringify(v.currentPayload, null, 2),
    '',
    'History:',
    ...v.history.map((e) => `  ${e.at}  ${e.type.padEnd(19)} ${e.actor ? `${e.actor}: ` : ''}${e.detail}`),
  ];
  return lines.join('\n');
}

const decisionFlags = {
  as: { type: 'string' },
  json: { type: 'boolean' },
  edit: { type: 'string' },
  comment: { type: 'string' },
  reason: { type: 'string' },
  message: { type: 'string' },
  propose: { type: 'string' },
  key: { type: 'string' },
} as const;

async function decide(kind: 'approve' | 'deny' | 'request-changes', args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, decisionFlags);
  const id = positionals[0];
  if (!id) throw usage(`review ${kind} needs a request id.`);
  const reviewer = values.as ?? process.env.COUNTERSIGN_REVIEWER;
  if (!reviewer) throw usage('Say who is deciding with --as NAME or the COUNTERSIGN_REVIEWER environment variable.');
  const allowed: Record<typeof kind, (keyof typeof decisionFlags)[]> = {
    approve: ['edit', 'comment'],
    deny: ['reason', 'message'],
    'request-changes': ['comment', 'propose'],
  };
  for (const flag of ['edit', 'comment', 'reason', 'message', 'propose'] as const) {
    if (values[flag] !== undefined && !allowed[kind].includes(flag)) throw usage(`--${flag} does not apply to review ${kind}.`);
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

  const { cs, config, close } = await connectCli();
  try {
    // A reviewer with a key signs what they decide on: the version shown now, by its digest.
    const keyFile = values.key ?? reviewerKeyPath(config.home, reviewer);
    if (values.key || existsSync(keyFile)) {
      const view = await cs.view(id);
      const statement = statementFor(view.requestId, view.currentDigest, view.request, decision, new Date().toISOString());
      const signed = loadKeyFile(keyFile).sign('countersign/reviewer-decision/v1', statement);
      decision = { ...decision, signature: { signedAt: statement.signedAt, value: signed.signature } };
    }
    const receipt = await cs.decide(id, decision);
    if (values.json) printJson({ accepted: true, ...receipt });
    else {
      const verb = { approve: 'Approved', deny: 'Denied', 'request-changes': 'Requested changes on' }[kind];
      out(`${verb} request ${receipt.requestId} as ${reviewer}: status ${receipt.status} (${receipt.approvals.length}/${receipt.approvalsNeeded} approvals).`);
    }
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof DecisionRefusedError) {
      if (values.json) printJson({ accepted: false, code: err.code, message: err.message });
      throw new CliError(`Refused (${err.code}): ${err.message}`, ExitCode.refused);
    }
    throw err;
  } finally {
    await close();
  }
}
