import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluatePolicy } from '../../policy/evaluate';
import { compilePolicy, loadPolicyFile, PolicyLoadError } from '../../policy/load';
import { parseActionRequest } from '../../client/sdk';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: ops, sla: 4h, tokenTtl: 5m }
groups:
  support: { members: [alice, bob], escalatesTo: support-leads }
  support-leads: { members: [carol] }
  finance: { members: [dave, erin], escalatesTo: cfo }
  cfo: { members: [fiona] }
  ops: { members: [oscar] }
owners:
  - { match: "customer:*", group: support }
  - { match: "ledger:*", group: finance }
rules:
  - id: reads-are-free
    match: { action: "crm.get*" }
    decision: allow
  - id: refund-small
    match: { action: payments.refund }
    when: "payload.amount <= 100"
    decision: allow
  - id: refund-medium
    match: { action: payments.refund }
    when: "payload.amount > 100"
    decision: review
    reviewers: owner
    sla: 4h
    escalate: { after: 1h }
  - id: refund-large
    match: { action: payments.refund }
    when: "payload.amount > 500"
    decision: review
    risk: high
    reason: Large refunds need finance twice.
    reviewers: finance
    approvals: 2
    sla: 2h
    escalate: { after: 30m }
    tokenTtl: 2m
  - id: no-prod-drops
    match: { action: "db.drop*" }
    when: "resource.environment == 'prod'"
    decision: deny
    risk: critical
    reason: Dropping production data is never automated.
