/**
 * Property-based tests (fast-check): every input an agent, a reviewer or an operator can send is
 * either accepted as valid or refused with a clean, structured error — never a crash, never a
 * half-applied change. Pure properties run many times; properties against the real server fewer.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { compilePolicy, formatPolicyError, PolicyLoadError, type PolicyError } from '../policy/load';
import { ConsumeRefusedError, DecisionRefusedError, InvalidRequestError, parseActionRequest, type ApprovalRequest } from '../client/sdk';
import { canonicalJson } from '../common/canonical';
import { describeIssues, escapeName } from '../common/errors';
import { actionDigest, approvalWorkflowId } from '../common/digest';
import { MAX_PAYLOAD_BYTES } from '../common/json';
import { ActionRequest, ConsumeRequest, ReviewerDecision } from '../common/inputs';
import { type ReviewView } from '../common/views';
import { eventually } from './support/eventually';
import { action, useStack } from './support/stack';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: support, sla: 1h, tokenTtl: 5m }
groups:
  support: { members: [alice, bob] }
rules:
  - id: refund-small
    match: { action: payments.refund }
    when: "payload.amount <= 100"
    decision: allow
  - id: refund-review
    match: { action: payments.refund }
    when: "payload.amount > 100"
    decision: review
    reviewers: support
`;
const MEMBERS = ['alice', 'bob'];

const ctx = useStack(POLICY);

// ---------------------------------------------------------------------------------------------
// Shared helpers and arbitraries
// ---------------------------------------------------------------------------------------------

const FORBIDDEN = ['__proto__', 'constructor', 'prototype'] as const;
const MAX_DEPTH = 32;
const TOP_FIELDS = ['agentId', 'taskId', 'action', 'summary', 'resource', 'payload', 'onBehalfOf', 'context', 'agentKey'];
const RESOURCE_FIELDS = ['type', 'id', 'owner', 'environment'];
const REQUIRED_PATHS = ['agentId', 'taskId', 'action', 'summary', 'resource', 'payload', 'resource.type', 'resource.id'];
const STRING_PATHS = ['agentId', 'taskId', 'action', 'summary', 'onBehalfOf', 'agentKey', 'resource.type', 'resource.id', 'resource.owner', 'resource.environment'];
const OBJECT_PATHS = ['resource', 'payload', 'context'];

/** Any single UTF-16 code unit, lone surrogates included, plus some troublesome favourites. */
const codeUnit = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), weight: 3 },
  { arbitrary: fc.constantFrom('\n', '\r', '\u2028', '\u2029', '\u0085', '\u0000', '\t', '"', '\\', '. ', 'É', '😀', 'e\u0301', '\ufeff', '.'), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 2 },
);
/** Arbitrary unicode text: control characters, lone surrogates, line breaks and emoji included. */
const unicode = (constraints: { minLength?: number; maxLength?: number; size?: fc.SizeForArbitrary } = {}) => fc.string({ unit: codeUnit, ...constraints });

/** JSON values whose strings are arbitrary unicode. */
const json = (maxDepth = 3) => fc.jsonValue({ maxDepth, stringUnit: codeUnit });

/** A UTF-16 surrogate without its partner: not valid Unicode, so not encodable as UTF-8. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** What Temporal's JSON payload converter delivers to the workflow for a value the client sends. */
function wire(value: unknown): unknown {
  if (value === undefined) return undefined;
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
}

function hasOwn(value: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(value, key);
}

/** Nesting depth counted independently of the schema: a scalar is 0, {} or [] is 1. */
function nesting(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    max = Math.max(max, depth + 1);
    if (max > MAX_DEPTH + 1) return max;
    for (const key of Object.keys(v)) stack.push([(v as Record<string, unknown>)[key], depth + 1]);
  }
  return max;
}

/** An own forbidden key anywhere inside `value` (objects only; array indices are not keys). */
function ownForbiddenKey(value: unknown): string | undefined {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    for (const key of Object.keys(v)) {
      if (!Array.isArray(v) && (FORBIDDEN as readonly string[]).includes(key)) return key;
      stack.push((v as Record<string, unknown>)[key]);
    }
  }
  return undefined;
}

/** `{"level1":{"level2":...{"<key>":{"polluted":true}}}}`: the forbidden key comes from JSON.parse, so it is an own property. */
function withForbiddenKey(key: string, depth: number, siblings: Record<string, unknown> = {}): Record<string, unknown> {
  let inner = JSON.parse(`{"${key}":{"polluted":true}}`) as Record<string, unknown>;
  if (depth === 0) {
    for (const [k, v] of Object.entries(siblings)) if (k !== key) define(inner, k, v);
    return inner;
  }
  for (let i = depth; i > 0; i--) inner = { [`level${i}`]: inner };
  return { ...siblings, nested: inner };
}

