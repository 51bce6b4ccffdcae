/**
 * Slack's request signature (https://api.slack.com/authentication/verifying-requests-from-slack):
 * `x-slack-signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{raw body}" with the signing secret>`,
 * and `x-slack-request-timestamp` within five minutes of now, either side.
 *
 * Written here with node:crypto rather than taken from @slack/bolt: Bolt's verifier lives in its
 * ExpressReceiver / HTTPReceiver, which read Node's IncomingMessage and would bring express and a
 * second HTTP stack into a Hono server. The check is a dozen lines; these are they. Fails closed:
 * any missing, malformed, stale or wrong header is the same refusal, and nothing says which.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack's window, either side of now. */
export const SLACK_MAX_SKEW_S = 5 * 60;
/** The most a Slack request body may be: interactivity payloads are a few KiB. */
export const MAX_SLACK_BODY_BYTES = 64 * 1024;

export class SlackSignatureError extends Error {
  override name = 'SlackSignatureError';
}

/**
 * Checks a request's signature over its raw body; throws SlackSignatureError otherwise.
 * `nowS` is seconds since the epoch (for tests).
 */
export function verifySlackSignature(signingSecret: string, headers: { timestamp?: string; signature?: string }, rawBody: string, nowS = Math.floor(Date.now() / 1000)): void {
  const { timestamp, signature } = headers;
  const refuse = (why: string) => new SlackSignatureError(why);
  if (!signingSecret) throw refuse('no signing secret');
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) throw refuse('timestamp');
  if (Math.abs(nowS - Number(timestamp)) > SLACK_MAX_SKEW_S) throw refuse('timestamp');
  if (!signature || !/^v0=[0-9a-f]{64}$/.test(signature)) throw refuse('signature');
  if (Buffer.byteLength(rawBody, 'utf8') > MAX_SLACK_BODY_BYTES) throw refuse('size');
  const expected = createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`, 'utf8').digest();
  const given = Buffer.from(signature.slice(3), 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refuse('signature');
}
