/**
 * A local stand-in for Slack, speaking its protocols both ways:
 * - its Web API (what countersign calls): an HTTP server at `apiUrl` that the real @slack/web-api
 *   WebClient is pointed at (its slackApiUrl option). It checks the bot token, answers as Slack does,
 *   records every call (chat.postMessage, chat.update, chat.postEphemeral, views.open, …) and can
 *   answer 429 with Retry-After, as Slack's rate limiter does;
 * - its requests to the app (what Slack sends countersign): block_actions and view_submission
 *   payloads and slash commands, form-encoded and signed with the app's signing secret exactly as
 *   Slack signs them (v0, HMAC-SHA256 over "v0:{timestamp}:{raw body}").
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually } from './eventually';

export const SLACK_TEAM = 'T0COUNTER';
export const BOT_TOKEN = `xoxb-1234-5678-${'a'.repeat(24)}`;
export const SIGNING_SECRET = 'f'.repeat(8) + randomBytes(12).toString('hex');

export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  /** The Authorization header's token. */
  token?: string;
  /** What the stand-in answered (e.g. the posted message's ts). */
  reply?: Record<string, unknown>;
}

export interface SlackStandIn {
  /** The Web API base to give WebClient (slackApiUrl) and COUNTERSIGN_SLACK_API_URL: ends in /. */
  apiUrl: string;
  calls: SlackCall[];
  /** The calls of one method, in order. */
  callsTo(method: string): SlackCall[];
  /** Waits until a call of `method` satisfying `match` has been made, and returns it. */
  waitFor(method: string, match?: (args: Record<string, unknown>) => boolean, what?: string): Promise<SlackCall>;
  /** The next `count` calls of `method` are answered 429 with `Retry-After: retryAfterSeconds`. */
  rateLimit(method: string, retryAfterSeconds: number, count?: number): void;
  /** The environment a worker or server needs to use this stand-in. */
  env: Record<string, string>;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Slack's Web API takes form fields (objects JSON-encoded in them) or a JSON body. */
function parseArgs(req: IncomingMessage, body: string): Record<string, unknown> {
  if ((req.headers['content-type'] ?? '').startsWith('application/json')) return body ? (JSON.parse(body) as Record<string, unknown>) : {};
  const args: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    try {
      args[k] = /^[[{]/.test(v) ? JSON.parse(v) : v;
    } catch {
      args[k] = v;
    }
  }
  return args;
}

export async function startSlackStandIn(options: { botToken?: string; signingSecret?: string } = {}): Promise<SlackStandIn> {
  const botToken = options.botToken ?? BOT_TOKEN;
  const calls: SlackCall[] = [];
  const limits = new Map<string, { retryAfter: number; count: number }>();
  let seq = 0;
  const ts = () => `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0]!;
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const args = parseArgs(req, body);
      const call: SlackCall = { method, args, token };
      calls.push(call);
      const reply = (status: number, json: Record<string, unknown>, headers: Record<string, string> = {}) => {
        call.reply = json;
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(json));
      };
      const limit = limits.get(method);
      if (limit && limit.count > 0) {
        limit.count--;
        return reply(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(limit.retryAfter) });
      }
      if (token !== botToken) return reply(200, { ok: false, error: 'invalid_auth' });
      switch (method) {
        case 'auth.test':
          return reply(200, { ok: true, team_id: SLACK_TEAM, user_id: 'UBOT0001', bot_id: 'BBOT0001' });
        case 'chat.postMessage':
          if (!args.channel) return reply(200, { ok: false, error: 'channel_not_found' });
          return reply(200, { ok: true, channel: args.channel, ts: ts(), message: { text: args.text, blocks: args.blocks } });
        case 'chat.update':
          if (!args.channel || !args.ts) return reply(200, { ok: false, error: 'message_not_found' });
          return reply(200, { ok: true, channel: args.channel, ts: args.ts, text: args.text });
        case 'chat.postEphemeral':
          return reply(200, { ok: true, message_ts: ts() });
        case 'views.open':
          if (!args.trigger_id) return reply(200, { ok: false, error: 'invalid_trigger_id' });
          return reply(200, { ok: true, view: { id: `V${String(++seq).padStart(8, '0')}`, ...(args.view as object) } });
        default:
          return reply(200, { ok: true });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`;
  const callsTo = (method: string) => calls.filter((c) => c.method === method);
  return {
    apiUrl,
    calls,
    callsTo,
    async waitFor(method, match = () => true, what = `a ${method} call`) {
      return eventually(() => {
        const found = callsTo(method).find((c) => match(c.args));
        if (!found) throw new Error(`no ${method} call yet (${callsTo(method).length} of that method, ${calls.length} in all)`);
        return found;
      }, what, 150, 100);
    },
    rateLimit(method, retryAfterSeconds, count = 1) {
      limits.set(method, { retryAfter: retryAfterSeconds, count });
    },
    env: {
      COUNTERSIGN_SLACK_BOT_TOKEN: botToken,
      COUNTERSIGN_SLACK_SIGNING_SECRET: options.signingSecret ?? SIGNING_SECRET,
      COUNTERSIGN_SLACK_API_URL: apiUrl,
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Slack's request signature: `v0=` + hex HMAC-SHA256 of "v0:{timestamp}:{raw body}" with the signing secret. */
export function slackSignature(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/** The headers Slack sends with a request to the app, signed now (or at `timestamp`, seconds). */
export function signedHeaders(body: string, options: { secret?: string; timestamp?: number } = {}): Record<string, string> {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': timestamp,
    'x-slack-signature': slackSignature(options.secret ?? SIGNING_SECRET, timestamp, body),
  };
}

/** An interactivity request's body, as Slack sends it: one form field, `payload`, holding JSON. */
export const interactionBody = (payload: unknown) => `payload=${encodeURIComponent(JSON.stringify(payload))}`;

export interface SlackUser {
  id: string;
  name: string;
  team?: string;
}

let actionSeq = 0;
/** A fresh action timestamp, as Slack stamps each click. */
export const actionTs = () => `${Math.floor(Date.now() / 1000)}.${String(++actionSeq).padStart(6, '0')}`;

/** A click on a button of a message: the `block_actions` payload Slack posts to the interactivity URL. */
export function blockActions(o: { user: SlackUser; channel: string; messageTs: string; actionId: string; value: string; actionTs?: string; triggerId?: string }) {
  const team = o.user.team ?? SLACK_TEAM;
  return {
    type: 'block_actions',
    team: { id: team, domain: 'countersign-test' },
    user: { id: o.user.id, username: o.user.name, name: o.user.name, team_id: team },
    api_app_id: 'A0COUNTER',
    token: 'deprecated-verification-token',
    container: { type: 'message', message_ts: o.messageTs, channel_id: o.channel, is_ephemeral: false },
    trigger_id: o.triggerId ?? `${Date.now()}.${randomBytes(4).toString('hex')}`,
    channel: { id: o.channel, name: 'reviews' },
    message: { type: 'message', ts: o.messageTs },
    response_url: 'https://hooks.slack.invalid/actions/T0/1/x',
    actions: [{ action_id: o.actionId, block_id: 'cs_decide', value: o.value, type: 'button', action_ts: o.actionTs ?? actionTs(), text: { type: 'plain_text', text: o.actionId } }],
  };
}

/** A modal's submission: the `view_submission` payload, with each input's value under its block and action ids. */
export function viewSubmission(o: { user: SlackUser; callbackId: string; privateMetadata: string; values: Record<string, Record<string, string>>; viewId?: string }) {
  const team = o.user.team ?? SLACK_TEAM;
  const values = Object.fromEntries(Object.entries(o.values).map(([block, inputs]) => [block, Object.fromEntries(Object.entries(inputs).map(([action, value]) => [action, { type: 'plain_text_input', value }]))]));
  return {
    type: 'view_submission',
    team: { id: team, domain: 'countersign-test' },
    user: { id: o.user.id, username: o.user.name, name: o.user.name, team_id: team },
    api_app_id: 'A0COUNTER',
    token: 'deprecated-verification-token',
    trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
    view: { id: o.viewId ?? `V${randomBytes(4).toString('hex').toUpperCase()}`, type: 'modal', callback_id: o.callbackId, private_metadata: o.privateMetadata, state: { values }, hash: randomBytes(6).toString('hex') },
    response_urls: [],
  };
}

/** A slash command's body, as Slack sends it (form fields). */
export function slashCommand(o: { user: SlackUser; command?: string; text: string; channel?: string }): string {
  const team = o.user.team ?? SLACK_TEAM;
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: team,
    team_domain: 'countersign-test',
    channel_id: o.channel ?? 'D0DIRECT1',
    channel_name: 'directmessage',
    user_id: o.user.id,
    user_name: o.user.name,
    command: o.command ?? '/countersign',
    text: o.text,
    api_app_id: 'A0COUNTER',
    response_url: 'https://hooks.slack.invalid/commands/T0/1/x',
    trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
  }).toString();
}
