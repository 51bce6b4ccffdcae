/**
 * Issue 10's attacks end to end, as the agent would run them (CLI files and the SDK) against a worker
 * with examples/policy.yaml: each refused, or decided at least as strictly as the canonical request.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { InvalidRequestError, parseActionRequest } from '../client/sdk';
import { generateAgentKey } from '../crypto/tokens';
import { approvalWorkflowId } from '../common/digest';
import { cliFor, lookThenDecide } from './support/cli';
import { useStack } from './support/stack';

const ctx = useStack(() => readFileSync(join(__dirname, '..', 'examples', 'policy.yaml'), 'utf8'));
const cli = cliFor(ctx, { COUNTERSIGN_REVIEWER: '' });

let n = 0;
const file = (text: string) => {
  const path = join(ctx.stack.dir, `action-${++n}.json`);
  writeFileSync(path, text);
  return path;
};
const example = (name: string) => JSON.parse(readFileSync(join(__dirname, '..', 'examples', 'actions', `${name}.json`), 'utf8')) as Record<string, unknown>;
const fresh = (name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> => ({ ...example(name), taskId: `t-${process.pid}-${++n}`, ...overrides });

describe('strict JSON at the CLI', () => {
  test('a duplicate "amount" key and a 20-digit amount are refused before anything is digested or started', async () => {
    const refund = fresh('refund-small');
    const text = JSON.stringify(refund).replace('"amount":40', '"amount":5000,"amount":40');
    assert.match(text, /"amount":5000,"amount":40/);
    const dup = await cli(['submit', '--file', file(text)]);
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /not valid JSON \(Duplicate key "amount" at \$\.payload: each key may appear once\.\)/);
    const big = await cli(['submit', '--file', file(JSON.stringify(refund).replace('"amount":40', '"amount":12345678901234567890'))]);
    assert.equal(big.code, 2);
    assert.match(big.stderr, /Number at \$\.payload\.amount is outside the safe integer range/);
    assert.equal((await cli(['review', 'list', '--json'])).stdout.includes(String(refund.taskId)), false, 'nothing started');
  });
});

describe('the catalog at the front door, and again at the worker', () => {
  test('the SDK: an export that names its own resource and owner is refused 422 naming the derived resource, and nothing starts; straight to Temporal, the worker denies it INVALID_REQUEST', async () => {
    const request = fresh('data-export-pii', { resource: { type: 'foo', id: 'x', owner: 'support' } });
    const disagrees = /Field "resource" \(foo:x, owner support\) disagrees with the resource the payload names \(dataset:customers-eu\)/;
    await assert.rejects(ctx.stack.cs.submit(request, { waitMs: 5000 }), (err: unknown) => err instanceof InvalidRequestError && disagrees.test(err.message));
    await assert.rejects(ctx.stack.ops.status(approvalWorkflowId(request as never).workflowId), /not found/i, 'nothing started');
    // Around the server (the operator's Temporal access): the workflow checks the catalog again.
    const state = await ctx.stack.ops.submit({ ...parseActionRequest(request), agentKey: generateAgentKey().publicKey }, { waitMs: 5000 });
    assert.equal(state.status, 'denied');
    assert.equal(state.outcome?.code, 'INVALID_REQUEST');
    assert.match(state.outcome!.message!, disagrees);
    const honest = await ctx.stack.cs.submit(fresh('data-export-pii'), { waitMs: 5000 });
    assert.equal(honest.status, 'pending');
    assert.deepEqual((await ctx.stack.cs.view(honest.workflowId)).eligibleGroups, ['data-governance']);
  });

  test('the CLI: DB.DropTable on PROD is denied like db.dropTable on prod; a string "true" for includesPii and a negative refund are refused (exit 2, the sentence, nothing started)', async () => {
    const drop = await cli(['submit', '--file', file(JSON.stringify(fresh('drop-prod-table', { action: 'DB.DropTable', resource: { type: 'system', id: 'orders-db', environment: 'PROD' } })))]);
    assert.equal(drop.code, 1);
    assert.match(drop.stdout, /denied: POLICY_DENIED: Dropping production data is never automated\./);
    const production = await cli(['submit', '--file', file(JSON.stringify(fresh('drop-prod-table', { resource: { type: 'system', id: 'orders-db', environment: 'production' }, payload: { database: 'orders', table: 't', environment: 'production' } })))]);
    assert.match(production.stdout, /denied: POLICY_DENIED/);
    const pii = fresh('data-export-pii');
    (pii.payload as Record<string, unknown>).includesPii = 'true';
    const loose = await cli(['submit', '--file', file(JSON.stringify(pii)), '--wait', '5s']);
    assert.equal(loose.code, 2);
    assert.match(loose.stderr, /Field "payload\.includesPii" must be boolean/);
    assert.equal(loose.stdout, '');
    const negative = fresh('refund-small');
    (negative.payload as Record<string, unknown>).amount = -5000;
    const refund = await cli(['submit', '--file', file(JSON.stringify(negative)), '--wait', '5s']);
    assert.equal(refund.code, 2);
    assert.match(refund.stderr, /Field "payload\.amount" must be > 0/);
    for (const request of [pii, negative]) await assert.rejects(ctx.stack.ops.status(approvalWorkflowId(request as never).workflowId), /not found/i, 'nothing started');
  });

  test('an action outside the catalog cannot choose its environment or owner: the example policy refuses it (issue 22 M4)', async () => {
    const attacks = [
      fresh('deploy-prod', { action: 'infra.terraformApply', resource: { type: 'system', id: 'core', environment: 'staging' }, payload: { workspace: 'core', environment: 'prod' } }),
      fresh('account-email-change', { action: 'account.delete', resource: { type: 'account', id: 'AC-77', owner: 'support' }, payload: { account: 'AC-77' } }),
    ];
    const expected = [/Field "resource" \(system:core, environment staging\) disagrees with the resource the payload names \(system:core, environment prod\)/, /The action "account\.delete" is not in the policy's action catalog, and this policy accepts catalogued actions only\./];
    for (const [i, request] of attacks.entries()) {
      // Refused at the worker (denied INVALID_REQUEST), or at the front door once it checks the catalog itself.
      const refused = await ctx.stack.cs.submit(request, { waitMs: 5000 }).then(
        (state) => ({ status: state.status, code: state.outcome?.code, message: state.outcome?.message ?? '' }),
        (err: unknown) => {
          if (!(err instanceof InvalidRequestError)) throw err;
          return { status: 'denied', code: 'INVALID_REQUEST', message: err.message };
        },
      );
      assert.deepEqual([refused.status, refused.code], ['denied', 'INVALID_REQUEST'], JSON.stringify(refused));
      assert.match(refused.message, expected[i]!);
    }
  });

  test('the SDK refuses an unsafe integer itself, before anything starts', async () => {
    await assert.rejects(ctx.stack.cs.submit(fresh('refund-small', { payload: { customer: 'C-42', amount: 2 ** 60, currency: 'USD', order: '1' } })), (err: unknown) => {
      assert.ok(err instanceof InvalidRequestError);
      assert.match(err.message, /integer outside ±\(2\^53 − 1\) at payload\.amount/);
      return true;
    });
  });

  test('an edit that breaks the schema is refused naming the path; one that changes the customer is refused too', async () => {
    const request = await ctx.stack.cs.submit(fresh('refund-large'), { waitMs: 2000 });
    assert.equal(request.status, 'pending');
    const bad = file(JSON.stringify({ customer: 'C-42', amount: '1200', currency: 'USD', order: 'A-2026-0042' }));
    const run = await lookThenDecide(cli, ['approve', request.requestId, '--as', 'dave', '--edit', bad]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /Refused \(INVALID_REQUEST\): The edit is refused: Field "payload\.amount" must be number \(type, payments\.refund catalog schema\)\./);
    const other = file(JSON.stringify({ customer: 'C-99', amount: 1200, currency: 'USD', order: 'A-2026-0042' }));
    const moved = await lookThenDecide(cli, ['approve', request.requestId, '--as', 'dave', '--edit', other]);
    assert.equal(moved.code, 1);
    assert.match(moved.stderr, /disagrees with the resource the payload names \(customer:C-99\)/);
    assert.deepEqual((await ctx.stack.cs.view(request.workflowId)).approvals, []);
  });

  test('policy test shows the catalog entry and the derived resource; a refused action exits 1 with the sentence', async () => {
    const policyFile = join(__dirname, '..', 'examples', 'policy.yaml');
    const ok = await cli(['policy', 'test', policyFile, '--action', join(__dirname, '..', 'examples', 'actions', 'refund-large.json')]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout).catalog, { entry: 'payments.refund', resource: { type: 'customer', id: 'C-42' } });
    const forged = await cli(['policy', 'test', policyFile, '--action', file(JSON.stringify(fresh('refund-small', { resource: { type: 'customer', id: 'C-7' } })))]);
    assert.equal(forged.code, 1);
    assert.match(JSON.parse(forged.stdout).reason, /disagrees with the resource the payload names \(customer:C-42\)/);
  });
});


