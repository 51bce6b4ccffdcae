/**
 * The web inbox as reviewers use it (issue 12): Debian's headless Chromium, driven by playwright-core,
 * with a CDP virtual authenticator per reviewer (user verification on), against the real server,
 * worker and Temporal dev server. Enrolment through an invite and the operator's confirm (the real
 * CLI), sign-in, the live queue, each kind of decision signed by a passkey and reaching the agent,
 * two reviewers on a two-approval rule, a stale page, and the evidence verified offline.
 * Screenshots go to test/artifacts/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { parseDocument } from 'yaml';
import { DecisionRefusedError } from '../client/sdk';
import { OPEN_STATUSES, ReasonCode, SUGGESTED_DENY_REASONS, WAITING_STATUSES } from '../common/codes';
import { RISK_ORDER } from '../common/inputs';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../common/paging';
import { INBOX_MODULES } from '../server/inbox-assets';
import type { EvidenceBundle } from '../common/bundle';
import { eventHash } from '../common/evidence';
import { ensureChromium } from './support/chromium';
import { cliFor } from './support/cli';
import { eventually } from './support/eventually';
import { sealedBundle } from './support/evidence';
import { signedDecision } from './support/review';
import { testEnvironment } from './support/server';
import { signedHeaders, slashCommand, startSlackStandIn, type SlackStandIn } from './support/slack';
import { agentAction, startStack, type Stack, type StackContext } from './support/stack';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: ops, sla: 1h, tokenTtl: 5m }
groups:
  support: { members: [alice, bob] }
  finance: { members: [dave, erin, frank] }
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
    display: { amount: "{amount} {currency}", order: "{order}" }
rules:
  - id: refund-review
    match: { action: payments.refund }
    when: "payload.amount > 100 && payload.amount <= 5000"
    decision: review
    risk: high
    reason: Refunds over 100 need finance.
    reviewers: finance
  - id: refund-two-people
    match: { action: payments.refund }
    when: "payload.amount > 5000"
    decision: review
    risk: critical
    reason: Refunds over 5000 need two people in finance.
    reviewers: finance
    approvals: 2
  - id: credit-note
    match: { action: invoices.credit }
    decision: review
    risk: medium
    reason: Credit notes are checked by finance.
    reviewers: finance
  - id: customer-email
    match: { action: email.send }
    decision: review
    risk: medium
    reviewers: support
`;

const ARTIFACTS = join(__dirname, 'artifacts');
const chromiumAt = ensureChromium();

/** One reviewer's browser: a context of its own (cookies) and a virtual platform authenticator. */
interface ReviewerBrowser {
  name: string;
  context: BrowserContext;
  page: Page;
  /** The credential id of the passkey it made, once enrolled, and the fingerprint its enrol page showed. */
  credentialId?: string;
  fingerprint?: string;
  /** Its virtual authenticator, through the DevTools protocol (to copy a passkey out of it, as a cloner would). */
  cdp: CDPSession;
  authenticatorId: string;
  /** Signs `challenge` with the passkey, as a page script could (for attacks that go around the inbox). */
  sign(challenge: string, credentialId: string): Promise<{ credentialId: string; authenticatorData: string; clientDataJSON: string; signature: string }>;
}

async function openBrowser(browser: Browser, name: string, viewport = { width: 1280, height: 900 }): Promise<ReviewerBrowser> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/.test(msg.text())) errors.push(msg.text());
  });
  return {
    name,
    context,
    page,
    cdp,
    authenticatorId,
    async sign(challenge, credentialId) {
      // A page script's own navigator.credentials.get: what an attacker with the reviewer's device could sign.
      return page.evaluate(`(async ({ challenge, credentialId }) => {
        const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
        const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
        const cred = await navigator.credentials.get({ publicKey: { challenge: bytes(challenge), rpId: 'localhost', allowCredentials: [{ id: bytes(credentialId), type: 'public-key' }], userVerification: 'required' } });
        const r = cred.response;
        return { credentialId: cred.id, authenticatorData: b64u(r.authenticatorData), clientDataJSON: b64u(r.clientDataJSON), signature: b64u(r.signature) };
      })(${JSON.stringify({ challenge, credentialId })})`);
    },
  };
}

const alertOf = (page: Page) => page.locator('main [role="alert"]:not(:empty)').first();

/** The real CLI, as the operator runs it: invite, then the link the reviewer opens. */
async function invite(ctx: StackContext, name: string): Promise<string> {
  const run = await cliFor(ctx)(['reviewers', 'invite', name, '--json', '--url', ctx.stack.inboxUrl.replace(/\/inbox$/, '')]);
  assert.equal(run.code, 0, run.stderr);
  const { link } = JSON.parse(run.stdout) as { link: string };
  assert.match(link, new RegExp(`^http://localhost:\\d+/inbox/enroll#reviewer=${name}&token=cs_invite_`));
  return link;
}

async function enrol(ctx: StackContext, who: ReviewerBrowser): Promise<string> {
  const link = await invite(ctx, who.name);
  await who.page.goto(link);
  await who.page.getByRole('button', { name: 'Create passkey' }).click();
  await assertText(who.page.locator('main [role="status"]'), new RegExp(`countersign reviewers confirm ${who.name} --fingerprint`));
  who.fingerprint = (await who.page.locator('#passkey-fingerprint').textContent()) ?? '';
  assert.match(who.fingerprint, /^[0-9A-F]{4}(-[0-9A-F]{4}){3}$/);
  const state = await cliFor(ctx)(['reviewers', 'status', who.name, '--json']);
  who.credentialId = (JSON.parse(state.stdout) as { passkey: { id: string } }).passkey.id;
  return link;
}

async function confirm(ctx: StackContext, who: ReviewerBrowser): Promise<void> {
  const name = who.name;
  const cli = cliFor(ctx);
  // A fingerprint other than the one the reviewer saw (a passkey made from an intercepted link) is never confirmed.
  const wrong = await cli(['reviewers', 'confirm', name, '--fingerprint', '0000-0000-0000-0000', '--policy', ctx.stack.policyFile]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /has another fingerprint .* than the one given: do not confirm it/);
  assert.ok(!readFileSync(ctx.stack.policyFile, 'utf8').includes(who.credentialId!), 'nothing was written');
  const run = await cli(['reviewers', 'confirm', name, '--fingerprint', who.fingerprint!.toLowerCase(), '--policy', ctx.stack.policyFile]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`Confirmed ${name}'s passkey ${who.fingerprint}`));
  assert.equal(ctx.stack.reloadPolicy(), true, 'the server and the worker load the confirmed passkey');
}

