/**
 * What the front door does with a Slack request once its signature has been checked
 * (server/routes/slack.ts): a click on a request's message, a modal's submission, a slash command.
 *
 * Identity is proven, never matched: a Slack user is reviewer X only through a link X confirmed
 * with their passkey (server/slack/links.ts). Every click is judged again under the policy the
 * server runs now — the reviewer still in the directory and in a group the request is routed to,
 * not its agent or the person it acts for, the rule's assurance `chat`, the clicked version the
 * current one — and only then does the front door attest the decision with its start key
 * (countersign/chat-attestation/v1); the workflow checks that attestation and the assurance again.
 * Each action is accepted once (the shared ledger); anything refused is told to the Slack user in
 * an ephemeral message and changes nothing.
 */
import type { WebClient } from '@slack/web-api';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Logger } from 'pino';
import { z } from 'zod';
import { SUGGESTED_DENY_REASONS, WAITING_STATUSES } from '../../common/codes';
import type { ReviewerDecision } from '../../common/inputs';
import { AmbiguousRequestIdError, DecisionRefusedError, RequestNotFoundError } from '../../common/refusals';
import { CHAT_ATTESTATION_DOMAIN, decisionStatement, statementTarget } from '../../common/signing';
import type { ReviewView } from '../../common/views';
import type { SignedDomain } from '../../common/signing';
import { isExcluded, maySee } from '../../policy/access';
import type { CompiledPolicy } from '../../policy/load';
import type { Approvals } from '../approvals';
import { groupsOf } from '../inbox';
import type { DoorLedger } from '../ledger';
import { CodeError, issueLinkCode, SLACK_ID, type SignedBlobs } from './codes';
import type { SlackLinks } from './links';

/** A Slack action is remembered this long: beyond the 5-minute signature window either side. */
const SPENT_TTL_S = 15 * 60;
/** A modal's metadata is honoured this long after the click that opened it. */
const MODAL_TTL_MS = 30 * 60_000;
const MAX_TEXT = 2000;

export const DECIDE_ACTIONS = { cs_approve: 'approve', cs_deny: 'deny', cs_changes: 'request_changes' } as const;
type DecideAction = keyof typeof DECIDE_ACTIONS;
/** Url buttons: Slack still posts a block_actions for them; acknowledged, nothing done. */
const LINK_ACTIONS = new Set(['cs_open', 'cs_stepup']);

const Id = z.string().regex(SLACK_ID);
const Ts = z.string().regex(/^[0-9]{1,12}\.[0-9]{1,9}$/);
const Name = z.string().max(200);
const WorkflowId = z.string().regex(/^cs-[A-Za-z0-9._:@-]{1,240}$/);
const Digest = z.string().regex(/^[0-9a-f]{64}$/);

export const BlockActionsPayload = z.object({
  type: z.literal('block_actions'),
  team: z.object({ id: Id }),
  user: z.object({ id: Id, username: Name.optional(), name: Name.optional() }),
  trigger_id: z.string().max(200).optional(),
  channel: z.object({ id: Id }).optional(),
  container: z.object({ channel_id: Id.optional(), message_ts: Ts.optional() }).optional(),
  message: z.object({ ts: Ts }).optional(),
  actions: z.array(z.object({ action_id: z.string().max(255), value: z.string().max(2000).optional(), action_ts: Ts })).min(1).max(5),
});
export type BlockActionsPayload = z.infer<typeof BlockActionsPayload>;

const InputValue = z.object({ value: z.string().max(4 * MAX_TEXT).nullish(), selected_option: z.object({ value: z.string().max(150) }).nullish() });
export const ViewSubmissionPayload = z.object({
  type: z.literal('view_submission'),
  team: z.object({ id: Id }),
  user: z.object({ id: Id, username: Name.optional(), name: Name.optional() }),
  view: z.object({
    id: z.string().regex(/^V[A-Z0-9]{1,31}$/),
    callback_id: z.string().max(255),
    private_metadata: z.string().max(3000),
    hash: z.string().max(200).optional(),
    state: z.object({ values: z.record(z.string().max(255), z.record(z.string().max(255), InputValue)) }),
  }),
});
export type ViewSubmissionPayload = z.infer<typeof ViewSubmissionPayload>;

