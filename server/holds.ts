/**
 * Long-polls and event streams held open, per credential and per request: this instance's own
 * count, so one caller cannot tie up the server, and one request's waits leave room for its decisions.
 */
import type { Principal } from './credentials';
import { HttpProblem } from './problems';

/** Long-polls and event streams one credential may hold open at once (per instance). */
export const MAX_OPEN_WAITS_PER_CREDENTIAL = 64;
/** Waits in flight on one request (per instance): below Temporal's 10 Updates in flight per workflow, so decisions and consumes always have room. */
export const MAX_WAITS_PER_REQUEST = 4;

export class Holds {
  readonly #open = new Map<string, number>();

  /** Takes a slot under each [key, limit], or refuses 429; returns the release. */
  acquire(slots: [string, number][]): () => void {
    if (slots.some(([k, limit]) => (this.#open.get(k) ?? 0) >= limit)) {
      throw new HttpProblem(429, 'RATE_LIMITED', 'Too many waits or streams open at once for this credential or request; close one, or try again shortly.', { 'retry-after': '1' });
    }
    for (const [k] of slots) this.#open.set(k, (this.#open.get(k) ?? 0) + 1);
    return () => {
      for (const [k] of slots) {
        const n = (this.#open.get(k) ?? 1) - 1;
        if (n <= 0) this.#open.delete(k);
        else this.#open.set(k, n);
      }
    };
  }

  /** A slot for one of this credential's streams; returns the release. */
  stream(p: Principal): () => void {
    return this.acquire([credentialSlot(p)]);
  }

  /** Runs `fn` (a wait on `workflowId`) holding a slot of the credential's and one of the request's. */
  async hold<T>(p: Principal, workflowId: string, fn: () => Promise<T>): Promise<T> {
    const release = this.acquire([credentialSlot(p), [`w:${workflowId}`, MAX_WAITS_PER_REQUEST]]);
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

const credentialSlot = (p: Principal): [string, number] => [`p:${p.role}:${p.name}`, MAX_OPEN_WAITS_PER_CREDENTIAL];
