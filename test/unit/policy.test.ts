import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { evaluatePolicy } from '../../policy/evaluate';
import { compilePolicy, formatPolicyError, loadPolicyFile, PolicyLoadError, type PolicyError } from '../../policy/load';
import { parseActionRequest } from '../../client/sdk';
import { escapeName } from '../../common/errors';
import { define, json, runs, unicode } from '../support/arbitraries';

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

// Property tests (fast-check): structural mutations and text damage of a valid policy.

/** A valid policy as data: mutated structurally, then written out as YAML. */
function basePolicy(): Record<string, unknown> {
  return {
    version: 1,
    defaults: { decision: 'review', reviewers: 'ops', sla: '4h', tokenTtl: '5m', reportWithin: '1h' },
    groups: {
      ops: { members: ['oscar'] },
      support: { members: ['alice', 'bob'], escalatesTo: 'leads' },
      leads: { members: ['carol'] },
    },
    owners: [{ match: 'customer:*', group: 'support' }],
    rules: [
      { id: 'refund-small', match: { action: 'payments.refund' }, when: 'payload.amount <= 100', decision: 'allow' },
      {
        id: 'refund-large',
        match: { action: 'payments.refund' },
        when: 'payload.amount > 500',
        decision: 'review',
        reviewers: 'support',
        sla: '2h',
        escalate: { after: '30m' },
        tokenTtl: '2m',
      },
      { id: 'no-drops', match: { action: 'db.drop*' }, decision: 'deny', reason: 'Never automated.' },
    ],
  };
}

/** An error the mutated policy must report: at `path`, matching `message`, on a line holding one of `keys`. */
type Expect = { path: string; message: RegExp; keys?: string[]; within?: true };
/** `n` is the mutation's index, so names it adds are unique across the mutations of one policy. */
type PolicyMutation = { describe: string; apply: (policy: Record<string, unknown>, n: number) => Expect[] };

const groupName = fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/);
const EXISTING_GROUPS = ['ops', 'support', 'leads'];
const DURATION_PATHS: [string[], string][] = [
  [['defaults', 'sla'], 'sla'],
  [['defaults', 'tokenTtl'], 'tokenTtl'],
  [['defaults', 'reportWithin'], 'reportWithin'],
  [['rules', '1', 'sla'], 'sla'],
  [['rules', '1', 'escalate', 'after'], 'after'],
  [['rules', '1', 'tokenTtl'], 'tokenTtl'],
];
const badDuration = fc.oneof(
  fc.constantFrom('', '0s', '0m0h', '5', 'h', '-5m', '1.5h', '5 m', '5min', 'forever', '1h 30m', '1H', `${'9'.repeat(400)}h`, `${'9'.repeat(20)}d`),
  fc.stringMatching(/^[0-9]{0,3}[a-zA-Z ]{0,3}[0-9]{0,2}$/).filter((s) => !/^\s*(\d+(ms|s|m|h|d))+\s*$/.test(s) || /^\s*(0+(ms|s|m|h|d))+\s*$/.test(s)),
);
const badCel = fc.oneof(
  fc.constantFrom('payload.amount >', 'payload.amount > 1)', '(payload.amount > 1', '((payload.amount > 1)', 'payload.amount >> 1', '&& true', 'payload.', '1 +', '"unterminated'),
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 })).filter(([o, c]) => o !== c).map(([o, c]) => `${'('.repeat(o)}payload.amount > 1${')'.repeat(c)}`),
);

const pathText = (path: (string | number)[]) => path.reduce<string>((acc, p) => (/^\d+$/.test(String(p)) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : String(p)), '');

function setIn(root: Record<string, unknown>, path: string[], value: unknown): void {
  let node: Record<string, unknown> = root;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string, unknown>;
  define(node, path.at(-1)!, value);
}

