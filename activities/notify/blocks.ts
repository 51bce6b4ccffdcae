/**
 * A request's Slack message (Block Kit), rendered from what the workflow knows of it: pure, so the
 * same RequestMessage always renders the same message. Every string an agent (or a reviewer) wrote
 * is escaped, so none can become a link or a mention. The buttons are a contract with the server's
 * interactivity endpoint (server/slack/): block cs_decide, actions cs_approve, cs_deny and cs_changes
 * whose value is {"w": workflowId, "v": versionDigest}, and the url buttons cs_open and cs_stepup.
 */
import type { Json } from '../../common/json';
import type { RequestMessage } from './types';

export interface TextObject {
  type: 'mrkdwn' | 'plain_text';
  text: string;
}
export interface ButtonElement {
  type: 'button';
  action_id: string;
  text: { type: 'plain_text'; text: string };
  value?: string;
  url?: string;
  style?: 'primary' | 'danger';
}
export type SlackBlock =
  | { type: 'section'; block_id?: string; text: TextObject; fields?: TextObject[] }
  | { type: 'context'; block_id?: string; elements: TextObject[] }
  | { type: 'actions'; block_id: string; elements: ButtonElement[] }
  | { type: 'divider' };

export interface RenderedMessage {
  /** The notification's plain line (and what clients without blocks show). */
  text: string;
  blocks: SlackBlock[];
}

export interface RenderOptions {
  /** Whether this message's group may still decide: buttons only then. */
  live: boolean;
  /** The inbox's origin (https://countersign.example.com): url buttons and the whole payload's link. */
  inboxBase?: string;
}

/** Slack's limit for a section's text. */
export const SECTION_MAX = 3000;
/** A field's text (Slack allows 2000): kept short so the message stays readable. */
const FIELD_MAX = 600;
const DIFF_LINES = 10;
const DIFF_VALUE = 80;

export const DECIDE_BLOCK = 'cs_decide';
export const ACTION = { approve: 'cs_approve', deny: 'cs_deny', changes: 'cs_changes', open: 'cs_open', stepup: 'cs_stepup' } as const;

/** Slack's three control characters, escaped as Slack asks: no text can open a link, a mention or a command. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cut to `max` characters with an ellipsis (before escaping: an entity is never split). */
export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Inline code: a backtick would close it, so it is shown as a look-alike. */
const code = (text: string) => `\`${escapeMrkdwn(text.replace(/`/g, 'ˋ'))}\``;
/** Inside a code block only three backticks in a row close it: a zero-width space keeps them apart. */
const codeBlockSafe = (text: string) => escapeMrkdwn(text).replace(/``/g, '`\u200b`');

const STATUS: Record<RequestMessage['status'], { icon: string; label: string }> = {
  // A message exists only once a group must review, so a request still marked evaluating is awaiting its review.
  evaluating: { icon: ':hourglass_flowing_sand:', label: 'Pending review' },
  pending: { icon: ':hourglass_flowing_sand:', label: 'Pending review' },
  escalated: { icon: ':rotating_light:', label: 'Escalated' },
  approved: { icon: ':white_check_mark:', label: 'Approved' },
  denied: { icon: ':no_entry:', label: 'Denied' },
  changes_requested: { icon: ':pencil2:', label: 'Changes requested' },
  expired: { icon: ':alarm_clock:', label: 'Expired' },
  executed: { icon: ':heavy_check_mark:', label: 'Executed' },
  failed: { icon: ':x:', label: 'Execution failed' },
  not_executed: { icon: ':heavy_minus_sign:', label: 'Not executed' },
  outcome_unknown: { icon: ':grey_question:', label: 'Outcome unknown' },
  cancelled: { icon: ':heavy_multiplication_x:', label: 'Cancelled' },
};

const OPEN_STATUSES: ReadonlySet<string> = new Set(['evaluating', 'pending', 'escalated']);

/** Whether the request can still be decided at all (whatever this group's part in it). */
export const isOpenStatus = (status: string) => OPEN_STATUSES.has(status);

const names = (list: readonly string[]) => list.map(escapeMrkdwn).join(', ');