/** Sets an own property, even one named __proto__. */
function define(target: object, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Nested `levels` deep (the outermost container included), built without recursion. */
function nested(levels: number, arrays: boolean): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < levels; i++) value = arrays ? [value] : { d: value };
  // fast-check prints counterexamples recursively: show a very deep value in one line instead.
  if (levels > 100) Object.defineProperty(value as object, fc.toStringMethod, { value: () => `<${levels} levels of ${arrays ? '[...]' : '{d:...}'}>` });
  return value;
}

/** fast-check options: the assertion that failed is shown with the counterexample. FUZZ_SCALE=10 digs ten times deeper. */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1) || 1;
const runs = (numRuns: number): fc.Parameters<unknown> => ({ numRuns: Math.max(1, Math.round(numRuns * SCALE)), includeErrorInReport: true });
/** A worker that died mid-property leaves Updates waiting forever: fail instead of hanging. */
const SERVER_TIMEOUT_MS = 60_000 * SCALE;
/**
 * For properties against the worker: stop at the first failure. A counterexample that kills the
 * worker makes every later run fail too, so shrinking would only hide the value that did it.
 */
const serverRuns = (numRuns: number): fc.Parameters<unknown> => ({ ...runs(numRuns), endOnFailure: true });

/** A refusal comes back at once; a worker that has died never answers. Fail then, rather than wait forever. */
async function answered<T>(promise: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms / 1000} s (has the worker shut down?)`)), ms);
  });
  try {
    return await Promise.race([promise, silence]);
  } finally {
    clearTimeout(timer);
  }
}

/** A quoted name in a message: a JSON string literal, escapes included (`"a\\nb"`). */
const QUOTED = /"(?:[^"\\]|\\.)*"/g;

/**
 * One sentence naming a field: `Field "x.y" …` or `The <subject> …`, then a lower-case predicate,
 * a single final full stop, no line breaks, and no second sentence outside the quoted names.
 */
function assertOneSentence(message: string, subject: string, knownRoots?: string[]): string {
  assert.equal(typeof message, 'string');
  assert.ok(!/[\n\r\u2028\u2029\u0085]/.test(message), `line break in ${JSON.stringify(message)}`);
  // A refusal travels as a protobuf string: a lone surrogate cannot be encoded, and the worker shuts down over it.
  assert.equal(message.replace(LONE_SURROGATE, ''), message, `ill-formed unicode in ${JSON.stringify(message)}`);
  assert.ok(message.endsWith('.'), `no final full stop: ${JSON.stringify(message)}`);
  const head = new RegExp(`^(?:Field ("(?:[^"\\\\]|\\\\.)*")|The ${subject}) [a-z]`).exec(message);
  assert.ok(head, `does not start with Field "…" or The ${subject}, then a lower-case predicate: ${JSON.stringify(message)}`);
  const outside = message.replace(QUOTED, '""');
  assert.ok(!/[.!?]["')]?\s+[A-Z]/.test(outside), `more than one sentence: ${JSON.stringify(message)}`);
  assert.ok(!/\.\.$/.test(outside), `double full stop: ${JSON.stringify(message)}`);
  const field = head[1] ? (JSON.parse(head[1]) as string) : '';
  if (field && knownRoots) assert.ok(knownRoots.includes(field.split('.')[0]!), `names no known field: ${JSON.stringify(message)}`);
  return field;
}

// ---------------------------------------------------------------------------------------------
// 1. Action requests (pure)
// ---------------------------------------------------------------------------------------------

const identifier = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,30}$/);
const actionName = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}(\.[A-Za-z0-9_-]{1,12}){1,3}$/);
const noForbiddenKeys = (v: unknown) => ownForbiddenKey(v) === undefined;
/** True when every integer in a value is one JSON readers agree on (the request schema refuses the rest). */
const safeIntegers = (value: unknown): boolean =>
  typeof value === 'number' ? !Number.isInteger(value) || Number.isSafeInteger(value) : value !== null && typeof value === 'object' ? Object.values(value).every(safeIntegers) : true;

const payloadArb = fc.dictionary(unicode({ maxLength: 12 }), json(3), { maxKeys: 6, noNullPrototype: true }).filter(noForbiddenKeys).filter(safeIntegers);

/**
 * Unicode text of at most `max` UTF-16 units: short, or close to the limit (a unit is at most two
 * code units, so `max / 2` units always fit). fast-check keeps strings short unless asked.
 */
const text = (max: number, minLength = 0) =>
  fc
    .oneof(unicode({ minLength, maxLength: Math.min(20, max) }), unicode({ minLength: Math.floor(max / 2) - 8, maxLength: Math.floor(max / 2), size: 'max' }))
    .filter((s) => s.length >= minLength && s.length <= max);