const policyMutation: fc.Arbitrary<PolicyMutation> = fc.oneof(
  // Unknown fields, anywhere a strict object sits.
  fc
    .tuple(
      fc.constantFrom<[string[], string[]]>(
        [[], ['version', 'defaults', 'groups', 'owners', 'rules']],
        [['defaults'], ['decision', 'reviewers', 'sla', 'tokenTtl', 'reportWithin', 'approvals', 'risk']],
        [['groups', 'ops'], ['description', 'members', 'escalatesTo', 'webhook', 'reviewerKeys']],
        [['rules', '1'], ['id', 'description', 'match', 'when', 'decision', 'risk', 'reason', 'reviewers', 'approvals', 'sla', 'escalate', 'tokenTtl', 'reportWithin']],
        [['rules', '0', 'match'], ['action', 'resource', 'environment']],
        [['rules', '1', 'escalate'], ['after']],
        [['owners', '0'], ['match', 'group']],
      ),
      fc.oneof(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/), unicode({ minLength: 1, maxLength: 6 }), fc.constantFrom('__proto__', 'a\nb', 'x"y')),
      json(1),
    )
    .filter(([[, known], key]) => !known.includes(key) && key !== '<<')
    .map(([[path], key, value]): PolicyMutation => ({
      describe: `unknown field ${JSON.stringify(key)} at ${pathText(path) || '(root)'}`,
      apply: (policy) => {
        setIn(policy, [...path, key], value);
        return [{ path: pathText(path), message: /unknown field/, keys: [key] }];
      },
    })),
  // Bad CEL in a rule condition.
  fc.tuple(fc.constantFrom('0', '1'), badCel).map(([rule, when]): PolicyMutation => ({
    describe: `bad CEL ${JSON.stringify(when)} in rules[${rule}]`,
    apply: (policy) => {
      setIn(policy, ['rules', rule, 'when'], when);
      return [{ path: `rules[${rule}].when`, message: /CEL|must not be empty|at least/, keys: ['when'] }];
    },
  })),
  // escalatesTo cycles of length 1..4, optionally with a group that escalates into the cycle.
  fc
    .tuple(fc.uniqueArray(groupName, { minLength: 1, maxLength: 4 }).filter((names) => names.every((n) => !EXISTING_GROUPS.includes(n))), fc.boolean())
    .map(([bare, viaOps]): PolicyMutation => ({
      describe: `escalation cycle ${bare.join(' -> ')}${viaOps ? ' (entered from ops)' : ''}`,
      apply: (policy, n) => {
        const names = bare.map((name) => `${name}-m${n}`);
        const groups = policy.groups as Record<string, unknown>;
        names.forEach((name, i) => (groups[name] = { members: [`m${i}`], escalatesTo: names[(i + 1) % names.length] }));
        if (viaOps) (groups.ops as Record<string, unknown>).escalatesTo = names[0];
        return names.map((name): Expect => ({ path: `groups.${name}.escalatesTo`, message: new RegExp(`cycle: ${[...names.slice(names.indexOf(name)), ...names.slice(0, names.indexOf(name)), name].join(' -> ')}$`), keys: ['escalatesTo'] }));
      },
    })),
  // References to groups that are not defined.
  fc
    .tuple(
      fc.constantFrom<string[]>(['defaults', 'reviewers'], ['rules', '1', 'reviewers'], ['owners', '0', 'group'], ['groups', 'leads', 'escalatesTo']),
      groupName.filter((n) => !EXISTING_GROUPS.includes(n) && n !== 'owner' && !/-m\d$/.test(n)),
    )
    .map(([path, name]): PolicyMutation => ({
      describe: `undefined group ${name} at ${pathText(path)}`,
      apply: (policy) => {
        setIn(policy, path, name);
        return [{ path: pathText(path), message: /not defined under groups/, keys: [path.at(-1)!] }];
      },
    })),
  // Bad durations.
  fc.tuple(fc.constantFrom(...DURATION_PATHS), badDuration).map(([[path, key], value]): PolicyMutation => ({
    describe: `bad duration ${JSON.stringify(value)} at ${pathText(path)}`,
    apply: (policy) => {
      setIn(policy, path, value);
      return [{ path: pathText(path), message: /duration/, keys: [key] }];
    },
  })),
  // Group names that are not group names (a record key zod would otherwise drop or reject).
  fc.oneof(fc.constantFrom('__proto__', 'Ops', '1x', 'a b', ''), unicode({ minLength: 1, maxLength: 5 }).filter((n) => !/^[a-z][a-z0-9_-]*$/.test(n))).map((name): PolicyMutation => ({
    describe: `invalid group name ${JSON.stringify(name)}`,
    apply: (policy) => {
      setIn(policy, ['groups', name], { members: ['x'] });
      return [{ path: `groups.${escapeName(name)}`, message: /./ }];
    },
  })),
  // Wrong values for leaves.
  fc
    .tuple(
      fc.constantFrom<[string[], unknown[]]>(
        [['version'], [2, '1', null, 0]],
        [['defaults', 'approvals'], [0, 11, 1.5, '2', -1]],
        [['defaults', 'decision'], ['maybe', 1, null, 'Allow']],
        [['groups', 'ops', 'members'], [[], 'oscar', [''], null]],
        [['rules', '1', 'approvals'], [0, 11, 2.5]],
        [['rules', '1', 'risk'], ['extreme', 3]],
        [['rules', '0', 'id'], ['Refund', '', '-x', 5]],
        [['rules', '0', 'match', 'action'], ['', [], 'a..b', 'pay ments']],
      ),
      fc.nat(),
    )
    .map(([[path, values], i]): PolicyMutation => ({
      describe: `wrong value at ${pathText(path)}`,
      apply: (policy) => {
        setIn(policy, path, values[i % values.length]);
        return [{ path: pathText(path), message: /./, keys: [path.at(-1)!], within: true }];
      },
    })),
  // Review-only fields on an allow rule, a deny rule without a reason.
  fc.constantFrom<PolicyMutation>(
    {
      describe: 'reviewers on an allow rule',
      apply: (policy) => {
        setIn(policy, ['rules', '0', 'reviewers'], 'ops');
        return [{ path: 'rules[0].reviewers', message: /only applies/, keys: ['reviewers'] }];
      },
    },
    {
      describe: 'deny rule without a reason',
      apply: (policy) => {
        delete ((policy.rules as Record<string, unknown>[])[2] as Record<string, unknown>).reason;
        return [{ path: 'rules[2].decision', message: /reason/, keys: ['decision'] }];
      },
    },
  ),
);