function headline(m: RequestMessage): string {
  const { icon, label } = STATUS[m.status] ?? { icon: ':grey_question:', label: m.status };
  const lines = [`${icon} *${escapeMrkdwn(label)}* · ${code(m.action)} · risk *${escapeMrkdwn(m.risk)}*`];
  const o = m.outcome;
  if (o && !isOpenStatus(m.status)) {
    const who = o.reviewers?.length ? `by ${names(o.reviewers)}` : o.decidedBy ? `by ${escapeMrkdwn(o.decidedBy)}` : '';
    const parts = [who, o.code ? code(o.code) : '', o.message ? escapeMrkdwn(cut(o.message, 500)) : ''].filter(Boolean);
    if (parts.length) lines.push(`Outcome: ${parts.join(' · ')}`);
  }
  return lines.join('\n');
}

function resourceText(m: RequestMessage): string {
  const r = m.resource;
  const extra = [r.owner ? `owner ${escapeMrkdwn(r.owner)}` : '', r.environment ? `env ${escapeMrkdwn(r.environment)}` : ''].filter(Boolean);
  return `${code(`${r.type}:${r.id}`)}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

function approvalsText(m: RequestMessage): string {
  return `${m.approvals.length}/${m.approvalsNeeded} approvals${m.approvals.length ? `: ${names(m.approvals)}` : ''}`;
}

/** Slack shows the deadline in each reader's own time zone; the ISO time is the fallback. */
function deadlineText(iso: string): string {
  const seconds = Math.floor(Date.parse(iso) / 1000);
  if (!Number.isFinite(seconds)) return escapeMrkdwn(iso);
  return `<!date^${seconds}^{date_short_pretty} {time}|${escapeMrkdwn(iso)}>`;
}

const field = (label: string, value: string): TextObject => ({ type: 'mrkdwn', text: cut(`*${label}*\n${value}`, FIELD_MAX) });

const inboxLink = (m: RequestMessage, base: string) => `${base}/inbox/requests/${encodeURIComponent(m.requestId)}`;

/** The exact payload as a JSON code block, cut to fit one section, with where to see the whole. */
export function payloadText(m: RequestMessage, inboxBase?: string): string {
  const json = JSON.stringify(m.payload, null, 2) ?? 'null';
  const title = `*Payload* (exact${m.version > 1 ? `, version ${m.version}` : ''}):`;
  const whole = codeBlockSafe(json);
  const full = `${title}\n\`\`\`${whole}\`\`\``;
  if (full.length <= SECTION_MAX) return full;
  const where = inboxBase ? `<${inboxLink(m, inboxBase)}|the whole payload in the inbox>` : `the whole payload: open request ${code(m.requestId)} in the inbox`;
  const note = (shown: number) => `\n_Cut: ${shown} of ${json.length} characters shown; ${where}._`;
  const budget = SECTION_MAX - title.length - 8 - note(json.length).length;
  // Escaping lengthens the text: shrink the raw cut until its escaped form fits.
  let n = Math.min(json.length, budget);
  for (let over = codeBlockSafe(json.slice(0, n)).length + 1 - budget; n > 0 && over > 0; over = codeBlockSafe(json.slice(0, n)).length + 1 - budget) n -= over;
  n = Math.max(0, n);
  return `${title}\n\`\`\`${codeBlockSafe(json.slice(0, n))}…\`\`\`${note(n)}`;
}

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: Json | undefined) => code(cut(JSON.stringify(v) ?? 'undefined', DIFF_VALUE));

/** What changed between two payloads, key by key (dotted paths into nested objects; arrays compared whole). */
export function payloadDiff(before: Json, after: Json, path = ''): string[] {
  if (!isObject(before) || !isObject(after)) {
    return JSON.stringify(before) === JSON.stringify(after) ? [] : [`${path ? code(path) : 'payload'}: ${show(before)} → ${show(after)}`];
  }
  const lines: string[] = [];
  for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])]) {
    const at = path ? `${path}.${key}` : key;
    if (!(key in after)) lines.push(`removed ${code(at)} (was ${show(before[key])})`);
    else if (!(key in before)) lines.push(`added ${code(at)}: ${show(after[key])}`);
    else if (isObject(before[key]) && isObject(after[key])) lines.push(...payloadDiff(before[key], after[key], at));
    else if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) lines.push(`${code(at)}: ${show(before[key])} → ${show(after[key])}`);
  }
  return lines;
}