/** A valid request with unicode wherever free text is allowed. */
const validRequest = fc.record(
  {
    agentId: identifier,
    taskId: identifier,
    action: actionName,
    summary: text(500, 1).filter((s) => s.trim().length > 0),
    resource: fc.record(
      {
        type: fc.stringMatching(/^[a-z][a-z0-9_-]{0,20}$/),
        id: text(256, 1),
        owner: text(128, 1),
        environment: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
      },
      { requiredKeys: ['type', 'id'], noNullPrototype: true },
    ),
    payload: payloadArb,
    onBehalfOf: text(128, 1),
    context: fc.dictionary(text(64).filter((k) => k !== '__proto__'), text(2000), { maxKeys: 4, noNullPrototype: true }),
    agentKey: fc.stringMatching(/^[A-Za-z0-9+/]{43}=$/),
  },
  { requiredKeys: ['agentId', 'taskId', 'action', 'summary', 'resource', 'payload'], noNullPrototype: true },
);

/** A value of the wrong JSON type for a string field, or for an object field. */
const notAString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));
const notAnObject = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.string(), fc.array(json(1), { maxLength: 3 }));

/** Right type, wrong content: each of these strings must be refused for its field. */
const badStrings: Record<string, fc.Arbitrary<string>> = {
  agentId: fc.oneof(fc.constant(''), fc.constant('a b'), fc.constant('-lead'), fc.constant('x'.repeat(129)), unicode({ minLength: 1, maxLength: 5 }).map((s) => `bot${s}\u0000`)),
  taskId: fc.oneof(fc.constant(''), fc.constant('t\n1'), fc.constant('.t'), fc.constant('t'.repeat(129))),
  action: fc.oneof(fc.constant(''), fc.constant('refund'), fc.constant('payments.'), fc.constant('a..b'), fc.constant(`a.${'b'.repeat(200)}`), unicode({ minLength: 1, maxLength: 8 }).map((s) => `pay ${s}.x`)),
  summary: fc.oneof(fc.constantFrom('', ' ', '\n\t ', '\u00a0\u2028\ufeff'), fc.integer({ min: 501, max: 2000 }).map((n) => 'ü'.repeat(n))),
  onBehalfOf: fc.oneof(fc.constant(''), fc.constant('o'.repeat(129))),
  agentKey: fc.oneof(fc.constant(''), fc.constant('A'.repeat(44)), fc.constant(`${'A'.repeat(42)}==`), fc.constant(`${'A'.repeat(43)}=\n`)),
  'resource.type': fc.oneof(fc.constant(''), fc.constant('Customer'), fc.constant('1x'), fc.constant('a b'), fc.constant('t'.repeat(65))),
  'resource.id': fc.oneof(fc.constant(''), fc.constant('i'.repeat(257))),
  'resource.owner': fc.oneof(fc.constant(''), fc.constant('o'.repeat(129))),
  'resource.environment': fc.oneof(fc.constant(''), fc.constant('e'.repeat(65))),
};

type Mutation =
  | { kind: 'wrongType'; path: string; value: unknown }
  | { kind: 'badString'; path: string; value: string }
  | { kind: 'delete'; path: string }
  | { kind: 'unknown'; parent: '' | 'resource'; key: string; value: unknown }
  | { kind: 'text'; path: string; value: string }
  | { kind: 'bigPayload'; bytes: number; unit: string }
  | { kind: 'deep'; levels: number; arrays: boolean }
  | { kind: 'forbidden'; key: string; depth: number; where: 'payload' | 'request' | 'resource' | 'editedPayload' }
  | { kind: 'badContext'; key: string; value: string }
  | { kind: 'anything'; path: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom(...STRING_PATHS).chain((path) => notAString.map((value) => ({ kind: 'wrongType' as const, path, value }))),
  fc.constantFrom(...OBJECT_PATHS).chain((path) => notAnObject.map((value) => ({ kind: 'wrongType' as const, path, value }))),
  fc.constantFrom(...Object.keys(badStrings)).chain((path) => badStrings[path]!.map((value) => ({ kind: 'badString' as const, path, value }))),
  fc.constantFrom(...REQUIRED_PATHS).map((path) => ({ kind: 'delete' as const, path })),
  fc.record({
    kind: fc.constant('unknown' as const),
    parent: fc.constantFrom('' as const, 'resource' as const),
    key: fc.oneof(unicode({ maxLength: 10 }), fc.constantFrom('a\nb', 'x" is required. Evil "y', '\\', 'Agentid', 'payload ')),
    value: json(2),
  }).filter((m) => !(m.parent === '' ? TOP_FIELDS : RESOURCE_FIELDS).includes(m.key)),
  fc.record({
    kind: fc.constant('text' as const),
    path: fc.constantFrom('summary', 'resource.id', 'resource.owner', 'resource.environment', 'onBehalfOf'),
    value: unicode({ maxLength: 600 }),
  }),
  fc.record({
    kind: fc.constant('bigPayload' as const),
    bytes: fc.oneof(fc.integer({ min: MAX_PAYLOAD_BYTES - 40, max: MAX_PAYLOAD_BYTES + 40 }), fc.integer({ min: MAX_PAYLOAD_BYTES, max: 2 * MAX_PAYLOAD_BYTES })),
    unit: fc.constantFrom('x', 'é', '€', '😀', '\n', '"'),
  }),
  fc.record({ kind: fc.constant('deep' as const), levels: fc.oneof(fc.integer({ min: 28, max: 40 }), fc.constantFrom(1000, 6000, 50_000)), arrays: fc.boolean() }),
  fc.record({
    kind: fc.constant('forbidden' as const),
    key: fc.constantFrom(...FORBIDDEN),
    depth: fc.integer({ min: 0, max: 12 }),
    where: fc.constantFrom('payload' as const, 'payload' as const, 'request' as const, 'resource' as const),
  }),
  fc.record({
    kind: fc.constant('badContext' as const),
    key: fc.oneof(unicode({ maxLength: 5 }), unicode({ minLength: 65, maxLength: 80 }).filter((k) => k.length > 64), fc.constant('k\n'.repeat(40))),
    value: fc.oneof(unicode({ maxLength: 20 }), fc.constant('v'.repeat(2001))),
  }),
  fc.record({ kind: fc.constant('anything' as const), path: fc.constantFrom(...TOP_FIELDS, 'resource.type', 'resource.id'), value: fc.anything({ maxDepth: 2 }) }),
);

