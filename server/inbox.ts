/**
 * The web inbox (docs/inbox.md, issue 12): its pages and assets, passkey enrolment from an invite,
 * and passkey sign-in to a cookie session. Decisions themselves go through the reviewer endpoints
 * in server/routes/reviews.ts, each signed by a passkey assertion over the decision statement.
 */
import { createHash } from 'node:crypto';
import { generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse } from '@simplewebauthn/server';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Logger } from 'pino';
import type { CompiledPolicy } from '../policy/load';
import { constantTimeEqual } from '../common/signing';
import { EnrollBody, EnrollOptionsBody, PasskeyLoginBody, PasskeyLoginOptionsBody } from '../common/api';
import type { Enrolment, InboxSession } from '../common/responses';
import { base64UrlToBytes, bytesToBase64Url, coseKeyAlgorithm, passkeyFingerprint } from '../common/webauthn';
import { EnrollmentError, INVITE_PATTERN, type Enrollments } from './enrollments';
import { INBOX_CSP, inboxConstants, loadInboxAssets } from './inbox-assets';
import { HttpProblem, unauthenticated } from './problems';
import { SessionError, type Sessions } from './sessions';
import { CLONED_PASSKEY, type SignCounts } from './sign-counts';
import type { Env } from './http';

export const INBOX_COOKIE = 'cs_inbox';
/**
 * Over https the cookie is `__Host-cs_inbox`: Secure, no Domain, Path=/, so no other host (or a
 * sub-domain) can set or shadow it. Plain http is for loopback development only.
 */
export const cookieName = (secure: boolean) => (secure ? `__Host-${INBOX_COOKIE}` : INBOX_COOKIE);
export const CSRF_HEADER = 'x-countersign-csrf';
/** COSE algorithms a passkey may use: the ones the workflow verifies in pure JS. */
const ALGORITHMS = [-7, -8];

export interface InboxDeps {
  policy: CompiledPolicy;
  sessions: Sessions;
  enrollments: Enrollments;
  logger: Logger;
  /** Served over https (by this server, or a TLS proxy in front of it): the cookie is Secure. */
  secure: boolean;
  rateLimited(key: string): void;
  clientAddress(c: Context): string;
  /** Each passkey's signature counter, which must move forward. */
  signCounts: SignCounts;
  jsonBody(c: Context): Promise<unknown>;
  parse<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: unknown } }, value: unknown): T;
  limit: MiddlewareHandler;
}

/** The reviewer who owns a confirmed passkey, and the passkey, under the policy the server runs now. */
export function passkeyOwner(policy: CompiledPolicy, credentialId: string): { reviewer: string; publicKey: string } | undefined {
  for (const [reviewer, passkeys] of policy.reviewerPasskeys) {
    const found = passkeys.find((p) => p.credentialId === credentialId);
    if (found) return { reviewer, publicKey: found.publicKey };
  }
  return undefined;
}

