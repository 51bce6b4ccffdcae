/**
 * `countersign policy check` and `policy test` as a policy author runs them (the real CLI, offline):
 * routing ties (issue 22 D4), rule ids in load errors (D5), uncatalogued actions and rules that read
 * what the agent asserts (M4).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'policy.yaml');
const dir = mkdtempSync(join(tmpdir(), 'cs-policy-check-'));
let n = 0;
const file = (text: string, name = `f-${++n}`) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('COUNTERSIGN_') && !k.startsWith('TEMPORAL_')));
    execFile(process.execPath, [join(ROOT, 'bin', 'countersign.js'), ...args], { env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

const request = (action: string, resource: Record<string, unknown>, payload: Record<string, unknown> = {}) =>
  file(JSON.stringify({ agentId: 'ops-bot', taskId: `t-${++n}`, action, summary: 'Do it.', resource, payload }), `action-${n}.json`);

const TIES = `version: 1
defaults: { reviewers: ops, sla: 4h }
groups:
  ops: { members: [oscar] }
  security: { members: [ivan], escalatesTo: ciso }
  ciso: { members: [cleo] }
  finance: { members: [dave] }
rules:
  - id: ops-review
    match: { action: "infra.*" }
    decision: review
    reviewers: ops
    sla: 1h
  - id: security-review
    match: { action: infra.rotateKeys }
    decision: review
    reviewers: security
    sla: 1h
    escalate: { after: 10m }
  - id: finance-review
    match: { action: "infra.*" }
    decision: review
    reviewers: finance
    sla: 1h
`;

describe('routing: the strictest rule routes, whole', () => {
  test('equal in approvals and SLA, the rule that escalates earliest routes, with its own group and escalation', async () => {
    const run = await cli(['policy', 'test', file(TIES), '--action', request('infra.rotateKeys', { type: 'system', id: 'vault' })]);
    assert.equal(run.code, 0, run.stderr);
    const d = JSON.parse(run.stdout);
    assert.deepEqual(d.ruleIds, ['ops-review', 'security-review', 'finance-review']);
    assert.equal(d.route.group.name, 'security');
    assert.equal(d.route.escalateAfterMs, 10 * 60_000);
    assert.deepEqual(d.route.escalationChain.map((g: { name: string }) => g.name), ['ciso']);
    assert.equal(d.route.slaMs, 3600_000);
  });

  test('a full tie goes to the first rule in the file, with nothing of the other; policy check warns about it', async () => {
    const policy = file(TIES);
    const run = await cli(['policy', 'test', policy, '--action', request('infra.scale', { type: 'system', id: 'web' })]);
    const d = JSON.parse(run.stdout);
    assert.deepEqual(d.ruleIds, ['ops-review', 'finance-review']);
    assert.equal(d.route.group.name, 'ops');
    assert.equal(d.route.escalateAfterMs, undefined);
    const check = await cli(['policy', 'check', policy]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /OK — 3 rules, .*; 1 warning \(stderr\)/);
    assert.match(check.stderr, /^warning: .*:23: rules\[2\] \(finance-review\)\.reviewers: ties with rules\[0\] \(ops-review\) on approvals, SLA and escalation but names other reviewers: when both match, ops-review \(first in the file\) routes/m);
    assert.doesNotMatch(check.stderr, /security-review\)\.reviewers/, 'security-review escalates earlier: never a tie');
  });
});

test('a load error names the rule by its id as well as its place', async () => {
  const broken = file(TIES.replace('    sla: 1h\n    escalate: { after: 10m }', '    sla: 1h\n    escalate: { after: soon }'));
  const run = await cli(['policy', 'check', broken]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /:19: rules\[1\] \(security-review\)\.escalate\.after: must be a duration such as 90s/);
});

describe('actions outside the catalog', () => {
  test('the example policy refuses them: a staging-labelled terraform apply and an account.delete naming its own owner', async () => {
    const apply = await cli(['policy', 'test', EXAMPLE, '--action', request('infra.terraformApply', { type: 'system', id: 'core', environment: 'staging' }, { workspace: 'core', environment: 'prod' })]);
    assert.equal(apply.code, 1);
    assert.match(JSON.parse(apply.stdout).reason, /disagrees with the resource the payload names \(system:core, environment prod\)/);
    const honest = await cli(['policy', 'test', EXAMPLE, '--action', request('infra.terraformApply', { type: 'system', id: 'core', environment: 'prod' }, { workspace: 'core', environment: 'prod' })]);
    assert.equal(JSON.parse(honest.stdout).route.approvals, 2, 'production: two operators');
    const del = await cli(['policy', 'test', EXAMPLE, '--action', request('account.delete', { type: 'account', id: 'AC-1', owner: 'support' }, { account: 'AC-1' })]);
    assert.equal(del.code, 1);
    const refused = JSON.parse(del.stdout);
    assert.equal(refused.code, 'INVALID_REQUEST');
    assert.match(refused.reason, /The action "account\.delete" is not in the policy's action catalog, and this policy accepts catalogued actions only\./);
  });

  const OPEN = `version: 1
defaults: { reviewers: ops }
groups:
  ops: { members: [oscar] }
  support: { members: [alice] }
rules:
  - id: staging-free
    match: { action: "infra.*", environment: staging }
    decision: allow
  - id: no-prod-drops
    match: { action: db.dropTable }
    when: "resource.environment == 'prod'"
    decision: deny
    reason: Never.
CATALOG
actions:
  db.dropTable:
    payload: { type: object }
`;

  test('catalog: { required: review } sends them to the default reviewers, whatever an allow rule or the asserted owner says', async () => {
    const policy = file(OPEN.replace('CATALOG', 'catalog: { required: review }'));
    const apply = JSON.parse((await cli(['policy', 'test', policy, '--action', request('infra.terraformApply', { type: 'system', id: 'core', environment: 'staging' })])).stdout);
    assert.equal(apply.decision, 'review');
    assert.deepEqual(apply.ruleIds, ['uncatalogued'], 'the allow rule does not count');
    assert.equal(apply.route.group.name, 'ops');
    assert.match(apply.reason, /infra\.terraformApply is not in the policy's action catalog, so its resource is only what the agent says: ops reviews it\./);
    const del = JSON.parse((await cli(['policy', 'test', policy, '--action', request('account.delete', { type: 'account', id: 'AC-1', owner: 'support' })])).stdout);
    assert.equal(del.route.group.name, 'ops', 'the owner the agent names picks no one');
  });

  test('catalog: { required: false }: the same attack is allowed, and policy check warns about each rule that reads the asserted resource', async () => {
    const policy = file(OPEN.replace('CATALOG', ''));
    const apply = await cli(['policy', 'test', policy, '--action', request('infra.terraformApply', { type: 'system', id: 'core', environment: 'staging' })]);
    assert.equal(JSON.parse(apply.stdout).decision, 'allow', 'what the warning is about');
    const check = await cli(['policy', 'check', policy]);
    assert.equal(check.code, 0);
    assert.match(check.stderr, /warning: .*:7: rules\[0\] \(staging-free\): decides on resource\.environment, which the agent asserts for infra\.\* \(no catalog entry derives the resource from the payload\)/);
    assert.match(check.stderr, /warning: .*:10: rules\[1\] \(no-prod-drops\): decides on resource\.environment, which the agent asserts for db\.dropTable/);
    const json = JSON.parse((await cli(['policy', 'check', policy, '--json'])).stdout);
    assert.deepEqual(json.warnings.map((w: { rule: string }) => w.rule), ['staging-free', 'no-prod-drops']);
  });

  test('the example policies check without a warning', async () => {
    for (const example of [EXAMPLE, join(ROOT, 'examples', 'mcp-filesystem-policy.yaml')]) {
      const run = await cli(['policy', 'check', example]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, '', example);
    }
  });
});