function getParent(root: Record<string, unknown>, path: string): [Record<string, unknown> | undefined, string] {
  const parts = path.split('.');
  let parent: unknown = root;
  for (const part of parts.slice(0, -1)) parent = parent !== null && typeof parent === 'object' ? (parent as Record<string, unknown>)[part] : undefined;
  return [parent !== null && typeof parent === 'object' && !Array.isArray(parent) ? (parent as Record<string, unknown>) : undefined, parts.at(-1)!];
}

function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const [parent, key] = getParent(root, path);
  if (parent) parent[key] = value;
}

/** Applies mutations to a deep copy; returns what each mutation requires of the outcome when it is the only one. */
function mutate(base: Record<string, unknown>, mutations: Mutation[]): Record<string, unknown> {
  let request = structuredClone(base);
  for (const m of mutations) {
    switch (m.kind) {
      case 'wrongType':
      case 'badString':
      case 'text':
      case 'anything':
        setPath(request, m.path, m.value);
        break;
      case 'delete': {
        const [parent, key] = getParent(request, m.path);
        if (parent) delete parent[key];
        break;
      }
      case 'unknown': {
        const target = m.parent === '' ? request : getParent(request, 'resource.x')[0];
        if (target) define(target, m.key, m.value);
        break;
      }
      case 'bigPayload': {
        const overhead = utf8('{"blob":""}');
        const unitBytes = utf8(JSON.stringify(m.unit)) - 2;
        request.payload = { blob: m.unit.repeat(Math.max(0, Math.floor((m.bytes - overhead) / unitBytes))) };
        break;
      }
      case 'deep':
        request.payload = { deep: nested(m.levels - 1, m.arrays) };
        break;
      case 'forbidden': {
        const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
        if (m.where === 'payload') request.payload = withForbiddenKey(m.key, m.depth, isObject(request.payload) ? (request.payload as Record<string, unknown>) : {});
        else if (m.where === 'request') request = withForbiddenKey(m.key, 0, request);
        else if (isObject(request.resource)) request.resource = withForbiddenKey(m.key, 0, request.resource as Record<string, unknown>);
        break;
      }
      case 'badContext': {
        const context = JSON.parse(JSON.stringify({ [m.key]: m.value })) as Record<string, unknown>;
        request.context = context;
        break;
      }
    }
  }
  return request;
}

