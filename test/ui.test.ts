/**
 * The Temporal UI as ops use it (DESIGN §7): a real Temporal dev server with its web UI, a
 * countersign worker, and headless Chromium (playwright-core) on the workflow list filtered by
 * countersign search attributes, then on each pending approval's detail page.
 *
 * What Temporal UI 2.42 (`temporal server start-dev`) renders: the workflow list has columns
 * Status, Workflow ID, Run ID, Type, Start, End and no column for a workflow's static summary
 * (user metadata); the summary and details are on the detail page's "User Metadata" tab, each
 * rendered as markdown inside an <iframe title="output">.
 *
 * This file starts its own dev server (the one test/run.ts shares has no UI). Screenshots go to
 * test/artifacts/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ALL_SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { findOrBuildTemporalCli } from '../cli/temporal-cli';
import { ensureChromium } from './support/chromium';
import { eventually } from './support/eventually';
import { freePort } from './support/ports';
import { action, startStack, type Stack } from './support/stack';
import { decideSeen } from './support/review';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: ops, sla: 1h, tokenTtl: 5m }
groups:
  support: { members: [alice, bob] }
  finance: { members: [dave, erin, frank] }
  ops: { members: [oscar] }
rules:
  - id: refund-small
    match: { action: payments.refund }
    when: "payload.amount <= 100"
    decision: allow
  - id: refund-large
    match: { action: payments.refund }
    when: "payload.amount > 100"
    decision: review
    risk: high
    reason: Refunds over 100 need finance.
    reviewers: finance
  - id: customer-email
    match: { action: email.send }
    decision: review
    reviewers: support
`;

const FINANCE_QUERY = 'CountersignStatus="pending" AND CountersignGroup="finance"';
const PENDING_QUERY = 'CountersignStatus="pending"';
const ARTIFACTS = join(__dirname, 'artifacts');
const ROW = '[data-testid="workflows-summary-configurable-table-row"]';

/** An approval the test created, with the summary the agent gave. */
interface Made {
  workflowId: string;
  summary: string;
}

const chromiumCheck = ensureChromium();
const skip = 'skip' in chromiumCheck ? chromiumCheck.skip : undefined;
if (skip) console.log(`[ui test] SKIPPED: ${skip}`);


