/**
 * Signing in and out, under /v1: a reviewer's login (a challenge their key signs, for a session),
 * logout, and whoami for any credential. The inbox's passkey sign-in is server/inbox.ts's.
 */
import { Hono } from 'hono';
import { ChallengeBody, LoginBody } from '../../common/api';
import type { LoginChallenge, ReviewerSession, Whoami } from '../../common/responses';
import { BEARER, clientAddress, refused, signedIn } from '../auth';
import type { Deps } from '../deps';
import { jsonBody, parse, rateLimited, smallBody, type Env } from '../http';
import { unauthenticated } from '../problems';
import { SessionError, type SessionClaims, type Sessions } from '../sessions';

export function authRoutes(deps: Deps): Hono<Env> {
  const { sessions, policy } = deps;
  const routes = new Hono<Env>();

  routes.get('/whoami', signedIn(deps), (c) => {
    const p = c.get('principal');
    return c.json((p.role === 'agent' ? { role: p.gateway ? 'gateway' : 'agent', name: p.name } : p) satisfies Whoami);
  });

  routes.post('/session/challenge', smallBody, async (c) => {
    // Logins have buckets of their own: failed API calls from the same address cannot lock reviewers out.
    // A challenge costs only its caller's address: whoever it names, it proves nothing and spends no one else's budget.
    rateLimited(deps.limiter, `login:${clientAddress(c, deps)}`);
    const { reviewer } = parse(ChallengeBody, await jsonBody(c));
    return c.json((await sessions.challenge(reviewer)) satisfies LoginChallenge);
  });

  routes.post('/session', smallBody, async (c) => {
    rateLimited(deps.limiter, `login:${clientAddress(c, deps)}`);
    const { challenge, proof } = parse(LoginBody, await jsonBody(c));
    let session: Awaited<ReturnType<Sessions['login']>>;
    try {
      session = await sessions.login(challenge, proof, (name) => policy.reviewerKeys.get(name), deps.loginAudiences);
    } catch (err) {
      if (err instanceof SessionError) throw unauthenticated(err.message);
      throw err;
    }
    // The reviewer's own budget is charged only once their key has signed: no one else can spend it.
    rateLimited(deps.limiter, `login-as:${session.reviewer}`);
    return c.json(session satisfies ReviewerSession);
  });

  /** Ends this session on every instance: the same bearer is refused from now on. */
  routes.post('/session/logout', async (c) => {
    const m = BEARER.exec(c.req.header('authorization') ?? '');
    if (!m || m[1]!.split('.').length !== 3) throw refused(c, deps, 'Send the session to end as "Authorization: Bearer <session>".');
    let claims: SessionClaims;
    try {
      claims = await sessions.verify(m[1]!);
    } catch (err) {
      throw refused(c, deps, err instanceof SessionError ? `${err.message} There is nothing to log out of.` : 'The credential is not valid.');
    }
    await sessions.end(claims);
    deps.logger.info({ reviewer: claims.reviewer }, 'reviewer logged out');
    return c.body(null, 204);
  });

  return routes;
}