function utf8(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** What a single mutation alone must produce: a refusal naming a field (exactly, or by prefix), or nothing known. */
function expectationOf(m: Mutation, request: Record<string, unknown>): { refused: true; message?: string; fieldPrefix?: string; subject?: true } | undefined {
  switch (m.kind) {
    case 'wrongType':
    case 'badString':
      return { refused: true, fieldPrefix: m.path };
    case 'delete':
      return { refused: true, message: `Field "${m.path}" is required.` };
    case 'unknown':
      return m.parent === '' ? { refused: true, subject: true } : { refused: true, fieldPrefix: 'resource' };
    case 'bigPayload':
      return utf8(canonicalJson(request.payload)) > MAX_PAYLOAD_BYTES ? { refused: true, message: `Field "payload" must be at most 256 KiB as canonical JSON.` } : undefined;
    case 'deep':
      return m.levels > MAX_DEPTH ? { refused: true, message: `Field "payload" must be nested at most ${MAX_DEPTH} levels deep.` } : undefined;
    case 'forbidden':
      if (m.where === 'payload') return { refused: true, message: `Field "payload" must not contain the key "${m.key}".` };
      if (m.where === 'request') return { refused: true, message: `The request has unknown field "${m.key}".` };
      return { refused: true, message: `Field "resource" has unknown field "${m.key}".` };
    case 'badContext':
      return m.key.length > 64 || m.value.length > 2000 ? { refused: true, fieldPrefix: 'context' } : undefined;
    default:
      return undefined;
  }
}

/** Independent of the schema: input that must never be accepted. */
function mustRefuse(input: unknown): string | undefined {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return 'not an object';
  const request = input as Record<string, unknown>;
  const unknown = Object.keys(request).find((k) => !TOP_FIELDS.includes(k));
  if (unknown !== undefined) return `unknown field ${JSON.stringify(unknown)}`;
  for (const path of REQUIRED_PATHS) {
    const [parent, key] = getParent(request, path);
    if (!parent || parent[key] === undefined) return `${path} missing`;
  }
  const resource = request.resource as Record<string, unknown>;
  const unknownInResource = Object.keys(resource).find((k) => !RESOURCE_FIELDS.includes(k));
  if (unknownInResource !== undefined) return `unknown resource field ${JSON.stringify(unknownInResource)}`;
  if (request.context !== null && typeof request.context === 'object' && hasOwn(request.context, '__proto__')) return 'context has the key __proto__';
  const payload = request.payload;
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return 'payload not an object';
  if (nesting(payload) > MAX_DEPTH) return 'payload too deep';
  const bad = ownForbiddenKey(payload);
  if (bad) return `payload has the key ${bad}`;
  let text: string;
  try {
    text = canonicalJson(payload);
  } catch {
    return 'payload is not JSON';
  }
  if (utf8(text) > MAX_PAYLOAD_BYTES) return 'payload too big';
  return undefined;
}

function parseOutcome(input: unknown): { ok: true; value: ActionRequest } | { ok: false; error: InvalidRequestError } {
  try {
    return { ok: true, value: parseActionRequest(input) };
  } catch (err) {
    assert.ok(err instanceof InvalidRequestError, `parseActionRequest threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
    return { ok: false, error: err };
  }
}

const requestBase = validRequest as fc.Arbitrary<Record<string, unknown>>;
const mutatedRequest = fc
  .tuple(requestBase, fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([base, mutations]) => ({ base, mutations, request: mutate(base, mutations) }));

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

// ---------------------------------------------------------------------------------------------
// 5. Canonical JSON (pure) — kept here with the other pure helpers it needs
// ---------------------------------------------------------------------------------------------

/** A small deterministic PRNG (mulberry32), so a shrunk counterexample replays exactly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deep copy with every object's keys inserted in a random order (own properties, __proto__ included); below 64 levels, the same value. */
function shuffle<T>(value: T, random: () => number, depth = 0): T {
  if (value === null || typeof value !== 'object' || depth > 64) return value;
  if (Array.isArray(value)) return value.map((v) => shuffle(v, random, depth + 1)) as T;
  const keys = Object.keys(value);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  return Object.fromEntries(keys.map((k) => [k, shuffle((value as Record<string, unknown>)[k], random, depth + 1)])) as T;
}

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

function pathGet(root: unknown, path: Path): unknown {
  let node = root;
  for (const p of path) node = (node as Record<string | number, unknown>)[p];
  return node;
}

// ---------------------------------------------------------------------------------------------
// 4. Policy files (pure)
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 2. Invalid requests against the real server: refused, and no workflow started
// ---------------------------------------------------------------------------------------------

async function assertNoWorkflow(workflowId: string): Promise<void> {
  const repaired = workflowId.replace(LONE_SURROGATE, '\ufffd');
  if (repaired !== workflowId) {
    // Not valid UTF-8: the server refuses the id itself, so nothing can run under it. Look under the repaired id too.
    await assert.rejects(ctx.env.client.workflow.getHandle(workflowId).describe(), /invalid UTF-8/);
    workflowId = repaired;
  }
  await assert.rejects(ctx.env.client.workflow.getHandle(workflowId).describe(), (err: unknown) => {
    assert.ok(err instanceof WorkflowNotFoundError, `describe(${JSON.stringify(workflowId.slice(0, 80))}) failed with ${(err as Error)?.name}: ${(err as Error)?.message}`);
    return true;
  });
}

function wouldBeWorkflowId(request: unknown): string | undefined {
  try {
    return approvalWorkflowId(request as never).workflowId;
  } catch {
    return undefined; // garbage the digest cannot even be computed for: nothing to look up
  }
}

describe('invalid requests against the server', () => {
  test('an invalid request is refused with InvalidRequestError and starts no workflow', { timeout: SERVER_TIMEOUT_MS }, async () => {
    // Through the server the agent is the key's: a request with no agentId is the key's agent's (support-bot here).
    const asSent = (request: unknown) =>
      request !== null && typeof request === 'object' && !Array.isArray(request) && !Object.hasOwn(request, 'agentId') ? { ...request, agentId: 'support-bot' } : request;
    const invalid = mutatedRequest.filter(({ request }) => !parseOutcome(asSent(request)).ok);
    await fc.assert(
      fc.asyncProperty(invalid, async ({ base, request }) => {
        const local = parseOutcome(asSent(request));
        assert.ok(!local.ok);
        await assert.rejects(ctx.stack.cs.submit(request, { waitMs: 0 }), (err: unknown) => {
          assert.ok(err instanceof InvalidRequestError, `submit threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
          assert.equal(err.message, local.error.message);
          assert.equal(err.code, 'INVALID_REQUEST');
          return true;
        });
        const ids = new Set([wouldBeWorkflowId(request), wouldBeWorkflowId(base)].filter((id): id is string => id !== undefined));
        for (const id of ids) await assertNoWorkflow(id);
      }),
      runs(30),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Junk reviewer decisions and consume calls against a pending and an approved request
