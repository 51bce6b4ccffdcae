import { createHash, randomBytes } from 'node:crypto';
import { LedgerFullError, memoryLedger, type DoorLedger } from './ledger';
import { errors as joseErrors, importJWK, jwtVerify, SignJWT, type JWTPayload } from 'jose';

/**
 * Reviewer login (DESIGN §0): a challenge–response to a short-lived session, with JSON Web Tokens
 * (RFC 7519, the `jose` library). The server hands out a challenge it signed itself (HS256, so any
 * instance can check it: no state is shared but the secret); the reviewer answers with a JWT
 * signed by their own Ed25519 key (EdDSA, RFC 8037) naming that challenge's nonce, as in the
 * private_key_jwt client assertion of RFC 7523; the server verifies it against the directory and
 * returns a session token. Decisions are signed again, one by one (common/signing.ts).
 */
export const CHALLENGE_TTL_S = 120;
export const PROOF_MAX_AGE_S = 120;
export const DEFAULT_SESSION_TTL_S = 15 * 60;

const ISSUER = 'countersign';
const CHALLENGE_AUDIENCE = 'countersign/login-challenge';
const SESSION_AUDIENCE = 'countersign/reviewer-session';

export class SessionError extends Error {
  override name = 'SessionError';
}

/** A reviewer session as the server reads it: who, which one (for logout), and the key that made it. */
export interface SessionClaims {
  reviewer: string;
  /** The session's own id: what logout records as ended. */
  sid: string;
  /** keyFingerprint of the registered key the login proof was signed with: another key in the directory ends the session. */
  kid: string;
  expiresAt: string;
}

/** A short, stable name of a reviewer's registered Ed25519 key (base64): what a session remembers of the key that made it. */
export const keyFingerprint = (publicKey: string) => createHash('sha256').update(`countersign/reviewer-key:${publicKey}`, 'utf8').digest('base64url').slice(0, 22);

export interface Sessions {
  challenge(reviewer: string): Promise<{ challenge: string; nonce: string; expiresAt: string }>;
  /**
   * Verifies a login proof; `publicKeyOf` gives the reviewer's registered key (base64, raw 32 bytes);
   * `audiences` are this server's own origins, one of which the proof must name (a proof made for
   * another server, which relayed our challenge, is refused).
   */
  login(challenge: string, proof: string, publicKeyOf: (reviewer: string) => string | undefined, audiences: readonly string[]): Promise<{ session: string; reviewer: string; expiresAt: string }>;
  /** The session's claims; throws SessionError when it is forged, expired, ended by logout or for another audience. */
  verify(session: string): Promise<SessionClaims>;
  /** Ends a session (or an inbox session) on every instance that shares the ledger, until it would have expired. */
  end(claims: { sid: string; expiresAt: string }): Promise<void>;
  /** A signed ticket carrying a WebAuthn challenge between the options call and the answer (any instance can check it). */
  ticket(purpose: TicketPurpose, claims: { challenge: string; reviewer?: string }): Promise<string>;
  /** The ticket's claims, if it is genuine, unexpired and for this purpose. */
  readTicket(purpose: TicketPurpose, ticket: string): Promise<{ challenge: string; reviewer?: string }>;
  /** Marks a sign-in ticket's challenge used, once its assertion verified: one session per ceremony, on every instance that shares the ledger. */
  spendTicket(challenge: string): Promise<void>;
  /** An inbox session (a cookie) for a reviewer signed in with one of their passkeys, with its CSRF token. */
  inboxSession(reviewer: string, credentialId: string): Promise<{ session: string; csrf: string; expiresAt: string }>;
  verifyInbox(session: string): Promise<{ reviewer: string; credentialId: string; csrf: string; expiresAt: string; sid: string }>;
  /** Signs Temporal's next-page token into a queue cursor that only reads for the same `scope` (reviewer and groups). Not secret: the payload is readable. */
  cursor(scope: string, pageToken: Uint8Array): Promise<string>;
  /** The page token a cursor carries; throws SessionError when it is forged, expired, or for another scope. */
  readCursor(scope: string, cursor: string): Promise<Uint8Array>;
}

