/**
 * The Slack app's endpoints, under /v1/slack (mounted only when the Slack app has a signing secret):
 * - POST /interactions and POST /commands, which Slack calls. Slack's request signature is their
 *   credential (server/slack/verify.ts), not an API key or a session; a bad one is 401 and nothing
 *   else is said. Each is answered at once (Slack waits 3 seconds) and decided after, by the desk
 *   (server/slack/desk.ts);
 * - GET and POST /link, which the inbox calls (server/inbox/link.js): a reviewer signed in with
 *   their passkey confirms, with a passkey assertion, that a Slack user acts as them.
 */
import { createHash } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { canonicalJson } from '../../common/canonical';
import { PasskeySignature } from '../../common/inputs';
import type { SlackLinked, SlackLinkOffer } from '../../common/responses';
import { bytesToBase64Url, verifyPasskeyAssertion } from '../../common/webauthn';
import { clientAddress } from '../auth';
import type { Deps } from '../deps';
import { bodyUpTo, jsonBody, parse, rateLimited, smallBody, type Env } from '../http';
import { inboxSession } from '../inbox';
import { forbidden, HttpProblem, unauthenticated } from '../problems';
import { CLONED_PASSKEY } from '../sign-counts';
import { CodeError, LINK_CODE_TTL_MS, MAX_CODE_CHARS, readLinkCode, type LinkCode } from '../slack/codes';
import { BlockActionsPayload, ViewSubmissionPayload } from '../slack/desk';
import { MAX_SLACK_BODY_BYTES, SlackSignatureError, verifySlackSignature } from '../slack/verify';

/** What a reviewer's passkey signs to link a Slack user to them: SHA-256 of signingMessage(this domain, the link). */
export const SLACK_LINK_DOMAIN = 'countersign/slack-link/v1';

export interface SlackLinkStatement {
  teamId: string;
  userId: string;
  reviewer: string;
  nonce: string;
}

/** The message a link's passkey assertion answers: the same canonical form as common/signing.ts signingMessage. */
export const slackLinkMessage = (statement: SlackLinkStatement) => canonicalJson({ domain: SLACK_LINK_DOMAIN, content: statement });
export const slackLinkChallenge = (statement: SlackLinkStatement) => new Uint8Array(createHash('sha256').update(slackLinkMessage(statement), 'utf8').digest());

/** What the inbox posts to link a Slack user: the code, and the passkey's assertion over the link statement. */
export const LinkBody = z.strictObject({ code: z.string().min(1).max(MAX_CODE_CHARS), passkey: z.lazy(() => PasskeySignature.unwrap().shape.passkey) });

