/**
 * Argument-level policy (issue 10) against examples/policy.yaml: the action catalog (payload schemas,
 * derived resources), matching that letter case, look-alikes and extra segments cannot dodge,
 * environment aliases, and a property test that no spelling of a denied action is decided more
 * leniently than the canonical one.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { checkCatalog, renderDisplay } from '../../policy/catalog';
import { evaluatePolicy } from '../../policy/evaluate';
import { compilePolicy, loadPolicyFile, PolicyLoadError } from '../../policy/load';
import { ActionRequest } from '../../common/inputs';

const policy = loadPolicyFile(join(__dirname, '..', '..', 'examples', 'policy.yaml'));

/** What the worker decides for a raw request: refused as invalid (strictest), deny, review or allow. */
function verdict(raw: unknown): { decision: 'invalid' | 'deny' | 'review' | 'allow'; message: string } {
  const parsed = ActionRequest.safeParse(raw);
  if (!parsed.success) return { decision: 'invalid', message: parsed.error.issues[0]!.message };
  const catalog = checkCatalog(policy.catalog, parsed.data, policy.environment);
  if (!catalog.ok) return { decision: 'invalid', message: catalog.message };
  const d = evaluatePolicy(policy, parsed.data);
  return { decision: d.decision, message: `${d.ruleIds.join(',')}: ${d.reason}${d.route ? ` → ${d.route.group.name}` : ''}` };
}
const STRICTNESS = { allow: 0, review: 1, deny: 2, invalid: 3 } as const;

const base = { agentId: 'ops-bot', taskId: 't-1', summary: 'Do the thing.' };
const drop = (action: string, environment: string, payloadEnvironment = environment) => ({
  ...base,
  action,
  resource: { type: 'system', id: 'orders-db', environment },
  payload: { database: 'orders', table: 'orders_tmp', environment: payloadEnvironment },
});
const refund = (payload: Record<string, unknown>, resource: Record<string, unknown> = { type: 'customer', id: 'C-42' }) => ({
  ...base,
  action: 'payments.refund',
  resource,
  payload: { customer: 'C-42', amount: 40, currency: 'USD', order: 'A-1', ...payload },
});

test('every example action passes the example catalog, with the decision the README walkthrough shows', () => {
  const dir = join(__dirname, '..', '..', 'examples', 'actions');
  const expected: Record<string, string> = { 'refund-small.json': 'allow', 'drop-prod-table.json': 'deny', 'refund-large.json': 'review' };
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 8);
  for (const name of files) {
    const v = verdict(JSON.parse(readFileSync(join(dir, name), 'utf8')));
    assert.notEqual(v.decision, 'invalid', `${name}: ${v.message}`);
    if (expected[name]) assert.equal(v.decision, expected[name], name);
  }
});

describe('the agent cannot pick its reviewers', () => {
  test('a data export that asserts another resource and owner is refused, naming the derived one', () => {
    const v = verdict({
      ...base,
      action: 'data.export',
      resource: { type: 'foo', id: 'x', owner: 'support' },
      payload: { dataset: 'customers-eu', columns: ['email'], includesPii: true, rows: 10, destination: 's3://x' },
    });
    assert.equal(v.decision, 'invalid');
    assert.match(v.message, /Field "resource" \(foo:x, owner support\) disagrees with the resource the payload names \(dataset:customers-eu\)/);
    const honest = verdict({ ...base, action: 'data.export', resource: { type: 'dataset', id: 'customers-eu' }, payload: { dataset: 'customers-eu', columns: ['email'], includesPii: true, rows: 10, destination: 's3://x' } });
    assert.match(honest.message, /→ data-governance$/);
  });

  test('a deploy whose resource says staging while its payload deploys to production is refused; production is reviewed', () => {
    const deploy = (resourceEnv: string, payloadEnv: string) => ({
      ...base,
      action: 'deploy.service',
      resource: { type: 'system', id: 'billing-api', environment: resourceEnv },
      payload: { service: 'billing-api', version: '4.12.0', environment: payloadEnv },
    });
    assert.equal(verdict(deploy('staging', 'prod')).decision, 'invalid');
    assert.equal(verdict(deploy('staging', 'staging')).decision, 'allow');
    assert.equal(verdict(deploy('PROD', 'production')).decision, 'review', 'aliases and case fold into prod');
    assert.equal(verdict(deploy('prod', 'PROD')).decision, 'invalid', 'the payload names an environment one of the ways the catalog lists');
  });

  test('a deploy carrying a field the schema does not name (a cluster of its own) is refused', () => {
    const v = verdict({ ...base, action: 'deploy.service', resource: { type: 'system', id: 'billing-api', environment: 'staging' }, payload: { service: 'billing-api', version: '4.12.0', environment: 'staging', cluster: 'prod-eu-1' } });
    assert.equal(v.decision, 'invalid');
    assert.match(v.message, /^Field "payload\.cluster" is not allowed \(deploy\.\* catalog schema\)\.$/);
  });
});

