import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { readJsonFile } from '../../cli/io';
import { escapeName } from '../../common/errors';
import { parseStrictJson, StrictJsonError } from '../../common/strict-json';

const SAFE = 'is outside the safe integer range ±9007199254740991: send it as a string.';

/** Asserts that parsing `text` is refused with exactly `message` (and `path`, when given). */
function refused(text: string, message: string, path?: string, options?: { maxDepth?: number }): StrictJsonError {
  let caught: unknown;
  try {
    parseStrictJson(text, options);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof StrictJsonError, `not refused: ${JSON.stringify(text.slice(0, 80))} (got ${String(caught)})`);
  assert.equal(caught.message, message);
  assert.equal(caught.name, 'StrictJsonError');
  if (path !== undefined) assert.equal(caught.path, path);
  return caught;
}

/** Asserts that `text` parses to exactly what JSON.parse gives. */
function same(text: string): unknown {
  const value = parseStrictJson(text);
  assert.deepEqual(value, JSON.parse(text));
  return value;
}

/** An integer beyond ±(2^53−1), or a number too large for a double (JSON.parse gives Infinity). */
function hasUnsafeInteger(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isSafeInteger(value) && (Number.isInteger(value) || !Number.isFinite(value));
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasUnsafeInteger);
  return false;
}

test('a duplicate key is refused at the top level: the payment whose executor would pay 5000', () => {
  const text = '{"amount":5000,"currency":"USD","amount":40}';
  assert.equal((JSON.parse(text) as { amount: number }).amount, 40); // what JSON.parse would have shown the reviewer
  const err = refused(text, 'Duplicate key "amount" at $: each key may appear once.', '$');
  assert.equal(err.offset, 32);
});

test('a duplicate key is refused in a nested object and inside an array element, naming the path', () => {
  refused('{"payload":{"amount":1,"amount":2}}', 'Duplicate key "amount" at $.payload: each key may appear once.', '$.payload');
  refused('{"to":["a","b",{"x":1,"x":[]}]}', 'Duplicate key "x" at $.to[2]: each key may appear once.', '$.to[2]');
  refused('[[{}],[{"a":{"b":null,"b":null}}]]', 'Duplicate key "b" at $[1][0].a: each key may appear once.', '$[1][0].a');
  // Keys are compared once decoded: "\u0061" is "a".
  refused('{"a":1,"\\u0061":2}', 'Duplicate key "a" at $: each key may appear once.');
  refused('{"__proto__":1,"__proto__":2}', 'Duplicate key "__proto__" at $: each key may appear once.');
  refused('{"toString":1,"toString":2}', 'Duplicate key "toString" at $: each key may appear once.');
  // The same key in sibling objects is no duplicate.
  same('[{"a":1},{"a":2},{"b":{"a":3}}]');
});

test('keys in refusals are escaped, clipped to 64 characters, and bracketed when not identifiers', () => {
  refused('{"a\\"b\\n":{"k":1,"k":2}}', 'Duplicate key "k" at $["a\\"b\\u000a"]: each key may appear once.', '$["a\\"b\\u000a"]');
  refused('{"x\\ud800":1,"x\\ud800":2}', 'Duplicate key "x\\ud800" at $: each key may appear once.');
  refused('{"":{"":1,"":2}}', 'Duplicate key "" at $[""]: each key may appear once.');
  const long = 'k'.repeat(100);
  refused(`{"${long}":{"a":1,"a":2}}`, `Duplicate key "a" at $["${'k'.repeat(64)}…"]: each key may appear once.`);
  refused(`{"${long}":1,"${long}":2}`, `Duplicate key "${'k'.repeat(64)}…" at $: each key may appear once.`);
  // Clipping never splits a surrogate pair into a lone surrogate.
  const emoji = `${'e'.repeat(63)}😀tail`;
  refused(`{"${emoji}":1,"${emoji}":2}`, `Duplicate key "${'e'.repeat(63)}…" at $: each key may appear once.`);
});