function changesText(m: RequestMessage): string | undefined {
  if (m.version <= 1 || m.previousPayload === undefined) return undefined;
  const lines = payloadDiff(m.previousPayload as Json, m.payload as Json);
  const shown = lines.slice(0, DIFF_LINES).map((l) => `• ${l}`);
  if (lines.length > DIFF_LINES) shown.push(`_…and ${lines.length - DIFF_LINES} more changes: see the payload._`);
  if (!lines.length) shown.push('_No change to the payload._');
  const by = m.editedBy ? ` by ${escapeMrkdwn(m.editedBy)}` : '';
  return cut(`*Changed in version ${m.version}*${by}:\n${shown.join('\n')}`, SECTION_MAX);
}

function buttons(m: RequestMessage, inboxBase?: string): SlackBlock[] {
  const open = inboxBase ? inboxLink(m, inboxBase) : undefined;
  if (m.assurance === 'passkey') {
    const blocks: SlackBlock[] = [];
    if (open) {
      blocks.push({
        type: 'actions',
        block_id: DECIDE_BLOCK,
        elements: [{ type: 'button', action_id: ACTION.stepup, text: { type: 'plain_text', text: 'Decide in the inbox (passkey)' }, style: 'primary', url: `${open}?version=${encodeURIComponent(m.versionDigest)}` }],
      });
    }
    const how = open ? 'use the button to decide in the inbox with your passkey' : `open request ${code(m.requestId)} in the countersign inbox and decide there with your passkey`;
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `:closed_lock_with_key: This rule needs a passkey: a click in Slack cannot decide it. To decide, ${how}.` }] });
    return blocks;
  }
  const value = JSON.stringify({ w: m.workflowId, v: m.versionDigest });
  const elements: ButtonElement[] = [
    { type: 'button', action_id: ACTION.approve, text: { type: 'plain_text', text: 'Approve' }, style: 'primary', value },
    { type: 'button', action_id: ACTION.deny, text: { type: 'plain_text', text: 'Deny…' }, value },
    { type: 'button', action_id: ACTION.changes, text: { type: 'plain_text', text: 'Request changes…' }, value },
  ];
  if (open) elements.push({ type: 'button', action_id: ACTION.open, text: { type: 'plain_text', text: 'Open in inbox' }, url: open });
  return [{ type: 'actions', block_id: DECIDE_BLOCK, elements }];
}

/** The message for one group's channel: `live` when that group may decide now. */
export function renderRequestMessage(m: RequestMessage, options: RenderOptions): RenderedMessage {
  const inboxBase = options.inboxBase?.replace(/\/+$/, '') || undefined;
  const blocks: SlackBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: cut(headline(m), SECTION_MAX) } }];
  if (m.display?.length) {
    const lines = m.display.slice(0, 20).map((d) => `*${escapeMrkdwn(d.name)}:* ${escapeMrkdwn(cut(d.value, 300))}`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(`_Countersign, from the payload:_\n${lines.join('\n')}`, SECTION_MAX) } });
  }
  const summary = escapeMrkdwn(cut(m.summary, 1500))
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n');
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `_Agent's summary (the agent's own words):_\n${summary}` } });
  const fields: TextObject[] = [
    field('Agent', code(m.agentId)),
    field('On behalf of', m.onBehalfOf ? escapeMrkdwn(m.onBehalfOf) : '—'),
    field('Resource', resourceText(m)),
    field(m.ruleIds.length > 1 ? 'Rules' : 'Rule', m.ruleIds.length ? m.ruleIds.map(code).join(', ') : '(default)'),
    field('Risk', `*${escapeMrkdwn(m.risk)}*${m.reason ? `: ${escapeMrkdwn(m.reason)}` : ''}`),
    field('Approvals', approvalsText(m)),
  ];
  if (m.deadline) fields.push(field('Deadline', deadlineText(m.deadline)));
  if (m.version > 1) fields.push(field('Version', `${m.version}${m.editedBy ? `, edited by ${escapeMrkdwn(m.editedBy)}` : ''}`));
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Request* ${code(m.requestId)}` }, fields });
  const changes = changesText(m);
  if (changes) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: changes } });
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: payloadText(m, inboxBase) } });
  if (options.live && isOpenStatus(m.status)) {
    blocks.push(...buttons(m, inboxBase));
  } else if (isOpenStatus(m.status)) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `This group no longer decides this request; it is now with ${names(m.eligibleGroups) || 'another group'}.` }] });
  }
  const { label } = STATUS[m.status] ?? { label: m.status };
  const text = `${label}: ${m.action} for ${m.resource.type}:${m.resource.id} (${approvalsText(m).replace(/:.*$/, '')}) — ${cut(m.summary, 200)}`;
  return { text: escapeMrkdwn(text), blocks };
}