describe('Temporal UI: the finance queue, filtered by countersign search attributes', { skip }, () => {
  let env: TestWorkflowEnvironment | undefined;
  let stack: Stack | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let uiBase: string;
  const financePending: Made[] = [];
  let otherGroupPending: Made;
  let autoApproved: Made;
  let denied: Made;

  before(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // Already installed in this process.
    }
    const uiPort = await freePort();
    uiBase = `http://127.0.0.1:${uiPort}`;
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: findOrBuildTemporalCli() },
        ui: true,
        uiPort,
        searchAttributes: ALL_SEARCH_ATTRIBUTES,
        log: { format: 'pretty', level: 'error' },
      },
    });
    stack = await startStack(env, POLICY);
    const cs = stack.cs;

    const submit = async (overrides: Record<string, unknown>, status: string): Promise<Made> => {
      const summary = overrides.summary as string;
      // A zero wait still returns policy's verdict (the workflow answers once evaluation is done).
      const state = await cs.submit(action(overrides), { waitMs: 0 });
      assert.equal(state.status, status, `"${summary}"`);
      return { workflowId: state.workflowId, summary };
    };
    for (const [amount, summary] of [
      [1200, 'Refund $1,200 to customer C-42 for a double charge on invoice 9001'],
      [350, 'Refund $350 to customer C-42 for a parcel lost in transit'],
      [4800, 'Refund $4,800 to customer C-42 for an annual plan cancelled on day two'],
    ] as const) {
      financePending.push(await submit({ summary, payload: { amount, currency: 'USD' } }, 'pending'));
    }
    otherGroupPending = await submit(
      { action: 'email.send', summary: 'Email customer C-42 that their refund is on its way', payload: { template: 'refund-sent' } },
      'pending',
    );
    autoApproved = await submit({ summary: 'Refund $40 to customer C-42 for a late fee', payload: { amount: 40, currency: 'USD' } }, 'approved');
    denied = await submit({ summary: 'Refund $900 to customer C-42 a second time', payload: { amount: 900, currency: 'USD' } }, 'pending');
    await decideSeen(cs, denied.workflowId, { decision: 'deny', reviewer: 'dave', reasonCode: 'DUPLICATE_REFUND', message: 'Already refunded on invoice 9001.' });
    assert.equal((await cs.wait(denied.workflowId, 5000)).status, 'denied');

    // Visibility is eventually consistent and the UI loads its list once: open it only when the
    // server answers the very queries the page runs. The unfiltered pending query must list the
    // other group's approval, or its absence from the finance list would prove nothing.
    const client = env.client;
    const ids = async (query: string) => {
      const found: string[] = [];
      for await (const wf of client.workflow.list({ query })) found.push(wf.workflowId);
      return found.sort();
    };
    const financeIds = financePending.map((m) => m.workflowId).sort();
    await eventually(async () => {
      assert.deepEqual(await ids(FINANCE_QUERY), financeIds);
      assert.deepEqual(await ids(PENDING_QUERY), [...financeIds, otherGroupPending.workflowId].sort());
    }, 'visibility shows the pending approvals');

    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: (chromiumCheck as { path: string }).path,
      // Playwright gives every launch a fresh temporary profile (it refuses --user-data-dir here).
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(30_000);
  });

  after(async () => {
    try {
      await browser?.close();
    } finally {
      try {
        await stack?.stop();
      } finally {
        await env?.teardown();
      }
    }
  });

  const listUrl = (query: string) => `${uiBase}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;
  const rowOf = (workflowId: string) => page.locator(ROW).filter({ has: page.getByRole('link', { name: workflowId, exact: true }) });

  test('the list filtered to pending finance approvals shows exactly those', async () => {
    await page.goto(listUrl(FINANCE_QUERY));
    for (const { workflowId } of financePending) await rowOf(workflowId).waitFor();
    // The rows come from one visibility answer and render together: once ours are there, the table is complete.
    assert.equal(await page.locator(ROW).count(), financePending.length);
    // The count in the title is a separate request; wait for it rather than read it once.
    await page.getByTestId('workflow-count').filter({ hasText: new RegExp(`^${financePending.length}$`) }).waitFor();
    for (const { workflowId } of financePending) {
      assert.equal(await rowOf(workflowId).getByText('Running').count(), 1, `${workflowId} is listed as Running`);
    }
    for (const { workflowId } of [otherGroupPending, autoApproved, denied]) {
      assert.equal(await page.getByText(workflowId).count(), 0, `${workflowId} must not be in the finance list`);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'ui-pending-finance.png'), fullPage: true });
  });

  test('without the group filter, the other group’s pending approval is listed too', async () => {
    await page.goto(listUrl(PENDING_QUERY));
    await rowOf(otherGroupPending.workflowId).waitFor();
    for (const { workflowId } of financePending) await rowOf(workflowId).waitFor();
    for (const { workflowId } of [autoApproved, denied]) {
      assert.equal(await page.getByText(workflowId).count(), 0, `${workflowId} is not pending`);
    }
  });

  test('each pending finance approval’s detail page shows its summary under User Metadata', async () => {
    for (const [i, { workflowId, summary }] of financePending.entries()) {
      await page.goto(`${uiBase}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
      await page.getByTestId('workflow-id-heading').getByText(workflowId, { exact: true }).waitFor();
      await page.getByTestId('user-metadata-tab').click();
      const section = (heading: string) =>
        page
          .getByTestId('user-metadata-summary-heading')
          .filter({ hasText: new RegExp(`^${heading}$`) })
          .locator('xpath=../following-sibling::section[1]//iframe[@title="output"]')
          .contentFrame();
      // The static summary: "<action> on <resource> — <the agent's summary>".
      await section('Summary').getByText(`payments.refund on customer:C-42 — ${summary}`).waitFor();
      // The static details: the agent's summary again, and on whose behalf the agent asks.
      await section('Details').getByText(summary, { exact: true }).waitFor();
      await section('Details').getByText('on behalf of mallory').waitFor();
      await page.screenshot({ path: join(ARTIFACTS, `ui-pending-finance-detail-${i + 1}.png`), fullPage: true });
    }
  });
});
