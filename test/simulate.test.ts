/**
 * `countersign policy simulate` (issue 28) on traffic the real workflow recorded: eight requests
 * submitted, decided and sealed under one policy, then replayed with a stricter and a looser
 * candidate through the front door with an auditor's key. Exact counts per kind of change, per
 * action and per rule; a payload the stricter catalog refuses is counted apart; and nothing is
 * started (Temporal visibility) or written (the store) by a simulation.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { cliFor } from './support/cli';
import { eventually } from './support/eventually';
import { decideSeen } from './support/review';
import { action, useStack } from './support/stack';

const CATALOG = `actions:
  account.email.change:
    payload: { type: object, required: [email], properties: { email: { type: string } } }
`;
const RULES = `rules:
  - id: small-refunds
    match: { action: payments.refund }
    when: "payload.amount <= 50"
    decision: allow
  - id: large-refunds
    match: { action: payments.refund }
    when: "payload.amount > 50"
    decision: review
    reviewers: finance
  - id: no-drops
    match: { action: db.drop }
    decision: deny
    reason: Dropping data is never automated.
  - id: email-change
    match: { action: account.email.change }
    decision: review
    reviewers: support
`;
const POLICY = `
version: 1
defaults: { decision: review, reviewers: finance, sla: 1h }
groups:
  finance: { members: [dave, erin] }
  cfo-office: { members: [fiona] }
  support: { members: [alice] }
${CATALOG}${RULES}`;

/** Smaller refunds reviewed, large ones to the CFO's office by two, exports denied; the email change must now say it was verified. */
const STRICTER_CATALOG = CATALOG.replace('required: [email], properties: { email: { type: string } }', 'required: [email, verified], properties: { email: { type: string }, verified: { type: boolean } }');
const STRICTER_RULES = `rules:
  - id: small-refunds
    match: { action: payments.refund }
    when: "payload.amount <= 15"
    decision: allow
  - id: mid-refunds
    match: { action: payments.refund }
    when: "payload.amount > 15 && payload.amount <= 100"
    decision: review
    reviewers: finance
  - id: large-refunds
    match: { action: payments.refund }
    when: "payload.amount > 100"
    decision: review
    reviewers: cfo-office
    approvals: 2
  - id: no-drops
    match: { action: db.drop }
    decision: deny
    reason: Dropping data is never automated.
  - id: no-exports
    match: { action: crm.export }
    decision: deny
    reason: Exports are off.
  - id: email-change
    match: { action: account.email.change }
    decision: review
    reviewers: support
`;
/** Refunds up to 500 go through; drops are no longer denied outright (the defaults review them). */
const LOOSER_RULES = RULES.replace('"payload.amount <= 50"', '"payload.amount <= 500"').replace('"payload.amount > 50"', '"payload.amount > 500"').replace(/ {2}- id: no-drops\n( {4}.*\n){3}/, '');

const ctx = useStack(POLICY);
const cli = cliFor(ctx);
const ids: Record<string, string> = {};

/** The stack's policy (with its directory) with the catalog and rules replaced: the candidate an operator would write. */
function candidate(name: string, catalog: string, rules: string): string {
  const { directory } = parse(readFileSync(ctx.stack.policyFile, 'utf8')) as { directory: unknown };
  const text = POLICY.replace(CATALOG, catalog).replace(RULES, rules);
  assert.ok(text !== POLICY, 'the candidate differs from the recorded policy');
  const path = join(ctx.stack.dir, `${name}.yaml`);
  writeFileSync(path, `${text}\n${stringify({ directory })}`);
  return path;
}

/** Every file under the store's folder with its size: what a write would change. */
function storeFiles(): string[] {
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((f) => (f.isDirectory() ? walk(join(d, f.name)) : [`${join(d, f.name)} ${statSync(join(d, f.name)).size}`]));
  return walk(ctx.stack.evidenceDir).sort();
}

const countWorkflows = async () => (await ctx.stack.ops.client.workflow.count(`TaskQueue = "${ctx.stack.taskQueue}"`)).count;

async function recordTraffic(): Promise<void> {
  const { cs } = ctx.stack;
  const refund = (amount: number) => action({ summary: `Refund ${amount} EUR`, payload: { amount, currency: 'EUR' } });
  for (const amount of [10, 20, 40]) {
    const r = await cs.submit(refund(amount), { waitMs: 5000 });
    await r.consume();
    await r.report({ status: 'succeeded' });
    ids[`refund-${amount}`] = r.requestId;
  }
  const reviewed = [
    ['refund-200', refund(200), 'dave'],
    ['refund-300', refund(300), 'dave'],
    ['email', action({ action: 'account.email.change', summary: 'Change the email', resource: { type: 'account', id: 'A-1' }, payload: { email: 'a@example.com' } }), 'alice'],
    ['export', action({ action: 'crm.export', summary: 'Export customers', resource: { type: 'dataset', id: 'customers' }, payload: { format: 'csv' } }), 'erin'],
  ] as const;
  for (const [name, request, reviewer] of reviewed) {
    const r = await cs.submit(request);
    ids[name] = r.requestId;
    await decideSeen(cs, r.workflowId, { decision: 'deny', reviewer, reasonCode: 'NOT_NOW', message: 'Not now.' });
  }
  const drop = await cs.submit(action({ action: 'db.drop', summary: 'Drop orders', resource: { type: 'database', id: 'orders' }, payload: { table: 'orders' } }));
  ids.drop = drop.requestId;
  for (const id of Object.values(ids)) await cs.outcome(id).then(() => cs.sealedText(id));
  await eventually(async () => assert.equal(await countWorkflows(), 8), 'the eight workflows in visibility');
}

