import { ReasonCode } from '../common/codes';
import type { Problem } from '../common/api';

/** A refusal the server answers with RFC 9457 problem details (application/problem+json). */
export class HttpProblem extends Error {
  override name = 'HttpProblem';
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Not authenticated',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  413: 'Body too large',
  415: 'Unsupported media type',
  422: 'Invalid request',
  429: 'Too many requests',
  500: 'Internal error',
  502: 'Temporal unreachable',
};

export function problemBody(p: HttpProblem, instance?: string): Problem {
  return {
    type: `https://countersign.dev/problems/${p.code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[p.status] ?? 'Error',
    status: p.status,
    detail: p.message,
    code: p.code,
    ...(instance ? { instance } : {}),
  };
}

/** How a reason code from the workflow reads as an HTTP status. */
export function statusForCode(code: string): number {
  switch (code) {
    case ReasonCode.UNAUTHENTICATED:
      return 401;
    case ReasonCode.NOT_ELIGIBLE:
    case ReasonCode.BATCH_NOT_ALLOWED:
      return 403;
    case ReasonCode.INVALID_REQUEST:
      return 422;
    default:
      return 409; // TOO_MANY_OPEN_REQUESTS, ALREADY_DECIDED, STALE_VERSION, TOKEN_*, BINDING_MISMATCH, NOT_CONSUMED: the request's state says no
  }
}

export const unauthenticated = (detail: string) => new HttpProblem(401, ReasonCode.UNAUTHENTICATED, detail, { 'www-authenticate': 'Bearer realm="countersign"' });
export const forbidden = (detail: string) => new HttpProblem(403, 'FORBIDDEN', detail);
export const notFound = (detail: string) => new HttpProblem(404, 'NOT_FOUND', detail);
/** Leaves the log should hold are missing from the store: the request was fine, the log is not (server/routes/log.ts). */
export const logDamaged = (detail: string) => new HttpProblem(409, 'LOG_DAMAGED', detail);
export const invalid = (detail: string) => new HttpProblem(422, ReasonCode.INVALID_REQUEST, detail);
