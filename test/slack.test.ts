/**
 * Slack approvals with identity binding (issue 24), against the real worker, server and Temporal
 * dev server and a local stand-in for Slack (test/support/slack.ts) that the server's real
 * WebClient talks to. Reviewers link their Slack accounts through the real flow (slash command,
 * then the inbox with a passkey assertion from a software authenticator); then two chat approvals,
 * a deny through the modal, and each attack refused with nothing changed.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { parseDocument } from 'yaml';
import { DecisionRefusedError } from '../common/refusals';
import { CHAT_ATTESTATION_DOMAIN, decisionStatement, statementTarget } from '../common/signing';
import type { ReviewerDecision } from '../common/inputs';
import { base64UrlToBytes } from '../common/webauthn';
import { newEd25519Key, signerFromKey, type Signer } from '../crypto/keys';
import { simulatedAuthenticator, type SimulatedAuthenticator } from './support/authenticator';
import { cliFor } from './support/cli';
import { eventually } from './support/eventually';
import { sealedBundle } from './support/evidence';
import { testEnvironment } from './support/server';
import { actionTs, blockActions, interactionBody, signedHeaders, SIGNING_SECRET, SLACK_TEAM, slashCommand, startSlackStandIn, viewSubmission, type SlackStandIn, type SlackUser } from './support/slack';
import { agentAction, startStack, type Stack } from './support/stack';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: ops, sla: 1h, tokenTtl: 5m }
groups:
  finance: { members: [dave, erin], slack: { channel: C0FINANCE } }
  support: { members: [alice], slack: { channel: C0SUPPORT } }
  ops: { members: [oscar] }
actions:
  payments.refund:
    payload:
      type: object
      required: [amount, currency, order]
      additionalProperties: false
      properties:
        amount: { type: number, exclusiveMinimum: 0, maximum: 100000 }
        currency: { enum: [USD, EUR] }
        order: { type: string, minLength: 1, maxLength: 64 }
rules:
  - id: refund-chat
    match: { action: payments.refund }
    when: "payload.amount <= 5000"
    decision: review
    risk: high
    reviewers: finance
    approvals: 2
    assurance: chat
  - id: refund-passkey
    match: { action: payments.refund }
    when: "payload.amount > 5000"
    decision: review
    risk: critical
    reviewers: finance
`;

const CHANNEL = 'C0FINANCE';
const DAVE: SlackUser = { id: 'U0DAVE001', name: 'dave.s' };
const ERIN: SlackUser = { id: 'U0ERIN001', name: 'erin.k' };
const ALICE: SlackUser = { id: 'U0ALICE01', name: 'alice.w' };
const NOBODY: SlackUser = { id: 'U0NOBODY1', name: 'dave' };

interface Reviewer {
  name: string;
  auth: SimulatedAuthenticator;
  counter: number;
  cookie?: string;
  csrf?: string;
}

describe('Slack approvals with identity binding', () => {
  let env: TestWorkflowEnvironment;
  let stack: Stack;
  let slack: SlackStandIn;
  let base: string;
  const reviewers = new Map<string, Reviewer>();

  const refund = (amount: number) => agentAction({ summary: `Refund ${amount} USD on order 7781.`, payload: { amount, currency: 'USD', order: '7781' } });
  const assertion = (r: Reviewer, challenge: string) => r.auth.assert(base64UrlToBytes(challenge), { counter: ++r.counter });

  /** Posts a signed (or deliberately mis-signed) Slack request to the front door. */
  const toSlack = (path: 'interactions' | 'commands', body: string, headers: Record<string, string> = signedHeaders(body)) =>
    fetch(`${stack.url}/v1/slack/${path}`, { method: 'POST', headers, body });

  const inbox = (r: Reviewer, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { cookie: r.cookie!, ...(body === undefined ? {} : { 'content-type': 'application/json', 'x-countersign-csrf': r.csrf! }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  async function signIn(r: Reviewer): Promise<void> {
    const opts = (await (await fetch(`${base}/v1/inbox/login/options`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { options: { challenge: string }; ticket: string };
    const a = assertion(r, opts.options.challenge);
    const res = await fetch(`${base}/v1/inbox/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ticket: opts.ticket, response: { id: a.credentialId, rawId: a.credentialId, type: 'public-key', response: { authenticatorData: a.authenticatorData, clientDataJSON: a.clientDataJSON, signature: a.signature }, clientExtensionResults: {} } }),
    });
    const body = (await res.json()) as { reviewer: string; csrf: string; detail?: string };
    assert.equal(res.status, 200, body.detail);
    assert.equal(body.reviewer, r.name);
    r.cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
    r.csrf = body.csrf;
  }

  /** `/countersign link` in Slack: the code from the ephemeral reply. */
  async function linkCode(user: SlackUser): Promise<string> {
    const res = await toSlack('commands', slashCommand({ user, text: 'link' }));
    assert.equal(res.status, 200);
    const reply = (await res.json()) as { response_type: string; text: string };
    assert.equal(reply.response_type, 'ephemeral');
    const m = new RegExp(`${base}/inbox/link#code=([A-Za-z0-9_.-]+)`).exec(reply.text);
    assert.ok(m, reply.text);
    return m[1]!;
  }

  type Offer = { reviewer: string; challenge: string; statement: { reviewer: string; userId: string }; slack: { userId: string; userName: string } };
  async function confirmLink(r: Reviewer, code: string, offer?: Offer) {
    offer ??= (await (await inbox(r, `/v1/slack/link?code=${encodeURIComponent(code)}`)).json()) as Offer;
    return inbox(r, '/v1/slack/link', { code, passkey: assertion(r, offer.challenge) });
  }

  async function link(r: Reviewer, user: SlackUser): Promise<void> {
    const res = await confirmLink(r, await linkCode(user));
    const body = (await res.json()) as { reviewer: string; detail?: string };
    assert.equal(res.status, 200, body.detail);
    assert.equal(body.reviewer, r.name);
  }

  /** A click on a request's message button; the body is returned to be sent again. */
  async function click(user: SlackUser, workflowId: string, versionDigest: string, actionId = 'cs_approve', o: { triggerId?: string } = {}) {
    const body = interactionBody(blockActions({ user, channel: CHANNEL, messageTs: '1700000000.000100', actionId, value: JSON.stringify({ w: workflowId, v: versionDigest }), actionTs: actionTs(), ...o }));
    const res = await toSlack('interactions', body);
    assert.equal(res.status, 200);
    return body;
  }

  const ephemeral = (user: SlackUser, pattern: RegExp) => slack.waitFor('chat.postEphemeral', (a) => a.user === user.id && pattern.test(String(a.text)), `an ephemeral ${pattern} to ${user.id}`);

  async function pending(amount: number) {
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(amount));
    const view = await eventually(async () => {
      const v = await stack.ops.view(request.requestId);
      assert.equal(v.status, 'pending');
      return v;
    }, 'routed');
    return { request, view };
  }

  const approvalsOf = async (workflowId: string) => (await stack.ops.view(workflowId)).approvals;

  function chatDecision(view: Awaited<ReturnType<Stack['ops']['view']>>, reviewer: string, signer: Signer, user: SlackUser): ReviewerDecision {
    const signedAt = new Date().toISOString();
    const decision = { decision: 'approve' as const, reviewer, versionDigest: view.currentDigest };
    const statement = decisionStatement(statementTarget(view, { versionDigest: view.currentDigest, policyDigest: view.policy!.policyDigest }), decision, signedAt);
    const slackIds = { teamId: SLACK_TEAM, userId: user.id, channelId: CHANNEL, actionTs: actionTs() };
    return { ...decision, signature: { signedAt, chat: { slack: slackIds, value: signer.sign(CHAT_ATTESTATION_DOMAIN, { statement, slack: slackIds }).signature } } };
  }

  before(async () => {
    env = await testEnvironment();
    slack = await startSlackStandIn();
    stack = await startStack(env, POLICY, { slack, inbox: true });
    base = stack.inboxUrl.replace(/\/inbox$/, '');
    // Each reviewer's passkey, confirmed in the directory as `countersign reviewers confirm` writes it.
    const origin = base;
    const doc = parseDocument(readFileSync(stack.policyFile, 'utf8'));
    for (const name of ['dave', 'erin', 'alice']) {
      const auth = simulatedAuthenticator('p256', { rpId: 'localhost', origin });
      reviewers.set(name, { name, auth, counter: 0 });
      doc.setIn(['directory', 'reviewers', name, 'passkeys'], doc.createNode([{ id: auth.credential.credentialId, publicKey: auth.credential.publicKey }], { flow: true }));
    }
    writeFileSync(stack.policyFile, doc.toString());
    assert.equal(stack.reloadPolicy(), true);
    for (const r of reviewers.values()) await signIn(r);
  });
  after(async () => {
    await stack?.stop();
    await slack?.close();
    await env?.teardown();
  });

  test('linking: a code from /countersign link, confirmed in the inbox with the reviewer\'s passkey, once', async () => {
    const dave = reviewers.get('dave')!;
    const erin = reviewers.get('erin')!;
    const code = await linkCode(DAVE);
    // Another reviewer's session: the statement names the signed-in reviewer, never another.
    const erinsOffer = (await (await inbox(erin, `/v1/slack/link?code=${encodeURIComponent(code)}`)).json()) as Offer;
    assert.equal(erinsOffer.statement.reviewer, 'erin');
    const davesOffer = (await (await inbox(dave, `/v1/slack/link?code=${encodeURIComponent(code)}`)).json()) as Offer;
    assert.equal(davesOffer.statement.reviewer, 'dave');
    assert.equal(davesOffer.slack.userId, DAVE.id);
    assert.equal(davesOffer.slack.userName, DAVE.name);
    const asErin = await inbox(erin, '/v1/slack/link', { code, passkey: assertion(dave, davesOffer.challenge) });
    assert.equal(asErin.status, 401, 'dave\'s assertion under erin\'s session');
    const naming = await inbox(erin, '/v1/slack/link', { code, reviewer: 'dave', passkey: assertion(erin, erinsOffer.challenge) });
    assert.equal(naming.status, 403);
    // A code whose binding was altered (another Slack user put in it) is refused.
    const [blob, mac] = code.split('.');
    const bound = JSON.parse(Buffer.from(blob!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const altered = `${Buffer.from(JSON.stringify({ ...bound, u: NOBODY.id })).toString('base64url')}.${mac}`;
    assert.equal((await inbox(dave, `/v1/slack/link?code=${encodeURIComponent(altered)}`)).status, 401);
    assert.equal((await confirmLink(dave, altered, davesOffer)).status, 401);
    // Dave's own confirmation links; the same code a second time is refused.
    const ok = await confirmLink(dave, code, davesOffer);
    assert.equal(ok.status, 200, JSON.stringify(await ok.clone().json()));
    const again = await confirmLink(dave, code);
    assert.equal(again.status, 401);
    assert.match(((await again.json()) as { detail: string }).detail, /used already/);
    await link(erin, ERIN);
    await link(reviewers.get('alice')!, ALICE);
    // whoami, after the answer: an ephemeral message.
    assert.equal((await toSlack('commands', slashCommand({ user: DAVE, text: 'whoami' }))).status, 200);
    await ephemeral(DAVE, /linked to countersign reviewer dave/);
  });

  test('the front door refuses an unsigned, mis-signed or stale request with 401, and nothing changes', async () => {
    const { view } = await pending(300);
    const body = interactionBody(blockActions({ user: DAVE, channel: CHANNEL, messageTs: '1700000000.000100', actionId: 'cs_approve', value: JSON.stringify({ w: view.workflowId, v: view.currentDigest }) }));
    const badSecret = await toSlack('interactions', body, signedHeaders(body, { secret: 'not-the-secret' }));
    assert.equal(badSecret.status, 401);
    assert.match(badSecret.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.equal(((await badSecret.json()) as { detail: string }).detail, 'The Slack request signature does not verify.');
    const old = await toSlack('interactions', body, signedHeaders(body, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 }));
    assert.equal(old.status, 401);
    const unsigned = await toSlack('interactions', body, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(unsigned.status, 401);
    const tampered = await toSlack('interactions', body.replace('cs_approve', 'cs_deny'), signedHeaders(body));
    assert.equal(tampered.status, 401);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await approvalsOf(view.workflowId), []);
  });

  test('two linked reviewers approve in Slack: the agent gets its token, the evidence keeps both chat decisions', async () => {
    const { request, view } = await pending(320);
    // An unlinked Slack user (whatever their name says) and a linked user of another group change nothing.
    await click(NOBODY, view.workflowId, view.currentDigest);
    await ephemeral(NOBODY, /not linked to a countersign reviewer.*Nothing was decided/);
    await click(ALICE, view.workflowId, view.currentDigest);
    await ephemeral(ALICE, new RegExp(`linked to alice, who may not decide on request ${view.requestId}`));
    assert.deepEqual(await approvalsOf(view.workflowId), []);
    // Dave approves; the same click replayed is accepted once.
    const first = await click(DAVE, view.workflowId, view.currentDigest);
    await ephemeral(DAVE, new RegExp(`You approved request ${view.requestId} as dave \\(1/2`));
    assert.equal((await toSlack('interactions', first)).status, 200);
    await eventually(() => assert.ok(stack.logs.some((l) => l.msg === 'slack action replayed: ignored')), 'the replay seen');
    assert.deepEqual(await approvalsOf(view.workflowId), ['dave']);
    await click(ERIN, view.workflowId, view.currentDigest);
    await request.wait(20_000);
    assert.equal(request.status, 'approved');
    assert.deepEqual([...request.outcome!.reviewers].sort(), ['dave', 'erin']);
    await request.consume();
    await request.report({ status: 'succeeded' });
    const bundle = await sealedBundle(stack.cs, request.requestId);
    const approved = bundle.events.filter((e) => e.type === 'approved');
    assert.equal(approved.length, 2);
    for (const [e, user] of approved.map((e, i) => [e, [DAVE, ERIN][i]!] as const)) {
      const chat = e.data!.chat as { teamId: string; userId: string; channelId: string; actionTs: string };
      assert.equal(chat.teamId, SLACK_TEAM);
      assert.equal(chat.userId, user.id);
      assert.equal(chat.channelId, CHANNEL);
      assert.equal(e.data!.assurance, 'chat');
      assert.equal(e.data!.channel, 'slack');
    }
    const file = join(stack.dir, 'slack-evidence.json');
    writeFileSync(file, JSON.stringify(bundle));
    const layerKey = readFileSync(join(stack.dir, 'keys', 'layer.pub'), 'utf8').trim();
    const run = await cliFor({ env, stack })(['verify', file, '--key', layerKey, '--policy', stack.policyFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /assurance chat: Slack user U0DAVE001 in C0FINANCE/);
    assert.match(run.stdout, /assurance chat: Slack user U0ERIN001 in C0FINANCE/);
  });

  test('a passkey-level rule: refused through Slack, and straight to the workflow with raw Temporal access', async () => {
    const { view } = await pending(8000);
    await click(DAVE, view.workflowId, view.currentDigest);
    await ephemeral(DAVE, new RegExp(`The rule for request ${view.requestId} needs a passkey: decide in the inbox, ${base}/inbox/requests/${view.requestId}`));
    await assert.rejects(stack.ops.decide(view.workflowId, chatDecision(view, 'dave', stack.startSigner, DAVE)), (err: unknown) => err instanceof DecisionRefusedError && err.code === 'ASSURANCE_REQUIRED');
    assert.deepEqual(await approvalsOf(view.workflowId), []);
  });

  test('a chat attestation signed by a key that is not the front door\'s is refused', async () => {
    const { view } = await pending(330);
    const impostor = signerFromKey(newEd25519Key());
    await assert.rejects(stack.ops.decide(view.workflowId, chatDecision(view, 'dave', impostor, DAVE)), (err: unknown) => err instanceof DecisionRefusedError && err.code === 'UNAUTHENTICATED');
    assert.deepEqual(await approvalsOf(view.workflowId), []);
  });

  test('deny through the modal: an empty reason keeps it open; the reason given ends the request denied', async () => {
    const { request, view } = await pending(340);
    const triggerId = `${Date.now()}.trigger`;
    await click(DAVE, view.workflowId, view.currentDigest, 'cs_deny', { triggerId });
    const opened = await slack.waitFor('views.open', (a) => a.trigger_id === triggerId);
    const modal = opened.args.view as { callback_id: string; private_metadata: string };
    assert.equal(modal.callback_id, 'cs_deny');
    const submit = (values: Record<string, Record<string, string>>, user = DAVE) =>
      toSlack('interactions', interactionBody(viewSubmission({ user, callbackId: 'cs_deny', privateMetadata: modal.private_metadata, values })));
    const empty = await submit({ reason: { code: 'AMOUNT_TOO_HIGH' }, message: { text: '  ' } });
    assert.equal(empty.status, 200);
    assert.equal(((await empty.json()) as { response_action: string }).response_action, 'errors');
    // Erin submitting dave's modal decides nothing.
    assert.equal((await submit({ reason: { code: 'AMOUNT_TOO_HIGH' }, message: { text: 'Not mine to deny.' } }, ERIN)).status, 200);
    const done = await submit({ reason: { code: 'AMOUNT_TOO_HIGH' }, message: { text: 'Over the monthly limit.' } });
    assert.equal(done.status, 200);
    await request.wait(20_000);
    assert.equal(request.status, 'denied');
    assert.equal(request.outcome!.reviewerReason, 'AMOUNT_TOO_HIGH');
    assert.equal(request.outcome!.message, 'Over the monthly limit.');
    assert.deepEqual(request.outcome!.reviewers, ['dave']);
  });

  test('unlink takes effect at once', async () => {
    assert.equal((await toSlack('commands', slashCommand({ user: ERIN, text: 'unlink' }))).status, 200);
    await ephemeral(ERIN, /no longer linked/);
    const { view } = await pending(350);
    await click(ERIN, view.workflowId, view.currentDigest);
    await ephemeral(ERIN, /not linked to a countersign reviewer/);
    assert.deepEqual(await approvalsOf(view.workflowId), []);
  });

  test('the signing secret is never logged', () => {
    const text = JSON.stringify(stack.logs);
    assert.ok(!text.includes(SIGNING_SECRET));
  });
});