/** The clicked button's value, as the worker renders it: {"w": workflowId, "v": versionDigest}. */
const ClickValue = z.strictObject({ w: WorkflowId, v: Digest });

/** What a modal's private_metadata binds (sealed, server/slack/codes.ts). */
const ModalMetadata = z.strictObject({ w: WorkflowId, v: Digest, c: Id, m: Ts, a: Ts, t: Id, u: Id, e: z.number(), d: z.enum(['deny', 'request_changes']) });

export interface SlackDeskDeps {
  backend: Pick<Approvals, 'view' | 'decide'>;
  /** The policy the server runs now (reloaded in place). */
  policy: CompiledPolicy;
  logger: Logger;
  ledger: DoorLedger;
  links: SlackLinks;
  blobs: SignedBlobs;
  web: Pick<WebClient, 'chat' | 'views'>;
  /** The front door's start key: signs each chat attestation. */
  attester: { sign(domain: SignedDomain, body: unknown): { signature: string } };
}

interface SlackUser {
  teamId: string;
  userId: string;
  userName: string;
}

/** Where a click happened: the ids the attestation records. */
interface ClickPlace {
  channelId: string;
  messageTs: string;
  actionTs: string;
}

type Checked = { reviewer: string; view: ReviewView & { runId: string; policy: NonNullable<ReviewView['policy']> } };

/** The answer to a slash command: shown only to its sender. */
export interface CommandReply {
  response_type: 'ephemeral';
  text: string;
}

