/**
 * What the front door hands out and reads back, signed so it cannot be altered on the way:
 * - a link code, for `/countersign link`: binds the Slack team, user and name, an expiry (10
 *   minutes) and a nonce (single use, spent in the ledger when the reviewer confirms);
 * - a modal's private_metadata: binds the clicked request, version, message and click to the
 *   Slack user who clicked, so a view_submission decides only what that click showed.
 * Each is base64url(JSON) "." base64url(HMAC-SHA256), with a key of its own derived from the
 * session secret by HKDF (a domain per purpose): neither can be read as the other, nor as a session.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export const LINK_CODE_TTL_MS = 10 * 60_000;
export const MAX_CODE_CHARS = 1024;

export class CodeError extends Error {
  override name = 'CodeError';
}

type Purpose = 'countersign/slack-link-code/v1' | 'countersign/slack-modal/v1';

export class SignedBlobs {
  private readonly keys = new Map<Purpose, Buffer>();
  constructor(sessionSecret: Uint8Array) {
    for (const purpose of ['countersign/slack-link-code/v1', 'countersign/slack-modal/v1'] as const) {
      this.keys.set(purpose, Buffer.from(hkdfSync('sha256', sessionSecret, Buffer.alloc(0), purpose, 32)));
    }
  }

  seal(purpose: Purpose, content: Record<string, unknown>): string {
    const body = Buffer.from(JSON.stringify(content), 'utf8').toString('base64url');
    return `${body}.${this.mac(purpose, body).toString('base64url')}`;
  }

  /** The content, if the blob is one this server sealed for `purpose`; throws CodeError otherwise. */
  open(purpose: Purpose, blob: string): Record<string, unknown> {
    if (typeof blob !== 'string' || blob.length > MAX_CODE_CHARS) throw new CodeError('too long');
    const m = /^([A-Za-z0-9_-]{1,1000})\.([A-Za-z0-9_-]{43})$/.exec(blob);
    if (!m) throw new CodeError('malformed');
    const given = Buffer.from(m[2]!, 'base64url');
    const expected = this.mac(purpose, m[1]!);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new CodeError('altered');
    let content: unknown;
    try {
      content = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8'));
    } catch {
      throw new CodeError('malformed');
    }
    if (content === null || typeof content !== 'object' || Array.isArray(content)) throw new CodeError('malformed');
    return content as Record<string, unknown>;
  }

  private mac(purpose: Purpose, body: string): Buffer {
    return createHmac('sha256', this.keys.get(purpose)!).update(body, 'utf8').digest();
  }
}

export interface LinkCode {
  teamId: string;
  userId: string;
  userName: string;
  expiresAt: number;
  nonce: string;
}

export const SLACK_ID = /^[A-Z0-9]{2,32}$/;
const NONCE = /^[A-Za-z0-9_-]{22}$/;

export function issueLinkCode(blobs: SignedBlobs, who: { teamId: string; userId: string; userName: string }, now = Date.now()): string {
  return blobs.seal('countersign/slack-link-code/v1', { t: who.teamId, u: who.userId, n: who.userName.slice(0, 80), e: now + LINK_CODE_TTL_MS, x: randomBytes(16).toString('base64url') });
}

/** The code's binding, if it is intact and unexpired; throws CodeError otherwise (the nonce is spent by the caller). */
export function readLinkCode(blobs: SignedBlobs, code: string, now = Date.now()): LinkCode {
  const c = blobs.open('countersign/slack-link-code/v1', code);
  if (typeof c.t !== 'string' || !SLACK_ID.test(c.t) || typeof c.u !== 'string' || !SLACK_ID.test(c.u) || typeof c.n !== 'string' || c.n.length > 80 || typeof c.e !== 'number' || typeof c.x !== 'string' || !NONCE.test(c.x)) {
    throw new CodeError('malformed');
  }
  if (c.e < now) throw new CodeError('expired');
  return { teamId: c.t, userId: c.u, userName: c.n, expiresAt: c.e, nonce: c.x };
}
