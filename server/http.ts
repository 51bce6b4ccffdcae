/**
 * The front door's HTTP plumbing, shared by every route: the app's Env, body limits, the strict
 * JSON body, query parameters, rate-limit refusals, and how an error reads as problem+json.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import { MAX_HTTP_WAIT_MS } from '../common/api';
import { ReasonCode } from '../common/codes';
import { parseDuration } from '../common/duration';
import { describeIssues } from '../common/errors';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../common/paging';
import { AmbiguousRequestIdError, ConsumeRefusedError, DecisionRefusedError, InvalidRequestError, RequestNotFoundError } from '../common/refusals';
import { parseStrictJson } from '../common/strict-json';
import type { Principal } from './credentials';
import { HttpProblem, invalid, notFound, statusForCode } from './problems';
import type { RateLimiter } from './rate-limit';

/** What a request carries from middleware to handler: who it is from, once authenticated (server/auth.ts). */
export type Env = { Variables: { principal: Principal } };

/** Bodies: a submission or a decision carries a payload of up to 256 KiB canonical; the rest is small. */
export const MAX_LARGE_BODY_BYTES = 1024 * 1024;
export const MAX_SMALL_BODY_BYTES = 16 * 1024;

/** Refuses a body over `bytes` with 413 (and closes the connection), before anything reads it. */
export const bodyUpTo = (bytes: number): MiddlewareHandler =>
  bodyLimit({ maxSize: bytes, onError: () => { throw new HttpProblem(413, 'BODY_TOO_LARGE', `The body is larger than ${bytes / 1024} KiB.`, { connection: 'close' }); } });
export const largeBody = bodyUpTo(MAX_LARGE_BODY_BYTES);
export const smallBody = bodyUpTo(MAX_SMALL_BODY_BYTES);

/** Takes one token from `bucket` for `key`, or refuses 429 with Retry-After. */
export function rateLimited(bucket: RateLimiter, key: string): void {
  const r = bucket.take(key);
  if (!r.ok) throw new HttpProblem(429, 'RATE_LIMITED', `Too many requests; try again in ${r.retryAfterS} s.`, { 'retry-after': String(r.retryAfterS) });
}

/** The body as strict JSON: duplicate keys and integers beyond ±2^53 are refused, not guessed at. */
export async function jsonBody(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpProblem(415, ReasonCode.INVALID_REQUEST, 'Send the body as application/json.');
  const text = await c.req.text();
  let value: unknown;
  try {
    value = parseStrictJson(text);
  } catch (err) {
    throw new HttpProblem(400, ReasonCode.INVALID_REQUEST, `The body is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('The body must be a JSON object.');
  return value;
}

export function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw invalid(describeIssues(r.error));
  return r.data;
}

/** How long to hold the call open: ?wait=30s, at most MAX_HTTP_WAIT_MS; 0 when absent. */
export function waitParam(c: Context): number {
  const text = c.req.query('wait');
  if (text === undefined || text === '') return 0;
  const ms = parseDuration(text);
  if (ms === undefined) throw invalid(`Query parameter "wait" must be a duration such as 30s, got "${text.slice(0, 50)}".`);
  if (ms > MAX_HTTP_WAIT_MS) throw invalid(`Query parameter "wait" must be at most ${MAX_HTTP_WAIT_MS / 1000}s; wait again for longer.`);
  return ms;
}

/** A page's size: ?limit=1..MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE when absent. */
export function limitParam(c: Context): number {
  const text = c.req.query('limit');
  if (text === undefined || text === '') return DEFAULT_PAGE_SIZE;
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > MAX_PAGE_SIZE) throw invalid(`Query parameter "limit" must be a whole number from 1 to ${MAX_PAGE_SIZE}, got "${text.slice(0, 50)}".`);
  return Number(text);
}

/** Any error as the problem the caller is answered with (the app's onError). */
export function toProblem(err: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err;
  if (err instanceof InvalidRequestError) return invalid(err.message);
  if (err instanceof DecisionRefusedError || err instanceof ConsumeRefusedError) return new HttpProblem(statusForCode(err.code), err.code, err.message);
  if (err instanceof RequestNotFoundError) return notFound(err.message);
  if (err instanceof WorkflowNotFoundError) return notFound('No such request.');
  if (err instanceof AmbiguousRequestIdError) return new HttpProblem(409, 'AMBIGUOUS_ID', err.message);
  const { name, code } = (err ?? {}) as { name?: string; code?: number };
  if (name === 'TransportError' || code === 14) return new HttpProblem(502, 'TEMPORAL_UNREACHABLE', 'The server cannot reach Temporal right now; try again.');
  // RESOURCE_EXHAUSTED: Temporal's own rate limit (visibility, namespace) held this call back past the client's retries.
  if (code === 8) return new HttpProblem(503, 'TEMPORAL_BUSY', 'Temporal is rate-limiting this deployment right now; try again shortly.', { 'retry-after': '2' });
  return new HttpProblem(500, 'INTERNAL', 'The server failed to answer; the error is in its log.');
}