test('an integer beyond ±(2^53−1) is refused, not rounded: the reviewer would see another number', () => {
  const text = '{"payload":{"amount":12345678901234567890}}';
  assert.equal((JSON.parse(text) as { payload: { amount: number } }).payload.amount, 12345678901234567000);
  const err = refused(text, `Number at $.payload.amount ${SAFE}`, '$.payload.amount');
  assert.equal(err.offset, 21);
  for (const big of ['9007199254740992', '-9007199254740992', '12345678901234567890.0', '1e20', '1E+16', '1e400', '-1e400', '90071992547409920e-1', '9007199254740992.000e0', '0.9007199254740992e16', '-123456789012345678901234567890']) {
    refused(`[${big}]`, `Number at $[0] ${SAFE}`, '$[0]');
  }
});

test('safe integers, fractions, -0 and underflow parse exactly as JSON.parse does', () => {
  for (const ok of ['9007199254740991', '-9007199254740991', '9007199254740991.0', '90071992547409910e-1', '0.9007199254740991e16', '1e15', '0', '0.0', '0e999999', '1.5', '-2.5e-3', '1E2', '1e+2', '123.456e1', '1.5e-400', '9007199254740993.5']) {
    same(ok);
  }
  assert.ok(Object.is(parseStrictJson('-0'), -0));
  assert.ok(Object.is(parseStrictJson('-0.0e5'), -0));
  // A non-integer that overflows the double range would become Infinity: refused too.
  refused(`{"x":${'1'.repeat(400)}.5}`, 'Number at $.x is too large for a 64-bit float: send it as a string.', '$.x');
});

test('nesting deeper than maxDepth is refused without a stack overflow', () => {
  const path64 = `$${'[0]'.repeat(64)}`;
  refused('['.repeat(100_000), `Nesting at ${path64} is deeper than the limit of 64 levels.`, path64);
  refused('{"a":'.repeat(100_000), `Nesting at $${'.a'.repeat(64)} is deeper than the limit of 64 levels.`);
  same(`${'['.repeat(64)}${']'.repeat(64)}`);
  refused(`${'['.repeat(65)}${']'.repeat(65)}`, `Nesting at ${path64} is deeper than the limit of 64 levels.`);
  assert.deepEqual(parseStrictJson('{"a":{"b":1}}', { maxDepth: 2 }), { a: { b: 1 } });
  refused('{"a":{"b":{}}}', 'Nesting at $.a.b is deeper than the limit of 2 levels.', '$.a.b', { maxDepth: 2 });
  assert.equal(parseStrictJson('"flat"', { maxDepth: 0 }), 'flat');
  refused('[]', 'Nesting at $ is deeper than the limit of 0 levels.', '$', { maxDepth: 0 });
  assert.deepEqual(parseStrictJson(`${'['.repeat(1000)}${']'.repeat(1000)}`, { maxDepth: 1000 }), JSON.parse(`${'['.repeat(1000)}${']'.repeat(1000)}`));
  for (const maxDepth of [-1, 1.5, 1001, Number.NaN]) assert.throws(() => parseStrictJson('1', { maxDepth }), RangeError);
});