export class SlackDesk {
  /** Work acknowledged to Slack and still running: awaited by settle() (tests, shutdown). */
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly deps: SlackDeskDeps) {}

  /** Runs `work` after the answer to Slack; its failure is logged and, if `tell` is given, told to the Slack user. */
  later(what: string, work: () => Promise<void>, tell?: { channelId: string; userId: string }): void {
    const p = work()
      .catch(async (err: unknown) => {
        this.deps.logger.error({ err: (err as Error).message, name: (err as Error).name, what }, 'slack action failed');
        if (tell) await this.ephemeral(tell.channelId, tell.userId, 'Something went wrong on the countersign server: nothing was decided. Try again in a minute, or open the inbox.');
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Waits for every acknowledged action to finish. */
  async settle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  // ------------------------------------------------------------------ clicks

  /** A click on a request's message, after the answer: every check, then the decision or the modal. */
  async click(p: BlockActionsPayload): Promise<void> {
    const action = p.actions[0]!;
    if (LINK_ACTIONS.has(action.action_id) || !(action.action_id in DECIDE_ACTIONS)) return;
    const who = userOf(p);
    const channelId = p.channel?.id ?? p.container?.channel_id;
    const messageTs = p.container?.message_ts ?? p.message?.ts;
    if (!channelId || !messageTs) return;
    const place: ClickPlace = { channelId, messageTs, actionTs: action.action_ts };
    if (!(await this.spend(`slack-action:${who.teamId}:${who.userId}:${channelId}:${messageTs}:${action.action_ts}`))) return;
    const value = parseValue(action.value);
    if (!value) return this.ephemeral(channelId, who.userId, 'This button is not one countersign made: nothing was decided.');
    const checked = await this.check(who, value.w, value.v, channelId);
    if (!checked) return;
    const kind = DECIDE_ACTIONS[action.action_id as DecideAction];
    if (kind === 'approve') return this.decide(who, place, checked, { decision: 'approve', reviewer: checked.reviewer, versionDigest: value.v });
    if (!p.trigger_id) return;
    const metadata = this.deps.blobs.seal('countersign/slack-modal/v1', { w: value.w, v: value.v, c: channelId, m: messageTs, a: action.action_ts, t: who.teamId, u: who.userId, e: Date.now() + MODAL_TTL_MS, d: kind });
    await this.deps.web.views.open({ trigger_id: p.trigger_id, view: modal(kind, metadata, checked.view) as never });
  }

  /**
   * A modal's submission. Answered at once: `errors` for an empty or invalid field (the modal stays
   * open), else nothing (it closes) and `work` decides after the answer.
   */
  submission(p: ViewSubmissionPayload): { answer?: { response_action: 'errors'; errors: Record<string, string> }; work?: () => Promise<void> } {
    const who = userOf(p);
    let meta: z.infer<typeof ModalMetadata>;
    try {
      const parsed = ModalMetadata.safeParse(this.deps.blobs.open('countersign/slack-modal/v1', p.view.private_metadata));
      if (!parsed.success) throw new CodeError('malformed');
      meta = parsed.data;
    } catch (err) {
      if (!(err instanceof CodeError)) throw err;
      this.deps.logger.warn({ slackUser: who.userId }, 'slack modal submitted with metadata this server did not seal');
      return {};
    }
    // The modal belongs to the click that opened it: another user's, or an old one, decides nothing.
    if (meta.t !== who.teamId || meta.u !== who.userId || meta.e < Date.now()) return {};
    if (p.view.callback_id !== (meta.d === 'deny' ? 'cs_deny' : 'cs_changes')) return {};
    const values = p.view.state.values;
    const read = (block: string, action: string) => {
      const v = values[block]?.[action];
      return (v?.selected_option?.value ?? v?.value ?? '').trim();
    };
    let decision: ReviewerDecision;
    if (meta.d === 'deny') {
      const reasonCode = read('reason', 'code');
      const message = read('message', 'text');
      const errors: Record<string, string> = {};
      if (!/^[A-Z][A-Z0-9_]{1,63}$/.test(reasonCode)) errors.reason = 'Choose a reason.';
      if (!message) errors.message = 'Say why you deny it: the agent reads this.';
      else if (message.length > MAX_TEXT) errors.message = `At most ${MAX_TEXT} characters.`;
      if (Object.keys(errors).length) return { answer: { response_action: 'errors', errors } };
      decision = { decision: 'deny', reviewer: '', versionDigest: meta.v, reasonCode, message };
    } else {
      const comment = read('comment', 'text');
      if (!comment) return { answer: { response_action: 'errors', errors: { comment: 'Say what should change: the agent reads this.' } } };
      if (comment.length > MAX_TEXT) return { answer: { response_action: 'errors', errors: { comment: `At most ${MAX_TEXT} characters.` } } };
      decision = { decision: 'request_changes', reviewer: '', versionDigest: meta.v, comment };
    }
    const place: ClickPlace = { channelId: meta.c, messageTs: meta.m, actionTs: meta.a };
    return {
      work: async () => {
        if (!(await this.spend(`slack-view:${who.teamId}:${who.userId}:${p.view.id}:${p.view.hash ?? ''}`))) return;
        const checked = await this.check(who, meta.w, meta.v, meta.c);
        if (!checked) return;
        await this.decide(who, place, checked, { ...decision, reviewer: checked.reviewer });
      },
    };
  }

  /** Every check a click must pass under the policy the server runs now; refused: told to the user, undefined. */
  private async check(who: SlackUser, workflowId: string, versionDigest: string, channelId: string): Promise<Checked | undefined> {
    const { policy, links, backend } = this.deps;
    const say = async (text: string) => {
      await this.ephemeral(channelId, who.userId, `${text} Nothing was decided.`);
      return undefined;
    };
    const reviewer = await links.reviewerOf(who.teamId, who.userId);
    if (!reviewer) return say('Your Slack account is not linked to a countersign reviewer: link it with `/countersign link`, then click again.');
    if (!policy.reviewerKeys.has(reviewer) && !policy.reviewerPasskeys.has(reviewer)) return say(`${reviewer} is no longer in countersign's directory.`);
    let view: ReviewView;
    try {
      view = await backend.view(workflowId);
    } catch (err) {
      if (err instanceof RequestNotFoundError || err instanceof AmbiguousRequestIdError || err instanceof WorkflowNotFoundError) return say('This request is not in your queue.');
      throw err;
    }
    const excluded = [view.request.agentId.toLowerCase(), ...(view.request.onBehalfOf ? [view.request.onBehalfOf.toLowerCase()] : [])];
    if (!maySee(view, reviewer, groupsOf(policy, reviewer)) || isExcluded(excluded, reviewer)) return say(`You are linked to ${reviewer}, who may not decide on request ${view.requestId}.`);
    if (!WAITING_STATUSES.includes(view.status)) return say(`Request ${view.requestId} is ${view.status}: there is nothing left to decide.`);
    if (!view.runId || !view.policy) return say(`Request ${view.requestId} was made before chat decisions: decide on it from the CLI.`);
    if (view.policy.assurance !== 'chat') return say(`The rule for request ${view.requestId} needs a passkey: decide in the inbox, ${this.inboxLink(view.requestId)}`);
    if (versionDigest !== view.currentDigest) return say(`The payload of request ${view.requestId} changed since this message was posted: look at the current version (${this.inboxLink(view.requestId)}) and decide on it.`);
    return { reviewer, view: view as Checked['view'] };
  }

  /** The decision, attested by the front door, sent to the workflow; its refusal told to the user. */
  private async decide(who: SlackUser, place: ClickPlace, { reviewer, view }: Checked, decision: ReviewerDecision): Promise<void> {
    const signedAt = new Date().toISOString();
    const statement = decisionStatement(statementTarget(view, { versionDigest: decision.versionDigest!, policyDigest: view.policy.policyDigest }), decision, signedAt);
    const slack = { teamId: who.teamId, userId: who.userId, channelId: place.channelId, actionTs: place.actionTs };
    const value = this.deps.attester.sign(CHAT_ATTESTATION_DOMAIN, { statement, slack }).signature;
    try {
      const receipt = await this.deps.backend.decide(view.workflowId, { ...decision, signature: { signedAt, chat: { slack, value } } });
      this.deps.logger.info({ reviewer, requestId: view.requestId, decision: decision.decision, slackUser: who.userId, status: receipt.status }, 'decision made in Slack');
      const verb = decision.decision === 'approve' ? 'approved' : decision.decision === 'deny' ? 'denied' : 'asked for changes to';
      await this.ephemeral(place.channelId, who.userId, `You ${verb} request ${view.requestId} as ${reviewer} (${receipt.approvals.length}/${receipt.approvalsNeeded} approvals; ${receipt.status}).`);
    } catch (err) {
      if (!(err instanceof DecisionRefusedError)) throw err;
      this.deps.logger.info({ reviewer, requestId: view.requestId, code: err.code, slackUser: who.userId }, 'decision from Slack refused');
      await this.ephemeral(place.channelId, who.userId, `countersign refused this (${err.code}): ${err.message} Nothing was decided.`);
    }
  }

  // ------------------------------------------------------------------ slash commands

  /** `/countersign link | unlink | whoami | help`: a reply at once, and maybe work after it. */
  command(form: URLSearchParams): { reply?: CommandReply; work?: () => Promise<void>; user?: SlackUser & { channelId: string } } {
    const teamId = form.get('team_id') ?? '';
    const userId = form.get('user_id') ?? '';
    const channelId = form.get('channel_id') ?? '';
    const userName = (form.get('user_name') ?? '').slice(0, 80);
    const text = (form.get('text') ?? '').trim().toLowerCase();
    const reply = (t: string): CommandReply => ({ response_type: 'ephemeral', text: t });
    if (!SLACK_ID.test(teamId) || !SLACK_ID.test(userId) || !SLACK_ID.test(channelId)) return { reply: reply('This command came without a Slack team, user or channel.') };
    const who = { teamId, userId, userName, channelId };
    switch (text) {
      case 'link': {
        const origin = this.deps.policy.webauthn?.origins[0];
        if (!origin) return { reply: reply('The countersign inbox is not set up (no webauthn in the directory), so a Slack account cannot be linked yet: ask your operator.') };
        const code = issueLinkCode(this.deps.blobs, who);
        return {
          reply: reply(`To act in Slack as your countersign reviewer, open this link within 10 minutes, signed in to the inbox, and confirm with your passkey. It works once, and only for you (@${userName || userId}); do not share it.\n${origin}/inbox/link#code=${code}`),
        };
      }
      case 'unlink':
        return {
          reply: reply('Removing the link…'),
          user: who,
          work: async () => {
            const had = await this.deps.links.unlink(teamId, userId);
            this.deps.logger.info({ slackUser: userId, had }, 'slack link removed');
            await this.ephemeral(channelId, userId, had ? 'Your Slack account is no longer linked to a countersign reviewer: your clicks decide nothing until you link it again.' : 'Your Slack account was not linked to a countersign reviewer.');
          },
        };
      case 'whoami':
        return {
          reply: reply('Looking up your link…'),
          user: who,
          work: async () => {
            const reviewer = await this.deps.links.reviewerOf(teamId, userId);
            await this.ephemeral(channelId, userId, reviewer ? `Your Slack account (${userId}, team ${teamId}) is linked to countersign reviewer ${reviewer}.` : 'Your Slack account is not linked to a countersign reviewer: link it with `/countersign link`.');
          },
        };
      default:
        return {
          reply: reply('`/countersign link` links your Slack account to your countersign reviewer (you confirm it with your passkey in the inbox).\n`/countersign whoami` says which reviewer you are linked to.\n`/countersign unlink` removes the link.'),
        };
    }
  }

  // ------------------------------------------------------------------ helpers

  private inboxLink(requestId: string): string {
    const origin = this.deps.policy.webauthn?.origins[0];
    return origin ? `${origin}/inbox/requests/${requestId}` : 'the countersign inbox';
  }

  private async spend(key: string): Promise<boolean> {
    const fresh = await this.deps.ledger.spend(key, SPENT_TTL_S);
    if (!fresh) this.deps.logger.warn({ kind: key.split(':')[0] }, 'slack action replayed: ignored');
    return fresh;
  }

  async ephemeral(channel: string, user: string, text: string): Promise<void> {
    try {
      await this.deps.web.chat.postEphemeral({ channel, user, text });
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, slackUser: user }, 'slack ephemeral message failed');
    }
  }
}

