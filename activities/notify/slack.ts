/**
 * The Slack channel: posts a request's message to a group's channel and updates it in place, with
 * Slack's own WebClient. Temporal owns retries: the client never retries or waits by itself, a 429
 * becomes a retryable failure that asks Temporal to wait exactly Slack's Retry-After, a network error
 * is retryable, and Slack's refusals (no such channel, app not in it, bad token) are not, each told
 * in a sentence that names the channel and never the token.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { LogLevel, WebClient, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from 'pino';
import type { SlackSettings } from '../../config/slack';
import type { RenderedMessage } from './blocks';

export interface SlackMessageRef {
  channel: string;
  ts: string;
}

export interface SlackChannel {
  post(channel: string, rendered: RenderedMessage): Promise<SlackMessageRef>;
  update(ref: SlackMessageRef, rendered: RenderedMessage): Promise<void>;
}

/** Slack's errors that go away by themselves: retried. Every other `ok: false` is a refusal that retrying cannot change. */
const TRANSIENT = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited', 'rate_limited']);
const AUTH = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'no_permission', 'missing_scope', 'not_allowed_token_type']);

function refusal(method: string, channel: string, error: string): string {
  if (error === 'channel_not_found') return `Slack has no channel ${channel} the app can see (channel_not_found): check the group's slack.channel id in the policy.`;
  if (error === 'not_in_channel') return `The Slack app is not in channel ${channel} (not_in_channel): invite it to the channel.`;
  if (error === 'is_archived') return `Slack channel ${channel} is archived (is_archived): name a live channel in the policy.`;
  if (AUTH.has(error)) return `Slack refused the bot token for ${method} in channel ${channel} (${error}): check COUNTERSIGN_SLACK_BOT_TOKEN and the app's scopes (chat:write).`;
  if (error === 'message_not_found' || error === 'cant_update_message' || error === 'edit_window_closed') return `Slack cannot update the message in channel ${channel} (${error}).`;
  return `Slack refused ${method} in channel ${channel} (${error}).`;
}

/** A WebClient failure as a Temporal failure; the token is scrubbed from anything that came from elsewhere. */
export function slackFailure(err: unknown, method: string, channel: string, token: string): Error {
  const e = err as { code?: string; retryAfter?: number; data?: { error?: string }; statusCode?: number; original?: { code?: string; message?: string }; message?: string };
  const scrub = (text: string) => (token ? text.split(token).join('[token]') : text);
  switch (e?.code) {
    case 'slack_webapi_rate_limited_error': {
      const seconds = Math.max(1, Math.ceil(Number(e.retryAfter) || 1));
      return ApplicationFailure.create({ message: `Slack rate-limited ${method} in channel ${channel}: retry after ${seconds}s.`, type: 'SLACK_RATE_LIMITED', nextRetryDelay: `${seconds}s` });
    }
    case 'slack_webapi_platform_error': {
      const error = scrub(String(e.data?.error ?? 'unknown_error'));
      if (TRANSIENT.has(error)) return ApplicationFailure.retryable(`Slack failed ${method} in channel ${channel} (${error}).`, 'SLACK_UNAVAILABLE');
      return ApplicationFailure.nonRetryable(refusal(method, channel, error), 'SLACK_REFUSED');
    }
    case 'slack_webapi_http_error':
      return ApplicationFailure.retryable(`Slack answered HTTP ${e.statusCode ?? '?'} to ${method} in channel ${channel}.`, 'SLACK_UNAVAILABLE');
    case 'slack_webapi_request_error':
      return ApplicationFailure.retryable(`Slack unreachable for ${method} in channel ${channel} (${scrub(e.original?.code ?? e.original?.message ?? 'request error')}).`, 'SLACK_UNREACHABLE');
    default:
      return ApplicationFailure.retryable(`Slack ${method} in channel ${channel} failed: ${scrub(String(e?.message ?? err))}.`, 'SLACK_ERROR');
  }
}

/** The WebClient's own log lines, into ours (warnings and errors only), without the token. */
function slackLogger(logger: Logger, token: string): SlackLogger {
  const line = (msg: unknown[]) => msg.map(String).join(' ').split(token).join('[token]');
  let level = LogLevel.WARN;
  return {
    debug: () => {},
    info: () => {},
    warn: (...msg: unknown[]) => logger.warn({ channel: 'slack' }, line(msg)),
    error: (...msg: unknown[]) => logger.error({ channel: 'slack' }, line(msg)),
    setLevel: (l: LogLevel) => void (level = l),
    getLevel: () => level,
    setName: () => {},
  };
}

export function slackChannel(settings: SlackSettings, logger: Logger): SlackChannel {
  const token = settings.botToken;
  const client = new WebClient(token, {
    ...(settings.apiUrl ? { slackApiUrl: settings.apiUrl } : {}),
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    // Within the activities' 15 s start-to-close: a hung call fails and Temporal retries it.
    timeout: 10_000,
    logger: slackLogger(logger, token),
    logLevel: LogLevel.WARN,
  });
  return {
    async post(channel, rendered) {
      let res: Awaited<ReturnType<typeof client.chat.postMessage>>;
      try {
        res = await client.chat.postMessage({ channel, text: rendered.text, blocks: rendered.blocks as never, unfurl_links: false, unfurl_media: false });
      } catch (err) {
        throw slackFailure(err, 'chat.postMessage', channel, token);
      }
      if (!res.ts) throw ApplicationFailure.retryable(`Slack posted to channel ${channel} without a message timestamp.`, 'SLACK_ERROR');
      return { channel: res.channel ?? channel, ts: res.ts };
    },
    async update(ref, rendered) {
      try {
        await client.chat.update({ channel: ref.channel, ts: ref.ts, text: rendered.text, blocks: rendered.blocks as never });
      } catch (err) {
        throw slackFailure(err, 'chat.update', ref.channel, token);
      }
    },
  };
}
