import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidRequestError, parseActionRequest } from '../../client/sdk';
import { nativeSha256Hex } from '../../crypto/sha256';
import { approvalWorkflowId } from '../../common/digest';
import type { Json } from '../../common/json';

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