// ---------------------------------------------------------------------------------------------

type Tagged<T> = { value: T; mustBeInvalid: boolean };
const invalid = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<Tagged<T>> => arb.map((value) => ({ value, mustBeInvalid: true }));
const unknownShape = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<Tagged<T>> => arb.map((value) => ({ value, mustBeInvalid: false }));

/** Keys a refusal has to name: the worst of them (a lone surrogate) once took the worker down. */
const oddKey = fc.oneof(unicode({ maxLength: 8 }), fc.constantFrom('\ud800', 'k\udfff', '\n', '"', '__proto__'));
const notMember = identifier.filter((r) => !MEMBERS.includes(r));
const anyReviewer = fc.oneof(fc.constantFrom(...MEMBERS), notMember);
const badPayload = fc.oneof(
  fc.array(json(1), { maxLength: 3 }),
  fc.string(),
  fc.integer(),
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: 33, max: 40 }).map((levels) => ({ d: nested(levels - 1, false) })),
  // As deep as the client's JSON.stringify can send (thousands more overflow it before anything is sent).
  fc.constantFrom(2000).map((levels) => ({ d: nested(levels - 1, true) })),
  fc.constant({ blob: 'x'.repeat(MAX_PAYLOAD_BYTES) }),
  fc.tuple(fc.constantFrom(...FORBIDDEN), fc.integer({ min: 0, max: 5 })).map(([key, depth]) => withForbiddenKey(key, depth, { amount: 120 })),
);
const badReasonCode = fc.oneof(fc.constantFrom('', 'A', 'lower_case', 'SPACE CODE', '1ABC', `A${'B'.repeat(64)}`, 'DUP\n'), fc.string({ maxLength: 10 }).filter((s) => !/^[A-Z][A-Z0-9_]{1,63}$/.test(s)));
const validSignature = fc.record({ signedAt: fc.constant('2030-01-01T00:00:00Z'), value: fc.stringMatching(/^[A-Za-z0-9+/]{86}==$/) });

const junkDecision: fc.Arbitrary<Tagged<unknown>> = fc.oneof(
  unknownShape(fc.anything({ maxDepth: 2 })),
  invalid(fc.record({ decision: fc.oneof(fc.constantFrom('APPROVE', 'accept', 'reject', '', 'approve ', 'request-changes'), fc.integer(), fc.constant(null)), reviewer: anyReviewer })),
  invalid(fc.record({ decision: fc.constant('deny'), reviewer: anyReviewer, reasonCode: badReasonCode, message: fc.constant('Not this one.') })),
  invalid(fc.record({ decision: fc.constant('deny'), reviewer: anyReviewer, reasonCode: fc.constant('DUPLICATE'), message: fc.oneof(fc.constantFrom('', '   ', '\n'), fc.constant('m'.repeat(2001))) })),
  invalid(fc.record({ decision: fc.constant('deny'), reviewer: anyReviewer, message: fc.constant('No reason code.') })),
  invalid(fc.record({ decision: fc.constant('approve'), reviewer: anyReviewer, comment: fc.integer({ min: 2001, max: 100_000 }).map((n) => 'c'.repeat(n)) })),
  invalid(fc.record({ decision: fc.constant('approve'), reviewer: anyReviewer, editedPayload: badPayload })),
  invalid(fc.record({ decision: fc.constant('request_changes'), reviewer: anyReviewer, comment: fc.constantFrom('', '  ', 'c'.repeat(2001)) })),
  invalid(fc.record({ decision: fc.constant('request_changes'), reviewer: anyReviewer, comment: fc.constant('Smaller, please.'), proposedPayload: badPayload })),
  invalid(fc.record({ decision: fc.constant('approve'), reviewer: anyReviewer, signature: fc.oneof(fc.string(), fc.record({ signedAt: fc.string(), value: fc.string() }), fc.constant({ signedAt: '2030-01-01T00:00:00Z', value: 'short' })) })),
  invalid(fc.record({ decision: fc.constant('approve'), reviewer: fc.oneof(fc.constantFrom('', ' alice', 'alice\n', 'x'.repeat(129)), unicode({ maxLength: 6 }).map((s) => `-${s}`)) })),
  {
    arbitrary: invalid(fc.tuple(anyReviewer, oddKey).filter(([, k]) => !['decision', 'reviewer', 'comment', 'editedPayload', 'signature'].includes(k)).map(([reviewer, key]) => JSON.parse(JSON.stringify({ decision: 'approve', reviewer, [key]: 1 })) as unknown)),
    weight: 3,
  },
  // Well-formed decisions from reviewers outside the group: refused as not eligible.
  unknownShape(
    fc.oneof(
      fc.record({ decision: fc.constant('approve'), reviewer: notMember, comment: fc.string({ maxLength: 50 }) }, { requiredKeys: ['decision', 'reviewer'] }),
      fc.record({ decision: fc.constant('approve'), reviewer: notMember, editedPayload: fc.constant({ amount: 5000 }), signature: validSignature }, { requiredKeys: ['decision', 'reviewer'] }),
      fc.record({ decision: fc.constant('deny'), reviewer: notMember, reasonCode: fc.constant('NOPE'), message: fc.constant('No.') }),
      fc.record({ decision: fc.constant('request_changes'), reviewer: fc.constantFrom('support-bot', 'mallory', 'MALLORY', ...MEMBERS.map((m) => m.toUpperCase())), comment: fc.constant('Halve it.') }),
    ),
  ),
);