describe('countersign policy simulate', () => {
  before(recordTraffic);

  test('a stricter candidate: 5 of 8 requests would change, per kind, action and rule with example ids; the refused payload is counted apart', async () => {
    const files = storeFiles();
    const res = await cli(['policy', 'simulate', candidate('stricter', STRICTER_CATALOG, STRICTER_RULES), '--since', '1d', '--json'], { COUNTERSIGN_API_KEY: ctx.stack.auditorKeys.get('audrey')! });
    assert.equal(res.code, 0, res.stderr);
    const s = JSON.parse(res.stdout);
    assert.deepEqual([s.requests, s.changed, s.unchanged, s.notEvaluated, s.refusedByDirectory.count], [8, 5, 2, 0, 0]);
    assert.equal(s.failingSchemas.count, 1);
    assert.equal(s.failingSchemas.examples[0].requestId, ids.email);
    assert.match(s.failingSchemas.examples[0].message, /verified/);
    const rows = (list: { change: string; count: number; examples: string[] }[], key?: string) =>
      list.map((r) => [...(key ? [(r as unknown as Record<string, string>)[key]] : []), r.change, r.count, [...r.examples].sort()]);
    assert.deepEqual(rows(s.byChange), [
      ['allow→review', 2, [ids['refund-20'], ids['refund-40']].sort()],
      ['approvals 1→2', 2, [ids['refund-200'], ids['refund-300']].sort()],
      ['routed finance→cfo-office', 2, [ids['refund-200'], ids['refund-300']].sort()],
      ['review→deny', 1, [ids.export]],
    ]);
    assert.deepEqual(rows(s.byAction, 'action'), [
      ['payments.refund', 'allow→review', 2, [ids['refund-20'], ids['refund-40']].sort()],
      ['payments.refund', 'approvals 1→2', 2, [ids['refund-200'], ids['refund-300']].sort()],
      ['payments.refund', 'routed finance→cfo-office', 2, [ids['refund-200'], ids['refund-300']].sort()],
      ['crm.export', 'review→deny', 1, [ids.export]],
    ]);
    assert.deepEqual(rows(s.byRule, 'rule').map((r) => r.slice(0, 3)), [
      ['large-refunds', 'approvals 1→2', 2],
      ['large-refunds', 'routed finance→cfo-office', 2],
      ['mid-refunds', 'allow→review', 2],
      ['no-exports', 'review→deny', 1],
    ]);

    // Read-only: the store is as it was, and Temporal has no new workflow.
    assert.deepEqual(storeFiles(), files);
    assert.equal((await cli(['insights'], { COUNTERSIGN_API_KEY: ctx.stack.auditorKeys.get('audrey')! })).code, 0);
    assert.equal(await countWorkflows(), 8);
  });

  test('a looser candidate: refunds up to 500 go through and drops are reviewed — 3 would change, printed per kind with the request ids', async () => {
    const res = await cli(['policy', 'simulate', candidate('looser', CATALOG, LOOSER_RULES)], { COUNTERSIGN_API_KEY: ctx.stack.auditorKeys.get('audrey')! });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^.*looser\.yaml against 8 requests recorded in the last 30d: 3 would change, 5 would not\.$/m);
    assert.match(res.stdout, new RegExp(`^review→allow +2 +(${ids['refund-200']} ${ids['refund-300']}|${ids['refund-300']} ${ids['refund-200']})$`, 'm'));
    assert.match(res.stdout, new RegExp(`^deny→review +1 +${ids.drop}$`, 'm'));
    assert.match(res.stdout, /^db\.drop +deny→review +1 /m);
    assert.match(res.stdout, /^defaults +deny→review +1 /m);
    assert.match(res.stdout, /^small-refunds +review→allow +2 /m);
    assert.doesNotMatch(res.stdout, /schemas|directory refuses/);
  });

  test('refused with one sentence and nothing read: no candidate, a broken candidate, a reviewer key, a bad window', async () => {
    const auditor = { COUNTERSIGN_API_KEY: ctx.stack.auditorKeys.get('audrey')! };
    const none = await cli(['policy', 'simulate'], auditor);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /policy simulate needs one CANDIDATE policy file/);
    const broken = join(ctx.stack.dir, 'broken.yaml');
    writeFileSync(broken, 'version: 1\nrules: 7\n');
    const bad = await cli(['policy', 'simulate', broken], auditor);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /broken\.yaml.*rules/);
    const agent = await cli(['policy', 'simulate', ctx.stack.policyFile], { COUNTERSIGN_API_KEY: ctx.stack.agentKeys.get('support-bot')! });
    assert.equal(agent.code, 2);
    assert.match(agent.stderr, /policy simulate needs an auditor's API key/);
    const window = await cli(['policy', 'simulate', ctx.stack.policyFile, '--since', '2y'], auditor);
    assert.equal(window.code, 2);
    assert.match(window.stderr, /--since must be a duration back from now such as 7d or 12h, at most 366d, got "2y"\./);
    const same = await cli(['policy', 'simulate', ctx.stack.policyFile, '--json'], auditor);
    assert.equal(same.code, 0, same.stderr);
    assert.deepEqual(((s) => [s.requests, s.changed, s.unchanged])(JSON.parse(same.stdout)), [8, 0, 8], 'the policy recorded against its own traffic changes nothing');
  });
});
