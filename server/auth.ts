/**
 * Who a request is from: an agent, gateway or auditor API key, a reviewer session (bearer), or the
 * web inbox's passkey session (cookie). The middleware sets the principal for the handler and the
 * access log; a refused credential is counted against the caller's address, then answered 401.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { API_KEY_PATTERN, authenticateApiKey, type Principal } from './credentials';
import type { Deps } from './deps';
import { rateLimited, type Env } from './http';
import { groupsOf, inboxSession } from './inbox';
import { forbidden, HttpProblem, unauthenticated } from './problems';
import { keyFingerprint, SessionError, type SessionClaims } from './sessions';

/** The bearer credential an Authorization header carries, if it is well formed. */
export const BEARER = /^Bearer ([\x21-\x7e]{1,4096})$/;

/** The caller's address: the peer, or the client a trusted proxy forwarded for. */
export function clientAddress(c: Context, deps: Pick<Deps, 'proxies'>): string {
  const peer = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress ?? 'unknown';
  return deps.proxies.clientAddress(peer, c.req.header('x-forwarded-for'));
}

/** A refused credential: counted against the caller's address (a bucket apart from logins), then 401. */
export function refused(c: Context, deps: Deps, detail: string): HttpProblem {
  rateLimited(deps.limiter, `authfail:${clientAddress(c, deps)}`);
  return unauthenticated(detail);
}

/** The request's principal, set on the context (before any role check: the access log names it), and charged to its budget. */
export async function authenticate(c: Context<Env>, deps: Deps): Promise<Principal> {
  const { policy, sessions, secure } = deps;
  const header = c.req.header('authorization') ?? '';
  // The web inbox: a passkey session in an HttpOnly cookie, honoured by the reviewer endpoints only
  // (an agent endpoint answers it 403), with its CSRF token on every change.
  if (!header && c.req.header('cookie')) {
    let session: Awaited<ReturnType<typeof inboxSession>>;
    try {
      session = await inboxSession(c, { policy, sessions, secure }, { stateChange: c.req.method !== 'GET' && c.req.method !== 'HEAD' });
    } catch (err) {
      if (err instanceof HttpProblem && err.status === 401) throw refused(c, deps, err.message);
      throw err;
    }
    const principal: Principal = { role: 'reviewer', name: session.reviewer, groups: groupsOf(policy, session.reviewer) };
    rateLimited(deps.limiter, `${principal.role}:${principal.name}`);
    c.set('principal', principal);
    return principal;
  }
  const m = BEARER.exec(header);
  if (!m) throw refused(c, deps, 'Send your credential as "Authorization: Bearer <key or session>".');
  const credential = m[1]!;
  let principal: Principal | undefined;
  if (API_KEY_PATTERN.test(credential)) principal = authenticateApiKey(policy.directory, credential);
  else if (credential.split('.').length !== 3) throw refused(c, deps, 'The credential is not valid: an API key (cs_agent_…) or a reviewer session from POST /v1/session.');
  else {
    let claims: SessionClaims;
    try {
      claims = await sessions.verify(credential);
    } catch (err) {
      throw refused(c, deps, err instanceof SessionError ? `${err.message} Log in again.` : 'The credential is not valid.');
    }
    // A session outlives neither the reviewer's registration nor the key that logged it in (a rotated or revoked key ends it).
    const key = policy.reviewerKeys.get(claims.reviewer);
    if (key && keyFingerprint(key) !== claims.kid) throw refused(c, deps, 'The key this session was logged in with is no longer in the directory. Log in again.');
    if (key) principal = { role: 'reviewer', name: claims.reviewer, groups: groupsOf(policy, claims.reviewer) };
  }
  if (!principal) throw refused(c, deps, 'The credential is not valid.');
  rateLimited(deps.limiter, `${principal.role}:${principal.name}`);
  c.set('principal', principal);
  return principal;
}

type SignedIn<R extends Principal['role']> = { Variables: { principal: Extract<Principal, { role: R }> } };

/**
 * Middleware: authenticates the request (or refuses it), then, given a role, refuses any other
 * (403). The handler reads `c.get('principal')`, typed for the role.
 */
export function signedIn<R extends Principal['role'] = Principal['role']>(deps: Deps, role?: R): MiddlewareHandler<SignedIn<R>> {
  const middleware: MiddlewareHandler<Env> = async (c, next) => {
    const p = await authenticate(c, deps);
    if (role !== undefined && p.role !== role) throw forbidden(`This endpoint is for ${role}s; you are signed in as ${p.role} ${p.name}.`);
    await next();
  };
  return middleware as unknown as MiddlewareHandler<SignedIn<R>>; // the role is checked above
}