test('syntax errors name the path and the offset', () => {
  const cases: [string, string][] = [
    ['', 'Invalid JSON at $ (offset 0): expected a value.'],
    ['   ', 'Invalid JSON at $ (offset 3): expected a value.'],
    ['{"payload":{"amount":1 "x"}}', "Invalid JSON at $.payload (offset 23): expected ',' or '}'."],
    ['[1 2]', "Invalid JSON at $ (offset 3): expected ',' or ']'."],
    ['[1,]', 'Invalid JSON at $[1] (offset 3): expected a value.'],
    ['{"a":1,}', 'Invalid JSON at $ (offset 7): expected a string key.'],
    ['{a:1}', 'Invalid JSON at $ (offset 1): expected a string key.'],
    ["{'a':1}", 'Invalid JSON at $ (offset 1): expected a string key.'],
    ['{"a" 1}', "Invalid JSON at $ (offset 5): expected ':'."],
    ['{"a":}', 'Invalid JSON at $.a (offset 5): expected a value.'],
    ['{"a":[1,{"b":tru}]}', 'Invalid JSON at $.a[1].b (offset 13): expected a value.'],
    ['01', 'Invalid JSON at $ (offset 0): a number may not have a leading zero.'],
    ['[-01]', 'Invalid JSON at $[0] (offset 2): a number may not have a leading zero.'],
    ['1.', 'Invalid JSON at $ (offset 2): expected a digit after the decimal point.'],
    ['1e', 'Invalid JSON at $ (offset 2): expected a digit in the exponent.'],
    ['1e+', 'Invalid JSON at $ (offset 3): expected a digit in the exponent.'],
    ['-', 'Invalid JSON at $ (offset 1): expected a digit.'],
    ['-Infinity', 'Invalid JSON at $ (offset 1): expected a digit.'],
    ['.5', 'Invalid JSON at $ (offset 0): expected a value.'],
    ['+1', 'Invalid JSON at $ (offset 0): expected a value.'],
    ['NaN', 'Invalid JSON at $ (offset 0): expected a value.'],
    ['{"a":"abc', 'Invalid JSON at $.a (offset 5): the string is not closed.'],
    ['"\\x"', 'Invalid JSON at $ (offset 1): invalid escape in a string.'],
    ['"\\', 'Invalid JSON at $ (offset 1): invalid escape in a string.'],
    ['"\\u12G4"', 'Invalid JSON at $ (offset 1): expected four hex digits after \\u.'],
    ['"\\u12"', 'Invalid JSON at $ (offset 1): expected four hex digits after \\u.'],
    ['"a\nb"', 'Invalid JSON at $ (offset 2): control characters in a string must be escaped.'],
    ['"\t"', 'Invalid JSON at $ (offset 1): control characters in a string must be escaped.'],
    ['[1] x', 'Invalid JSON at $ (offset 4): expected the end of the input.'],
    ['{} {}', 'Invalid JSON at $ (offset 3): expected the end of the input.'],
    ['truex', 'Invalid JSON at $ (offset 4): expected the end of the input.'],
    ['\u00a01', 'Invalid JSON at $ (offset 0): expected a value.'],
    ['[1,\v2]', 'Invalid JSON at $[1] (offset 3): expected a value.'],
    // A byte order mark is refused, as JSON.parse refuses it: RFC 8259 §8.1 lets a parser do either.
    ['\ufeff{}', 'Invalid JSON at $ (offset 0): a byte order mark is not allowed.'],
    [' \ufeff{}', 'Invalid JSON at $ (offset 1): expected a value.'],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => JSON.parse(text), SyntaxError, `JSON.parse accepts ${JSON.stringify(text)}`);
    const offset = Number(/\(offset (\d+)\)/.exec(message)![1]);
    assert.equal(refused(text, message).offset, offset);
  }
});

test('strings: every escape, surrogate pairs, and lone surrogates exactly as JSON.parse', () => {
  assert.equal(same('"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u00e9\\uFFFF"'), '"\\/\b\f\n\r\t\u0000é\uffff');
  assert.equal(same('"\\ud83d\\ude00"'), '😀');
  assert.equal(same('"\\ud800"'), '\ud800');
  assert.equal(same('"\\udc00x\\ud800"'), '\udc00x\ud800');
  assert.equal(same('"\\ude00\\ud83d"'), '\ude00\ud83d');
  assert.equal(same('"raw 😀 \ud800 \u2028 \u007f é"'), 'raw 😀 \ud800 \u2028 \u007f é');
  assert.equal(same(JSON.stringify('x'.repeat(300_000))), 'x'.repeat(300_000));
  same(' \t\n\r[ 1 , { "a" : null , "b" : [ true , false ] } ] \r\n');
});

