/**
 * The JSON primitive every message is built on: any JSON value, and the payload — the exact JSON
 * that executes if approved — with the limits that keep it plain, bounded and exactly representable.
 */
import { z } from 'zod';
import { canonicalJson, utf8Length } from './canonical';

export const MAX_PAYLOAD_BYTES = 256 * 1024;
const MAX_DEPTH = 32;

/** Any JSON value: no functions, no undefined, no non-finite numbers. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const jsonValue: z.ZodType<Json> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number().refine(Number.isFinite), z.string(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

function depthOf(value: unknown, depth = 0): number {
  if (value === null || typeof value !== 'object') return depth;
  // Already past the limit: stop here, or a value nested thousands deep overflows the stack.
  if (depth >= MAX_DEPTH) return depth + 1;
  let max = depth + 1;
  for (const v of Object.values(value)) {
    max = Math.max(max, depthOf(v, depth + 1));
    if (max > MAX_DEPTH) break;
  }
  return max;
}

/** The path of the first integer no JSON reader can be trusted to keep exactly, if any. */
function unsafeIntegerAt(value: unknown, path = 'payload'): string | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && !Number.isSafeInteger(value) ? path : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const found = unsafeIntegerAt(inner, `${path}.${key}`);
    if (found) return found;
  }
  return undefined;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
function forbiddenKey(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  for (const key of Object.keys(value)) {
    if (!Array.isArray(value) && FORBIDDEN_KEYS.has(key)) return key;
    const inner = forbiddenKey((value as Record<string, unknown>)[key]);
    if (inner) return inner;
  }
  return undefined;
}

/**
 * zod's records leave an own "__proto__" key (JSON.parse makes one) out of their output without a
 * word, so nothing after them could see it: refuse it on the raw input instead. Typed by the
 * record's input, so a TypeScript caller is told what to send; at run time any value is judged.
 */
export function refusingOwnProto<T extends z.ZodType>(record: T): z.ZodType<z.output<T>, z.input<T>> {
  const judged = z
    .unknown()
    .superRefine((value, ctx) => {
      if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.prototype.hasOwnProperty.call(value, '__proto__')) {
        ctx.addIssue({ code: 'custom', message: 'must not contain the key "__proto__"' });
      }
    })
    .pipe(record);
  return judged as unknown as z.ZodType<z.output<T>, z.input<T>>;
}

/** The exact JSON that executes if approved: an object, at most 256 KiB canonical. */
export const Payload = refusingOwnProto(z.record(z.string(), z.unknown()))
  .superRefine((value, ctx) => {
    const depth = depthOf(value);
    if (depth > MAX_DEPTH) {
      ctx.addIssue({ code: 'custom', message: `must be nested at most ${MAX_DEPTH} levels deep` });
      return;
    }
    const bad = forbiddenKey(value);
    if (bad) {
      ctx.addIssue({ code: 'custom', message: `must not contain the key "${bad}"` });
      return;
    }
    const parsed = jsonValue.safeParse(value);
    if (!parsed.success) {
      ctx.addIssue({ code: 'custom', message: 'must be plain JSON (no functions, undefined or non-finite numbers)' });
      return;
    }
    const unsafe = unsafeIntegerAt(value);
    if (unsafe !== undefined) {
      ctx.addIssue({ code: 'custom', message: `has an integer outside ±(2^53 − 1) at ${unsafe}, which JSON readers round differently: send it as a string` });
      return;
    }
    if (utf8Length(canonicalJson(value)) > MAX_PAYLOAD_BYTES) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_PAYLOAD_BYTES / 1024} KiB as canonical JSON` });
    }
  })
  .transform((v) => v as Record<string, Json>);
export type Payload = z.infer<typeof Payload>;
