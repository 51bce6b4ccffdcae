/**
 * The worker shares zod across the workflows on a thread, deep-frozen (workflows/shared-modules.ts).
 * A zod feature that writes to something the freeze locks would throw inside every workflow that
 * parses with it — for example a string format whose RegExp zod exports (email, uuid, lowercase,
 * iso.date: zod resets their lastIndex before each test). This file loads zod as the worker
 * preloads it, freezes what the SDK freezes (every export object of zod's modules, deeply, and
 * zod's global configuration), and only then evaluates the schemas and runs every parse a workflow
 * makes, accepted and refused. A schema that reaches frozen state fails here, not in production.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../workflows/shared-modules';

/**
 * The SDK's deepFreeze (worker/lib/workflow/reusable-vm.js): objects recursively, functions only
 * themselves. Unlike it, this goes on into an object that is already frozen: loaded through Node's
 * require, some of zod's export objects are frozen already, with their values still open, where
 * the worker's bundle leaves them open for the SDK to freeze all the way down.
 */
function deepFreeze(object: unknown, visited = new WeakSet<object>()): void {
  if (object === null || (typeof object !== 'object' && typeof object !== 'function') || visited.has(object)) return;
  visited.add(object);
  if (typeof object === 'object') {
    for (const key of Reflect.ownKeys(object)) {
      try {
        deepFreeze((object as Record<PropertyKey, unknown>)[key], visited);
      } catch {
        // Some objects cannot be frozen (typed arrays); the SDK skips them too.
      }
    }
  }
  Object.freeze(object);
}

const zodModules = Object.keys(require.cache).filter((path) => path.includes('/node_modules/zod/'));
for (const path of zodModules) deepFreeze(require.cache[path]!.exports);
deepFreeze((globalThis as { __zod_globalConfig?: unknown }).__zod_globalConfig);

const sig = { signedAt: '2026-11-26T10:00:00.000Z', value: `${'A'.repeat(86)}==` };
const passkey = { signedAt: '2026-11-26T10:00:00Z', passkey: { credentialId: 'Y3JlZA', authenticatorData: 'YXV0aA', clientDataJSON: 'Y2xpZW50', signature: 'c2ln' } };
const digest = 'a'.repeat(64);
const request = {
  agentId: 'support-bot',
  taskId: 'ticket-1',
  action: 'payments.refund',
  summary: '  Refund order 1  ',
  resource: { type: 'customer', id: 'C-1', owner: 'team-a', environment: 'prod' },
  payload: { amount: 5, lines: [{ sku: 'x', qty: 1 }], note: null },
  onBehalfOf: 'alice',
  context: { ticket: 'T-1' },
  agentKey: `${'A'.repeat(43)}=`,
};

test('zod is loaded and frozen as the worker shares it', () => {
  assert.ok(zodModules.length > 10, `${zodModules.length} zod modules loaded`);
  assert.ok(zodModules.every((path) => Object.isFrozen(require.cache[path]!.exports)));
  const regexes = require.cache[zodModules.find((path) => /\/v4\/core\/regexes\.c?js$/.test(path))!]!.exports as Record<string, unknown>;
  assert.ok(Object.isFrozen(regexes.lowercase), "zod's own RegExps are frozen, as in the worker");
});

test('with zod frozen as the worker freezes it, every parse a workflow makes works, accepted and refused', async () => {
  const { ActionRequest, ReviewerDecision, ConsumeRequest, ExecutionReport, SubmitWait } = await import('../../common/inputs');
  const { describeIssues } = await import('../../common/errors');
  const refused = (result: { success: boolean; error?: unknown }) => {
    assert.equal(result.success, false);
    return describeIssues(result.error as Parameters<typeof describeIssues>[0]);
  };

  const parsed = ActionRequest.safeParse(request);
  assert.ok(parsed.success, String(parsed.error));
  assert.equal(parsed.data.summary, 'Refund order 1');
  assert.match(refused(ActionRequest.safeParse({ ...request, agentId: 'no spaces' })), /^Field "agentId"/);
  assert.match(refused(ActionRequest.safeParse({ ...request, payload: JSON.parse('{"__proto__":{"admin":true}}') })), /^Field "payload"/);
  assert.match(refused(ActionRequest.safeParse({ ...request, payload: { n: 2 ** 60 } })), /^Field "payload"/);
  assert.match(refused(ActionRequest.safeParse({ ...request, resource: { type: 'Customer', id: 'C-1' } })), /^Field "resource.type"/);
  assert.match(refused(ActionRequest.safeParse({ ...request, extra: 1 })), /extra/);
  assert.match(refused(ActionRequest.safeParse('a string')), /request/);

  const approve = { decision: 'approve', reviewer: 'dave', versionDigest: digest, editedPayload: { amount: 4 }, comment: 'ok', signature: sig };
  const deny = { decision: 'deny', reviewer: 'dave', versionDigest: digest, reasonCode: 'AMOUNT_TOO_HIGH', message: 'no', signature: passkey };
  const changes = { decision: 'request_changes', reviewer: 'erin', versionDigest: digest, comment: 'smaller', proposedPayload: { amount: 3 } };
  for (const decision of [approve, deny, changes]) assert.ok(ReviewerDecision.safeParse(decision).success, decision.decision);
  assert.match(refused(ReviewerDecision.safeParse({ ...approve, decision: 'maybe' })), /decision/);
  assert.match(refused(ReviewerDecision.safeParse({ ...deny, reasonCode: 'lower' })), /^Field "reasonCode"/);
  assert.match(refused(ReviewerDecision.safeParse({ ...approve, signature: { ...sig, signedAt: 'yesterday' } })), /signature/);
  assert.match(refused(ReviewerDecision.safeParse({ ...approve, versionDigest: 'ABC' })), /^Field "versionDigest"/);

  const consume = { token: 'cs_tok_x', agentId: 'support-bot', taskId: 'ticket-1', actionDigest: digest };
  assert.ok(ConsumeRequest.safeParse(consume).success);
  assert.match(refused(ConsumeRequest.safeParse({ ...consume, actionDigest: 'nope' })), /^Field "actionDigest"/);
  assert.deepEqual(ExecutionReport.parse({ status: 'succeeded', resultDigest: digest }), { status: 'succeeded', resultDigest: digest });
  assert.throws(() => ExecutionReport.parse({ status: 'done' }), (err: Error) => err.name === 'ZodError');
  assert.deepEqual(SubmitWait.parse({ waitMs: 0 }), { waitMs: 0 });
  assert.throws(() => SubmitWait.parse({ waitMs: -1 }), (err: Error) => err.name === 'ZodError');
});