function expectedDecisionCode(junk: Tagged<unknown>, target: 'pending' | 'approved'): string | undefined {
  const parsed = ReviewerDecision.safeParse(wire(junk.value));
  if (junk.mustBeInvalid) assert.ok(!parsed.success, `the schema accepts a decision that must be invalid: ${JSON.stringify(junk.value)?.slice(0, 300)}`);
  if (!parsed.success) return 'INVALID_REQUEST';
  if (target === 'approved') return 'ALREADY_DECIDED';
  return MEMBERS.includes(parsed.data.reviewer) ? undefined : 'NOT_ELIGIBLE';
}

function snapshot(view: ReviewView) {
  return { status: view.status, approvals: view.approvals, currentPayload: view.currentPayload, currentDigest: view.currentDigest, history: view.history.length };
}

type Binding = { token: string; agentId: string; taskId: string; actionDigest: string };

/** Junk consume calls around a real binding: forged tokens, the real token bound elsewhere, and shapes the schema must refuse. */
function consumeJunk(real: Binding): fc.Arbitrary<Tagged<unknown>> {
  return fc.oneof(
    unknownShape(fc.anything({ maxDepth: 2 })),
    // Forged tokens with the right binding.
    unknownShape(
      fc.oneof(fc.string({ minLength: 1, maxLength: 200 }), fc.stringMatching(/^cst_[A-Za-z0-9_-]{43}$/), fc.constant(`${real.token} `), fc.constant(real.token.slice(0, -1))).map((t) => ({ ...real, token: t })),
    ),
    // The real token, presented for another agent, task or payload.
    unknownShape(
      fc.oneof(
        fc.string({ minLength: 1, maxLength: 128 }).map((agentId) => ({ ...real, agentId })),
        fc.string({ minLength: 1, maxLength: 128 }).map((taskId) => ({ ...real, taskId })),
        fc.stringMatching(/^[0-9a-f]{64}$/).map((digest) => ({ ...real, actionDigest: digest })),
      ),
    ),
    // Shapes the schema must refuse.
    invalid(
      fc.oneof(
        fc.constantFrom(...Object.keys(real)).map((k) => Object.fromEntries(Object.entries(real).filter(([key]) => key !== k))),
        fc.constantFrom({ ...real, token: '' }, { ...real, token: 't'.repeat(201) }, { ...real, agentId: '' }, { ...real, taskId: 'x'.repeat(129) }),
        fc.constantFrom(`A${real.actionDigest.slice(1)}`, real.actionDigest.slice(1), `${real.actionDigest}0`, '').map((d) => ({ ...real, actionDigest: d })),
        fc.tuple(fc.constantFrom(...Object.keys(real)), notAString).map(([k, v]) => ({ ...real, [k]: v })),
        oddKey.filter((k) => !(k in real)).map((k) => JSON.parse(JSON.stringify({ ...real, [k]: 'extra' })) as unknown),
      ),
    ),
  );
}

const DECISION_FIELDS = ['decision', 'reviewer', 'comment', 'editedPayload', 'proposedPayload', 'reasonCode', 'message', 'signature'];

describe('reviewer decisions and consume calls (pure)', () => {
  test('junk decisions that must be invalid are refused by the schema, in one sentence naming the field', () => {
    fc.assert(
      fc.property(junkDecision, (junk) => {
        const parsed = ReviewerDecision.safeParse(wire(junk.value));
        if (junk.mustBeInvalid) assert.ok(!parsed.success, `the schema accepts a decision that must be invalid: ${JSON.stringify(junk.value)?.slice(0, 300)}`);
        if (!parsed.success) assertOneSentence(describeIssues(parsed.error, 'decision'), 'decision', DECISION_FIELDS);
      }),
      runs(1000),
    );
  });

  test('junk consume calls that must be invalid are refused by the schema, in one sentence naming the field', () => {
    const binding = fc.record({ token: fc.stringMatching(/^cst_[A-Za-z0-9_-]{43}$/), agentId: identifier, taskId: identifier, actionDigest: fc.stringMatching(/^[0-9a-f]{64}$/) });
    fc.assert(
      fc.property(binding.chain((real) => consumeJunk(real).map((junk) => ({ real, junk }))), ({ real, junk }) => {
        const parsed = ConsumeRequest.safeParse(wire(junk.value));
        if (junk.mustBeInvalid) assert.ok(!parsed.success, `the schema accepts a consume call that must be invalid: ${JSON.stringify(junk.value)?.slice(0, 300)}`);
        if (!parsed.success) assertOneSentence(describeIssues(parsed.error, 'consume request'), 'consume request', Object.keys(real));
      }),
      runs(1000),
    );
  });
});

