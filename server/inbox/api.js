// The inbox's calls to its server (docs/inbox.md), the session they carry, and the passkey library.
import { CSRF_HEADER } from './constants.js';

/** Session state. The CSRF token lives in memory only. */
export const state = { me: null, csrf: null };

/** What a 401 does (the sign-in view, session.js): set once by the entry module. */
let unauthenticated = () => {};
export function onUnauthenticated(fn) {
  unauthenticated = fn;
}

/** An RFC 9457 problem answer (status 0: the server could not be reached). */
export class Problem extends Error {
  constructor(status, body) {
    super(body?.detail || body?.title || `The server answered with status ${status}.`);
    Object.assign(this, { status, code: body?.code });
  }
}

/** JSON fetch. A 401 ends the session and shows the sign-in view, unless signInOn401 is false. */
export async function api(path, { method = 'GET', body, signInOn401 = true } = {}) {
  const headers = { accept: 'application/json, application/problem+json' };
  const init = { method, credentials: 'same-origin', headers, cache: 'no-store' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    if (state.csrf) headers[CSRF_HEADER] = state.csrf;
    init.body = JSON.stringify(body ?? {});
  }
  const res = await fetch(path, init).catch(() => {
    throw new Problem(0, { detail: 'The inbox server could not be reached: check your connection and try again.' });
  });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.ok) return data;
  const problem = new Problem(res.status, data);
  if (res.status === 401 && signInOn401) unauthenticated(problem.message);
  throw problem;
}

export const post = (path, body, signInOn401 = true) => api(path, { method: 'POST', body, signInOn401 });

/** The passkey library (webauthn.js, a classic script that runs before the modules). */
export function webauthn() {
  const lib = globalThis.SimpleWebAuthnBrowser;
  if (!lib) throw new Error('The passkey library did not load: reload the page.');
  if (!lib.browserSupportsWebAuthn()) throw new Error('This browser does not support passkeys.');
  return lib;
}

/** One sentence for the reviewer, whatever failed. */
export function describe(err) {
  if (err instanceof Problem) return err.message;
  if (err?.name === 'NotAllowedError') return 'The passkey prompt was cancelled or timed out: try again.';
  if (err?.name === 'InvalidStateError') return 'This authenticator already holds a passkey for this inbox.';
  return err?.message || 'Something went wrong: try again.';
}
