import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { canonicalJson } from '../../common/canonical';
import { actionDigest, approvalWorkflowId, sha256Hex } from '../../common/digest';

test('canonical JSON sorts keys at every depth and drops whitespace', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
});

test('canonical JSON matches the RFC 8785 sample for numbers, strings and key order by UTF-16 units', () => {
  // RFC 8785 §3.2.3 sorting example: keys compared as UTF-16 code units.
  const input = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
  // (Object.keys would put the integer-like "1" first, so read the order off the text itself.)
  const text = canonicalJson(input);
  const order = ['\\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'].map((k) => text.indexOf(`"${k}":`));
  assert.ok(order.every((pos) => pos >= 0));
  assert.deepEqual([...order].sort((a, b) => a - b), order);
  assert.equal(canonicalJson({ n: [1e21, 1e-7, -0, 0.1, 100, 333333333.3333333] }), '{"n":[1e+21,1e-7,0,0.1,100,333333333.3333333]}');
  assert.equal(canonicalJson('\u2028 "quote" \n é 😀'), '"\u2028 \\"quote\\" \\n é 😀"');
});

test('the action digest ignores key order but not values, and is unicode-exact', () => {
  const a = actionDigest({ action: 'payments.refund', resource: { type: 'customer', id: 'C-42' }, payload: { amount: 10, currency: 'EUR' } });
  const b = actionDigest({ payload: { currency: 'EUR', amount: 10 }, resource: { id: 'C-42', type: 'customer' }, action: 'payments.refund' });
  const c = actionDigest({ action: 'payments.refund', resource: { type: 'customer', id: 'C-42' }, payload: { amount: 11, currency: 'EUR' } });
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.match(a, /^[0-9a-f]{64}$/);
  // Composed "é" and decomposed "e\u0301" are different payloads: nothing is normalised behind the reviewer's back.
  const composed = actionDigest({ action: 'x.y', resource: { type: 'customer', id: '1' }, payload: { name: 'Zo\u00e9' } });
  const decomposed = actionDigest({ action: 'x.y', resource: { type: 'customer', id: '1' }, payload: { name: 'Zoe\u0301' } });
  assert.notEqual(composed, decomposed);
});

test('sha256 is the standard one and the workflow id follows cs-<agent>-<16 hex>', () => {
  assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  // The pure-JS hash (workflows) and Node's (activities) must give the same action digest.
  const native = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
  const unicode = { action: 'a.b', resource: { type: 'customer', id: 'Zoë' }, payload: { note: 'Grüße 😀 \u2028', n: 1.5e-7 } };
  assert.equal(actionDigest(unicode, native), actionDigest(unicode));
  const request = { agentId: 'bot-1', taskId: 't1', action: 'a.b', resource: { type: 'customer', id: '1' }, payload: {} };
  const id = approvalWorkflowId(request);
  assert.match(id.workflowId, /^cs-bot-1-[0-9a-f]{16}$/);
  assert.equal(id.workflowId, `cs-bot-1-${id.requestId}`);
  assert.notEqual(approvalWorkflowId({ ...request, taskId: 't2' }).requestId, id.requestId);
});
