/**
 * Passkey signature counters (WebAuthn §7.2 step 21, §6.1.1): an authenticator that counts signs
 * each assertion with a larger number, so a count that does not move forward — when either the
 * stored or the new one is non-zero — means a second copy of the key (a cloned authenticator) or a
 * replay, and is refused. Authenticators that never count (synced passkeys send 0) are unaffected.
 *
 * The highest count is kept per instance (memory, so it starts again at a restart); each non-zero
 * count is also recorded once in the shared ledger, so the same count presented at another instance
 * is refused there too.
 */
import type { DoorLedger } from './ledger';

/** A count recorded in the shared ledger is refused again for as long as Temporal keeps the record (at least a day). */
const RECORD_TTL_S = 60;

export class SignCounts {
  private readonly highest = new Map<string, number>();
  constructor(private readonly ledger: DoorLedger) {}

  /** Accepts `count` for the credential if it moves forward; false for one that does not. Only a verified assertion's count may be passed. */
  async advance(credentialId: string, count: number): Promise<boolean> {
    const stored = this.highest.get(credentialId) ?? 0;
    if ((count > 0 || stored > 0) && count <= stored) return false;
    if (count > 0 && !(await this.ledger.spend(`signcount:${credentialId}:${count}`, RECORD_TTL_S))) return false;
    // Only credentials in the directory get here (their assertion verified): the map is as large as the directory.
    this.highest.set(credentialId, Math.max(stored, count));
    return true;
  }
}

export const CLONED_PASSKEY = "This passkey's signature counter did not move forward: another copy of it may be in use. It is refused; tell your operator.";
