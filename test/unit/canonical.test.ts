import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../../common/canonical';
import { actionDigest, approvalWorkflowId, sha256Hex } from '../../common/digest';
import { define, hasOwn, json, rng, runs, shuffle, unicode } from '../support/arbitraries';

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

// Property tests (fast-check) over arbitrary JSON with unicode strings.

type Path = (string | number)[];
function containers(value: unknown, path: Path = [], out: { path: Path; value: object }[] = []): { path: Path; value: object }[] {
  if (value !== null && typeof value === 'object') {
    out.push({ path, value });
    for (const [k, v] of Object.entries(value)) containers(v, [...path, Array.isArray(value) ? Number(k) : k], out);
  }
  return out;
}

/** Paths to every scalar and every empty object or array. */
function leaves(value: unknown, path: Path = [], out: Path[] = []): Path[] {
  if (value !== null && typeof value === 'object' && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) leaves(v, [...path, Array.isArray(value) ? Number(k) : k], out);
  } else out.push(path);
  return out;
}

/** A copy of `root` with `edit` applied to the node at `path` (JSON round trip keeps own __proto__ keys). */
function editAt(root: unknown, path: Path, edit: (node: unknown) => unknown): unknown {
  const copy = JSON.parse(JSON.stringify(root)) as unknown;
  if (path.length === 0) return edit(copy);
  let parent = copy as Record<string | number, unknown>;
  for (const p of path.slice(0, -1)) parent = parent[p] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  const next = edit(parent[last]);
  define(parent, last, next);
  return copy;
}

function hasNegativeZero(value: unknown): boolean {
  if (Object.is(value, -0)) return true;
  return value !== null && typeof value === 'object' && Object.values(value).some(hasNegativeZero);
}

const digestOf = (payload: unknown) => actionDigest({ action: 'x.y', resource: { type: 'customer', id: '1' }, payload: payload as never });

function pathGet(root: unknown, path: Path): unknown {
  let node = root;
  for (const p of path) node = (node as Record<string | number, unknown>)[p];
  return node;
}

describe('canonical JSON (pure)', () => {
  test('key order never matters: same canonical text, same action digest', () => {
    fc.assert(
      fc.property(json(5), fc.integer(), (value, seed) => {
        const copy = shuffle(value, rng(seed));
        assert.equal(canonicalJson(copy), canonicalJson(value));
        assert.equal(digestOf(copy), digestOf(value));
      }),
      runs(1000),
    );
  });

  test('canonical JSON parses back to the same value', () => {
    fc.assert(
      fc.property(json(5), (value) => {
        fc.pre(!hasNegativeZero(value));
        const text = canonicalJson(value);
        assert.deepStrictEqual(JSON.parse(text), value);
        assert.ok(!/^\s|\s$/.test(text));
      }),
      runs(1000),
    );
  });

  test('any single change — a changed leaf, an added key or element, a removed one — changes the digest', () => {
    fc.assert(
      fc.property(json(5), fc.nat(), fc.constantFrom('leaf', 'add', 'remove'), json(2), unicode({ maxLength: 8 }), (value, pick, kind, replacement, key) => {
        let changed: unknown;
        if (kind === 'leaf') {
          const all = leaves(value);
          const path = all[pick % all.length]!;
          changed = editAt(value, path, () => replacement);
          fc.pre(canonicalJson(replacement) !== canonicalJson(path.length ? pathGet(value, path) : value));
        } else if (kind === 'add') {
          const all = containers(value);
          fc.pre(all.length > 0);
          const target = all[pick % all.length]!;
          if (!Array.isArray(target.value)) fc.pre(!hasOwn(target.value, key));
          changed = editAt(value, target.path, (node) => {
            if (Array.isArray(node)) return [...node, replacement];
            const copy = JSON.parse(JSON.stringify(node)) as Record<string, unknown>;
            define(copy, key, replacement);
            return copy;
          });
        } else {
          const all = containers(value).filter((c) => Object.keys(c.value).length > 0);
          fc.pre(all.length > 0);
          const target = all[pick % all.length]!;
          const keys = Object.keys(target.value);
          const victim = keys[Math.floor(pick / all.length) % keys.length]!;
          changed = editAt(value, target.path, (node) => {
            if (Array.isArray(node)) return node.filter((_, i) => i !== Number(victim));
            const copy = JSON.parse(JSON.stringify(node)) as Record<string, unknown>;
            delete copy[victim];
            return copy;
          });
        }
        assert.notEqual(canonicalJson(changed), canonicalJson(value));
        assert.notEqual(digestOf(changed), digestOf(value));
      }),
      runs(1000),
    );
  });
});
