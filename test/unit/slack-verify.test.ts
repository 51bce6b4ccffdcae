/**
 * The Slack app's credentials and the front door's signed blobs, as pure functions: Slack's request
 * signature (signed here exactly as Slack signs, with the stand-in's helper), the link codes and
 * modal metadata the server seals, and the settings read from the environment.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { loadSlackSettings, SlackConfigError } from '../../config/slack';
import { CodeError, issueLinkCode, LINK_CODE_TTL_MS, readLinkCode, SignedBlobs } from '../../server/slack/codes';
import { MAX_SLACK_BODY_BYTES, SLACK_MAX_SKEW_S, SlackSignatureError, verifySlackSignature } from '../../server/slack/verify';
import { slackSignature } from '../support/slack';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const NOW = 1_796_600_000;
const signed = (body: string, timestamp = String(NOW), secret = SECRET) => ({ timestamp, signature: slackSignature(secret, timestamp, body) });

describe("Slack's request signature", () => {
  test('a request signed as Slack signs it passes, at the edges of the five-minute window too', () => {
    const body = 'payload=%7B%22type%22%3A%22block_actions%22%7D';
    verifySlackSignature(SECRET, signed(body), body, NOW);
    verifySlackSignature(SECRET, signed(body, String(NOW - SLACK_MAX_SKEW_S)), body, NOW);
    verifySlackSignature(SECRET, signed(body, String(NOW + SLACK_MAX_SKEW_S)), body, NOW);
  });

  test('every forgery is refused the same way: another secret, an old or future timestamp, a changed body, a missing or malformed header, an oversized body', () => {
    const body = 'command=%2Fcountersign&text=link';
    const refused = (headers: { timestamp?: string; signature?: string }, raw = body) => assert.throws(() => verifySlackSignature(SECRET, headers, raw, NOW), SlackSignatureError);
    refused(signed(body, String(NOW), 'not-the-secret'));
    refused(signed(body, String(NOW - SLACK_MAX_SKEW_S - 1)));
    refused(signed(body, String(NOW + SLACK_MAX_SKEW_S + 1)));
    refused(signed(body), `${body}&x=1`);
    refused({ timestamp: String(NOW) });
    refused({ signature: signed(body).signature });
    refused({ timestamp: `${NOW}.5`, signature: signed(body).signature });
    refused({ timestamp: String(NOW), signature: signed(body).signature.replace('v0=', 'v1=') });
    refused({ timestamp: String(NOW), signature: signed(body).signature.toUpperCase() });
    const big = `payload=${'a'.repeat(MAX_SLACK_BODY_BYTES)}`;
    refused(signed(big), big);
    assert.throws(() => verifySlackSignature('', signed(body), body, NOW), SlackSignatureError);
  });

  test('property: a signature verifies only for its own body and timestamp', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 200 }), fc.integer({ min: -SLACK_MAX_SKEW_S, max: SLACK_MAX_SKEW_S }), (a, b, skew) => {
        const headers = signed(a, String(NOW + skew));
        verifySlackSignature(SECRET, headers, a, NOW);
        if (a !== b) assert.throws(() => verifySlackSignature(SECRET, headers, b, NOW), SlackSignatureError);
      }),
    );
  });
});

describe('link codes and sealed blobs', () => {
  const blobs = new SignedBlobs(Buffer.alloc(32, 7));
  const who = { teamId: 'T0COUNTER', userId: 'U0DAVE001', userName: 'dave' };

  test('a code reads back to the Slack user it was issued to, until it expires', () => {
    const code = issueLinkCode(blobs, who, 1_000);
    const read = readLinkCode(blobs, code, 1_000 + LINK_CODE_TTL_MS - 1);
    assert.deepEqual({ teamId: read.teamId, userId: read.userId, userName: read.userName }, who);
    assert.match(read.nonce, /^[A-Za-z0-9_-]{22}$/);
    assert.throws(() => readLinkCode(blobs, code, 1_000 + LINK_CODE_TTL_MS + 1), (err: unknown) => err instanceof CodeError && /expired/.test(err.message));
  });

  test('a code rebound to another Slack user, sealed by another server or for another purpose is refused', () => {
    const code = issueLinkCode(blobs, who);
    const [body, mac] = code.split('.') as [string, string];
    const content = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
    const rebound = `${Buffer.from(JSON.stringify({ ...content, u: 'U0MALLORY' }), 'utf8').toString('base64url')}.${mac}`;
    assert.throws(() => readLinkCode(blobs, rebound), CodeError);
    assert.throws(() => readLinkCode(new SignedBlobs(Buffer.alloc(32, 8)), code), CodeError);
    const modal = blobs.seal('countersign/slack-modal/v1', content);
    assert.throws(() => readLinkCode(blobs, modal), CodeError, 'a modal blob is no link code');
    for (const junk of ['', '.', 'a.b', `${body}.`, `${'A'.repeat(2000)}.${mac}`]) assert.throws(() => readLinkCode(blobs, junk), CodeError);
  });
});

describe('the Slack settings', () => {
  const token = `xoxb-1111-2222-${'c'.repeat(20)}`;

  test('off without a bot token; the secrets from the environment or from files', () => {
    assert.equal(loadSlackSettings({}), undefined);
    assert.deepEqual(loadSlackSettings({ COUNTERSIGN_SLACK_BOT_TOKEN: token, COUNTERSIGN_SLACK_SIGNING_SECRET: 's3cret' }), { botToken: token, signingSecret: 's3cret' });
    const dir = mkdtempSync(join(tmpdir(), 'countersign-slack-'));
    writeFileSync(join(dir, 'token'), `${token}\n`);
    writeFileSync(join(dir, 'secret'), 'from-a-file\n');
    assert.deepEqual(loadSlackSettings({ COUNTERSIGN_SLACK_BOT_TOKEN_FILE: join(dir, 'token'), COUNTERSIGN_SLACK_SIGNING_SECRET_FILE: join(dir, 'secret'), COUNTERSIGN_SLACK_API_URL: 'http://127.0.0.1:9/api/' }), {
      botToken: token,
      signingSecret: 'from-a-file',
      apiUrl: 'http://127.0.0.1:9/api/',
    });
  });

  test('each mistake is one sentence naming the variable, and never echoes a secret', () => {
    const refused = (env: NodeJS.ProcessEnv, name: RegExp) =>
      assert.throws(() => loadSlackSettings(env), (err: unknown) => err instanceof SlackConfigError && name.test(err.message) && !err.message.includes('hunter2'));
    refused({ COUNTERSIGN_SLACK_BOT_TOKEN: token, COUNTERSIGN_SLACK_BOT_TOKEN_FILE: '/x' }, /COUNTERSIGN_SLACK_BOT_TOKEN or COUNTERSIGN_SLACK_BOT_TOKEN_FILE/);
    refused({ COUNTERSIGN_SLACK_SIGNING_SECRET: 'hunter2' }, /without COUNTERSIGN_SLACK_BOT_TOKEN/);
    refused({ COUNTERSIGN_SLACK_BOT_TOKEN: 'hunter2' }, /must be a Slack bot token/);
    refused({ COUNTERSIGN_SLACK_BOT_TOKEN_FILE: '/nonexistent/token-file' }, /cannot be read/);
    refused({ COUNTERSIGN_SLACK_BOT_TOKEN: token, COUNTERSIGN_SLACK_API_URL: 'ftp://x/' }, /COUNTERSIGN_SLACK_API_URL/);
  });
});