/** Text-level damage after writing the YAML: some of it is known to break YAML, some may be harmless. */
const textDamage = fc.oneof(
  fc.constantFrom(
    { describe: 'unclosed flow sequence', yaml: true, apply: (t: string) => `${t}extra: [unclosed\n` },
    { describe: 'duplicate key', yaml: true, apply: (t: string) => `${t}version: 1\n` },
    { describe: 'tab indentation', yaml: true, apply: (t: string) => t.replace('\n  ', '\n\t') },
    { describe: 'unterminated quote', yaml: true, apply: (t: string) => `${t}x: "abc\n` },
    { describe: 'second document', yaml: true, apply: (t: string) => `${t}---\nversion: 1\n` },
    {
      describe: 'alias bomb',
      yaml: false,
      apply: (t: string) => `a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n${[1, 2, 3, 4].map((i) => `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`).join('\n')}\n${t}`,
    },
  ),
  fc.tuple(fc.nat(), fc.nat({ max: 5 }), unicode({ maxLength: 4 })).map(([at, drop, insert]) => ({
    describe: `splice ${JSON.stringify(insert)} dropping ${drop}`,
    yaml: false,
    apply: (t: string) => {
      const i = at % (t.length + 1);
      return t.slice(0, i) + insert + t.slice(i + drop);
    },
  })),
);

function linesIn(text: string): number {
  return text.split(/\r\n|\r|\n/).length;
}