export type TicketPurpose = 'passkey-login' | 'passkey-enroll';
export const TICKET_TTL_S = 300;
const INBOX_AUDIENCE = 'countersign/inbox-session';
const CURSOR_AUDIENCE = 'countersign/queue-cursor';
/** The scope as a fixed-length subject: a reviewer in many groups still gets a cursor of bounded size. */
const scopeDigest = (scope: string) => createHash('sha256').update(scope, 'utf8').digest('base64url');
/** How long a queue cursor reads on: long enough to page through a long queue. */
export const CURSOR_TTL_S = 3600;
/** A signed page token is a few hundred characters; anything much longer is not one of ours. */
export const MAX_CURSOR_CHARS = 2048;

/**
 * `secret`: at least 32 bytes shared by every server instance (COUNTERSIGN_SESSION_SECRET).
 * `ledger`: where answered challenges and ended sessions are recorded; share it across instances
 * (temporalLedger), or single use and logout hold on one instance only.
 */
export function createSessions(secret: Uint8Array, options: { ttlSeconds?: number; ledger?: DoorLedger } = {}): Sessions {
  if (secret.length < 32) throw new Error('The session secret must be at least 32 bytes.');
  const ttl = options.ttlSeconds ?? DEFAULT_SESSION_TTL_S;
  const ledger = options.ledger ?? memoryLedger();
  /** Records a used nonce until it could no longer be presented; refuses a second use, and fails closed when the ledger is full. */
  const remember = async (nonce: string, ttlSeconds: number, usedMessage: string) => {
    let first: boolean;
    try {
      first = await ledger.spend(`used:${nonce}`, ttlSeconds);
    } catch (err) {
      if (err instanceof LedgerFullError) throw new SessionError(err.message);
      throw err;
    }
    if (!first) throw new SessionError(usedMessage);
  };
  /** Refuses a session that logout ended. */
  const notEnded = async (sid: unknown) => {
    if (typeof sid !== 'string' || !sid) throw new SessionError('The session is not valid.');
    if (await ledger.has(`ended:${sid}`)) throw new SessionError('The session has ended (logged out).');
    return sid;
  };
  const hs = async (claims: JWTPayload, audience: string, seconds: number, subject: string) => {
    const exp = Math.floor(Date.now() / 1000) + seconds;
    const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience(audience).setSubject(subject).setIssuedAt().setExpirationTime(exp).sign(secret);
    return { token, expiresAt: new Date(exp * 1000).toISOString() };
  };
  const verifyHs = async (token: string, audience: string, what: string) => {
    try {
      return (await jwtVerify(token, secret, { algorithms: ['HS256'], issuer: ISSUER, audience })).payload;
    } catch (err) {
      throw new SessionError(err instanceof joseErrors.JWTExpired ? `The ${what} has expired.` : `The ${what} is not valid.`);
    }
  };
  return {
    async challenge(reviewer) {
      const nonce = randomBytes(16).toString('base64url');
      const { token, expiresAt } = await hs({ nonce }, CHALLENGE_AUDIENCE, CHALLENGE_TTL_S, reviewer);
      return { challenge: token, nonce, expiresAt };
    },
    async login(challenge, proof, publicKeyOf, audiences) {
      const c = await verifyHs(challenge, CHALLENGE_AUDIENCE, 'login challenge');
      const reviewer = String(c.sub);
      const key = publicKeyOf(reviewer);
      const refused = new SessionError('The login proof is not signed by a registered reviewer key for this challenge, or is too old.');
      if (!key) throw refused; // the same answer as a bad proof: which names are reviewers is not told
      let claims: JWTPayload;
      try {
        const publicKey = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key, 'base64').toString('base64url') }, 'EdDSA');
        claims = (await jwtVerify(proof, publicKey, { algorithms: ['EdDSA', 'Ed25519'], audience: [...audiences], subject: reviewer, maxTokenAge: PROOF_MAX_AGE_S })).payload;
      } catch (err) {
        // The claims are checked after the signature: only the key's holder learns this.
        if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'aud') {
          throw new SessionError(`The login proof was made for another server (${String((err.payload as JWTPayload).aud).slice(0, 100)}): log in with COUNTERSIGN_URL set to this server's own address.`);
        }
        throw refused;
      }
      if (claims.nonce !== c.nonce) throw new SessionError('The login proof answers another challenge.');
      // One session per challenge, on every instance that shares the ledger.
      await remember(`login:${String(c.nonce)}`, CHALLENGE_TTL_S, 'This challenge has been answered already: ask for a new one.');
      const { token, expiresAt } = await hs({ role: 'reviewer', sid: randomBytes(16).toString('base64url'), kid: keyFingerprint(key) }, SESSION_AUDIENCE, ttl, reviewer);
      return { session: token, reviewer, expiresAt };
    },
    async ticket(purpose, claims) {
      return (await hs({ challenge: claims.challenge, ...(claims.reviewer ? { reviewer: claims.reviewer } : {}) }, `countersign/${purpose}`, TICKET_TTL_S, 'ticket')).token;
    },
    async readTicket(purpose, ticket) {
      const claims = await verifyHs(ticket, `countersign/${purpose}`, 'passkey ticket');
      if (typeof claims.challenge !== 'string') throw new SessionError('The passkey ticket is not valid.');
      return { challenge: claims.challenge, ...(typeof claims.reviewer === 'string' ? { reviewer: claims.reviewer } : {}) };
    },
    async spendTicket(challenge) {
      await remember(`ticket:${challenge}`, TICKET_TTL_S, 'This sign-in has been completed already.');
    },
    async end({ sid, expiresAt }) {
      const left = Math.ceil((Date.parse(expiresAt) - Date.now()) / 1000);
      if (left > 0) await ledger.spend(`ended:${sid}`, left);
    },
    async cursor(scope, pageToken) {
      return (await hs({ p: Buffer.from(pageToken).toString('base64url') }, CURSOR_AUDIENCE, CURSOR_TTL_S, scopeDigest(scope))).token;
    },
    async readCursor(scope, cursor) {
      if (cursor.length > MAX_CURSOR_CHARS) throw new SessionError('The cursor is not valid.');
      const claims = await verifyHs(cursor, CURSOR_AUDIENCE, 'cursor');
      // Another reviewer's cursor, or one from before the groups changed, is not this queue's.
      if (claims.sub !== scopeDigest(scope) || typeof claims.p !== 'string') throw new SessionError('The cursor is not valid.');
      return Buffer.from(claims.p, 'base64url');
    },
    async inboxSession(reviewer, credentialId) {
      const csrf = randomBytes(24).toString('base64url');
      const { token, expiresAt } = await hs({ role: 'reviewer', cred: credentialId, csrf, sid: randomBytes(16).toString('base64url') }, INBOX_AUDIENCE, ttl, reviewer);
      return { session: token, csrf, expiresAt };
    },
    async verifyInbox(session) {
      const claims = await verifyHs(session, INBOX_AUDIENCE, 'inbox session');
      if (claims.role !== 'reviewer' || typeof claims.sub !== 'string' || typeof claims.cred !== 'string' || typeof claims.csrf !== 'string') throw new SessionError('The inbox session is not valid.');
      const sid = await notEnded(claims.sid);
      return { reviewer: claims.sub, credentialId: claims.cred, csrf: claims.csrf, expiresAt: new Date((claims.exp ?? 0) * 1000).toISOString(), sid };
    },
    async verify(session) {
      const claims = await verifyHs(session, SESSION_AUDIENCE, 'session');
      if (claims.role !== 'reviewer' || typeof claims.sub !== 'string' || typeof claims.kid !== 'string') throw new SessionError('The session is not valid.');
      const sid = await notEnded(claims.sid);
      return { reviewer: claims.sub, sid, kid: claims.kid, expiresAt: new Date((claims.exp ?? 0) * 1000).toISOString() };
    },
  };
}
