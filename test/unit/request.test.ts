import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { InvalidRequestError, parseActionRequest } from '../../client/sdk';
import { nativeSha256Hex } from '../../crypto/sha256';
import { approvalWorkflowId } from '../../common/digest';
import type { Json } from '../../common/json';
import { canonicalJson } from '../../common/canonical';
import { ActionRequest } from '../../common/inputs';
import { MAX_PAYLOAD_BYTES } from '../../common/json';
import { assertOneSentence, FORBIDDEN, MAX_DEPTH, nested, rng, runs, shuffle, withForbiddenKey } from '../support/arbitraries';
import { expectationOf, mustRefuse, mutatedRequest, parseOutcome, requestBase, TOP_FIELDS, utf8, type Mutation } from '../support/request-mutations';
import { action } from '../support/stack';

const valid = {
  agentId: 'support-bot',
  taskId: 'ticket-1',
  action: 'payments.refund',
  summary: 'Refund order 1',
  resource: { type: 'customer', id: 'C-1' },
  payload: { amount: 5 },
};

function refusal(input: unknown): string {
  try {
    parseActionRequest(input);
  } catch (err) {
    assert.ok(err instanceof InvalidRequestError);
    return err.message;
  }
  assert.fail('expected the request to be refused');
}

test('a valid request parses', () => {
  assert.equal(parseActionRequest(valid).action, 'payments.refund');
});

test('each invalid field is named in one sentence', () => {
  assert.equal(refusal({ ...valid, agentId: undefined }), 'Field "agentId" is required.');
  assert.equal(refusal({ ...valid, resource: { id: 'C-1' } }), 'Field "resource.type" is required.');
  assert.equal(refusal({ ...valid, payload: [1, 2] }), 'Field "payload" must be a record, got an array.');
  assert.equal(refusal({ ...valid, summary: 'x'.repeat(501) }), 'Field "summary" must be at most 500 characters.');
  assert.equal(refusal({ ...valid, summary: '   ' }), 'Field "summary" must not be empty.');
  assert.equal(refusal({ ...valid, action: 'refund' }), 'Field "action" must be a dotted name such as payments.refund.');
  assert.equal(refusal({ ...valid, extra: 1 }), 'The request has unknown field "extra".');
  assert.equal(refusal({ ...valid, payload: { blob: 'x'.repeat(300 * 1024) } }), 'Field "payload" must be at most 256 KiB as canonical JSON.');
  assert.equal(refusal({ ...valid, payload: JSON.parse('{"a":{"__proto__":{"admin":true}}}') }), 'Field "payload" must not contain the key "__proto__".');
  assert.equal(refusal('not an object'), 'The request must be an object, got a string.');
});

test('the server derives the same workflow id, request id and digest with Node\'s hash as the workflow does with the pure-JS one', () => {
  const payloads: Record<string, Json>[] = [{ amount: 10 }, { note: 'é 🙂 \u2028 "quoted"', nested: { list: [1, 2.5, -0, null, true] } }, {}];
  for (const payload of payloads) {
    const request = { agentId: 'a-1', taskId: 't:9', action: 'payments.refund', resource: { type: 'customer', id: 'C-1' }, payload };
    const pure = approvalWorkflowId(request);
    assert.deepEqual(approvalWorkflowId(request, nativeSha256Hex), pure);
    assert.match(pure.workflowId, /^cs-a-1-[0-9a-f]{16}$/);
  }
});

// Property tests (fast-check): any mutation of a valid request is accepted as valid or refused in one sentence.
describe('action requests (pure)', () => {
  test('a mutated request either parses to a valid request or is refused in one sentence naming the field', () => {
    fc.assert(
      fc.property(mutatedRequest, ({ mutations, request }) => {
        const outcome = parseOutcome(request);
        const reason = mustRefuse(request);
        if (outcome.ok) {
          assert.equal(reason, undefined, `accepted although ${reason}`);
          assert.ok(ActionRequest.safeParse(outcome.value).success, 'the parsed value satisfies the schema');
          // Nothing is dropped or changed behind the reviewer's back: the payload that runs is the payload sent.
          assert.equal(canonicalJson(outcome.value.payload), canonicalJson(request.payload));
          assert.equal(Object.getPrototypeOf(outcome.value.payload), Object.prototype);
          return;
        }
        const field = assertOneSentence(outcome.error.message, 'request', TOP_FIELDS);
        if (mutations.length !== 1) return;
        const expected = expectationOf(mutations[0]!, request);
        if (!expected) return;
        if (expected.message) assert.equal(outcome.error.message, expected.message);
        if (expected.fieldPrefix) assert.ok(field === expected.fieldPrefix || field.startsWith(`${expected.fieldPrefix}.`), `expected ${expected.fieldPrefix} named: ${outcome.error.message}`);
        if (expected.subject) {
          const m = mutations[0] as Extract<Mutation, { kind: 'unknown' }>;
          const named = /^The request has unknown field (".*")\.$/.exec(outcome.error.message);
          assert.ok(named, outcome.error.message);
          assert.equal(JSON.parse(named[1]!), m.key, 'the unknown field is named exactly');
        }
      }),
      runs(1000),
    );
  });

  test('key order never changes whether a request is accepted, nor what it parses to', () => {
    fc.assert(
      fc.property(mutatedRequest, fc.integer(), ({ request }, seed) => {
        const first = parseOutcome(request);
        const shuffled = shuffle(request, rng(seed));
        const second = parseOutcome(shuffled);
        assert.equal(first.ok, second.ok);
        if (first.ok && second.ok) assert.equal(canonicalJson(first.value), canonicalJson(second.value));
      }),
      runs(200),
    );
  });

  test('valid requests with arbitrary unicode summaries, ids, context and payload strings parse unchanged', () => {
    fc.assert(
      fc.property(requestBase, (request) => {
        const outcome = parseOutcome(request);
        assert.ok(outcome.ok, `refused: ${outcome.ok ? '' : outcome.error.message}`);
        assert.deepEqual(outcome.value, { ...request, summary: (request.summary as string).trim() });
        assert.equal(canonicalJson(outcome.value.payload), canonicalJson(request.payload));
      }),
      runs(300),
    );
  });

  test('payload limits hold at the exact boundaries: 256 KiB canonical (UTF-8), depth 32, forbidden keys at any depth', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('x', 'é', '€', '😀'),
        fc.integer({ min: -8, max: 8 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        fc.constantFrom(...FORBIDDEN),
        fc.integer({ min: 0, max: MAX_DEPTH - 4 }),
        (unit, delta, levels, arrays, key, depth) => {
          const base = action();
          const unitBytes = utf8(unit);
          const count = Math.floor((MAX_PAYLOAD_BYTES - utf8('{"b":""}')) / unitBytes) + delta;
          const big = { b: unit.repeat(count) };
          assert.equal(parseOutcome({ ...base, payload: big }).ok, utf8(canonicalJson(big)) <= MAX_PAYLOAD_BYTES);
          const deep = { d: nested(levels - 1, arrays) };
          assert.equal(parseOutcome({ ...base, payload: deep }).ok, levels <= MAX_DEPTH);
          const polluted = parseOutcome({ ...base, payload: withForbiddenKey(key, depth, { amount: 1 }) });
          assert.ok(!polluted.ok && polluted.error.message === `Field "payload" must not contain the key "${key}".`, 'forbidden key refused');
        },
      ),
      runs(200),
    );
  });
});
