import { setTimeout as delay } from 'node:timers/promises';

/** Retries `check` until it returns without throwing (visibility is eventually consistent). */
export async function eventually<T>(check: () => Promise<T> | T, what: string, attempts = 100, intervalMs = 100): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await check();
    } catch (err) {
      last = err;
      await delay(intervalMs);
    }
  }
  throw new Error(`${what}: ${(last as Error)?.message ?? last}`);
}
