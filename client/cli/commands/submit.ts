import { ExitCode } from '../../../common/codes';
import { formatDuration } from '../../../common/duration';
import type { SubmitState } from '../../../common/schema';
import { connectCli } from '../connect';
import { usage } from '../errors';
import { durationFlag, out, parseFlags, printJson, readJsonFile } from '../io';

export const submitHelp = `countersign submit --file action.json [--wait 30s] [--json]
  Submits an action request and prints the decision, or the pending state with the request id
  when --wait runs out. Exit 0 only when the action is approved; 1 when denied, expired,
  changes were requested or it is still pending; 2 for invalid input.`;

export async function submitCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { file: { type: 'string', short: 'f' }, wait: { type: 'string' }, json: { type: 'boolean' } });
  if (!values.file) throw usage('submit needs --file action.json.');
  const request = readJsonFile(values.file, '--file');
  const waitMs = durationFlag(values.wait, '--wait') ?? 0;
  const { cs, close } = await connectCli();
  try {
    const state = await cs.submit(request, { waitMs });
    if (values.json) printJson(state);
    else out(describeState(state));
    return state.status === 'approved' ? ExitCode.ok : ExitCode.refused;
  } finally {
    await close();
  }
}

export function describeState(state: SubmitState): string {
  const o = state.outcome;
  const id = `request ${state.requestId}`;
  if (!o) {
    const left = state.deadline ? `; expires in ${formatDuration(Date.parse(state.deadline) - Date.now())}` : '';
    return `pending: ${id} awaits review (status ${state.status}${left}).\nWait again with: countersign submit --file <same file> --wait 5m`;
  }
  switch (o.status) {
    case 'approved':
      return o.decidedBy === 'policy'
        ? `approved by policy (${o.ruleIds.join(', ')}): ${id}`
        : `approved by ${o.reviewers.join(', ')}: ${id}${o.edited ? '\nThe reviewer edited the payload; execute this one:\n' + JSON.stringify(o.payload, null, 2) : ''}`;
    case 'denied':
      return `denied: ${o.code}${o.reviewerReason ? `/${o.reviewerReason}` : ''}: ${o.message ?? ''} (${id})`;
    case 'changes_requested':
      return `changes requested: ${o.comment}${o.proposedPayload ? `\nProposed payload:\n${JSON.stringify(o.proposedPayload, null, 2)}` : ''}\nSubmit a revised action (new taskId or changed payload). (${id})`;
    case 'expired':
      return `expired: ${o.code}: ${o.message} (${id})`;
  }
}
