/**
 * Per-credential token buckets. Each server instance keeps its own: behind a load balancer of N
 * instances a credential gets at most N times the rate, and no instance needs another's state.
 */
export interface RateLimiter {
  /** Takes one token for `key`; returns seconds to wait when none is left. */
  take(key: string): { ok: true } | { ok: false; retryAfterS: number };
}

export function createRateLimiter(options: { perSecond: number; burst: number; maxKeys?: number }): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const maxKeys = options.maxKeys ?? 100_000;
  return {
    take(key) {
      const now = Date.now();
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value!); // oldest first: bounded memory
        b = { tokens: options.burst, at: now };
        buckets.set(key, b);
      }
      b.tokens = Math.min(options.burst, b.tokens + ((now - b.at) / 1000) * options.perSecond);
      b.at = now;
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / options.perSecond)) };
    },
  };
}
