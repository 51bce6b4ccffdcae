import { ExitCode } from '../../common/codes';
import { formatDuration } from '../../common/duration';
import type { ActionRequestInput } from '../../common/inputs';
import type { SubmitState } from '../../common/views';
import { fileKeyStore } from '../../client/agent-keys';
import { connectAgent } from '../connect';
import { usage } from '../errors';
import { durationFlag, out, parseFlags, printJson, readJsonFile } from '../io';
import { agentKeysDir } from '../../config/home';


export async function submitCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, 'submit');
  if (!values.file) throw usage('submit needs --file action.json.');
  const request = readJsonFile(values.file, '--file');
  const waitMs = durationFlag(values.wait, '--wait') ?? 0;
  const named = (request as { agentId?: unknown } | null)?.agentId;
  const { cs, close } = await connectAgent({ agent: values.agent ?? (typeof named === 'string' ? named : undefined), keyStore: (home) => fileKeyStore(agentKeysDir(home)) });
  try {
    // Whatever the file holds is judged by submit's own parse: a wrong field is named there (exit 2).
    const submitted = await cs.submit(request as ActionRequestInput, { waitMs });
    // The token is shown once: its key is deleted as soon as it has been opened.
    const token = submitted.status === 'approved' ? submitted.openToken() : undefined;
    if (token || submitted.outcome) cs.keys.delete(submitted.workflowId); // decided: the key has nothing left to open
    if (values.json) printJson({ ...submitted.state, ...(token ? { token } : {}) });
    else out(describeState(submitted.state, token, values.file));
    return submitted.status === 'approved' ? ExitCode.ok : ExitCode.refused;
  } finally {
    await close();
  }
}

export function describeState(state: SubmitState, token?: string, file = '<action.json>'): string {
  const o = state.outcome;
  const id = `request ${state.requestId}`;
  if (!o) {
    const left = state.deadline ? `; expires in ${formatDuration(Date.parse(state.deadline) - Date.now())}` : '';
    return `pending: ${id} awaits review (status ${state.status}${left}).\nWait again with: countersign submit --file ${file} --wait 5m`;
  }
  switch (o.status) {
    case 'approved': {
      const who = o.decidedBy === 'policy' ? `by policy (${o.ruleIds.join(', ')})` : `by ${o.reviewers.join(', ')}`;
      const lines = [`approved ${who}: ${id}`];
      if (o.edited) lines.push('The reviewer edited the payload; execute this one:', JSON.stringify(o.payload, null, 2));
      if (token) {
        lines.push(`token: ${token}`, `(single use, expires ${o.token?.expiresAt}; shown once)`);
        lines.push(`Consume it right before executing: countersign consume ${state.requestId} --token <token> --action ${o.edited ? '<edited action.json>' : file}`);
        lines.push(`Then report: countersign report ${state.requestId} --agent ${o.workflowId.slice(3, -17)} --status succeeded|failed`);
      } else if (o.token) {
        lines.push('The token was already shown once, or this agent does not hold the key it was sealed to.');
      }
      return lines.join('\n');
    }
    case 'denied':
      return `denied: ${o.code}${o.reviewerReason ? `/${o.reviewerReason}` : ''}: ${o.message ?? ''} (${id})`;
    case 'changes_requested':
      return `changes requested: ${o.comment}${o.proposedPayload ? `\nProposed payload:\n${JSON.stringify(o.proposedPayload, null, 2)}` : ''}\nSubmit a revised action (new taskId or changed payload). (${id})`;
    case 'expired':
      return `expired: ${o.code}: ${o.message} (${id})`;
    case 'executed':
    case 'failed':
      return `already ${o.status === 'executed' ? 'executed' : 'executed and failed'}: the token was consumed (${id}); ask again with a new taskId.`;
    case 'not_executed':
      return `approved but not executed: the token expired unused (${id}); ask again with a new taskId.`;
    case 'outcome_unknown':
      return `consumed, outcome unknown: no report arrived in time (${id}).`;
    case 'cancelled':
      return `cancelled: the request was cancelled (${id}); ask again with a new taskId.`;
  }
}
