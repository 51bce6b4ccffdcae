/**
 * Property-based testing (fast-check) helpers shared by the subject suites: every input an agent, a
 * reviewer or an operator can send is either accepted as valid or refused with a clean, structured
 * error — never a crash, never a half-applied change. Pure properties run many times; properties
 * against the real server fewer. FUZZ_SCALE=10 digs ten times deeper.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';

export const FORBIDDEN = ['__proto__', 'constructor', 'prototype'] as const;
export const MAX_DEPTH = 32;

/** Any single UTF-16 code unit, lone surrogates included, plus some troublesome favourites. */
export const codeUnit = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), weight: 3 },
  { arbitrary: fc.constantFrom('\n', '\r', '\u2028', '\u2029', '\u0085', '\u0000', '\t', '"', '\\', '. ', 'É', '😀', 'e\u0301', '\ufeff', '.'), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 2 },
);
/** Arbitrary unicode text: control characters, lone surrogates, line breaks and emoji included. */
export const unicode = (constraints: { minLength?: number; maxLength?: number; size?: fc.SizeForArbitrary } = {}) => fc.string({ unit: codeUnit, ...constraints });

/** JSON values whose strings are arbitrary unicode. */
export const json = (maxDepth = 3) => fc.jsonValue({ maxDepth, stringUnit: codeUnit });

/** A UTF-16 surrogate without its partner: not valid Unicode, so not encodable as UTF-8. */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** What Temporal's JSON payload converter delivers to the workflow for a value the client sends. */
export function wire(value: unknown): unknown {
  if (value === undefined) return undefined;
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
}

export function hasOwn(value: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(value, key);
}

/** Nesting depth counted independently of the schema: a scalar is 0, {} or [] is 1. */
export function nesting(value: unknown): number {
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
export function ownForbiddenKey(value: unknown): string | undefined {
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
export function withForbiddenKey(key: string, depth: number, siblings: Record<string, unknown> = {}): Record<string, unknown> {
  let inner = JSON.parse(`{"${key}":{"polluted":true}}`) as Record<string, unknown>;
  if (depth === 0) {
    for (const [k, v] of Object.entries(siblings)) if (k !== key) define(inner, k, v);
    return inner;
  }
  for (let i = depth; i > 0; i--) inner = { [`level${i}`]: inner };
  return { ...siblings, nested: inner };
}

/** Sets an own property, even one named __proto__. */
export function define(target: object, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Nested `levels` deep (the outermost container included), built without recursion. */
export function nested(levels: number, arrays: boolean): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < levels; i++) value = arrays ? [value] : { d: value };
  // fast-check prints counterexamples recursively: show a very deep value in one line instead.
  if (levels > 100) Object.defineProperty(value as object, fc.toStringMethod, { value: () => `<${levels} levels of ${arrays ? '[...]' : '{d:...}'}>` });
  return value;
}

/** fast-check options: the assertion that failed is shown with the counterexample. FUZZ_SCALE=10 digs ten times deeper. */
export const SCALE = Number(process.env.FUZZ_SCALE ?? 1) || 1;
export const runs = (numRuns: number): fc.Parameters<unknown> => ({ numRuns: Math.max(1, Math.round(numRuns * SCALE)), includeErrorInReport: true });
/** A worker that died mid-property leaves Updates waiting forever: fail instead of hanging. */
export const SERVER_TIMEOUT_MS = 60_000 * SCALE;
/**
 * For properties against the worker: stop at the first failure. A counterexample that kills the
 * worker makes every later run fail too, so shrinking would only hide the value that did it.
 */
export const serverRuns = (numRuns: number): fc.Parameters<unknown> => ({ ...runs(numRuns), endOnFailure: true });

/** A refusal comes back at once; a worker that has died never answers. Fail then, rather than wait forever. */
export async function answered<T>(promise: Promise<T>, what: string, ms = 15_000): Promise<T> {
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
export const QUOTED = /"(?:[^"\\]|\\.)*"/g;

/**
 * One sentence naming a field: `Field "x.y" …` or `The <subject> …`, then a lower-case predicate,
 * a single final full stop, no line breaks, and no second sentence outside the quoted names.
 */
export function assertOneSentence(message: string, subject: string, knownRoots?: string[]): string {
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

export const identifier = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,30}$/);

/** A value of the wrong JSON type for a string field, or for an object field. */
export const notAString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));
export const notAnObject = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.string(), fc.array(json(1), { maxLength: 3 }));

/** A small deterministic PRNG (mulberry32), so a shrunk counterexample replays exactly. */
export function rng(seed: number): () => number {
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
export function shuffle<T>(value: T, random: () => number, depth = 0): T {
  if (value === null || typeof value !== 'object' || depth > 64) return value;
  if (Array.isArray(value)) return value.map((v) => shuffle(v, random, depth + 1)) as T;
  const keys = Object.keys(value);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  return Object.fromEntries(keys.map((k) => [k, shuffle((value as Record<string, unknown>)[k], random, depth + 1)])) as T;
}
