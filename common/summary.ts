import { canonicalJson } from './canonical';
import type { ActionRequest } from './inputs';

const MAX_SUMMARY = 200;
const MAX_PAYLOAD_SHOWN = 4000;

/** One line for the Temporal UI's workflow list. */
export function staticSummary(request: ActionRequest): string {
  const line = `${request.action} on ${request.resource.type}:${request.resource.id} — ${request.summary.replace(/\s+/g, ' ')}`;
  return line.length > MAX_SUMMARY ? `${line.slice(0, MAX_SUMMARY - 1)}…` : line;
}

/** Markdown for the workflow's detail page: who asks what, on what, with which exact payload. */
export function staticDetails(request: ActionRequest, actionDigest: string): string {
  const payload = JSON.stringify(request.payload, null, 2);
  const shown = payload.length > MAX_PAYLOAD_SHOWN ? `${payload.slice(0, MAX_PAYLOAD_SHOWN)}\n… (${payload.length} characters in all)` : payload;
  const resource = request.resource;
  return [
    `**${request.action}** requested by agent \`${request.agentId}\` (task \`${request.taskId}\`)${request.onBehalfOf ? ` on behalf of ${request.onBehalfOf}` : ''}`,
    '',
    request.summary,
    '',
    `**Resource:** ${resource.type} \`${resource.id}\`${resource.owner ? `, owner ${resource.owner}` : ''}${resource.environment ? `, ${resource.environment}` : ''}`,
    '',
    `**Action digest:** \`${actionDigest}\` (${canonicalJson(request.payload).length} bytes canonical)`,
    '',
    '```json',
    shown,
    '```',
    ...(request.context && Object.keys(request.context).length
      ? ['', '**Context:**', ...Object.entries(request.context).map(([k, v]) => `- ${k}: ${v}`)]
      : []),
  ].join('\n');
}