function userOf(p: { team: { id: string }; user: { id: string; username?: string; name?: string } }): SlackUser {
  return { teamId: p.team.id, userId: p.user.id, userName: (p.user.username ?? p.user.name ?? '').slice(0, 80) };
}

function parseValue(value: string | undefined): z.infer<typeof ClickValue> | undefined {
  if (!value) return undefined;
  try {
    const parsed = ClickValue.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The modal a deny or request-changes click opens: the reason, then Submit. */
function modal(kind: 'deny' | 'request_changes', metadata: string, view: ReviewView): Record<string, unknown> {
  const plain = (text: string) => ({ type: 'plain_text', text: text.slice(0, 150) });
  const context = { type: 'context', elements: [{ type: 'mrkdwn', text: `Request ${view.requestId}: ${view.request.action}`.slice(0, 300) }] };
  const blocks =
    kind === 'deny'
      ? [
          context,
          { type: 'input', block_id: 'reason', label: plain('Reason'), element: { type: 'static_select', action_id: 'code', placeholder: plain('Choose a reason'), options: SUGGESTED_DENY_REASONS.map((r) => ({ text: plain(r), value: r })) } },
          { type: 'input', block_id: 'message', label: plain('Why (the agent reads this)'), element: { type: 'plain_text_input', action_id: 'text', multiline: true, max_length: MAX_TEXT } },
        ]
      : [context, { type: 'input', block_id: 'comment', label: plain('What should change (the agent reads this)'), element: { type: 'plain_text_input', action_id: 'text', multiline: true, max_length: MAX_TEXT } }];
  return {
    type: 'modal',
    callback_id: kind === 'deny' ? 'cs_deny' : 'cs_changes',
    private_metadata: metadata,
    title: plain(kind === 'deny' ? 'Deny request' : 'Request changes'),
    submit: plain(kind === 'deny' ? 'Deny' : 'Send'),
    close: plain('Cancel'),
    blocks,
  };
}
