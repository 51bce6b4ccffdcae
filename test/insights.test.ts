/**
 * Insights at the front door (issue 28): GET /v1/insights over the store's sealed evidence, for
 * auditors only; `countersign insights`; and the inbox's Insights page in Chromium. The figures are
 * asserted exactly on the scripted mix of test/support/recorded.ts: bundles crafted with known
 * outcomes and decision times and signed with the stack's layer key, sealed into the stack's store
 * as the worker seals them. Insights read bundles only, so this sets every decision time exactly,
 * without sleeping and without a time-skipping server (the workflow times only reach insights
 * through the bundle; test/simulate.test.ts reads bundles the real workflow sealed).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { chromium, type Browser } from 'playwright-core';
import { InsightsReport, RecordedRequests } from '../common/insights/report';
import { ensureChromium } from './support/chromium';
import { cliFor } from './support/cli';
import { recordedBundle, sealRecorded, SCRIPTED_MIX } from './support/recorded';
import { testEnvironment } from './support/server';
import { startStack, type Stack, type StackContext } from './support/stack';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: finance, sla: 1h }
groups:
  finance: { members: [dave, erin] }
  support: { members: [alice] }
rules:
  - id: small-refunds
    match: { action: payments.refund }
    when: payload.amount <= 50
    decision: allow
`;

const ARTIFACTS = join(__dirname, 'artifacts');
const ctx = {} as StackContext;
let stack: Stack;
let env: TestWorkflowEnvironment;

before(async () => {
  env = await testEnvironment();
  stack = await startStack(env, POLICY, { inbox: true });
  Object.assign(ctx, { env, stack });
  for (const spec of SCRIPTED_MIX) await sealRecorded(stack.store, recordedBundle(stack.signer, spec));
});
after(async () => {
  await stack?.stop();
  await env?.teardown();
});

async function get(path: string, bearer?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(new URL(path, stack.url), { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
const auditor = () => stack.auditorKeys.get('audrey')!;

describe('GET /v1/insights', () => {
  test('an auditor gets the figures of the scripted mix, exactly', async () => {
    const res = await get('/v1/insights?since=7d', auditor());
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const r = InsightsReport.parse(res.json);
    assert.deepEqual(r.outcomes, { requests: 10, auto_allowed: 2, edge_allowed: 0, policy_denied: 1, invalid: 0, reviewed: 7, approved: 4, denied: 1, changes_requested: 1, expired: 1, cancelled: 0, executed: 2, failed: 1 });
    assert.equal(r.automatedShare, 0.3);
    assert.deepEqual([r.window.bundles, r.window.unreadable, r.window.complete], [10, 0, true]);
    assert.deepEqual(r.byAction.map((a) => [a.action, a.requests]), [['payments.refund', 7], ['account.email.change', 2], ['db.drop', 1]]);
    assert.deepEqual(r.byAgent.map((a) => [a.agent, a.requests]), [['support-bot', 6], ['ops-bot', 4]]);
    assert.deepEqual(r.timeToDecideByGroup.map((g) => [g.group, g.count, g.p50Ms, g.p90Ms, g.slaBreaches, g.escalations]), [['finance', 5, 8000, 120000, 0, 0], ['support', 1, 300000, 300000, 1, 1]]);
    assert.deepEqual(r.reviewers.map((v) => [v.reviewer, v.count, v.approvalRate, v.medianMs, v.fastShare, v.flag ?? null]), [
      ['dave', 5, 1, 4000, 1, 'approved 100 % of 5 decisions, 100 % of them within 10 s of being shown (median 4 s)'],
      ['erin', 2, 0.5, 60000, 0, null],
      ['alice', 1, 0, 300000, 0, null],
    ]);
    assert.equal(r.charts, undefined, 'charts only when asked for');
    const charted = InsightsReport.parse((await get('/v1/insights?since=7d&charts=svg', auditor())).json);
    assert.match(charted.charts!.outcomesByAction!, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*>.*payments\.refund.*<\/svg>$/s);
    assert.doesNotMatch(Object.values(charted.charts!).join(''), /<script|on[a-z]+=|href=/i, 'nothing in a chart runs or links');
  });

  test('the recorded requests, paged, each with its request and the verdict then', async () => {
    const res = await get('/v1/insights/requests?since=30d', auditor());
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const page = RecordedRequests.parse(res.json);
    assert.equal(page.items.length, 10);
    assert.equal(page.next, undefined);
    assert.deepEqual(page.items.map((i) => i.verdict?.decision).sort(), ['allow', 'allow', 'deny', 'review', 'review', 'review', 'review', 'review', 'review', 'review']);
    assert.ok(page.items.every((i) => typeof i.request.payload === 'object' && !('agentKey' in i.request)));
  });

  test('reviewers and agents are refused 403, no credential 401, bad parameters 422 naming the field', async () => {
    const olga = await ((await stack.reviewer('dave')) as unknown as { bearer(): Promise<string> }).bearer();
    for (const path of ['/v1/insights', '/v1/insights/requests']) {
      const asReviewer = await get(path, olga);
      assert.equal(asReviewer.status, 403);
      assert.equal(asReviewer.json.detail, 'This endpoint is for auditors; you are signed in as reviewer dave.');
      const asAgent = await get(path, stack.agentKeys.get('support-bot')!);
      assert.equal(asAgent.status, 403);
      assert.equal(asAgent.json.detail, 'This endpoint is for auditors; you are signed in as agent support-bot.');
      assert.equal((await get(path)).status, 401);
    }
    const bad = async (path: string, detail: RegExp) => {
      const res = await get(path, auditor());
      assert.equal(res.status, 422, path);
      assert.match(String(res.json.detail), detail);
    };
    await bad('/v1/insights?since=400d', /^Query parameter "since" must be a duration back from now such as 7d or 12h, at most 366d, got "400d"\.$/);
    await bad('/v1/insights?since=yesterday', /"since" must be a duration/);
    await bad('/v1/insights?charts=png', /^Query parameter "charts" may only be svg, got "png"\.$/);
    await bad('/v1/insights/requests?cursor=bogus', /^Query parameter "cursor" is not one this server gave/);
  });
});

describe('countersign insights', () => {
  const cli = cliFor(ctx);

  test('prints the figures, and --json the same report as the endpoint', async () => {
    const text = await cli(['insights', '--since', '7d'], { COUNTERSIGN_API_KEY: auditor() });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Insights for the last 7d \(.+\): 10 requests\.$/m);
    assert.match(text.stdout, /^Automated: 30 % \(2 auto-allowed, 1 denied by policy, 0 invalid\)\. Reviewed: 7 — 4 approved, 1 denied, 1 changes requested, 1 expired\. Executed 2, failed 1\.$/m);
    assert.match(text.stdout, /^SLA breaches: 1\. Escalations: 1 \(1 request\)\.$/m);
    assert.match(text.stdout, /^dave +5 +100 % +4s +8s +100 % +rubber stamp\? approved 100 % of 5 decisions, 100 % of them within 10 s of being shown \(median 4 s\)$/m);
    assert.match(text.stdout, /^finance +5 +8s +2m +0 +0$/m);
    const json = await cli(['insights', '--json'], { COUNTERSIGN_API_KEY: auditor() });
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(InsightsReport.parse(JSON.parse(json.stdout)).outcomes.requests, 10);
  });

  test('without an auditor key, or with a bad window, it exits 2 with one sentence', async () => {
    const agent = await cli(['insights'], { COUNTERSIGN_API_KEY: stack.agentKeys.get('support-bot')! });
    assert.equal(agent.code, 2);
    assert.match(agent.stderr, /insights needs an auditor's API key in COUNTERSIGN_API_KEY \(countersign keys auditor NAME\); this one is agent support-bot's\./);
    const none = await cli(['insights'], { COUNTERSIGN_API_KEY: '' });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /insights needs an auditor's API key/);
    const window = await cli(['insights', '--since', 'forever'], { COUNTERSIGN_API_KEY: auditor() });
    assert.equal(window.code, 2);
    assert.match(window.stderr, /--since must be a duration back from now such as 7d or 12h, at most 366d, got "forever"\./);
  });
});

const chromiumAt = ensureChromium();

describe('the Insights page in Chromium', { skip: 'skip' in chromiumAt ? chromiumAt.skip : false }, () => {
  let browser: Browser;
  before(async () => {
    browser = await chromium.launch({ executablePath: (chromiumAt as { path: string }).path, args: ['--no-sandbox'] });
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
  });

  test('an auditor pastes their key and sees the figures, the flag on dave and three charts, under the strict CSP', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    await page.goto(`${stack.inboxUrl}/insights`);
    await page.getByLabel('Auditor API key').fill('cs_auditor_' + 'A'.repeat(43));
    await page.getByRole('button', { name: 'Show insights' }).click();
    await page.getByRole('alert').filter({ hasText: 'That is not a valid auditor key.' }).waitFor();

    await page.getByLabel('Auditor API key').fill(auditor());
    await page.getByRole('button', { name: 'Show insights' }).click();
    await page.locator('#insights .tiles').waitFor();
    assert.match(await page.locator('#insights .lead').innerText(), /^10 requests sealed between/);
    assert.deepEqual(await page.locator('.tile-value').allInnerTexts(), ['30 %', '7', '1', '2']);
    assert.deepEqual(await page.locator('.flags li').allInnerTexts(), ['dave: approved 100 % of 5 decisions, 100 % of them within 10 s of being shown (median 4 s)']);
    const charts = page.locator('img.chart');
    assert.equal(await charts.count(), 3);
    for (let i = 0; i < 3; i++) assert.ok(await charts.nth(i).evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).complete && (img as unknown as { naturalWidth: number }).naturalWidth > 0), `chart ${i} is drawn`);
    assert.match(await page.locator('table').first().innerText(), /dave\s+5\s+100 %\s+4 s\s+8 s\s+100 %/);
    assert.deepEqual(violations, []);
    assert.equal(await page.evaluate('document.cookie + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)'), '{}{}', 'the key is kept nowhere but the page');
    await page.screenshot({ path: join(ARTIFACTS, 'insights.png'), fullPage: true });
    if (process.env.COUNTERSIGN_UPDATE_SCREENSHOTS) copyFileSync(join(ARTIFACTS, 'insights.png'), join(__dirname, '..', 'docs', 'images', 'insights.png'));
    await page.close();
  });
});