/** Every error is well formed: the file, a non-empty one-line message, a path unless whole-file, a line inside the file. */
function assertWellFormed(err: unknown, file: string, text: string): PolicyError[] {
  assert.ok(err instanceof PolicyLoadError, `compilePolicy threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
  assert.ok(err.errors.length >= 1, 'at least one error');
  for (const e of err.errors) {
    assert.equal(e.file, file);
    assert.equal(typeof e.message, 'string');
    assert.ok(e.message.trim().length > 0, 'non-empty message');
    assert.ok(!/[\n\r]/.test(formatPolicyError(e)), `one line per error: ${JSON.stringify(formatPolicyError(e))}`);
    const wholeFile = e.message.startsWith('YAML: ') || (e.path === '' && /^(unknown fields? |must be a)/.test(e.message));
    if (!wholeFile) assert.ok(e.path.length > 0, `a field path: ${JSON.stringify(e)}`);
    if (e.line !== undefined) assert.ok(Number.isInteger(e.line) && e.line >= 1 && e.line <= linesIn(text), `line ${e.line} outside 1..${linesIn(text)}`);
  }
  return err.errors;
}

function compileOutcome(text: string, file: string): { ok: true } | { ok: false; errors: PolicyError[] } {
  try {
    compilePolicy(text, file);
    return { ok: true };
  } catch (err) {
    return { ok: false, errors: assertWellFormed(err, file, text) };
  }
}

const fileName = fc.oneof(fc.constant('policy.yaml'), fc.stringMatching(/^[a-z]{1,8}\/[a-z-]{1,10}\.ya?ml$/));

describe('policy files (pure)', () => {
  test('the unmutated base policy compiles', () => {
    compilePolicy(toYaml(basePolicy()), 'base.yaml');
  });

  test('every structural mutation is refused with PolicyLoadError naming the field, its line, and the problem', () => {
    fc.assert(
      fc.property(fc.array(policyMutation, { minLength: 1, maxLength: 3 }), fileName, (mutations, file) => {
        const policy = basePolicy();
        const expectations = new Map<string, Expect>();
        mutations.forEach((m, n) => {
          for (const e of m.apply(policy, n)) {
            const earlier = expectations.get(e.path);
            // Two unknown fields in one object are reported together, on the line of either.
            if (earlier?.keys && e.keys && earlier.message.source === e.message.source) expectations.set(e.path, { ...e, keys: [...earlier.keys, ...e.keys] });
            else expectations.set(e.path, e);
          }
        });
        const text = toYaml(policy);
        const outcome = compileOutcome(text, file);
        assert.ok(!outcome.ok, `accepted: ${mutations.map((m) => m.describe).join('; ')}`);
        const lines = text.split(/\r\n|\r|\n/);
        for (const e of expectations.values()) {
          const at = (path: string) => path === e.path || (e.within && (path.startsWith(`${e.path}[`) || path.startsWith(`${e.path}.`)));
          const match = outcome.errors.find((x) => at(x.path) && e.message.test(x.message));
          assert.ok(match, `no error at ${e.path} matching ${e.message}: ${JSON.stringify(outcome.errors)}`);
          if (match.path === e.path && e.keys?.length && e.keys.every((k) => /^[A-Za-z]+$/.test(k))) {
            assert.ok(match.line !== undefined, `no line for ${e.path}`);
            const line = lines[match.line - 1]!;
            assert.ok(e.keys.some((k) => line.includes(k)), `line ${match.line} (${JSON.stringify(line)}) holds none of ${e.keys.join(', ')}`);
          }
        }
      }),
      runs(400),
    );
  });

  test('an escalation cycle of any length is reported as a cycle, once per group on it', () => {
    fc.assert(
      fc.property(fc.uniqueArray(groupName, { minLength: 1, maxLength: 4 }), fc.boolean(), (names, inline) => {
        const groups = Object.fromEntries(names.map((n, i) => [n, { members: [`m${i}`], escalatesTo: names[(i + 1) % names.length] }]));
        const text = inline
          ? `version: 1\ndefaults: { reviewers: ${names[0]} }\ngroups: ${JSON.stringify(groups)}\n`
          : toYaml({ version: 1, defaults: { reviewers: names[0] }, groups });
        const outcome = compileOutcome(text, 'cycle.yaml');
        assert.ok(!outcome.ok, 'a cycle compiled');
        const cycles = outcome.errors.filter((e) => /cycle/.test(e.message));
        assert.deepEqual(cycles.map((e) => e.path).sort(), names.map((n) => `groups.${n}.escalatesTo`).sort());
        assert.equal(outcome.errors.length, cycles.length, `only the cycle is wrong: ${JSON.stringify(outcome.errors)}`);
      }),
      runs(200),
    );
  });

  test('text damage (broken YAML, alias bombs, random splices) is refused with PolicyLoadError or compiles — never another error', () => {
    fc.assert(
      fc.property(fc.array(policyMutation, { maxLength: 1 }), textDamage, fileName, (mutations, damage, file) => {
        const policy = basePolicy();
        mutations.forEach((m, n) => m.apply(policy, n));
        const text = damage.apply(toYaml(policy));
        const outcome = compileOutcome(text, file);
        if (damage.yaml) {
          assert.ok(!outcome.ok, `accepted: ${damage.describe}`);
          assert.ok(outcome.errors.some((e) => e.message.startsWith('YAML: ') && e.line !== undefined), `no YAML error with a line: ${JSON.stringify(outcome.errors)}`);
        }
        if (damage.describe === 'alias bomb') assert.ok(!outcome.ok, 'an alias bomb is refused');
      }),
      runs(400),
    );
  });
});
