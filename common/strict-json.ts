import { escapeName } from './errors';

/**
 * Strict JSON (RFC 8259) for every boundary: JSON.parse silently keeps the last of duplicate keys
 * and rounds big integers, so the value reviewed and digested can differ from the one an executor
 * reads. This parser refuses both instead. Pure and Node-free: bundled into workflows.
 */

/** A refused JSON text: `path` names where (`$.payload.amount`, `$.to[2]`), `offset` the UTF-16 index. */
export class StrictJsonError extends Error {
  override name = 'StrictJsonError';
  constructor(
    message: string,
    readonly path: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const MAX_DEPTH_LIMIT = 1000; // the recursion uses two stack frames per level: stay far from overflow
const MAX_KEY_SHOWN = 64;
const LITERALS: readonly [string, unknown][] = [['true', true], ['false', false], ['null', null]];
const ESCAPES = new Map([['"', '"'], ['\\', '\\'], ['/', '/'], ['b', '\b'], ['f', '\f'], ['n', '\n'], ['r', '\r'], ['t', '\t']]);
// eslint-disable-next-line no-control-regex
const PLAIN = /[^"\\\u0000-\u001f]*/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Parses a JSON text as JSON.parse does, but throws StrictJsonError on a duplicate key, an integer
 * beyond ±(2^53−1), nesting deeper than maxDepth (default 64, at most 1000) or any syntax error.
 */
export function parseStrictJson(text: string, options: { maxDepth?: number } = {}): unknown {
  const maxDepth = options.maxDepth ?? 64;
  if (!Number.isInteger(maxDepth) || maxDepth < 0 || maxDepth > MAX_DEPTH_LIMIT) {
    throw new RangeError(`maxDepth must be an integer from 0 to ${MAX_DEPTH_LIMIT}, got ${maxDepth}.`);
  }
  const path: (string | number)[] = []; // rendered only on error, so parsing stays linear
  let pos = 0;

  const refuse = (sentence: (where: string) => string, at = pos): never => {
    const where = renderPath(path);
    throw new StrictJsonError(sentence(where), where, at);
  };
  const fail = (what: string, at = pos): never => refuse((where) => `Invalid JSON at ${where} (offset ${at}): ${what}.`, at);
  const isDigit = (i: number) => {
    const c = text.charCodeAt(i);
    return c >= 0x30 && c <= 0x39;
  };
  const close = <T>(container: T): T => {
    pos++;
    return container;
  };
  const skipSpace = () => {
    let c = text.charCodeAt(pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++pos);
  };

  function value(depth: number): unknown {
    skipSpace();
    const c = text[pos];
    if (c === '{' || c === '[') {
      if (depth === maxDepth) refuse((where) => `Nesting at ${where} is deeper than the limit of ${maxDepth} levels.`);
      return c === '{' ? object(depth + 1) : array(depth + 1);
    }
    if (c === '"') return string();
    if (c === '-' || isDigit(pos)) return number();
    for (const [word, literal] of LITERALS) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return literal;
      }
    }
    // JSON.parse refuses a byte order mark too; a file saved with one must be re-saved without it.
    return fail(pos === 0 && c === '\ufeff' ? 'a byte order mark is not allowed' : 'expected a value');
  }

  function object(depth: number): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    pos++;
    skipSpace();
    if (text[pos] === '}') return close(result);
    for (;;) {
      if (text[pos] !== '"') fail('expected a string key');
      const keyAt = pos;
      const key = string();
      const inherited = result[key] !== undefined; // JSON values are never undefined: own or inherited
      if (inherited && Object.hasOwn(result, key)) refuse((where) => `Duplicate key "${showKey(key)}" at ${where}: each key may appear once.`, keyAt);
      skipSpace();
      if (text[pos] !== ':') fail("expected ':'");
      pos++;
      path.push(key);
      const item = value(depth);
      // Keys Object.prototype has are defined, as JSON.parse does: assigning "__proto__" would set the
      // prototype, and assigning "toString" throws where the prototype is frozen.
      if (inherited) Object.defineProperty(result, key, { value: item, writable: true, enumerable: true, configurable: true });
      else result[key] = item;
      path.pop();
      skipSpace();
      if (text[pos] === '}') return close(result);
      if (text[pos] !== ',') fail("expected ',' or '}'");
      pos++;
      skipSpace();
    }
  }