describe('the example policy leaves no dodge that depends on the executor (issue 22 L11)', () => {
  const email = (payload: Record<string, unknown>) => verdict({ ...base, action: 'email.send', resource: { type: 'customer', id: 'C-1' }, payload: { to: ['jo@example.com'], template: 'order-update', ...payload } });

  test('an allowed template with a subject or body of the agent\'s own is reviewed; a subject with CR or LF is refused', () => {
    assert.equal(email({}).decision, 'allow', 'the template alone');
    assert.match(email({ subject: 'Your order' }).message, /^email-freeform-or-bulk: .* → support$/);
    assert.equal(email({ body: 'Click https://evil.example to confirm.' }).decision, 'review');
    for (const subject of ['Order\r\nBcc: all@example.com', 'Order\nBcc: all@example.com', 'Order\rX']) {
      const v = email({ subject });
      assert.equal(v.decision, 'invalid', JSON.stringify(subject));
      assert.match(v.message, /^Field "payload\.subject" must match pattern/);
    }
  });

  test('personal data is read from the columns: includesPii false with an email column still needs two people', () => {
    const exportOf = (includesPii: boolean, columns: string[], rows = 10) =>
      evaluatePolicy(policy, ActionRequest.parse({ ...base, action: 'data.export', resource: { type: 'dataset', id: 'd' }, payload: { dataset: 'd', columns, includesPii, rows, destination: 's3://x' } }));
    const lied = exportOf(false, ['id', 'email']);
    assert.deepEqual(lied.ruleIds, ['export-customer-data', 'export-pii-two-person']);
    assert.equal(lied.route?.approvals, 2);
    assert.equal(exportOf(false, ['phone'], 200_000).decision, 'deny');
    assert.equal(exportOf(false, ['id', 'plan']).route?.approvals, 1, 'no personal column, no personal data');
    const unknown = verdict({ ...base, action: 'data.export', resource: { type: 'dataset', id: 'd' }, payload: { dataset: 'd', columns: ['e_mail'], includesPii: false, rows: 1, destination: 's3://x' } });
    assert.equal(unknown.decision, 'invalid', 'a column the catalog does not list is refused, so no spelling of one hides it');
  });

  test('db.dropTable on prod.eu, or any environment but dev and staging, is denied or refused, never reviewed', () => {
    assert.equal(verdict(drop('db.dropTable', 'prod.eu')).decision, 'invalid', 'the catalog names the environments');
    const eu = evaluatePolicy(policy, ActionRequest.parse(drop('db.dropTable', 'prod.eu')));
    assert.equal(eu.decision, 'deny', 'and the rule itself fails closed');
    assert.equal(verdict(drop('db.dropTable', 'staging')).decision, 'review');
  });
});

