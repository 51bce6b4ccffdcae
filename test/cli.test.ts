import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { approvalWorkflowId } from '../common/digest';
import { eventually } from './support/eventually';
import { cliFor, lookThenDecide } from './support/cli';
import { action, useStack } from './support/stack';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: support, sla: 1h }
groups:
  support: { members: [alice, bob] }
  finance: { members: [dave, erin] }
owners:
  - { match: "customer:*", group: support }
rules:
  - id: refund-small
    match: { action: payments.refund }
    when: "payload.amount <= 100"
    decision: allow
  - id: refund-review
    match: { action: payments.refund }
    when: "payload.amount > 100"
    decision: review
    risk: high
    reason: Refunds over 100 need a human.
    reviewers: owner
  - id: refund-huge
    match: { action: payments.refund }
    when: "payload.amount > 10000"
    decision: deny
    reason: Refunds over 10,000 are never automated.
`;

const ctx = useStack(POLICY);

const cli = cliFor(ctx, { COUNTERSIGN_REVIEWER: '' });

function file(name: string, content: unknown): string {
  const path = join(ctx.stack.dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

async function submitPending(amount = 250): Promise<{ requestId: string; workflowId: string; path: string }> {
  const path = file(`action-${Math.random().toString(36).slice(2)}.json`, action({ payload: { amount, currency: 'USD', order: 'A-9' } }));
  const run = await cli(['submit', '--file', path, '--wait', '1s', '--json']);
  assert.equal(run.code, 1, run.stderr);
  const state = JSON.parse(run.stdout);
  assert.equal(state.status, 'pending');
  assert.match(state.requestId, /^[0-9a-f]{16}$/);
  return { requestId: state.requestId, workflowId: state.workflowId, path };
}

describe('countersign submit', () => {
  test('an allowed action prints the decision and exits 0', async () => {
    const run = await cli(['submit', '--file', file('small.json', action({ payload: { amount: 20 } })), '--json']);
    assert.equal(run.code, 0, run.stderr);
    const state = JSON.parse(run.stdout);
    assert.equal(state.status, 'approved');
    assert.equal(state.outcome.decidedBy, 'policy');
    assert.deepEqual(state.outcome.ruleIds, ['refund-small']);
    const human = await cli(['submit', '--file', file('small-2.json', action({ payload: { amount: 30 } }))]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^approved by policy \(refund-small\): request [0-9a-f]{16}/);
  });

  test('a denied action exits 1 with POLICY_DENIED and the reason', async () => {
    const run = await cli(['submit', '--file', file('huge.json', action({ payload: { amount: 50000 } }))]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^denied: POLICY_DENIED: Refunds over 10,000 are never automated\./);
  });

  test('when --wait runs out it prints the pending state with the request id', async () => {
    const path = file('pending.json', action({ payload: { amount: 300 } }));
    const run = await cli(['submit', '--file', path, '--wait', '1s']);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^pending: request [0-9a-f]{16} awaits review \(status pending; expires in 59m/);
  });

  test('an invalid action exits 2 naming the field, and starts no workflow', async () => {
    const bad = action({ resource: { type: 'customer' } });
    const run = await cli(['submit', '--file', file('bad.json', bad), '--json']);
    assert.equal(run.code, 2);
    assert.equal(run.stderr.trim(), 'countersign: Field "resource.id" is required.');
    assert.equal(run.stdout, '');
    await assert.rejects(ctx.env.client.workflow.getHandle(approvalWorkflowId(bad as never).workflowId).describe(), WorkflowNotFoundError);
    const notJson = await cli(['submit', '--file', file('garbage.json', '{not json')]);
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /garbage\.json: not valid JSON/);
    const badWait = await cli(['submit', '--file', file('ok.json', action()), '--wait', 'soon']);
    assert.equal(badWait.code, 2);
    assert.match(badWait.stderr, /--wait must be a duration/);
  });

  test('a server that cannot be reached exits 4', async () => {
    const run = await cli(['submit', '--file', file('unreach.json', action())], { COUNTERSIGN_URL: 'http://127.0.0.1:1' });
    assert.equal(run.code, 4);
    assert.match(run.stderr, /Cannot reach the countersign server at http:\/\/127\.0\.0\.1:1/);
  });
});

describe('countersign review', () => {
  test('list shows the queue as a table and as JSON, filtered by group', async () => {
    const { requestId } = await submitPending(420);
    const json = await eventually(async () => {
      const run = await cli(['review', 'list', '--as', 'alice', '--json']);
      assert.equal(run.code, 0, run.stderr);
      const rows = JSON.parse(run.stdout);
      assert.ok(rows.some((r: { requestId: string }) => r.requestId === requestId));
      return rows as Record<string, unknown>[];
    }, 'listed');
    const row = json.find((r) => r.requestId === requestId)!;
    assert.equal(row.action, 'payments.refund');
    assert.equal(row.resource, 'customer:C-42');
    assert.equal(row.risk, 'high');
    assert.deepEqual(row.groups, ['support']);
    assert.equal(row.agent, 'support-bot');
    const table = await cli(['review', 'list', '--as', 'alice']);
    assert.equal(table.code, 0);
    const [header, ...lines] = table.stdout.trim().split('\n');
    assert.match(header!, /^ID\s+ACTION\s+RESOURCE\s+RISK\s+GROUP\s+AGENT\s+AGE\s+TIME LEFT$/);
    const line = lines.find((l) => l.startsWith(requestId.slice(0, 10)));
    assert.ok(line, table.stdout);
    assert.match(line, /payments\.refund\s+customer:C-42\s+high\s+support\s+support-bot\s+\S+.*\s+(59m|1h)/);
    const finance = await cli(['review', 'list', '--as', 'alice', '--group', 'finance', '--json']);
    assert.deepEqual(JSON.parse(finance.stdout), []);
    const none = await cli(['review', 'list', '--as', 'alice', '--group', 'finance']);
    assert.equal(none.stdout.trim(), 'No open requests for finance.');
  });

  test('list pages: --limit N rows, and stderr gives the command for the next page, which works', async () => {
    const a = await submitPending(431);
    const b = await submitPending(432);
    const first = await eventually(async () => {
      const run = await cli(['review', 'list', '--as', 'alice', '--limit', '1', '--json']);
      assert.equal(run.code, 0, run.stderr);
      const rows = JSON.parse(run.stdout) as { requestId: string }[];
      assert.equal(rows.length, 1, 'one row per page');
      assert.ok(rows[0]!.requestId === b.requestId, 'newest first');
      return run;
    }, 'the newest request listed first');
    const next = /The next page: countersign review list --limit 1 --cursor (\S+)/.exec(first.stderr);
    assert.ok(next, `stderr gives the next page's command: ${first.stderr}`);
    await eventually(async () => {
      const second = await cli(['review', 'list', '--as', 'alice', '--limit', '1', '--cursor', next[1]!, '--json']);
      assert.equal(second.code, 0, second.stderr);
      assert.equal((JSON.parse(second.stdout) as { requestId: string }[])[0]?.requestId, a.requestId, 'the page after it holds the one before it');
    }, 'the next page');
    const bad = await cli(['review', 'list', '--as', 'alice', '--limit', '0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit must be a whole number from 1 to 500, got "0"/);
    const stale = await cli(['review', 'list', '--as', 'bob', '--cursor', next[1]!]);
    assert.equal(stale.code, 2, `another reviewer's cursor is refused: ${stale.stdout}${stale.stderr}`);
    assert.match(stale.stderr, /"cursor" must be the nextCursor of a page of this same queue/);
  });

  test('show prints summary, resource, exact payload, rules, risk, group, deadline and history', async () => {
    const { requestId } = await submitPending(275);
    const run = await eventually(async () => {
      const r = await cli(['review', 'show', requestId.slice(0, 8), '--as', 'bob']);
      assert.equal(r.code, 0, r.stderr);
      return r;
    }, 'show by short id');
    const out = run.stdout;
    assert.match(out, new RegExp(`^Request ${requestId}`));
    assert.match(out, /Summary:\s+Refund order #1234: the customer was charged twice\./);
    assert.match(out, /Resource:\s+customer C-42/);
    assert.match(out, /Policy:\s+review — rules refund-review/);
    assert.match(out, /Risk:\s+high — Refunds over 100 need a human\./);
    assert.match(out, /Reviewers:\s+support \(suggested\)/);
    assert.match(out, /Deadline:\s+\d{4}-\d\d-\d\dT.*\(in (59m|1h)/);
    assert.match(out, /"amount": 275,\n\s+"currency": "USD"/);
    assert.match(out, /History:\n\s+\S+\s+requested\s+support-bot: payments\.refund on customer:C-42/);
    const json = JSON.parse((await cli(['review', 'show', requestId, '--as', 'bob', '--json'])).stdout);
    assert.equal(json.status, 'pending');
    assert.deepEqual(json.currentPayload, { amount: 275, currency: 'USD', order: 'A-9' });
    assert.equal(json.request.agentKey, undefined);
  });

  test('approve: accepted exits 0; a second try, an ineligible or unnamed reviewer are refused', async () => {
    const { requestId, path } = await submitPending();
    const noName = await cli(['review', 'approve', requestId]);
    assert.equal(noName.code, 2);
    assert.match(noName.stderr, /--as NAME or the COUNTERSIGN_REVIEWER/);
    const blind = await cli(['review', 'approve', requestId, '--as', 'alice']);
    assert.equal(blind.code, 2, 'a reviewer who has not looked cannot decide');
    assert.match(blind.stderr, /alice has not looked at request [0-9a-f]{16}: run countersign review show [0-9a-f]{16} --as alice first/);
    // Finance's dave does not even see a support request: not found, exit 3.
    const outsider = await lookThenDecide(cli, ['approve', requestId, '--as', 'dave']);
    assert.equal(outsider.code, 3);
    assert.match(outsider.stderr, /No request [0-9a-f]{16} in your queue/);
    // A name with no registered key is no reviewer: --as means "sign with this reviewer's key".
    const nobody = await lookThenDecide(cli, ['approve', requestId, '--as', 'mallory']);
    assert.equal(nobody.code, 2);
    assert.match(nobody.stderr, /There is no signing key for reviewer mallory at .*: create one with countersign keys reviewer mallory/);
    const ok = await lookThenDecide(cli, ['approve', requestId, '--json'], { COUNTERSIGN_REVIEWER: 'alice' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), { accepted: true, requestId, status: 'approved', approvals: ['alice'], approvalsNeeded: 1 });
    const again = await lookThenDecide(cli, ['approve', requestId, '--as', 'bob', '--json']);
    assert.equal(again.code, 1);
    assert.equal(JSON.parse(again.stdout).code, 'ALREADY_DECIDED');
    const agent = await cli(['submit', '--file', path, '--json']);
    assert.equal(agent.code, 0);
    assert.equal(JSON.parse(agent.stdout).outcome.reviewers[0], 'alice');
  });

  test('approve --edit: the edited payload is what the agent gets', async () => {
    const { requestId, path } = await submitPending();
    const edit = file('edit.json', { amount: 199, currency: 'USD', order: 'A-9' });
    const run = await lookThenDecide(cli, ['approve', requestId, '--edit', edit, '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Approved request [0-9a-f]{16} as bob: status approved/);
    const agent = JSON.parse((await cli(['submit', '--file', path, '--json'])).stdout);
    assert.ok(agent.outcome, `the agent sees the decision: ${JSON.stringify(agent)}`);
    assert.equal(agent.outcome.edited, true);
    assert.deepEqual(agent.outcome.payload, { amount: 199, currency: 'USD', order: 'A-9' });
    const denied = await submitPending();
    const tooBig = await lookThenDecide(cli, ['approve', denied.requestId, '--edit', file('big.json', { amount: 99999 }), '--as', 'bob']);
    assert.equal(tooBig.code, 1);
    assert.match(tooBig.stderr, /Refused \(POLICY_DENIED\): The edit is refused: policy denies it \(Refunds over 10,000/);
  });

  test('deny needs a reason code and message, then the agent sees REVIEWER_DENIED', async () => {
    const { requestId, path } = await submitPending();
    const missing = await lookThenDecide(cli, ['deny', requestId, '--as', 'alice', '--message', 'no']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--reason CODE/);
    const lower = await lookThenDecide(cli, ['deny', requestId, '--as', 'alice', '--reason', 'nope', '--message', 'no']);
    assert.equal(lower.code, 1);
    assert.match(lower.stderr, /INVALID_REQUEST.*reasonCode/);
    const run = await lookThenDecide(cli, ['deny', requestId, '--as', 'alice', '--reason', 'DUPLICATE', '--message', 'Refunded already.', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).status, 'denied');
    const agent = await cli(['submit', '--file', path]);
    assert.equal(agent.code, 1);
    assert.match(agent.stdout, /^denied: REVIEWER_DENIED\/DUPLICATE: Refunded already\./);
  });

  test('request-changes with a proposed payload reaches the agent', async () => {
    const { requestId, path } = await submitPending();
    const proposal = file('proposal.json', { amount: 120, currency: 'USD', order: 'A-9' });
    const run = await lookThenDecide(cli, ['request-changes', requestId, '--as', 'bob', '--comment', 'Only the duplicate charge.', '--propose', proposal]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Requested changes on request [0-9a-f]{16} as bob: status changes_requested/);
    const agent = await cli(['submit', '--file', path, '--json']);
    assert.equal(agent.code, 1);
    const outcome = JSON.parse(agent.stdout).outcome;
    assert.equal(outcome.code, 'CHANGES_REQUESTED');
    assert.equal(outcome.comment, 'Only the duplicate charge.');
    assert.deepEqual(outcome.proposedPayload, { amount: 120, currency: 'USD', order: 'A-9' });
  });

  test('an unknown request id exits 3', async () => {
    const run = await cli(['review', 'show', 'abcdef0123456789', '--as', 'alice']);
    assert.equal(run.code, 3);
    assert.match(run.stderr, /No request abcdef0123456789 in your queue/);
    const byWorkflowId = await cli(['review', 'approve', 'cs-nobody-0000000000000000', '--as', 'alice']);
    assert.equal(byWorkflowId.code, 3);
  });
});

describe('countersign policy', () => {
  test('check on a broken policy names the file, line and field, and exits 2', async () => {
    const broken = file('broken.yaml', 'version: 1\ndefaults: { reviewers: ops }\ngroups:\n  ops: { members: [oscar] }\nrules:\n  - id: r1\n    match: { action: a.b }\n    decision: maybe\n');
    const run = await cli(['policy', 'check', broken]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /broken\.yaml:8: rules\[0\] \(r1\)\.decision: must be one of "allow", "deny", "review"/);
    const good = await cli(['policy', 'check', ctx.stack.policyFile]);
    assert.equal(good.code, 0);
    assert.match(good.stdout, /OK — 3 rules, 2 groups/);
  });

  test('test prints the decision as JSON without starting anything', async () => {
    const run = await cli(['policy', 'test', ctx.stack.policyFile, '--action', file('pt.json', action({ payload: { amount: 700 } }))]);
    assert.equal(run.code, 0, run.stderr);
    const decision = JSON.parse(run.stdout);
    assert.equal(decision.decision, 'review');
    assert.deepEqual(decision.ruleIds, ['refund-review']);
    assert.equal(decision.route.group.name, 'support');
  });
});