export function registerInbox(app: Hono<Env>, deps: InboxDeps): void {
  const { policy, sessions, enrollments, logger } = deps;
  const assets = loadInboxAssets(inboxConstants(CSRF_HEADER));
  const page = (c: Context) => {
    c.header('content-security-policy', INBOX_CSP);
    c.header('x-frame-options', 'DENY');
    c.header('referrer-policy', 'no-referrer');
    return c.body(assets.html.body, 200, { 'content-type': assets.html.type });
  };
  for (const path of ['/inbox', '/inbox/', '/inbox/enroll', '/inbox/link', '/inbox/insights', '/inbox/requests/:id']) app.get(path, page);
  // The modules, the stylesheet, the passkey library and constants.js: looked up by name, never by path.
  app.get('/inbox/assets/:file', (c) => {
    const asset = assets.files.get(c.req.param('file'));
    if (!asset) throw new HttpProblem(404, 'NOT_FOUND', 'No such asset.');
    c.header('content-security-policy', INBOX_CSP);
    return c.body(asset.body, 200, { 'content-type': asset.type });
  });

  /** The relying party, or a clear refusal when the policy names none. */
  const relyingParty = () => {
    if (!policy.webauthn) {
      throw new HttpProblem(503, 'INBOX_NOT_CONFIGURED', "The inbox is not set up: the policy's directory names no webauthn relying party (directory.webauthn: { rpId, origins }).");
    }
    return policy.webauthn;
  };
  const loginRefused = () => unauthenticated('The passkey sign-in failed: try again, with a passkey your operator has confirmed.');

  // --- enrolment: an invite answered with a new passkey, which then waits for the operator ---------
  app.post('/v1/inbox/enroll/options', deps.limit, async (c) => {
    deps.rateLimited(`login:${deps.clientAddress(c)}`);
    const rp = relyingParty();
    const { reviewer, token } = deps.parse(EnrollOptionsBody, await deps.jsonBody(c));
    if (!INVITE_PATTERN.test(token)) throw unauthenticated('This enrolment link is not valid: ask your operator for a new one.');
    await openInvite(enrollments, reviewer, token);
    // Charged only with a valid invite: guessing at someone's name cannot lock them out.
    deps.rateLimited(`enroll-as:${reviewer}`);
    const options = await generateRegistrationOptions({
      rpName: rp.rpName,
      rpID: rp.rpId,
      userName: reviewer,
      userDisplayName: reviewer,
      // A stable handle per reviewer: a second passkey on the same authenticator replaces the first.
      userID: new Uint8Array(createHash('sha256').update(`countersign/reviewer:${reviewer}`).digest()),
      attestationType: 'none',
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      supportedAlgorithmIDs: ALGORITHMS,
      excludeCredentials: (policy.reviewerPasskeys.get(reviewer) ?? []).map((p) => ({ id: p.credentialId })),
      timeout: 120_000,
    });
    return c.json({ options, ticket: await sessions.ticket('passkey-enroll', { challenge: options.challenge, reviewer }) });
  });

  app.post('/v1/inbox/enroll', deps.limit, async (c) => {
    deps.rateLimited(`login:${deps.clientAddress(c)}`);
    const rp = relyingParty();
    const body = deps.parse(EnrollBody, await deps.jsonBody(c));
    if (!INVITE_PATTERN.test(body.token)) throw unauthenticated('This enrolment link is not valid: ask your operator for a new one.');
    const ticket = await readTicket('passkey-enroll', body.ticket);
    if (ticket.reviewer !== body.reviewer) throw unauthenticated('The passkey ticket was issued for another reviewer.');
    let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      verified = await verifyRegistrationResponse({
        response: body.response as never,
        expectedChallenge: ticket.challenge,
        expectedOrigin: rp.origins,
        expectedRPID: rp.rpId,
        requireUserVerification: true,
        supportedAlgorithmIDs: ALGORITHMS,
      });
    } catch (err) {
      throw unauthenticated(`The new passkey was refused: ${String((err as Error).message).slice(0, 200)}`);
    }
    if (!verified.verified) throw unauthenticated('The new passkey was refused: its registration does not verify.');
    const { credential, aaguid, origin } = verified.registrationInfo;
    const publicKey = bytesToBase64Url(credential.publicKey);
    if (!coseKeyAlgorithm(publicKey)) throw unauthenticated('The new passkey uses a key countersign cannot verify (ES256 or EdDSA are accepted).');
    if (passkeyOwner(policy, credential.id)) throw unauthenticated('This passkey is registered already.');
    const fingerprint = passkeyFingerprint(credential.id, publicKey);
    try {
      await enrollments.register(body.reviewer, body.token, { id: credential.id, publicKey, aaguid, origin, rpId: rp.rpId, fingerprint });
    } catch (err) {
      if (err instanceof EnrollmentError) throw unauthenticated(err.message);
      throw err;
    }
    logger.info({ reviewer: body.reviewer, credentialId: credential.id.slice(0, 16), fingerprint }, 'passkey registered; waiting for the operator to confirm it');
    return c.json({
      reviewer: body.reviewer,
      credentialId: credential.id,
      fingerprint,
      message: `Your passkey is registered with the fingerprint ${fingerprint}, but it grants nothing yet. Tell your operator this fingerprint yourself (not by replying to the invite); they confirm it with "countersign reviewers confirm ${body.reviewer} --fingerprint ${fingerprint}". Then sign in at /inbox.`,
    } satisfies Enrolment);
  });

  // --- sign-in: a discoverable passkey, then an HttpOnly cookie and a CSRF token ------------------
  app.post('/v1/inbox/login/options', deps.limit, async (c) => {
    deps.rateLimited(`login:${deps.clientAddress(c)}`);
    const rp = relyingParty();
    deps.parse(PasskeyLoginOptionsBody, await deps.jsonBody(c));
    const options = await generateAuthenticationOptions({ rpID: rp.rpId, userVerification: 'required', timeout: 120_000 });
    return c.json({ options, ticket: await sessions.ticket('passkey-login', { challenge: options.challenge }) });
  });

  app.post('/v1/inbox/login', deps.limit, async (c) => {
    deps.rateLimited(`login:${deps.clientAddress(c)}`);
    const rp = relyingParty();
    const body = deps.parse(PasskeyLoginBody, await deps.jsonBody(c));
    const ticket = await readTicket('passkey-login', body.ticket);
    const owner = passkeyOwner(policy, body.response.id);
    if (!owner) {
      throw unauthenticated('This passkey is not in the directory. If you have just created it, ask your operator to confirm it (countersign reviewers confirm); until then it grants nothing.');
    }
    let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      verified = await verifyAuthenticationResponse({
        response: body.response as never,
        expectedChallenge: ticket.challenge,
        expectedOrigin: rp.origins,
        expectedRPID: rp.rpId,
        // The counter is checked below, against every instance's record, with a sentence of its own.
        credential: { id: body.response.id, publicKey: base64UrlToBytes(owner.publicKey) as Uint8Array<ArrayBuffer>, counter: 0 },
        requireUserVerification: true,
      });
    } catch {
      throw loginRefused();
    }
    if (!verified.verified) throw loginRefused();
    if (!(await deps.signCounts.advance(body.response.id, verified.authenticationInfo.newCounter))) {
      logger.warn({ reviewer: owner.reviewer, credentialId: body.response.id.slice(0, 16) }, 'passkey signature counter did not move forward: a cloned authenticator or a replay');
      throw unauthenticated(CLONED_PASSKEY);
    }
    deps.rateLimited(`login-as:${owner.reviewer}`);
    try {
      await sessions.spendTicket(ticket.challenge); // one session per sign-in ceremony
    } catch (err) {
      if (err instanceof SessionError) throw unauthenticated(`${err.message} Start again.`);
      throw err;
    }
    const session = await sessions.inboxSession(owner.reviewer, body.response.id);
    setCookie(c, cookieName(deps.secure), session.session, { httpOnly: true, sameSite: 'Strict', path: '/', secure: deps.secure, expires: new Date(session.expiresAt) });
    logger.info({ reviewer: owner.reviewer }, 'reviewer signed in to the inbox with a passkey');
    return c.json({ reviewer: owner.reviewer, groups: groupsOf(policy, owner.reviewer), csrf: session.csrf, expiresAt: session.expiresAt } satisfies InboxSession);
  });

  app.get('/v1/inbox/me', async (c) => {
    const session = await inboxSession(c, deps);
    return c.json({ reviewer: session.reviewer, groups: groupsOf(policy, session.reviewer), csrf: session.csrf, expiresAt: session.expiresAt } satisfies InboxSession);
  });

  app.post('/v1/inbox/logout', async (c) => {
    // The cookie's session ends on the server too: a copy of it kept elsewhere is refused from now on.
    const cookie = getCookie(c, cookieName(deps.secure));
    if (cookie && cookie.length <= 4096) {
      const session = await sessions.verifyInbox(cookie).catch(() => undefined);
      if (session) {
        await sessions.end(session);
        logger.info({ reviewer: session.reviewer }, 'reviewer signed out of the inbox');
      }
    }
    deleteCookie(c, cookieName(deps.secure), { path: '/', secure: deps.secure, sameSite: 'Strict', httpOnly: true });
    return c.body(null, 204);
  });

  async function readTicket(purpose: 'passkey-login' | 'passkey-enroll', ticket: string) {
    try {
      return await sessions.readTicket(purpose, ticket);
    } catch (err) {
      if (err instanceof SessionError) throw unauthenticated(`${err.message} Start again.`);
      throw err;
    }
  }
}

