import type { Problem } from '../common/api';
import { ReasonCode } from '../common/codes';
import { nodeFetch, type SimpleFetch, type SimpleResponse } from './node-http';
import { InvalidRequestError, RequestNotFoundError } from '../common/refusals';

/** The server answered with problem details; `code` is the reason code to act on. */
export class ServerProblem extends Error {
  override name = 'ServerProblem';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The credential was refused (401): no key, a wrong one, an expired session. */
export class UnauthenticatedError extends ServerProblem {
  override name = 'UnauthenticatedError';
}

/** The credential may not do this (403). */
export class ForbiddenError extends ServerProblem {
  override name = 'ForbiddenError';
}

/** The server could not be reached at all (CLI exit 4). */
export class ServerUnreachableError extends Error {
  override name = 'ServerUnreachableError';
}

export interface HttpClientOptions {
  url: string;
  /** Called for each request: an API key, or a reviewer session. */
  bearer: () => string | Promise<string>;
  /** Another fetch (tests, other runtimes); by default requests go over node:http(s) (client/node-http.ts). */
  fetch?: typeof fetch;
}

/** JSON over HTTP to `countersign server`, with problem details turned into errors and 429 retried. */
export class HttpClient {
  readonly base: URL;
  private readonly send: SimpleFetch;
  constructor(private readonly options: HttpClientOptions) {
    this.send = (options.fetch as SimpleFetch | undefined) ?? nodeFetch();
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new InvalidRequestError(`COUNTERSIGN_URL must be the server's URL, such as http://127.0.0.1:7280, got "${options.url}".`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new InvalidRequestError(`COUNTERSIGN_URL must be http:// or https://, got "${options.url}".`);
    // A credential never crosses a network in the clear: plain http only to this machine.
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(base.hostname) || /^127\./.test(base.hostname);
    if (base.protocol === 'http:' && !loopback) throw new InvalidRequestError(`COUNTERSIGN_URL must be https:// for a server on another machine (${base.host}): keys and sessions are not sent in the clear.`);
    this.base = base;
  }

  async request<T>(method: string, path: string, body?: unknown, init: { signal?: AbortSignal } = {}): Promise<T> {
    const text = await this.exchange(method, path, body, init, 'application/json');
    return (text === undefined ? undefined : JSON.parse(text)) as T;
  }

  /** A GET whose answer is text as served (a signed note, a bundle byte for byte), not parsed. */
  async text(path: string, accept = 'text/plain'): Promise<string> {
    return (await this.exchange('GET', path, undefined, {}, accept)) ?? '';
  }

  private async exchange(method: string, path: string, body: unknown, init: { signal?: AbortSignal }, accept: string): Promise<string | undefined> {
    const url = new URL(path, this.base);
    for (let attempt = 1; ; attempt++) {
      let res: SimpleResponse;
      try {
        res = await this.send(url, {
          method,
          headers: { authorization: `Bearer ${await this.options.bearer()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), accept },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: init.signal,
          redirect: 'error', // a redirect could carry the credential elsewhere
        });
      } catch (err) {
        if ((err as Error).name === 'AbortError') throw err;
        throw new ServerUnreachableError(`Cannot reach the countersign server at ${this.base.origin} (${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message}). Is it running (npm run dev)?`);
      }
      if (res.status === 429 && attempt < 5) {
        const after = Number(res.headers.get('retry-after') ?? '1');
        await new Promise((r) => setTimeout(r, Math.min(10, Math.max(1, after)) * 1000));
        continue;
      }
      if (res.status === 204) return undefined;
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        if (init.signal?.aborted) throw err;
        throw new ServerUnreachableError(`The countersign server at ${this.base.origin} broke off its answer (${(err as Error).message}).`);
      }
      if (res.ok) return text;
      throw problemError(res.status, text);
    }
  }
}

function problemError(status: number, text: string): Error {
  let p: Partial<Problem> = {};
  try {
    p = JSON.parse(text) as Problem;
  } catch {
    /* not problem details: a proxy's page */
  }
  const message = p.detail ?? `The server answered ${status}.`;
  const code = p.code ?? `HTTP_${status}`;
  if (status === 401) return new UnauthenticatedError(status, ReasonCode.UNAUTHENTICATED, message);
  if (status === 404) return new RequestNotFoundError(message);
  if ((status === 422 || status === 400 || status === 415) && code === ReasonCode.INVALID_REQUEST) return new InvalidRequestError(message);
  if (status === 403 && code === 'FORBIDDEN') return new ForbiddenError(status, code, message);
  return new ServerProblem(status, code, message);
}
