import { canonicalJson } from './canonical';
import { sha256Hex } from './digest';
import type { Json } from './json';

export const GENESIS_HASH = '0'.repeat(64);

export type EvidenceType =
  | 'requested'
  | 'evaluated'
  | 'notified'
  | 'notification_failed'
  | 'approved'
  | 'edited'
  | 'denied'
  | 'changes_requested'
  | 'escalated'
  | 'expired'
  | 'refused'
  | 'token_minted'
  | 'consumed'
  | 'consume_refused'
  | 'reported'
  | 'token_expired'
  | 'report_missing'
  | 'cancelled'
  | 'closed';

/** One step of an approval, chained to the one before by its hash (DESIGN §6). */
export interface EvidenceEvent {
  seq: number;
  at: string;
  type: EvidenceType;
  actor?: string;
  detail: string;
  data?: { [key: string]: Json };
  prevHash: string;
  hash: string;
}

export function eventHash(event: Omit<EvidenceEvent, 'hash'>): string {
  const { seq, at, type, actor, detail, data, prevHash } = event;
  return sha256Hex(canonicalJson({ seq, at, type, actor, detail, data, prevHash }));
}

/** Appends an event to the chain, computing its link and hash. */
export function appendEvent(chain: EvidenceEvent[], event: Pick<EvidenceEvent, 'at' | 'type' | 'detail' | 'actor' | 'data'>): EvidenceEvent {
  const prev = chain[chain.length - 1];
  const unsealed: Omit<EvidenceEvent, 'hash'> = {
    seq: chain.length,
    at: event.at,
    type: event.type,
    ...(event.actor !== undefined ? { actor: event.actor } : {}),
    detail: event.detail,
    ...(event.data !== undefined ? { data: event.data } : {}),
    prevHash: prev ? prev.hash : GENESIS_HASH,
  };
  const sealed = { ...unsealed, hash: eventHash(unsealed) };
  chain.push(sealed);
  return sealed;
}

/** Checks every link; names the first broken one. */
export function verifyChain(chain: EvidenceEvent[]): { ok: true } | { ok: false; seq: number; reason: string } {
  let prevHash = GENESIS_HASH;
  for (let i = 0; i < chain.length; i++) {
    const event = chain[i]!;
    if (event.seq !== i) return { ok: false, seq: i, reason: `event ${i} has sequence number ${event.seq}` };
    if (event.prevHash !== prevHash) return { ok: false, seq: i, reason: `event ${i} (${event.type}) does not link to the hash of event ${i - 1}` };
    const { hash, ...rest } = event;
    if (eventHash(rest) !== hash) return { ok: false, seq: i, reason: `event ${i} (${event.type}) was altered: its hash does not match its content` };
    prevHash = hash;
  }
  return { ok: true };
}