  function array(depth: number): unknown[] {
    const result: unknown[] = [];
    pos++;
    skipSpace();
    if (text[pos] === ']') return close(result);
    for (;;) {
      path.push(result.length);
      result.push(value(depth));
      path.pop();
      skipSpace();
      if (text[pos] === ']') return close(result);
      if (text[pos] !== ',') fail("expected ',' or ']'");
      pos++;
    }
  }

  function string(): string {
    const start = pos++;
    let result = '';
    let run = pos;
    for (;;) {
      PLAIN.lastIndex = pos; // plain characters are skipped by the regex engine, not one by one
      PLAIN.test(text);
      pos = PLAIN.lastIndex;
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        result += text.slice(run, pos++);
        return result;
      }
      if (c === 0x5c) {
        result += text.slice(run, pos);
        const escape = text[pos + 1] ?? '';
        if (escape === 'u') {
          const hex = text.slice(pos + 2, pos + 6);
          if (!HEX4.test(hex)) fail('expected four hex digits after \\u');
          // One UTF-16 unit per escape: pairs join up, lone surrogates stay, as with JSON.parse.
          result += String.fromCharCode(parseInt(hex, 16));
          pos += 6;
        } else {
          result += ESCAPES.get(escape) ?? fail('invalid escape in a string');
          pos += 2;
        }
        run = pos;
      } else if (Number.isNaN(c)) fail('the string is not closed', start);
      else fail('control characters in a string must be escaped');
    }
  }

  function number(): number {
    const start = pos;
    if (text[pos] === '-') pos++;
    const intAt = pos;
    if (!isDigit(pos)) fail('expected a digit');
    while (isDigit(pos)) pos++;
    const integer = text.slice(intAt, pos);
    if (integer.length > 1 && integer[0] === '0') fail('a number may not have a leading zero', intAt);
    let fraction = '';
    if (text[pos] === '.') {
      const at = ++pos;
      if (!isDigit(pos)) fail('expected a digit after the decimal point');
      while (isDigit(pos)) pos++;
      fraction = text.slice(at, pos);
    }
    let exponent = 0;
    if (text[pos] === 'e' || text[pos] === 'E') {
      const at = ++pos;
      if (text[pos] === '+' || text[pos] === '-') pos++;
      if (!isDigit(pos)) fail('expected a digit in the exponent');
      while (isDigit(pos)) pos++;
      exponent = Number(text.slice(at, pos));
    }
    if (isUnsafeInteger(integer + fraction, exponent - fraction.length)) {
      refuse((where) => `Number at ${where} is outside the safe integer range ±${Number.MAX_SAFE_INTEGER}: send it as a string.`, start);
    }
    const result = Number(text.slice(start, pos));
    if (!Number.isFinite(result)) refuse((where) => `Number at ${where} is too large for a 64-bit float: send it as a string.`, start);
    return result;
  }

  const result = value(0);
  skipSpace();
  if (pos < text.length) fail('expected the end of the input');
  return result;
}

/**
 * True when digits × 10^exponent is an integer beyond ±(2^53−1), read off the decimal text itself:
 * the rounded double cannot tell 9007199254740993 from 9007199254740992.
 */
function isUnsafeInteger(digits: string, exponent: number): boolean {
  let first = 0;
  let end = digits.length;
  while (first < end && digits[first] === '0') first++;
  if (first === end) return false; // zero, -0 included
  while (digits[end - 1] === '0') {
    end--;
    exponent++;
  }
  if (exponent < 0) return false; // a fraction: not an integer
  if (end - first + exponent !== 16) return end - first + exponent > 16; // 15 digits are always safe
  return BigInt(digits.slice(first, end) + '0'.repeat(exponent)) > BigInt(Number.MAX_SAFE_INTEGER);
}

function renderPath(path: readonly (string | number)[]): string {
  let out = '$';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (part.length <= MAX_KEY_SHOWN && IDENTIFIER.test(part)) out += `.${part}`;
    else out += `["${showKey(part)}"]`;
  }
  return out;
}

/** A key as shown in a sentence: escaped, and clipped (never inside a surrogate pair). */
function showKey(key: string): string {
  if (key.length <= MAX_KEY_SHOWN) return escapeName(key);
  const high = key.charCodeAt(MAX_KEY_SHOWN - 1);
  const end = high >= 0xd800 && high <= 0xdbff ? MAX_KEY_SHOWN - 1 : MAX_KEY_SHOWN;
  return `${escapeName(key.slice(0, end))}…`;
}