test('objects are plain, and "__proto__" or "toString" keys become own properties as with JSON.parse', () => {
  const text = '{"__proto__":{"polluted":1},"toString":2,"constructor":{"prototype":3},"hasOwnProperty":4}';
  const value = same(text) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.deepEqual(Object.keys(value), ['__proto__', 'toString', 'constructor', 'hasOwnProperty']);
  assert.deepEqual(Object.getOwnPropertyDescriptor(value, '__proto__'), { value: { polluted: 1 }, writable: true, enumerable: true, configurable: true });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.keys(same('{"b":1,"2":2,"a":3,"1":4}') as object), ['1', '2', 'b', 'a']);
  assert.ok(Array.isArray(parseStrictJson('[]')));
});

test('a frozen Object.prototype (as in a hardened sandbox) does not break keys it already has', () => {
  // In a child: freezing the prototype here would change every other test.
  const module = fileURLToPath(new URL('../../common/strict-json.ts', import.meta.url));
  const script = `Object.freeze(Object.prototype);
    const { parseStrictJson } = require(${JSON.stringify(module)});
    const v = parseStrictJson('{"toString":1,"constructor":2,"__proto__":3}');
    process.stdout.write(JSON.stringify(Object.entries(v)));`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--eval', script], { encoding: 'utf8' });
  assert.equal(child.stderr, '');
  assert.equal(child.stdout, '[["toString",1],["constructor",2],["__proto__",3]]');
});

// Speed is the benchmark's business (no wall-clock assertions in tests): here, only that large inputs parse whole.
test('a 256 KiB payload and long keys, strings and numbers parse as JSON.parse parses them', () => {
  const payload = JSON.stringify({
    action: 'email.send',
    payload: {
      to: Array.from({ length: 300 }, (_, i) => `user${i}@example.com`),
      body: 'Lorem ipsum "dolor" sit amet, é 😀\n'.repeat(5000),
      rows: Array.from({ length: 1600 }, (_, i) => ({ id: i, price: i * 1.25, ok: i % 2 === 0, tag: null })),
    },
  });
  assert.ok(payload.length >= 256 * 1024, `payload of ${payload.length}`);
  assert.deepEqual(parseStrictJson(payload), JSON.parse(payload));
  for (const text of [`"${'\\n'.repeat(200_000)}"`, `{"${'k'.repeat(500_000)}":1}`, `0.${'0'.repeat(500_000)}1`, `[${'1,'.repeat(100_000)}1]`]) {
    assert.deepEqual(parseStrictJson(text), JSON.parse(text));
  }
});

test('property: every JSON value without unsafe integers parses as JSON.parse parses it', () => {
  fc.assert(
    fc.property(fc.jsonValue({ stringUnit: 'binary' }).filter((v) => !hasUnsafeInteger(v)), fc.boolean(), (value, indent) => {
      const text = JSON.stringify(value, null, indent ? 2 : undefined);
      assert.deepEqual(parseStrictJson(text), JSON.parse(text));
    }),
    { numRuns: 500 },
  );
});

test('property: a repeated key is always refused, wherever it sits', () => {
  const entries = fc.uniqueArray(fc.tuple(fc.string({ unit: 'binary', maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }).filter((v) => !hasUnsafeInteger(v))), { selector: ([k]) => k, minLength: 1, maxLength: 5 });
  fc.assert(
    fc.property(entries, fc.nat(), fc.jsonValue({ maxDepth: 1 }).filter((v) => !hasUnsafeInteger(v)), (pairs, pick, again) => {
      const key = pairs[pick % pairs.length]![0];
      const members = [...pairs, [key, again] as const].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
      const text = `[{"wrap":{${members.join(',')}}}]`;
      refused(text, `Duplicate key "${escapeName(key)}" at $[0].wrap: each key may appear once.`, '$[0].wrap');
    }),
    { numRuns: 300 },
  );
});