async function openInvite(enrollments: Enrollments, reviewer: string, token: string): Promise<void> {
  try {
    await enrollments.check(reviewer, token);
  } catch (err) {
    if (err instanceof EnrollmentError) throw unauthenticated(err.message);
    throw err;
  }
}

/**
 * The inbox session a request's cookie carries, if it is valid and its passkey is still in the
 * directory; throws 401 otherwise. A state change must also carry the session's CSRF token.
 */
export async function inboxSession(c: Context, deps: Pick<InboxDeps, 'policy' | 'sessions' | 'secure'>, options: { stateChange?: boolean } = {}) {
  const cookie = getCookie(c, cookieName(deps.secure));
  if (!cookie || cookie.length > 4096) throw unauthenticated('You are not signed in to the inbox.');
  let session: Awaited<ReturnType<Sessions['verifyInbox']>>;
  try {
    session = await deps.sessions.verifyInbox(cookie);
  } catch (err) {
    throw unauthenticated(err instanceof SessionError ? `${err.message} Sign in again.` : 'You are not signed in to the inbox.');
  }
  // A passkey removed from the directory ends its sessions at once.
  if (passkeyOwner(deps.policy, session.credentialId)?.reviewer !== session.reviewer) throw unauthenticated('Your passkey is no longer in the directory: sign in again, or ask your operator.');
  if (options.stateChange) {
    const sent = c.req.header(CSRF_HEADER) ?? '';
    // Compared as digests: equal lengths, so the comparison says nothing about the token's length either.
    const digest = (text: string) => createHash('sha256').update(text).digest('hex');
    if (!constantTimeEqual(digest(sent), digest(session.csrf))) throw new HttpProblem(403, 'CSRF', `This change needs the ${CSRF_HEADER} header of your inbox session.`);
  }
  return session;
}

/** The groups a reviewer belongs to under this policy. */
export function groupsOf(policy: CompiledPolicy, reviewer: string): string[] {
  return Object.entries(policy.config.groups)
    .filter(([, g]) => g.members.includes(reviewer))
    .map(([name]) => name);
}