`;
const policy = compilePolicy(POLICY, 'test-policy.yaml');
const request = (overrides: Record<string, unknown>) =>
  parseActionRequest({ agentId: 'bot', taskId: 't', action: 'payments.refund', summary: 's', resource: { type: 'customer', id: 'C-1' }, payload: { amount: 50 }, ...overrides });

test('an allow rule allows, with its rule id and the policy digest', () => {
  const d = evaluatePolicy(policy, request({}));
  assert.equal(d.decision, 'allow');
  assert.deepEqual(d.ruleIds, ['refund-small']);
  assert.equal(d.policyDigest, policy.digest);
  assert.equal(d.route, undefined);
});

test('wildcard action rules match by prefix', () => {
  assert.equal(evaluatePolicy(policy, request({ action: 'crm.getCustomer' })).decision, 'allow');
  assert.equal(evaluatePolicy(policy, request({ action: 'crm.deleteCustomer' })).decision, 'review');
});

test('most restrictive wins and the strictest review routing is taken', () => {
  const d = evaluatePolicy(policy, request({ payload: { amount: 1200 } }));
  assert.equal(d.decision, 'review');
  assert.deepEqual(d.ruleIds, ['refund-medium', 'refund-large']);
  assert.equal(d.risk, 'high');
  assert.equal(d.route?.group.name, 'finance');
  assert.deepEqual(d.route?.group.members, ['dave', 'erin']);
  assert.equal(d.route?.approvals, 2);
  assert.equal(d.route?.slaMs, 2 * 3600_000);
  assert.equal(d.route?.escalateAfterMs, 30 * 60_000);
  assert.deepEqual(d.route?.escalationChain.map((g) => g.name), ['cfo']);
  assert.equal(d.tokenTtlMs, 2 * 60_000);
  assert.match(d.reason, /Large refunds need finance twice/);
});

test('ownership routing sends a medium refund to the resource owner group', () => {
  const d = evaluatePolicy(policy, request({ payload: { amount: 200 } }));
  assert.equal(d.route?.group.name, 'support');
  assert.deepEqual(d.route?.escalationChain.map((g) => g.name), ['support-leads']);
  const ledger = evaluatePolicy(policy, request({ payload: { amount: 200 }, resource: { type: 'ledger', id: 'L-9' } }));
  assert.equal(ledger.route?.group.name, 'finance');
});

test('deny beats review and carries the rule reason', () => {
  const d = evaluatePolicy(policy, request({ action: 'db.dropTable', resource: { type: 'system', id: 'db', environment: 'prod' }, payload: {} }));
  assert.equal(d.decision, 'deny');
  assert.equal(d.reason, 'Dropping production data is never automated.');
  assert.equal(d.risk, 'critical');
  assert.equal(evaluatePolicy(policy, request({ action: 'db.dropTable', resource: { type: 'system', id: 'db', environment: 'staging' }, payload: {} })).decision, 'review');
});

test('an unmatched action fails closed to the default: review by the default group', () => {
  const d = evaluatePolicy(policy, request({ action: 'mystery.tool', resource: { type: 'system', id: 'x' } }));
  assert.equal(d.decision, 'review');
  assert.deepEqual(d.ruleIds, ['defaults']);
  assert.equal(d.route?.group.name, 'ops');
});

test('a condition that cannot be evaluated never allows: the allow rule is skipped, review rules apply', () => {
  const d = evaluatePolicy(policy, request({ payload: { total: 50 } }));
  assert.equal(d.decision, 'review');
  assert.deepEqual(d.ruleIds, ['refund-medium', 'refund-large']);
  assert.match(d.reason, /could not be evaluated/);
});

test('policy errors name the file, the field path and the line', () => {
  const broken = 'version: 1\ndefaults: { reviewers: ops }\ngroups:\n  ops: { members: [oscar] }\nrules:\n  - id: bad\n    match: { action: a.b }\n    when: "payload.amount >"\n    decision: allow\n';
  try {
    compilePolicy(broken, 'broken.yaml');
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(err instanceof PolicyLoadError);
    assert.deepEqual(err.errors.map((e) => [e.file, e.path, e.line]), [['broken.yaml', 'rules[0].when', 8]]);
    assert.equal(err.errors[0]!.rule, 'bad');
    assert.match(err.message, /broken\.yaml:8: rules\[0\] \(bad\)\.when: is not valid CEL/);
  }
});

test('the example policy loads and decides its example actions as documented', () => {
  const examples = join(__dirname, '..', '..', 'examples');
  const company = loadPolicyFile(join(examples, 'policy.yaml'));
  const decide = (file: string) => evaluatePolicy(company, parseActionRequest(JSON.parse(readFileSync(join(examples, 'actions', file), 'utf8'))));
  assert.equal(decide('refund-small.json').decision, 'allow');
  assert.equal(decide('drop-prod-table.json').decision, 'deny');
  const large = decide('refund-large.json');
  assert.equal(large.decision, 'review');
  assert.equal(large.route?.group.name, 'finance');
  assert.equal(large.route?.approvals, 2);
  // The walkthrough consumes it by hand after the second approval mints it (issue 22 D7).
  assert.equal(large.tokenTtlMs, 10 * 60_000);
  assert.equal(decide('data-export-pii.json').route?.group.name, 'data-governance');
  assert.equal(decide('deploy-prod.json').route?.approvals, 2);
});

test('the directory: key hashes and public keys are checked, one credential names one principal, and its digest changes with it', () => {
  const hash = (c: string) => `sha256:${c.repeat(64)}`;
  const startKey = `${'E'.repeat(43)}=`;
  const unvouched = (directory: string) => `version: 1\ndefaults: { reviewers: ops }\ngroups:\n  ops: { members: [oscar], reviewerKeys: { oscar: "${'A'.repeat(43)}=" } }\n${directory}`;
  const base = (directory: string) => unvouched(directory.replace(/^directory:\n/, `directory:\n  server: { startKey: "${startKey}" }\n`));
  const ok = compilePolicy(base(`directory:\n  agents:\n    bot: { keyHash: "${hash('a')}" }\n    gw: { keyHash: "${hash('b')}", kind: gateway }\n  reviewers:\n    dana: { key: "${'B'.repeat(43)}=" }\n  auditors:\n    audrey: { keyHash: "${hash('c')}" }\n`));
  assert.equal(ok.directory.agents.get('gw')?.kind, 'gateway');
  assert.equal(ok.directory.agents.get('bot')?.kind, 'agent');
  assert.equal(ok.reviewerKeys.get('dana'), `${'B'.repeat(43)}=`);
  assert.equal(ok.reviewerKeys.get('oscar'), `${'A'.repeat(43)}=`, 'a group\'s reviewerKeys are part of the directory');
  const other = compilePolicy(base(`directory:\n  agents:\n    bot: { keyHash: "${hash('d')}" }\n`));
  assert.notEqual(ok.directory.digest, other.directory.digest);
  assert.match(ok.directory.digest, /^[0-9a-f]{64}$/);
  assert.equal(ok.directory.startKey, startKey);
  const rekeyed = compilePolicy(base(`directory:\n  agents:\n    bot: { keyHash: "${hash('d')}" }\n`).replace(startKey, `${'F'.repeat(43)}=`));
  assert.notEqual(rekeyed.directory.digest, other.directory.digest, 'the server\'s start key is part of the directory digest');

  const errors = (text: string) => {
    try {
      compilePolicy(text, 'p.yaml');
    } catch (err) {
      assert.ok(err instanceof PolicyLoadError);
      return err.message;
    }
    assert.fail('the policy loaded');
  };
  assert.match(errors(unvouched(`directory:\n  agents:\n    bot: { keyHash: "${hash('a')}" }\n`)), /p\.yaml:\d+: directory\.server: is required when the directory lists agents/);
  assert.match(errors(base(`directory:\n  agents:\n    bot: { keyHash: "${hash('a')}" }\n`).replace(startKey, 'not-a-key')), /directory\.server\.startKey/);
  assert.match(errors(base(`directory:\n  agents:\n    bot: { keyHash: "abc" }\n`)), /directory\.agents\.bot\.keyHash: must be sha256: and 64 lower-case hex digits/);
  assert.match(errors(base(`directory:\n  agents:\n    bot: { keyHash: "${hash('a')}" }\n  auditors:\n    eve: { keyHash: "${hash('a')}" }\n`)), /directory\.auditors\.eve\.keyHash: is the same credential as agents\.bot/);
  assert.match(errors(base(`directory:\n  reviewers:\n    oscar: { key: "${'C'.repeat(43)}=" }\n`)), /directory\.reviewers\.oscar\.key: differs from the key a group's reviewerKeys registers for oscar/);
  assert.match(errors(base(`directory:\n  agents:\n    bot: { keyHash: "${hash('a')}", kind: admin }\n`)), /directory\.agents\.bot\.kind/);
  assert.match(errors(base(`directory:\n  agents:\n    "bad name": { keyHash: "${hash('a')}" }\n`)), /directory\.agents/);
  // One person, one reviewer: a shared key or a name spelt two ways would count one human twice.
  assert.match(errors(base(`directory:\n  reviewers:\n    dana: { key: "${'A'.repeat(43)}=" }\n`)), /has the same key as oscar/);
  assert.match(errors(base(`directory:\n  reviewers:\n    Oscar: { key: "${'D'.repeat(43)}=" }\n`)), /names both oscar and Oscar, which differ only in letter case/);
});
