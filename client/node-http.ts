import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** The part of a fetch Response the HTTP client reads. */
export interface SimpleResponse {
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type SimpleFetch = (url: URL, init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal; redirect?: 'error' }) => Promise<SimpleResponse>;

/** Largest answer read: the server's bodies are bounded far below this (evidence bundles included). */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** A connection silent for this long is dead: longer than any wait the server holds a call open for (60 s). */
export const IDLE_TIMEOUT_MS = 90_000;

/**
 * fetch's shape over node:http and node:https, for the SDK and the CLI: Node's global fetch loads
 * and compiles undici on first use, which costs a CLI command about a fifth of a second. Kept-alive
 * sockets are unreferenced by Node's agent, so they never hold a finished process open. A redirect
 * is an error (it could carry the credential elsewhere).
 */
export function nodeFetch(): SimpleFetch {
  const agents = { 'http:': new HttpAgent({ keepAlive: true }), 'https:': new HttpsAgent({ keepAlive: true }) };
  return (url, init) =>
    new Promise<SimpleResponse>((resolve, reject) => {
      const https = url.protocol === 'https:';
      const req = (https ? httpsRequest : httpRequest)(
        url,
        {
          method: init.method,
          headers: { ...init.headers, ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}) },
          agent: agents[https ? 'https:' : 'http:'],
          ...(init.signal ? { signal: init.signal } : {}),
        },
        (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          if (status >= 300 && status < 400) {
            res.resume();
            reject(new TypeError(`the server answered with a redirect (${status}) to ${String(res.headers.location ?? '?').slice(0, 200)}, which is not followed`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          const body = new Promise<string>((done, fail) => {
            res.on('data', (chunk: Buffer) => {
              size += chunk.length;
              if (size > MAX_RESPONSE_BYTES) {
                res.destroy(new Error('the answer is too large'));
                return;
              }
              chunks.push(chunk);
            });
            res.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
            res.on('error', fail);
          });
          body.catch(() => undefined); // read by text(); an unread failure is not an unhandled rejection
          resolve({
            status,
            ok: status >= 200 && status < 300,
            headers: { get: (name) => (res.headers[name.toLowerCase()] as string | undefined) ?? null },
            text: () => body,
          });
        },
      );
      req.on('error', reject);
      req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no answer for ${IDLE_TIMEOUT_MS / 1000} s`)));
      if (init.body !== undefined) req.write(init.body);
      req.end();
    });
}