// Sent straight to Temporal, around countersign server: the workflow's own validators are the last line.
describe('junk reviewer decisions and consume calls against the server', () => {
  let pending: ApprovalRequest;
  let approved: ApprovalRequest;
  before(async () => {
    pending = await ctx.stack.cs.submit(action({ payload: { amount: 250, currency: 'USD' } }), { waitMs: 2000 });
    assert.equal(pending.status, 'pending');
    approved = await ctx.stack.cs.submit(action({ payload: { amount: 40, currency: 'USD' } }), { waitMs: 5000 });
    assert.equal(approved.status, 'approved');
    // Notifications are recorded beside the review: wait for them, so the evidence is at rest before the junk starts.
    await eventually(async () => {
      const view = await ctx.stack.cs.view(pending.workflowId);
      assert.ok(view.history.some((e) => e.type === 'notified' || e.type === 'notification_failed'), 'reviewers notified');
    }, 'pending request settled');
  });

  test('junk decisions are refused (INVALID_REQUEST, NOT_ELIGIBLE, ALREADY_DECIDED) and change nothing', { timeout: SERVER_TIMEOUT_MS }, async () => {
    const before = { pending: snapshot(await ctx.stack.cs.view(pending.workflowId)), approved: snapshot(await ctx.stack.cs.view(approved.workflowId)) };
    await fc.assert(
      fc.asyncProperty(junkDecision, fc.constantFrom('pending' as const, 'pending' as const, 'approved' as const), async (junk, target) => {
        const code = expectedDecisionCode(junk, target);
        fc.pre(code !== undefined);
        const request = target === 'pending' ? pending : approved;
        await assert.rejects(answered(ctx.stack.ops.decide(request.workflowId, junk.value as never), 'decide'), (err: unknown) => {
          assert.ok(err instanceof DecisionRefusedError, `decide threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
          assert.equal(err.code, code, err.message);
          if (code === 'INVALID_REQUEST') assertOneSentence(err.message, 'decision', DECISION_FIELDS);
          return true;
        });
        assert.deepEqual(snapshot(await answered(ctx.stack.cs.view(request.workflowId), 'view')), before[target]);
      }),
      serverRuns(40),
    );
  });

  test('junk consume calls are refused (INVALID_REQUEST, TOKEN_INVALID, BINDING_MISMATCH) and the real token still works', { timeout: SERVER_TIMEOUT_MS }, async () => {
    const token = approved.openToken();
    assert.ok(token, 'the approved request has a token');
    const real = { token, agentId: approved.request.agentId, taskId: approved.request.taskId, actionDigest: actionDigest(approved.request) };
    const historyBefore = (await ctx.stack.cs.view(approved.workflowId)).history.length;
    const junkConsume = consumeJunk(real);
    await fc.assert(
      fc.asyncProperty(junkConsume, fc.constantFrom('approved' as const, 'approved' as const, 'pending' as const), async (junk, target) => {
        const parsed = ConsumeRequest.safeParse(wire(junk.value));
        if (junk.mustBeInvalid) assert.ok(!parsed.success, `the schema accepts a consume call that must be invalid: ${JSON.stringify(junk.value)}`);
        let code: string | undefined;
        if (!parsed.success) code = 'INVALID_REQUEST';
        else if (target === 'pending' || parsed.data.token !== real.token) code = 'TOKEN_INVALID';
        else if (parsed.data.agentId !== real.agentId || parsed.data.taskId !== real.taskId || parsed.data.actionDigest !== real.actionDigest) code = 'BINDING_MISMATCH';
        fc.pre(code !== undefined);
        const request = target === 'pending' ? pending : approved;
        await assert.rejects(answered(ctx.stack.ops.consume(request.workflowId, junk.value as never), 'consume'), (err: unknown) => {
          assert.ok(err instanceof ConsumeRefusedError, `consume threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
          assert.equal(err.code, code, err.message);
          if (code === 'INVALID_REQUEST') assertOneSentence(err.message, 'consume request', Object.keys(real));
          return true;
        });
      }),
      serverRuns(40),
    );
    const view = await ctx.stack.cs.view(approved.workflowId);
    assert.equal(view.history.length, historyBefore, 'no refused call left a trace in the evidence');
    const receipt = await approved.consume();
    assert.equal(receipt.body.requestId, approved.requestId);
    await approved.report({ status: 'succeeded' });
    assert.equal((await ctx.stack.cs.outcome(approved.workflowId)).status, 'executed');
  });
});