describe('look-alike spellings never weaken a deny', () => {
  test('DB.DropTable, PROD, production and prd are the production drop, denied', () => {
    for (const [action, env, payloadEnv] of [['DB.DropTable', 'prod', 'prod'], ['db.dropTable', 'PROD', 'prod'], ['db.dropTable', 'production', 'production'], ['Db.DROPTABLE', 'Prd', 'prd'], ['db.dropTable.now', 'prod', 'prod']] as const) {
      assert.equal(verdict(drop(action, env, payloadEnv)).decision, 'deny', `${action} on ${env}`);
    }
    assert.equal(verdict(drop('db.dropTable', 'PROD')).decision, 'invalid', 'a payload spells its environment as the catalog lists it');
  });

  test('reads are named one by one: crm.getCustomer is allowed, crm.getAndDeleteCustomer and crm.get.customers.delete are not', () => {
    const crm = (action: string) => ({ ...base, action, resource: { type: 'customer', id: 'C-1' }, payload: { customer: 'C-1' } });
    assert.equal(verdict(crm('crm.getCustomer')).decision, 'allow');
    assert.equal(verdict(crm('CRM.GetCustomer')).decision, 'allow');
    for (const action of ['crm.getAndDeleteCustomer', 'crm.get.customers.delete']) {
      assert.equal(verdict(crm(action)).decision, 'invalid', `${action}: not in the catalog`);
      // Even in a copy of the policy that catalogues it, no rule would allow it.
      assert.notEqual(evaluatePolicy(policy, ActionRequest.parse(crm(action))).decision, 'allow', action);
    }
  });

  test('property: no spelling of a denied action or environment is decided more leniently than the canonical one', () => {
    assert.equal(verdict(drop('db.dropTable', 'prod')).decision, 'deny');
    const confusables: Record<string, string[]> = { o: ['о', 'ο', 'ｏ'], a: ['а', 'ɑ'], e: ['е'], p: ['р'], d: ['ԁ'], r: ['г'], '.': ['．', '。', '·'] };
    // Mostly pure letter-case variants (valid requests policy must fold), sometimes one look-alike character.
    const caseOf = (text: string) =>
      fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length }).map((upper) => [...text].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(''));
    const confused = (text: string) =>
      fc.tuple(caseOf(text), fc.nat(text.length - 1), fc.nat(3)).map(([t, at, which]) => {
        const look = confusables[t[at]!.toLowerCase()];
        return look ? t.slice(0, at) + look[which % look.length]! + t.slice(at + 1) : t;
      });
    const respell = (text: string) => fc.oneof({ arbitrary: caseOf(text), weight: 3 }, { arbitrary: confused(text), weight: 1 });
    const pad = fc.constantFrom('', ' ', '\t', '\u00a0', '\u200b');
    const action = fc.oneof(
      respell('db.dropTable'),
      respell('db.dropTable').map((a) => `${a}.now`),
      respell('db.dropTable').map((a) => a.replace('.', '..')),
      respell('db.dropTable').map((a) => `.${a}`),
      fc.tuple(pad, respell('db.dropTable'), pad).map(([l, a, r]) => `${l}${a}${r}`),
    );
    const environment = fc.oneof(respell('prod'), respell('production'), respell('prd'), fc.tuple(pad, respell('prod'), pad).map(([l, e, r]) => `${l}${e}${r}`));
    fc.assert(
      fc.property(action, environment, fc.boolean(), (a, env, samePayload) => {
        const v = verdict(drop(a, env, samePayload ? env : 'prod'));
        assert.ok(STRICTNESS[v.decision] >= STRICTNESS.deny, `${JSON.stringify(a)} on ${JSON.stringify(env)} was ${v.decision}: ${v.message}`);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('loosely typed payloads are refused by the catalog schema', () => {
  test('includesPii as a string, a negative refund or discount, recipients as an object: each refused naming the path', () => {
    const exportOf = (includesPii: unknown) =>
      verdict({ ...base, action: 'data.export', resource: { type: 'dataset', id: 'd' }, payload: { dataset: 'd', columns: ['email'], includesPii, rows: 200000, destination: 's3://x' } });
    assert.deepEqual(exportOf(true).decision, 'deny', 'the bulk-PII deny applies to a real boolean');
    assert.match(exportOf('true').message, /^Field "payload\.includesPii" must be boolean \(type, data\.export\*\* catalog schema\)\.$/);
    assert.match(verdict(refund({ amount: -5000 })).message, /^Field "payload\.amount" must be > 0 \(exclusiveMinimum, payments\.refund catalog schema\)\.$/);
    const discount = verdict({ ...base, action: 'sales.discount', resource: { type: 'deal', id: 'D-1' }, payload: { deal: 'D-1', percent: -50, term: 'one-off' } });
    assert.match(discount.message, /^Field "payload\.percent" must be > 0/);
    const email = verdict({ ...base, action: 'email.send', resource: { type: 'customer', id: 'C-1' }, payload: { to: { 'a,b,c': 1 }, template: 'order-update' } });
    assert.match(email.message, /^Field "payload\.to" must be array/);
    assert.match(verdict(refund({ currency: 'XBT' })).message, /^Field "payload\.currency" must be one of "USD", "EUR", "GBP"/);
    assert.match(verdict(refund({ iban: 'X' })).message, /^Field "payload\.iban" is not allowed \(payments\.refund catalog schema\)\.$/);
    const missing = refund({});
    delete (missing.payload as Record<string, unknown>).order;
    assert.match(verdict(missing).message, /^Field "payload\.order" is required/);
  });

  test('integers beyond ±(2^53 − 1) are refused before anything is digested', () => {
    const v = verdict(refund({ amount: JSON.parse("12345678901234567890") as number })); // what JSON.parse makes of it: rounded
    assert.equal(v.decision, 'invalid');
    assert.match(v.message, /integer outside ±\(2\^53 − 1\) at payload\.amount/);
  });

  test('a catalog-only policy refuses uncatalogued actions; unknown actions otherwise keep the fail-closed default', () => {
    const crm = { ...base, action: 'crm.mergeAccounts', resource: { type: 'customer', id: 'C-1' }, payload: {} };
    assert.equal(verdict(crm).decision, 'invalid', 'the example policy requires the catalog');
    const strict = compilePolicy(`
version: 1
defaults: { decision: allow, reviewers: ops }
groups: { ops: { members: [oscar] } }
catalog: { required: true }
actions:
  crm.getCustomer: { payload: { type: object } }
`);
    const parsed = ActionRequest.parse(crm);
    const refused = checkCatalog(strict.catalog, parsed, strict.environment);
    assert.equal(refused.ok, false);
    assert.match(!refused.ok ? refused.message : '', /"crm\.mergeAccounts" is not in the policy's action catalog, and this policy accepts catalogued actions only/);
    assert.equal(checkCatalog(strict.catalog, { ...parsed, action: 'CRM.getCustomer' }, strict.environment).ok, true);
  });
});

describe('policy check validates the catalog', () => {
  test('a broken schema, a mapping naming an undeclared field and a doubled alias are errors with file and line', () => {
    const text = `version: 1
defaults: { reviewers: ops }
groups: { ops: { members: [oscar] } }
environments:
  prod: [production]
  live: [production]
actions:
  payments.refund:
    payload: { type: object, properties: { amount: { type: numbr } } }
  email.send:
    payload: { type: object, properties: { to: { type: array } } }
    resource: { type: customer, id: "{customer}" }
  sales.discount:
    payload: { type: object, maximumm: 3 }
`;
    assert.throws(
      () => compilePolicy(text, 'p.yaml'),
      (err: unknown) => {
        assert.ok(err instanceof PolicyLoadError);
        const lines = err.errors.map((e) => `${e.line}: ${e.path}: ${e.message}`);
        assert.ok(lines.some((l) => /^6: environments\.live: "production" already stands for prod$/.test(l)), lines.join('\n'));
        assert.ok(lines.some((l) => /^9: actions\.payments\.refund\.payload: is not a valid JSON Schema \(draft 2020-12\): .*type/.test(l)), lines.join('\n'));
        assert.ok(lines.some((l) => /^12: actions\.email\.send\.resource\.id: names the payload field "customer", which the payload schema does not declare$/.test(l)), lines.join('\n'));
        assert.ok(lines.some((l) => /^14: actions\.sales\.discount\.payload: is not a valid JSON Schema .*maximumm/.test(l)), lines.join('\n'));
        return true;
      },
    );
  });
});

describe('display fields (issue 24): what a reviewer sees first, derived by countersign from the payload', () => {
  const withDisplay = (display: string, payload = '{ type: object, properties: { amount: { type: number }, currency: { type: string }, customer: { type: object, properties: { id: { type: string } } } } }') => `version: 1
defaults: { reviewers: ops, decision: review }
groups: { ops: { members: [oscar] } }
actions:
  payments.refund:
    payload: ${payload}
    display: ${display}
`;
  const request = (payload: Record<string, unknown>) => ActionRequest.parse({ ...base, action: 'payments.refund', resource: { type: 'customer', id: 'C-42' }, payload });

  test('the example refund shows its fields in the catalog order, for allow and review alike', () => {
    const small = evaluatePolicy(policy, ActionRequest.parse(refund({ amount: 40 })));
    assert.equal(small.decision, 'allow');
    assert.deepEqual(small.display, [
      { name: 'amount', value: '40 USD' },
      { name: 'customer', value: 'C-42' },
      { name: 'order', value: 'A-1' },
      { name: 'reason', value: '—' },
    ]);
    const large = evaluatePolicy(policy, ActionRequest.parse(refund({ amount: 1250, currency: 'EUR', reason: 'Damaged\u0007 in\ttransit' })));
    assert.equal(large.decision, 'review');
    assert.deepEqual(large.display?.map((f) => f.value), ['1250 EUR', 'C-42', 'A-1', 'Damaged intransit']);
  });

  test('an action whose entry declares no display has none (the decision is unchanged)', () => {
    const d = evaluatePolicy(policy, ActionRequest.parse({ ...base, action: 'sales.discount', resource: { type: 'deal', id: 'D-1' }, payload: { deal: 'D-1', percent: 20, term: 'annual' } }));
    assert.equal('display' in d, false);
  });

  test('a missing or non-scalar value shows as —, never undefined or [object Object]; dotted paths reach nested objects', () => {
    const p = compilePolicy(withDisplay('{ amount: "{amount} {currency}", customer: "{customer.id}", whole: "{customer}" }'), 'p.yaml');
    const shown = evaluatePolicy(p, request({ amount: 12.5, customer: { id: 'C-7' } })).display;
    assert.deepEqual(shown, [
      { name: 'amount', value: '12.5 —' },
      { name: 'customer', value: 'C-7' },
      { name: 'whole', value: '—' },
    ]);
    const odd = evaluatePolicy(p, request({ amount: [1, 2], currency: null, customer: 'C-7' })).display!;
    assert.deepEqual(odd.map((f) => f.value), ['— —', '—', 'C-7']);
    for (const f of odd) assert.doesNotMatch(f.value, /undefined|object Object|null/);
  });

  test('values are clipped to 200 characters and stripped of control and direction-override characters', () => {
    const p = compilePolicy(withDisplay('{ currency: "{currency}" }'), 'p.yaml');
    const [long] = renderDisplay([['currency', '{currency}']], { currency: 'x'.repeat(500) });
    assert.equal(Array.from(long!.value).length, 200);
    assert.ok(long!.value.endsWith('…'));
    const [spoof] = evaluatePolicy(p, request({ currency: 'US\u202eD\r\n\u0000' })).display!;
    assert.equal(spoof!.value, 'USD');
    // A pair of surrogates is never cut in half.
    const [emoji] = renderDisplay([['e', '{e}']], { e: '💶'.repeat(300) });
    assert.doesNotMatch(emoji!.value, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  test('a placeholder the payload schema does not declare, a bad field name, a stray brace and too many fields are refused, naming the field', () => {
    const refused = (display: string, payload?: string): string[] => {
      try {
        compilePolicy(withDisplay(display, payload), 'p.yaml');
      } catch (err) {
        assert.ok(err instanceof PolicyLoadError);
        return err.errors.map((e) => `${e.path}: ${e.message}`);
      }
      return [];
    };
    assert.deepEqual(refused('{ total: "{amount} {currencyy}" }'), [
      'actions.payments.refund.display.total: names the payload field "currencyy", which the payload schema does not declare: display field "total" could never show it',
    ]);
    assert.match(refused('{ who: "{customer.name}" }').join('\n'), /display\.who: names the payload field "customer\.name", which the payload schema does not declare/);
    assert.match(refused('{ Amount: "{amount}" }').join('\n'), /display.*must be a field name such as amount/);
    assert.match(refused('{ amount: "{amount" }').join('\n'), /display\.amount: must be text with \{payload field\} placeholders only/);
    const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`f${i}`, '{amount}']));
    assert.match(refused(JSON.stringify(nine)).join('\n'), /display: must name from 1 to 8 fields/);
    // A schema that declares no properties lets the display name any path.
    assert.deepEqual(refused('{ anything: "{deep.path}" }', '{ type: object }'), []);
  });
});