async function signIn(who: ReviewerBrowser, url: string): Promise<void> {
  await who.page.goto(url);
  await who.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await assertText(who.page.locator('#session'), new RegExp(`Signed in as ${who.name}`));
}

async function assertText(locator: ReturnType<Page['locator']>, pattern: RegExp): Promise<void> {
  await eventually(async () => assert.match((await locator.textContent({ timeout: 5000 })) ?? '', pattern), `text ${pattern}`, 100, 200);
}

/** Opens a request page and signs a decision from its panel. */
async function decideInPage(who: ReviewerBrowser, url: string, requestId: string, choose: (page: Page) => Promise<void>): Promise<void> {
  const page = who.page;
  if (!page.url().endsWith(`/inbox/requests/${requestId}`)) await page.goto(`${url}/requests/${requestId}`);
  await page.getByRole('group', { name: 'Your decision' }).waitFor();
  await choose(page);
  await page.getByRole('button', { name: 'Sign and submit' }).click();
}

describe('the web inbox, with passkeys, in Chromium', { skip: 'skip' in chromiumAt ? chromiumAt.skip : false }, () => {
  const ctx = {} as StackContext & { browser: Browser; dave: ReviewerBrowser; erin: ReviewerBrowser; bundle?: EvidenceBundle; routedBeforeConfirm?: string };
  let stack: Stack;
  let env: TestWorkflowEnvironment;
  let url: string;
  let slack: SlackStandIn;

  before(async () => {
    env = await testEnvironment();
    slack = await startSlackStandIn();
    stack = await startStack(env, POLICY, { inbox: true, slack });
    Object.assign(ctx, { env, stack });
    url = stack.inboxUrl;
    ctx.browser = await chromium.launch({ executablePath: (chromiumAt as { path: string }).path, args: ['--no-sandbox'] });
    ctx.dave = await openBrowser(ctx.browser, 'dave');
    ctx.erin = await openBrowser(ctx.browser, 'erin');
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await ctx.browser?.close();
    await stack?.stop();
    await env?.teardown();
    await slack?.close();
  });

  const refund = (amount: number) =>
    agentAction({ summary: `Refund ${amount} USD on order 7781: the parcel never arrived.`, resource: { type: 'customer', id: 'C-42' }, payload: { amount, currency: 'USD', order: '7781' } });

  test('an invite enrols a passkey that grants nothing until the operator confirms it', async () => {
    const link = await enrol(ctx, ctx.dave);
    // The invite is single-use: the same link again is refused, in one sentence.
    const reused = await fetch(`${url.replace(/\/inbox$/, '')}/v1/inbox/enroll/options`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Object.fromEntries(new URLSearchParams(new URL(link).hash.slice(1)))),
    });
    assert.equal(reused.status, 401);
    assert.match(((await reused.json()) as { detail: string }).detail, /^This enrolment link is not valid: it was used already, has expired or was withdrawn/);
    // Unconfirmed: sign-in is refused...
    await ctx.dave.page.goto(url);
    await ctx.dave.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await assertText(alertOf(ctx.dave.page), /not in the directory.*confirm/i);
    // ...and a decision signed by it, sent straight to Temporal around the server, is refused by the workflow.
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(300));
    const view = await stack.ops.view(request.requestId);
    const { decisionStatement, statementTarget } = await import('../common/signing');
    const { decisionChallenge } = await import('../common/signing');
    const { bytesToBase64Url } = await import('../common/webauthn');
    const signedAt = new Date().toISOString();
    const decision = { decision: 'approve' as const, reviewer: 'dave', versionDigest: view.currentDigest };
    const statement = decisionStatement(statementTarget(view, { versionDigest: view.currentDigest, policyDigest: view.policy!.policyDigest }), decision, signedAt);
    const passkey = await ctx.dave.sign(bytesToBase64Url(decisionChallenge(statement)), ctx.dave.credentialId!);
    await assert.rejects(stack.ops.decide(request.requestId, { ...decision, signature: { signedAt, passkey } }), (err: unknown) => {
      assert.ok(err instanceof DecisionRefusedError);
      assert.equal(err.code, ReasonCode.UNAUTHENTICATED);
      return true;
    });
    assert.equal((await stack.ops.view(request.requestId)).status, 'pending');
    ctx.routedBeforeConfirm = request.requestId;
  });

  test('invites: one per reviewer, bound to its reviewer, withdrawn by --replace, and expired after --expires', async () => {
    const cli = cliFor(ctx);
    const base = url.replace(/\/inbox$/, '');
    const options = (params: Record<string, string>) =>
      fetch(`${base}/v1/inbox/enroll/options`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) });
    const paramsOf = (link: string) => Object.fromEntries(new URLSearchParams(new URL(link).hash.slice(1)));
    const first = paramsOf(await invite(ctx, 'frank'));
    const again = await cli(['reviewers', 'invite', 'frank']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /frank already has an open enrolment \(invited, until .*\): confirm it, or pass --replace/);
    assert.equal((await options({ reviewer: 'erin', token: first.token! })).status, 401, "frank's invite does not enrol erin");
    const replaced = await cli(['reviewers', 'invite', 'frank', '--replace', '--json', '--url', base]);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.equal((await options(first)).status, 401, 'the withdrawn link is refused');
    assert.equal((await options(paramsOf((JSON.parse(replaced.stdout) as { link: string }).link))).status, 200, 'the new link opens');
    const short = await cli(['reviewers', 'invite', 'frank', '--replace', '--expires', '1s', '--json', '--url', base]);
    const expiring = paramsOf((JSON.parse(short.stdout) as { link: string }).link);
    await eventually(async () => assert.equal((await options(expiring)).status, 401), 'the invite expires', 50, 200);
    const status = await cli(['reviewers', 'status', 'frank']);
    assert.match(status.stdout, /frank: the enrolment expired; invite again\./);
    const usage = await cli(['reviewers', 'confirm', 'frank', '--policy', stack.policyFile]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /reviewers confirm needs --fingerprint/);
    const noRegistration = await cli(['reviewers', 'confirm', 'frank', '--fingerprint', '0000-0000-0000-0000', '--policy', stack.policyFile]);
    assert.equal(noRegistration.code, 1);
  });

  test('once confirmed, the reviewer signs in and sees exactly their groups\' queue, live', async () => {
    await confirm(ctx, ctx.dave);
    const agent = await stack.agent('support-bot');
    const finance = await agent.submit(refund(250));
    const support = await agent.submit(agentAction({ action: 'email.send', summary: 'Email the customer about the delay.', resource: { type: 'customer', id: 'C-9' }, payload: { to: 'c9@example.com', body: 'Sorry!' } }));
    await signIn(ctx.dave, url);
    const page = ctx.dave.page;
    await page.locator(`tr[data-request-id="${finance.requestId}"]`).waitFor({ timeout: 20_000 });
    assert.equal(await page.locator(`tr[data-request-id="${support.requestId}"]`).count(), 0, "support's request is not in dave's queue");
    const groups = await page.locator('#filter-group option').allTextContents();
    assert.deepEqual(groups.map((g) => g.trim()), ['All groups', 'finance']);
    // A new request appears without a reload; a decided one leaves.
    const later = await agent.submit(refund(420));
    await page.locator(`tr[data-request-id="${later.requestId}"]`).waitFor({ timeout: 20_000 });
    await stack.cs.decide(finance.requestId, await signedDecision(stack, finance.requestId, { decision: 'deny', reviewer: 'erin', reasonCode: 'NOT_JUSTIFIED', message: 'No.' }));
    await page.locator(`tr[data-request-id="${finance.requestId}"]`).waitFor({ state: 'detached', timeout: 20_000 });
    const row = page.locator(`tr[data-request-id="${later.requestId}"]`);
    assert.match((await row.textContent()) ?? '', /payments\.refund[\s\S]*customer:C-42[\s\S]*high[\s\S]*finance[\s\S]*support-bot/);
    await page.screenshot({ path: join(ARTIFACTS, 'inbox-queue.png'), fullPage: true });
  });

  test('approve: the agent gets its token for the exact payload, and the evidence keeps the assertion', async () => {
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(310));
    await decideInPage(ctx.dave, url, request.requestId, async (page) => {
      await page.getByLabel('Approve', { exact: true }).check();
      await page.getByLabel('Comment (optional)').fill('Checked the carrier: lost parcel.');
    });
    await assertText(ctx.dave.page.locator('main p.status-msg'), /Decision recorded: approved/);
    await request.wait(20_000);
    assert.equal(request.status, 'approved');
    assert.deepEqual(request.outcome?.reviewers, ['dave']);
    await request.consume();
    await request.report({ status: 'succeeded' });
    const bundle = await sealedBundle(stack.cs, request.requestId);
    const approved = bundle.events.find((e) => e.type === 'approved')!;
    const kept = approved.data!.passkey as Record<string, string>;
    assert.equal(kept.credentialId, ctx.dave.credentialId);
    for (const field of ['authenticatorData', 'clientDataJSON', 'signature', 'publicKey']) assert.match(kept[field]!, /^[A-Za-z0-9_-]+$/, field);
    assert.equal((approved.data!.statement as { comment?: string }).comment, 'Checked the carrier: lost parcel.');
    ctx.bundle = bundle;
  });

  test('the exported evidence verifies offline; one flipped byte of the stored assertion does not', async () => {
    const bundle = ctx.bundle!;
    const dir = stack.dir;
    const good = join(dir, 'inbox-evidence.json');
    writeFileSync(good, JSON.stringify(bundle));
    const cli = cliFor(ctx);
    const layerKey = readFileSync(join(dir, 'keys', 'layer.pub'), 'utf8').trim();
    const ok = await cli(['verify', good, '--key', layerKey, '--policy', stack.policyFile]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /OK — .*reviewer passkey of dave \(events\[\d+\]\) registered in the policy, on its relying party/);
    // One byte of the signature flipped; the chain rehashed and the bundle signed again with the
    // layer's own key, as a forger holding it would: only the assertion can tell.
    const forged = structuredClone(bundle);
    const event = forged.events.find((e) => e.type === 'approved')!;
    const passkey = event.data!.passkey as { signature: string };
    const bytes = Buffer.from(passkey.signature, 'base64url');
    bytes[bytes.length - 5]! ^= 0x01;
    passkey.signature = bytes.toString('base64url');
    resealed(forged, stack);
    const bad = join(dir, 'inbox-evidence-forged.json');
    writeFileSync(bad, JSON.stringify(forged));
    const refused = await cli(['verify', bad, '--key', layerKey, '--policy', stack.policyFile]);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /BROKEN at events\[\d+\]: the passkey assertion of dave on this approved decision does not verify/);
  });

  test('a request routed before the passkey was confirmed takes its decision (passkeys are the directory\'s as it is now)', async () => {
    const id = ctx.routedBeforeConfirm!;
    await decideInPage(ctx.dave, url, id, async (page) => page.getByLabel('Approve', { exact: true }).check());
    await assertText(ctx.dave.page.locator('main p.status-msg'), /Decision recorded: approved/);
    const view = await stack.ops.view(id);
    assert.equal(view.status, 'approved');
    const approved = view.history.find((e) => e.type === 'approved')!;
    assert.equal((approved.data!.passkey as { credentialId: string }).credentialId, ctx.dave.credentialId);
    assert.match(String(approved.data!.credentialsDirectoryDigest), /^[0-9a-f]{64}$/);
  });

  test('deny with a reason code and message reaches the agent', async () => {
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(640));
    await decideInPage(ctx.dave, url, request.requestId, async (page) => {
      await page.getByLabel('Deny', { exact: true }).check();
      await page.getByLabel('Reason code').fill('SUSPECTED_PROMPT_INJECTION');
      await page.getByLabel('Message').fill('The order notes ask the agent to refund twice.');
    });
    await assertText(ctx.dave.page.locator('main p.status-msg'), /Decision recorded: denied/);
    await request.wait(20_000);
    assert.equal(request.status, 'denied');
    assert.equal(request.outcome?.code, ReasonCode.REVIEWER_DENIED);
    assert.equal(request.outcome?.reviewerReason, 'SUSPECTED_PROMPT_INJECTION');
    assert.equal(request.outcome?.message, 'The order notes ask the agent to refund twice.');
  });

  test('request changes with a proposed payload reaches the agent', async () => {
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(900));
    await decideInPage(ctx.dave, url, request.requestId, async (page) => {
      await page.getByLabel('Request changes', { exact: true }).check();
      await page.getByLabel('Comment', { exact: true }).fill('Refund the shipping only.');
      await page.getByLabel('Proposed payload (JSON, optional)').fill('{"amount": 15, "currency": "USD", "order": "7781"}');
    });
    await assertText(ctx.dave.page.locator('main p.status-msg'), /Decision recorded: changes requested/);
    await request.wait(20_000);
    assert.equal(request.status, 'changes_requested');
    assert.equal(request.outcome?.comment, 'Refund the shipping only.');
    assert.deepEqual(request.outcome?.proposedPayload, { amount: 15, currency: 'USD', order: '7781' });
  });

  test('approve with an edit: the editor checks the catalog schema first, and the agent gets the edited payload', async () => {
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(480));
    const page = ctx.dave.page;
    await decideInPage(ctx.dave, url, request.requestId, async (p) => {
      await p.getByLabel('Approve with edit', { exact: true }).check();
      const editor = p.getByLabel('Edited payload (JSON)');
      await editor.fill('{"amount": 400, "currency": "YEN", "order": "7781"}');
      await p.getByRole('button', { name: 'Check payload' }).click();
      await assertText(p.locator('#check-error'), /currency/);
      await editor.fill('{"amount": 400, "currency": "USD", "order": "7781"}');
      await p.getByRole('button', { name: 'Check payload' }).click();
      await assertText(p.locator('#check-ok'), /valid for payments\.refund/);
    });
    await assertText(page.locator('main p.status-msg'), /Decision recorded: approved/);
    await request.wait(20_000);
    assert.equal(request.status, 'approved');
    assert.equal(request.outcome?.edited, true);
    assert.deepEqual(request.outcome?.payload, { amount: 400, currency: 'USD', order: '7781' });
    // The page shows the version now current, with its diff against the agent's original.
    await page.reload();
    await assertText(page.locator('pre.diff'), /-\s+"amount": 480[\s\S]*\+\s+"amount": 400/);
    // The display fields are the edited version's, rendered when policy evaluated the edit.
    await assertText(page.locator('section.glance dd[data-display="amount"]'), /^400 USD$/);
  });

  test('two approvals: the same reviewer twice does not count, a second reviewer completes it', async () => {
    await enrol(ctx, ctx.erin);
    await confirm(ctx, ctx.erin);
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(7200));
    await decideInPage(ctx.dave, url, request.requestId, async (page) => page.getByLabel('Approve', { exact: true }).check());
    await assertText(ctx.dave.page.locator('main p.status-msg'), /Decision recorded: pending \(1 of 2 approvals\)/);
    await ctx.dave.page.screenshot({ path: join(ARTIFACTS, 'inbox-request.png'), fullPage: true });
    await decideInPage(ctx.dave, url, request.requestId, async (page) => page.getByLabel('Approve', { exact: true }).check());
    await assertText(alertOf(ctx.dave.page), /already approved this version/);
    assert.equal((await stack.ops.view(request.requestId)).status, 'pending');
    await signIn(ctx.erin, url);
    await decideInPage(ctx.erin, url, request.requestId, async (page) => page.getByLabel('Approve', { exact: true }).check());
    await assertText(ctx.erin.page.locator('main p.status-msg'), /Decision recorded: approved/);
    await request.wait(20_000);
    assert.equal(request.status, 'approved');
    assert.deepEqual([...(request.outcome?.reviewers ?? [])].sort(), ['dave', 'erin']);
  });

  test('approve selected: three requests ticked in the queue, one passkey signature, all approved; a high-risk one cannot be ticked', async () => {
    const agent = await stack.agent('support-bot');
    const credit = (n: number) => agentAction({ action: 'invoices.credit', summary: `Credit note for invoice ${n}.`, resource: { type: 'invoice', id: `INV-${n}` }, payload: { invoice: `INV-${n}`, amount: n } });
    const requests = [await agent.submit(credit(11)), await agent.submit(credit(12)), await agent.submit(credit(13))];
    const risky = await agent.submit(refund(330));
    const page = ctx.dave.page;
    await page.goto(url);
    for (const r of [...requests, risky]) await page.locator(`tr[data-request-id="${r.requestId}"]`).waitFor({ timeout: 20_000 });
    // The high-risk refund's rule says nothing of batching, so it forbids it: its box does not stay ticked, and the page says why.
    const riskyBox = page.getByRole('checkbox', { name: new RegExp(`request ${risky.requestId}`) });
    await riskyBox.click();
    await assertText(page.locator('#batch-error'), /^Rule refund-review does not allow batch approval of payments\.refund: open it to approve it on its own\.$/);
    assert.equal(await riskyBox.isChecked(), false);
    for (const r of requests) await page.getByRole('checkbox', { name: new RegExp(`request ${r.requestId}`) }).check();
    await assertText(page.locator('.batch-count'), /^3 requests selected$/);
    // What each signature approves is on the page, not only the agent's summary: the exact payload.
    for (const [i, r] of requests.entries()) await assertText(page.locator(`.batch-list li[data-request-id="${r.requestId}"] pre`), new RegExp(`"amount": ${11 + i}\\b`));
    await page.getByLabel('Comment for each request (optional)').fill('Month-end credits, checked against the ledger.');
    await page.screenshot({ path: join(ARTIFACTS, 'inbox-batch.png'), fullPage: true });
    await page.getByRole('button', { name: 'Approve selected' }).click();
    for (const r of requests) {
      await assertText(page.locator(`.batch-results li[data-request-id="${r.requestId}"]`), new RegExp(`^Approved: invoices\\.credit on invoice:INV-1\\d \\(request ${r.requestId}\\): approved \\(1 of 1 approvals\\)$`));
    }
    await page.screenshot({ path: join(ARTIFACTS, 'inbox-batch-approved.png'), fullPage: true });
    for (const r of requests) {
      await r.wait(20_000);
      assert.equal(r.status, 'approved');
      assert.deepEqual(r.outcome?.reviewers, ['dave']);
    }
    // One passkey assertion for all three; each run checked its own leaf and keeps the batch: one root, its own index.
    const kept = await Promise.all(requests.map(async (r) => (await stack.cs.evidence(r.requestId)).bundle.events.find((e) => e.type === 'approved')!.data!));
    assert.equal(new Set(kept.map((d) => (d.passkey as { signature: string }).signature)).size, 1);
    assert.equal(new Set(kept.map((d) => (d.batch as { root: string }).root)).size, 1);
    assert.deepEqual(kept.map((d) => [(d.batch as { index: number }).index, (d.batch as { size: number }).size, d.assurance, d.comment]), [0, 1, 2].map((i) => [i, 3, 'passkey', 'Month-end credits, checked against the ledger.']));
    for (const r of requests) await page.locator(`tr[data-request-id="${r.requestId}"]`).waitFor({ state: 'detached', timeout: 20_000 });
    assert.equal((await stack.ops.view(risky.requestId)).status, 'pending');
    await stack.cs.decide(risky.requestId, await signedDecision(stack, risky.requestId, { decision: 'deny', reviewer: 'erin', reasonCode: 'NOT_JUSTIFIED', message: 'No.' }));
  });

  test('the catalog\'s display fields and the approvals so far (0/2, then 1/2) in GET /v1/reviews, the queue and the request page; the summary is marked as the agent\'s', async () => {
    const base = url.replace(/\/inbox$/, '');
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(7300));
    const cookie = (await ctx.dave.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const rowOf = async () => {
      const res = await fetch(`${base}/v1/reviews?group=finance`, { headers: { cookie, host: new URL(base).host } });
      assert.equal(res.status, 200);
      const { requests } = (await res.json()) as { requests: { requestId: string; display?: unknown; approvals?: number; approvalsNeeded?: number }[] };
      const row = requests.find((r) => r.requestId === request.requestId);
      assert.ok(row, 'listed');
      return row;
    };
    // Visibility lags the run's memo: eventually.
    await eventually(async () => {
      const row = await rowOf();
      assert.deepEqual(row.display, [{ name: 'amount', value: '7300 USD' }, { name: 'order', value: '7781' }]);
      assert.deepEqual([row.approvals, row.approvalsNeeded], [0, 2]);
    }, 'listed 0/2 with its display fields', 100, 200);
    const page = ctx.dave.page;
    await page.goto(url);
    const tr = page.locator(`tr[data-request-id="${request.requestId}"]`);
    await tr.waitFor({ timeout: 20_000 });
    assert.deepEqual((await page.locator('table.queue thead th').allTextContents()).map((t) => t.replace(/[▲▼↕]/g, '').trim()),
      ['Action', 'Resource', 'Amount', 'Order', 'Approvals', 'Risk', 'Group', 'Agent', 'Age', 'Time left']);
    assert.equal(await tr.locator('td[data-display="amount"]').textContent(), '7300 USD');
    assert.equal(await tr.locator('td[data-display="order"]').textContent(), '7781');
    await assertText(tr.locator('td.approvals-cell'), /^0\/2$/);
    // The request view (GET /v1/reviews/<id>) carries them in its policy verdict.
    const viewed = (await (await fetch(`${base}/v1/reviews/${request.requestId}`, { headers: { cookie, host: new URL(base).host } })).json()) as { policy?: { display?: unknown } };
    assert.deepEqual(viewed.policy?.display, [{ name: 'amount', value: '7300 USD' }, { name: 'order', value: '7781' }]);

    // The request page: the catalog's lines first, marked as countersign's; the agent's summary marked as its words; then the raw JSON.
    await decideInPage(ctx.dave, url, request.requestId, async (p) => {
      await assertText(p.locator('h1'), /^payments\.refund on customer:C-42$/);
      const glance = p.locator('section.glance');
      await assertText(glance, /From the catalog/);
      assert.equal(await glance.locator('dd[data-display="amount"]').textContent(), '7300 USD');
      assert.equal(await glance.locator('dd[data-display="order"]').textContent(), '7781');
      await assertText(glance.locator('.agent-says'), /^The agent says:Refund 7300 USD on order 7781: the parcel never arrived\.$/);
      const order = await p.evaluate<string[]>(`[...document.querySelectorAll('.request-main > section h2')].map((h) => h.textContent)`);
      assert.deepEqual(order.slice(0, 3), ['At a glance', 'Request', 'Payload']);
      assert.doesNotMatch((await p.locator('main .request').textContent()) ?? '', /^null|\bundefined\b|\[object Object\]/);
      await p.getByLabel('Approve', { exact: true }).check();
    });
    await assertText(page.locator('main p.status-msg'), /Decision recorded: pending \(1 of 2 approvals\)/);
    await eventually(async () => assert.deepEqual([(await rowOf()).approvals, (await rowOf()).approvalsNeeded], [1, 2]), 'listed 1/2', 100, 200);
    await page.goto(url);
    await assertText(page.locator(`tr[data-request-id="${request.requestId}"] td.approvals-cell`), /^1\/2$/);
    await page.screenshot({ path: join(ARTIFACTS, 'inbox-queue-display.png'), fullPage: true });
  });

  test('the step-up link (/inbox/requests/<id>?version=<digest>) opens that version; a passkey approval on a passkey-level rule records assurance passkey', async () => {
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(315));
    const view = await stack.ops.view(request.requestId);
    assert.equal(view.policy?.assurance, 'passkey', 'refund-review names no assurance: passkey, the default');
    const page = ctx.dave.page;
    // A link to a version that is no longer the one under review says so before anything is signed.
    await page.goto(`${url}/requests/${request.requestId}?version=${'0'.repeat(64)}`);
    await assertText(page.locator('#version-notice'), /This request changed since your link was made\. The link named version 000000000000…; the version now under review is/);
    // The link as the Slack message makes it: this exact version.
    await page.goto(`${url}/requests/${request.requestId}?version=${view.currentDigest}`);
    await assertText(page.locator('#version-notice'), new RegExp(`^This is the version your link named \\(${view.currentDigest.slice(0, 12)}…\\)\\.$`));
    await page.getByRole('group', { name: 'Your decision' }).waitFor();
    await page.getByLabel('Approve', { exact: true }).check();
    await page.getByRole('button', { name: 'Sign and submit' }).click();
    await assertText(page.locator('main p.status-msg'), /Decision recorded: approved/);
    await request.wait(20_000);
    assert.equal(request.status, 'approved');
    assert.deepEqual(request.outcome?.reviewers, ['dave']);
    const approved = (await stack.ops.view(request.requestId)).history.find((e) => e.type === 'approved')!;
    assert.equal(approved.actor, 'dave');
    assert.equal(approved.data!.assurance, 'passkey');
    assert.equal(approved.data!.channel, 'inbox');
    assert.equal((approved.data!.passkey as { credentialId: string }).credentialId, ctx.dave.credentialId);
  });

  test('a stale page is refused with STALE_VERSION, and the page shows the new version', async () => {
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(7600));
    const page = ctx.dave.page;
    await page.goto(`${url}/requests/${request.requestId}`);
    await page.getByRole('group', { name: 'Your decision' }).waitFor();
    // Meanwhile erin edits the payload from her own page: a new version.
    await decideInPage(ctx.erin, url, request.requestId, async (p) => {
      await p.getByLabel('Approve with edit', { exact: true }).check();
      await p.getByLabel('Edited payload (JSON)').fill('{"amount": 7000, "currency": "USD", "order": "7781"}');
    });
    await assertText(ctx.erin.page.locator('main p.status-msg'), /Decision recorded/);
    await page.getByLabel('Approve', { exact: true }).check();
    await page.getByRole('button', { name: 'Sign and submit' }).click();
    await assertText(alertOf(page), /The request changed while you were looking: .*payload changed since dave was shown it/);
    await assertText(page.locator('pre.code:not(.diff)'), /"amount": 7000/);
    assert.deepEqual((await stack.ops.view(request.requestId)).approvals, ['erin']);
  });

  test('keyboard only: from the queue to a signed denial without a mouse', async () => {
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(275));
    const page = ctx.dave.page;
    await page.goto(url);
    await page.locator(`tr[data-request-id="${request.requestId}"]`).waitFor({ timeout: 20_000 });
    await tabTo(page, `tr[data-request-id="${request.requestId}"] a`);
    await page.keyboard.press('Enter');
    await page.getByRole('group', { name: 'Your decision' }).waitFor();
    await tabTo(page, '#decision-approve');
    await page.keyboard.press('ArrowDown'); // Approve with edit
    await page.keyboard.press('ArrowDown'); // Deny
    assert.equal(await page.getByLabel('Deny', { exact: true }).isChecked(), true);
    await tabTo(page, '#field-reasonCode');
    await page.keyboard.type('NEEDS_MORE_CONTEXT');
    await tabTo(page, '#field-message');
    await page.keyboard.type('Which parcel? The order has three.');
    await tabTo(page, 'button:text-is("Sign and submit")');
    await page.keyboard.press('Enter');
    await assertText(page.locator('main p.status-msg'), /Decision recorded: denied/);
    await request.wait(20_000);
    assert.equal(request.outcome?.reviewerReason, 'NEEDS_MORE_CONTEXT');
  });

  test('readable at phone width, and every decision control has a label', async () => {
    const phone = await openBrowser(ctx.browser, 'dave-phone', { width: 390, height: 844 });
    // The session is the cookie of dave's own context: sign in on the phone with the same passkey is
    // another authenticator, so this one looks at the sign-in page and at dave's page through his cookie.
    await phone.context.addCookies(await ctx.dave.context.cookies());
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(150));
    await phone.page.goto(`${url}/requests/${request.requestId}`);
    await phone.page.getByRole('group', { name: 'Your decision' }).waitFor();
    const width = await phone.page.evaluate<number>('document.documentElement.scrollWidth');
    assert.ok(width <= 390, `no horizontal scrolling at phone width (page is ${width}px wide)`);
    for (const label of ['Approve', 'Approve with edit', 'Deny', 'Request changes']) assert.equal(await phone.page.getByLabel(label, { exact: true }).count(), 1, label);
    await phone.page.screenshot({ path: join(ARTIFACTS, 'inbox-request-phone.png'), fullPage: true });
    await phone.context.close();
  });

  test('a passkey removed from the directory ends its session and decides nothing more, even on requests already routed', async () => {
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(333));
    const phone = await openBrowser(ctx.browser, 'erin-again');
    await phone.context.addCookies(await ctx.erin.context.cookies());
    const doc = parseDocument(readFileSync(stack.policyFile, 'utf8'));
    doc.deleteIn(['directory', 'reviewers', 'erin', 'passkeys']);
    writeFileSync(stack.policyFile, doc.toString());
    assert.equal(stack.reloadPolicy(), true);
    assert.ok(!readFileSync(stack.policyFile, 'utf8').includes(ctx.erin.credentialId!), "erin's passkey is out of the policy");
    await phone.page.goto(`${url}/requests/${request.requestId}`);
    await phone.page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
    // Signed by the removed passkey and sent straight to Temporal: the workflow looks the passkey up now.
    const view = await stack.ops.view(request.requestId);
    const { decisionStatement, statementTarget } = await import('../common/signing');
    const { decisionChallenge } = await import('../common/signing');
    const { bytesToBase64Url } = await import('../common/webauthn');
    const signedAt = new Date().toISOString();
    const decision = { decision: 'approve' as const, reviewer: 'erin', versionDigest: view.currentDigest };
    const statement = decisionStatement(statementTarget(view, { versionDigest: view.currentDigest, policyDigest: view.policy!.policyDigest }), decision, signedAt);
    const passkey = await ctx.erin.sign(bytesToBase64Url(decisionChallenge(statement)), ctx.erin.credentialId!);
    await assert.rejects(stack.ops.decide(request.requestId, { ...decision, signature: { signedAt, passkey } }), (err: unknown) => {
      assert.ok(err instanceof DecisionRefusedError, String(err));
      assert.equal(err.code, ReasonCode.UNAUTHENTICATED);
      return true;
    });
    assert.equal((await stack.ops.view(request.requestId)).status, 'pending');
    await phone.context.close();
  });

  test('an inbox session never reaches agent endpoints, and a change without its CSRF token is refused', async () => {
    const cookies = await ctx.dave.context.cookies();
    const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    const base = url.replace(/\/inbox$/, '');
    const origin = { cookie, host: new URL(base).host };
    const list = await fetch(`${base}/v1/requests`, { headers: origin });
    assert.equal(list.status, 403);
    const submit = await fetch(`${base}/v1/requests`, { method: 'POST', headers: { ...origin, 'content-type': 'application/json' }, body: JSON.stringify({ agentId: 'support-bot', ...refund(200) }) });
    assert.equal(submit.status, 403);
    const agent = await stack.agent('support-bot');
    const request = await agent.submit(refund(260));
    const noCsrf = await fetch(`${base}/v1/reviews/${request.requestId}/statement`, {
      method: 'POST',
      headers: { ...origin, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approve', versionDigest: (await stack.ops.view(request.requestId)).currentDigest }),
    });
    assert.equal(noCsrf.status, 403);
    assert.match(((await noCsrf.json()) as { detail: string }).detail, /x-countersign-csrf/);
    const queue = await fetch(`${base}/v1/reviews`, { headers: origin });
    assert.equal(queue.status, 200, 'reading the queue needs no CSRF token');
  });

  test('a cloned passkey (the same key, its counter behind) is refused at sign-in and for a decision; the original goes on', async () => {
    const base = url.replace(/\/inbox$/, '');
    const { credentials } = await ctx.dave.cdp.send('WebAuthn.getCredentials', { authenticatorId: ctx.dave.authenticatorId });
    const original = credentials[0]!;
    assert.ok(original.signCount > 0, `the virtual authenticator counts its signatures (at ${original.signCount})`);
    // The cloner copied the key some signatures ago: its counter is behind the original's.
    const clone = await openBrowser(ctx.browser, 'dave-clone');
    await clone.cdp.send('WebAuthn.addCredential', { authenticatorId: clone.authenticatorId, credential: { ...original, signCount: 0 } });
    try {
      await clone.page.goto(url);
      await clone.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await assertText(alertOf(clone.page), /signature counter did not move forward/);
      assert.deepEqual(await clone.context.cookies(), [], 'no session cookie');

      // A decision signed by the clone, sent with dave's own session: refused, and the request is untouched.
      const request = await (await stack.agent('support-bot')).submit(refund(275));
      const cookie = (await ctx.dave.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
      const headers = { cookie, host: new URL(base).host, 'content-type': 'application/json' };
      const { csrf } = (await (await fetch(`${base}/v1/inbox/me`, { headers })).json()) as { csrf: string };
      const view = await stack.ops.view(request.requestId);
      const decide = async (who: ReviewerBrowser) => {
        const asked = (await (await fetch(`${base}/v1/reviews/${request.requestId}/statement`, { method: 'POST', headers: { ...headers, 'x-countersign-csrf': csrf }, body: JSON.stringify({ decision: 'approve', versionDigest: view.currentDigest }) })).json()) as { challenge: string; signedAt: string };
        const passkey = await who.sign(asked.challenge, ctx.dave.credentialId!);
        const res = await fetch(`${base}/v1/reviews/${request.requestId}/decisions`, { method: 'POST', headers: { ...headers, 'x-countersign-csrf': csrf }, body: JSON.stringify({ decision: 'approve', versionDigest: view.currentDigest, signature: { signedAt: asked.signedAt, passkey } }) });
        return { status: res.status, body: (await res.json()) as { detail?: string; status?: string } };
      };
      const cloned = await decide(clone);
      assert.equal(cloned.status, 401, JSON.stringify(cloned.body));
      assert.match(cloned.body.detail ?? '', /signature counter did not move forward/);
      assert.equal((await stack.ops.view(request.requestId)).approvals.length, 0, 'nothing was decided');
      // The original authenticator's count moved on: it signs in and decides as before.
      const real = await decide(ctx.dave);
      assert.equal(real.status, 200, JSON.stringify(real.body));
      await eventually(async () => assert.equal((await stack.ops.view(request.requestId)).status, 'approved'), 'approved', 50, 200);
    } finally {
      await clone.context.close();
    }
  });

  test('signing out ends the inbox session on the server: a copy of the cookie is refused afterwards', async () => {
    const base = url.replace(/\/inbox$/, '');
    const cookie = (await ctx.dave.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const headers = { cookie, host: new URL(base).host };
    assert.equal((await fetch(`${base}/v1/reviews`, { headers })).status, 200);
    await ctx.dave.page.goto(url);
    await ctx.dave.page.getByRole('button', { name: 'Sign out' }).click();
    await ctx.dave.page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
    const copied = await fetch(`${base}/v1/reviews`, { headers });
    assert.equal(copied.status, 401);
    assert.match(((await copied.json()) as { detail: string }).detail, /ended \(logged out\)/);
    // Signing in again makes a new session.
    await signIn(ctx.dave, url);
  });

  test('a long queue shows its newest 100, says more may wait, and "Show 100 more" brings the rest', async () => {
    const agent = await stack.agent('support-bot');
    const submitted = await Promise.all(Array.from({ length: 101 }, (_, i) => agent.submit(refund(1000 + i), { waitMs: 0 })));
    // Visibility is eventually consistent: count only once every request just sent is listed.
    const open = await eventually(async () => {
      const listed = new Set((await stack.ops.listPending({ group: 'finance' })).map((row) => row.requestId));
      const missing = submitted.filter((r) => !listed.has(r.requestId)).length;
      assert.equal(missing, 0, `${missing} of the 101 not yet listed for finance`);
      return listed.size;
    }, 'all 101 listed for finance', 200);
    assert.ok(open <= 200, `the test expects one "Show more" to reach every request (${open} open)`);
    const page = ctx.dave.page;
    await page.goto(url);
    const rows = page.locator('tbody tr[data-request-id]');
    await eventually(async () => assert.equal(await rows.count(), 100), 'the first page: 100 rows', 100, 200);
    await assertText(page.locator('p.count'), /^The newest 100 requests waiting$/);
    await assertText(page.locator('main'), /More requests may wait than this page shows\./);
    await page.getByRole('button', { name: 'Show 100 more' }).click();
    await eventually(async () => assert.equal(await rows.count(), open), `all ${open} rows`, 100, 200);
    await assertText(page.locator('p.count'), new RegExp(`^${open} requests waiting$`));
    assert.equal(await page.getByRole('button', { name: 'Show 100 more' }).isVisible(), false, 'nothing more to show');
    // Choosing the group asks the server for that group's queue (another group's requests may not be on a page at all).
    const asked: string[] = [];
    page.on('request', (r) => asked.push(r.url()));
    await page.locator('#filter-group').selectOption('finance');
    await eventually(() => assert.ok(asked.some((u) => /\/v1\/reviews\?limit=100&group=finance$/.test(u)), asked.join('\n')), 'the queue asked for finance', 100, 100);
    await eventually(async () => assert.equal(await rows.count(), 100), 'a fresh first page for the group', 100, 200);
    await page.locator('#filter-group').selectOption('');
  });

  test('the browser modules and constants.js: the server\'s own values, its headers, and nothing outside server/inbox/', async () => {
    const base = url.replace(/\/inbox$/, '');
    const page = await rawGet(base, '/inbox');
    const csp = page.headers['content-security-policy'];
    assert.match(String(csp), /script-src 'self'/);
    const served = async (path: string) => {
      const res = await rawGet(base, path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8', path);
      assert.equal(res.headers['content-security-policy'], csp, path);
      assert.equal(res.headers['cache-control'], 'no-store', path);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', path);
      return res.body;
    };
    // Every module in server/inbox/ is served as it is (a module left off the allow-list would fail here).
    const dir = join(__dirname, '..', 'server', 'inbox');
    const modules = readdirSync(dir).filter((f) => f.endsWith('.js'));
    assert.deepEqual([...modules].sort(), [...INBOX_MODULES].sort());
    for (const file of modules) assert.equal(await served(`/inbox/assets/${file}`), readFileSync(join(dir, file), 'utf8'), file);
    // constants.js is the server's values, as the modules import them.
    const constants = (await import(`data:text/javascript;base64,${Buffer.from(await served('/inbox/assets/constants.js')).toString('base64')}`)) as Record<string, unknown>;
    assert.deepEqual({ ...constants }, {
      OPEN_STATUSES: ['evaluating', 'pending', 'escalated'],
      WAITING_STATUSES: ['pending', 'escalated'],
      RISK_ORDER: ['low', 'medium', 'high', 'critical'],
      DEFAULT_PAGE_SIZE: 100,
      MAX_PAGE_SIZE: 500,
      MAX_BATCH_SIZE: 50,
      SUGGESTED_DENY_REASONS: [...SUGGESTED_DENY_REASONS],
      REASON_CODES: { ...ReasonCode },
      CSRF_HEADER: 'x-countersign-csrf',
    });
    assert.deepEqual(constants.OPEN_STATUSES, [...OPEN_STATUSES]);
    assert.deepEqual(constants.WAITING_STATUSES, [...WAITING_STATUSES]);
    assert.deepEqual(constants.RISK_ORDER, [...RISK_ORDER]);
    assert.deepEqual([constants.DEFAULT_PAGE_SIZE, constants.MAX_PAGE_SIZE], [DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE]);
    assert.ok(Object.isFrozen(constants.OPEN_STATUSES) && Object.isFrozen(constants.REASON_CODES));
    // Only names on the list: no path reaches past server/inbox/, and an unknown module is a 404.
    for (const path of [
      '/inbox/../server/app.ts', '/inbox/assets/../../server/app.ts', '/inbox/assets/..%2F..%2Fserver%2Fapp.ts', '/inbox/assets/%2e%2e%2finbox.ts',
      '/inbox/assets/..%5C..%5Cpackage.json', '/inbox/assets/nope.js', '/inbox/assets/index.html', '/inbox/assets/html', '/inbox/assets/__proto__',
      '/inbox/assets/constructor', '/inbox/assets/inbox.ts', '/inbox/assets/inbox-assets.ts', '/inbox/constants.js', '/inbox/assets/dom.js/x',
    ]) {
      const res = await rawGet(base, path);
      assert.equal(res.status, 404, `${path}: ${res.status}`);
      assert.doesNotMatch(res.body, /registerInbox|"name": "countersign"|export function/, path);
    }
    // In Chromium, under the page's CSP: the modules load and run, with no violation and no error.
    const context = await ctx.browser.newContext();
    try {
      const tab = await context.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (err) => errors.push(err.message));
      tab.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
      const loaded: string[] = [];
      tab.on('response', (r) => { if (r.url().includes('/inbox/assets/')) loaded.push(`${new URL(r.url()).pathname} ${r.status()}`); });
      await tab.goto(url);
      await tab.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
      // A string, not a function: the test's own compiler would turn a function's import() into a require().
      const inPage = await tab.evaluate(`import('/inbox/assets/constants.js').then((m) => ({ open: m.WAITING_STATUSES, risks: m.RISK_ORDER, page: m.DEFAULT_PAGE_SIZE }))`);
      assert.deepEqual(inPage, { open: [...WAITING_STATUSES], risks: [...RISK_ORDER], page: DEFAULT_PAGE_SIZE });
      for (const file of ['constants.js', ...INBOX_MODULES]) assert.ok(loaded.includes(`/inbox/assets/${file} 200`), `${file}: ${loaded.join(', ')}`);
      // The sign-in check's 401 (not signed in) is the only error the console shows.
      assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
    } finally {
      await context.close();
    }
  });

  test('linking Slack in the browser: /inbox/link names the Slack user who will act as the reviewer, a passkey confirms it, and only once', async () => {
    const base = url.replace(/\/inbox$/, '');
    const user = { id: 'U0DAVEWEB', name: 'dave.web' };
    const toSlack = (text: string) => {
      const body = slashCommand({ user, text });
      return fetch(`${base}/v1/slack/commands`, { method: 'POST', headers: signedHeaders(body), body });
    };
    const res = await toSlack('link');
    assert.equal(res.status, 200);
    const reply = (await res.json()) as { response_type: string; text: string };
    assert.equal(reply.response_type, 'ephemeral');
    const link = new RegExp(`${url}/link#code=[A-Za-z0-9_.-]+`).exec(reply.text)?.[0];
    assert.ok(link, reply.text);
    const page = ctx.dave.page;
    await page.goto(link);
    await assertText(page.locator('main'), /Slack user @dave\.web \(U0DAVEWEB, team T0COUNTER\) will act as you, dave, in Slack/);
    assert.ok(!page.url().includes('code='), 'the code leaves the address bar once read');
    await page.getByRole('button', { name: 'Confirm with your passkey' }).click();
    await assertText(page.locator('main p[role=status]'), /Slack user @dave\.web now acts as dave in Slack/);
    // The same link again: the page offers it, the server refuses its second use.
    await page.goto(link);
    await page.getByRole('button', { name: 'Confirm with your passkey' }).click();
    await assertText(page.locator('main p[role=alert]'), /used already/);
    // In Slack, the user is now dave.
    assert.equal((await toSlack('whoami')).status, 200);
    await slack.waitFor('chat.postEphemeral', (a) => a.user === user.id && /linked to countersign reviewer dave/.test(String(a.text)), 'whoami answered');
  });
});

/** A GET with the path exactly as given (fetch would resolve ../ before sending). */
function rawGet(base: string, path: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(base, { path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Presses Tab until the focused element matches `selector` (at most 80 times). */
async function tabTo(page: Page, selector: string): Promise<void> {
  for (let i = 0; i < 80; i++) {
    if (await page.locator(selector).evaluate((node) => node === node.ownerDocument.activeElement).catch(() => false)) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`Tab never reached ${selector}`);
}

/** Recomputes the hash chain and the bundle's signature with the layer key (a forger who holds it). */
function resealed(bundle: EvidenceBundle, stack: Stack): void {
  let prevHash = bundle.events[0]!.prevHash;
  for (const event of bundle.events) {
    event.prevHash = prevHash;
    const { hash: _old, ...rest } = event;
    event.hash = eventHash(rest);
    prevHash = event.hash;
  }
  const { signature: _sig, ...body } = bundle;
  bundle.signature = stack.signer.sign('countersign/evidence-bundle/v1', body).signature;
}