test('property: an integer is refused exactly when it is unsafe, in every decimal spelling', () => {
  const spellings = (n: bigint): string[] => {
    const sign = n < 0n ? '-' : '';
    const digits = (n < 0n ? -n : n).toString();
    return [`${sign}${digits}`, `${sign}${digits}.000`, `${sign}${digits[0]}.${digits.slice(1) || '0'}e${digits.length - 1}`, `${sign}${digits}0E-1`.replace(/^0+(?=\d)/, ''), `${sign}0.${digits}e+${digits.length}`];
  };
  const limit = BigInt(Number.MAX_SAFE_INTEGER);
  fc.assert(
    fc.property(fc.oneof(fc.bigInt(-limit - 3n, limit + 3n), fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.bigInt(-1000n, 1000n)), (n) => {
      for (const text of spellings(n)) {
        if (n > limit || n < -limit) refused(`{"n":${text}}`, `Number at $.n ${SAFE}`, '$.n');
        else assert.ok(Object.is((parseStrictJson(`{"n":${text}}`) as { n: number }).n, Number(n)), text);
      }
    }),
    { numRuns: 500 },
  );
});

test('property: any double JSON.stringify or toExponential spells, if not an unsafe integer, parses as JSON.parse', () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 20 }), (x, digits) => {
      for (const text of [JSON.stringify(x), x.toExponential(digits), x.toExponential()]) {
        if (hasUnsafeInteger(JSON.parse(text))) assert.throws(() => parseStrictJson(text), StrictJsonError);
        else assert.ok(Object.is(parseStrictJson(text), JSON.parse(text)), text);
      }
    }),
    { numRuns: 500 },
  );
});

test('property: any text is refused with StrictJsonError or parsed as JSON.parse parses it', () => {
  // Mostly near-JSON: valid texts with a character deleted, replaced or inserted, or cut short.
  const nearJson = fc
    .tuple(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.nat(), fc.constantFrom('delete', 'replace', 'insert', 'cut'), fc.constantFrom(...'{}[]",:\\ 0123456789-+.eEtrufalsn\u0000\ud800'))
    .map(([t, at, how, c]) => {
      const i = at % (t.length + 1);
      return how === 'delete' ? t.slice(0, i) + t.slice(i + 1) : how === 'replace' ? t.slice(0, i) + c + t.slice(i + 1) : how === 'insert' ? t.slice(0, i) + c + t.slice(i) : t.slice(0, i);
    });
  const anyText = fc.oneof(nearJson, fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom(...'{}[]",: \n0123456789-.eE\\utruefalsn') }));
  fc.assert(
    fc.property(anyText, (text) => {
      let expected: unknown;
      try {
        expected = JSON.parse(text);
      } catch {
        // (Not always an "Invalid JSON" sentence: a duplicate key may come before the syntax error.)
        assert.throws(() => parseStrictJson(text), StrictJsonError);
        return;
      }
      try {
        assert.deepEqual(parseStrictJson(text), expected);
      } catch (err) {
        // JSON.parse accepted it: the only refusals left are the ones JSON.parse does not make.
        assert.ok(err instanceof StrictJsonError && /^(Duplicate key|Number at|Nesting at) /.test(err.message), String(err));
      }
    }),
    { numRuns: 2000 },
  );
});

test('the CLI reads a JSON file strictly: a refusal is a usage error naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strict-json-'));
  try {
    const file = join(dir, 'action.json');
    writeFileSync(file, '{"payload":{"amount":5000,"currency":"USD","amount":40}}');
    assert.throws(() => readJsonFile(file, '--file'), { message: `--file ${file}: not valid JSON (Duplicate key "amount" at $.payload: each key may appear once.).`, exitCode: 2 });
    writeFileSync(file, '{"payload":{"amount":12345678901234567890}}');
    assert.throws(() => readJsonFile(file, '--file'), { message: `--file ${file}: not valid JSON (Number at $.payload.amount ${SAFE}).` });
    writeFileSync(file, '{"payload":');
    assert.throws(() => readJsonFile(file, '--action'), { message: `--action ${file}: not valid JSON (Invalid JSON at $.payload (offset 11): expected a value.).` });
    writeFileSync(file, '{"payload":{"amount":40,"__proto__":[]}}\n');
    assert.deepEqual(readJsonFile(file, '--file'), JSON.parse('{"payload":{"amount":40,"__proto__":[]}}'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