export function slackRoutes(deps: Deps): Hono<Env> {
  const slack = deps.slack;
  if (!slack) throw new Error('slackRoutes needs the Slack app (deps.slack).');
  const { desk } = slack;
  const routes = new Hono<Env>();

  /** The raw body, read once, if Slack signed it; 401 otherwise (counted against the caller's address). */
  const signedForm = async (c: Context<Env>): Promise<URLSearchParams> => {
    const type = c.req.header('content-type') ?? '';
    const raw = await c.req.text();
    try {
      verifySlackSignature(slack.signingSecret, { timestamp: c.req.header('x-slack-request-timestamp'), signature: c.req.header('x-slack-signature') }, raw);
    } catch (err) {
      if (!(err instanceof SlackSignatureError)) throw err;
      rateLimited(deps.limiter, `authfail:${clientAddress(c, deps)}`);
      deps.logger.warn({ path: c.req.routePath }, 'slack request refused: its signature does not verify');
      throw new HttpProblem(401, 'UNAUTHENTICATED', 'The Slack request signature does not verify.');
    }
    if (!/^application\/x-www-form-urlencoded\b/i.test(type)) throw new HttpProblem(415, 'INVALID_REQUEST', 'Slack sends application/x-www-form-urlencoded.');
    return new URLSearchParams(raw);
  };
  const perUser = (teamId: string, userId: string) => rateLimited(deps.limiter, `slack:${teamId}:${userId}`);

  routes.post('/interactions', bodyUpTo(MAX_SLACK_BODY_BYTES), async (c) => {
    const form = await signedForm(c);
    let payload: unknown;
    try {
      payload = JSON.parse(form.get('payload') ?? '');
    } catch {
      return c.body(null, 200); // signed by Slack but not an interaction: nothing to do
    }
    const type = (payload as { type?: unknown } | null)?.type;
    if (type === 'block_actions') {
      const parsed = BlockActionsPayload.safeParse(payload);
      if (!parsed.success) {
        deps.logger.warn({ type }, 'slack interaction not understood: acknowledged, nothing done');
        return c.body(null, 200);
      }
      const p = parsed.data;
      perUser(p.team.id, p.user.id);
      const channelId = p.channel?.id ?? p.container?.channel_id;
      desk.later('click', () => desk.click(p), channelId ? { channelId, userId: p.user.id } : undefined);
      return c.body(null, 200);
    }
    if (type === 'view_submission') {
      const parsed = ViewSubmissionPayload.safeParse(payload);
      if (!parsed.success) {
        deps.logger.warn({ type }, 'slack interaction not understood: acknowledged, nothing done');
        return c.body(null, 200);
      }
      perUser(parsed.data.team.id, parsed.data.user.id);
      const { answer, work } = desk.submission(parsed.data);
      if (work) desk.later('modal', work);
      return answer ? c.json(answer) : c.body(null, 200);
    }
    return c.body(null, 200);
  });

  routes.post('/commands', bodyUpTo(MAX_SLACK_BODY_BYTES), async (c) => {
    const form = await signedForm(c);
    // The same signed command posted twice is one command (its signature names its body and time).
    const once = await slack.ledger.spend(`slack-command:${createHash('sha256').update(c.req.header('x-slack-signature') ?? '').digest('hex')}`, 15 * 60);
    if (!once) return c.body(null, 200);
    perUser(form.get('team_id') ?? '', form.get('user_id') ?? '');
    const { reply, work, user } = desk.command(form);
    if (work) desk.later('command', work, user ? { channelId: user.channelId, userId: user.userId } : undefined);
    return c.json(reply ?? {});
  });

  // --- linking, from the inbox: a passkey session, then a passkey assertion over the link --------

  const readCode = (code: string | undefined): LinkCode => {
    try {
      if (!code) throw new CodeError('missing');
      return readLinkCode(slack.blobs, code);
    } catch (err) {
      if (!(err instanceof CodeError)) throw err;
      throw unauthenticated('This link code is not valid (altered, expired, or not from this server): run /countersign link in Slack again.');
    }
  };

  routes.get('/link', async (c) => {
    const session = await inboxSession(c, deps);
    rateLimited(deps.limiter, `reviewer:${session.reviewer}`);
    const code = readCode(c.req.query('code'));
    const statement: SlackLinkStatement = { teamId: code.teamId, userId: code.userId, reviewer: session.reviewer, nonce: code.nonce };
    const passkeys = deps.policy.reviewerPasskeys.get(session.reviewer) ?? [];
    if (!passkeys.length || !deps.policy.webauthn) throw unauthenticated(`${session.reviewer} has no passkey in the directory.`);
    return c.json({
      reviewer: session.reviewer,
      slack: { teamId: code.teamId, userId: code.userId, userName: code.userName },
      statement,
      challenge: bytesToBase64Url(slackLinkChallenge(statement)),
      expiresAt: new Date(code.expiresAt).toISOString(),
      passkey: { rpId: deps.policy.webauthn.rpId, allowCredentials: passkeys.map((p) => ({ id: p.credentialId, type: 'public-key' as const })) },
    } satisfies SlackLinkOffer);
  });

  routes.post('/link', smallBody, async (c) => {
    const session = await inboxSession(c, deps, { stateChange: true });
    rateLimited(deps.limiter, `reviewer:${session.reviewer}`);
    const raw = (await jsonBody(c)) as { reviewer?: unknown };
    if (raw.reviewer !== undefined && raw.reviewer !== session.reviewer) throw forbidden(`A link names the reviewer signed in (${session.reviewer}), never another.`);
    const { reviewer: _ignored, ...rest } = raw;
    const body = parse(LinkBody, rest);
    const code = readCode(body.code);
    const reviewer = session.reviewer;
    const rp = deps.policy.webauthn;
    const credential = (deps.policy.reviewerPasskeys.get(reviewer) ?? []).find((p) => p.credentialId === body.passkey.credentialId);
    if (!credential || !rp) throw unauthenticated(`The passkey that signed this link is not one the directory registers for ${reviewer}.`);
    const statement: SlackLinkStatement = { teamId: code.teamId, userId: code.userId, reviewer, nonce: code.nonce };
    const checked = verifyPasskeyAssertion(body.passkey, credential, { challenge: slackLinkChallenge(statement), origins: rp.origins, rpId: rp.rpId });
    if (!checked.ok) throw unauthenticated(`The passkey assertion is refused: ${checked.reason}.`);
    if (!(await deps.signCounts.advance(credential.credentialId, checked.signCount))) {
      deps.logger.warn({ reviewer, credentialId: credential.credentialId.slice(0, 16) }, 'passkey signature counter did not move forward: a cloned authenticator or a replay');
      throw unauthenticated(CLONED_PASSKEY);
    }
    if (!(await slack.ledger.spend(`slack-link-code:${code.nonce}`, Math.ceil(LINK_CODE_TTL_MS / 1000) + 300))) {
      throw unauthenticated('This link code has been used already: run /countersign link in Slack again.');
    }
    await slack.links.link(code.teamId, code.userId, reviewer);
    deps.logger.info({ reviewer, slackTeam: code.teamId, slackUser: code.userId }, 'slack user linked to a reviewer by passkey');
    return c.json({
      reviewer,
      slack: { teamId: code.teamId, userId: code.userId, userName: code.userName },
      message: `Slack user @${code.userName || code.userId} now acts as ${reviewer} in Slack. Run /countersign unlink in Slack to undo it.`,
    } satisfies SlackLinked);
  });

  return routes;
}
