/**
 * Action requests for property tests: valid ones with unicode wherever free text is allowed, and the
 * mutations that break them, each with what it alone must produce (test/unit/request.test.ts and the
 * front door in test/server.test.ts).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidRequestError, parseActionRequest } from '../../client/sdk';
import { canonicalJson } from '../../common/canonical';
import { MAX_PAYLOAD_BYTES } from '../../common/json';
import type { ActionRequest } from '../../common/inputs';
import { define, FORBIDDEN, hasOwn, json, MAX_DEPTH, nested, nesting, notAnObject, notAString, ownForbiddenKey, identifier, unicode, withForbiddenKey } from './arbitraries';

export const TOP_FIELDS = ['agentId', 'taskId', 'action', 'summary', 'resource', 'payload', 'onBehalfOf', 'context', 'agentKey'];
export const RESOURCE_FIELDS = ['type', 'id', 'owner', 'environment'];
export const REQUIRED_PATHS = ['agentId', 'taskId', 'action', 'summary', 'resource', 'payload', 'resource.type', 'resource.id'];
export const STRING_PATHS = ['agentId', 'taskId', 'action', 'summary', 'onBehalfOf', 'agentKey', 'resource.type', 'resource.id', 'resource.owner', 'resource.environment'];
export const OBJECT_PATHS = ['resource', 'payload', 'context'];

export const actionName = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}(\.[A-Za-z0-9_-]{1,12}){1,3}$/);
export const noForbiddenKeys = (v: unknown) => ownForbiddenKey(v) === undefined;
/** True when every integer in a value is one JSON readers agree on (the request schema refuses the rest). */
export const safeIntegers = (value: unknown): boolean =>
  typeof value === 'number' ? !Number.isInteger(value) || Number.isSafeInteger(value) : value !== null && typeof value === 'object' ? Object.values(value).every(safeIntegers) : true;

export const payloadArb = fc.dictionary(unicode({ maxLength: 12 }), json(3), { maxKeys: 6, noNullPrototype: true }).filter(noForbiddenKeys).filter(safeIntegers);

/**
 * Unicode text of at most `max` UTF-16 units: short, or close to the limit (a unit is at most two
 * code units, so `max / 2` units always fit). fast-check keeps strings short unless asked.
 */
export const text = (max: number, minLength = 0) =>
  fc
    .oneof(unicode({ minLength, maxLength: Math.min(20, max) }), unicode({ minLength: Math.floor(max / 2) - 8, maxLength: Math.floor(max / 2), size: 'max' }))
    .filter((s) => s.length >= minLength && s.length <= max);

/** A valid request with unicode wherever free text is allowed. */
export const validRequest = fc.record(
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


/** Right type, wrong content: each of these strings must be refused for its field. */
export const badStrings: Record<string, fc.Arbitrary<string>> = {
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

export type Mutation =
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

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
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

export function getParent(root: Record<string, unknown>, path: string): [Record<string, unknown> | undefined, string] {
  const parts = path.split('.');
  let parent: unknown = root;
  for (const part of parts.slice(0, -1)) parent = parent !== null && typeof parent === 'object' ? (parent as Record<string, unknown>)[part] : undefined;
  return [parent !== null && typeof parent === 'object' && !Array.isArray(parent) ? (parent as Record<string, unknown>) : undefined, parts.at(-1)!];
}

export function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const [parent, key] = getParent(root, path);
  if (parent) parent[key] = value;
}

/** Applies mutations to a deep copy; returns what each mutation requires of the outcome when it is the only one. */
export function mutate(base: Record<string, unknown>, mutations: Mutation[]): Record<string, unknown> {
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

export function utf8(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** What a single mutation alone must produce: a refusal naming a field (exactly, or by prefix), or nothing known. */
export function expectationOf(m: Mutation, request: Record<string, unknown>): { refused: true; message?: string; fieldPrefix?: string; subject?: true } | undefined {
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
export function mustRefuse(input: unknown): string | undefined {
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

export function parseOutcome(input: unknown): { ok: true; value: ActionRequest } | { ok: false; error: InvalidRequestError } {
  try {
    return { ok: true, value: parseActionRequest(input) };
  } catch (err) {
    assert.ok(err instanceof InvalidRequestError, `parseActionRequest threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
    return { ok: false, error: err };
  }
}

export const requestBase = validRequest as fc.Arbitrary<Record<string, unknown>>;
export const mutatedRequest = fc
  .tuple(requestBase, fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([base, mutations]) => ({ base, mutations, request: mutate(base, mutations) }));

