export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  /** Operations per second over the whole run (for concurrent scenarios). */
  throughput?: number;
}

export function summarize(samples: number[], wallMs?: number): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    n: sorted.length,
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    mean: round(sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1)),
    ...(wallMs ? { throughput: round((sorted.length / wallMs) * 1000) } : {}),
  };
}

/** Times `op` `n` times in a row. */
export async function sequential(n: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await op(i);
    samples.push(performance.now() - t0);
  }
  return samples;
}

/** `workers` agents each run `op` until `n` operations are done; returns latencies and wall time. */
export async function concurrent(n: number, workers: number, op: (i: number) => Promise<unknown>): Promise<{ samples: number[]; wallMs: number }> {
  const samples: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = next++; i < n; i = next++) {
        const s = performance.now();
        await op(i);
        samples.push(performance.now() - s);
      }
    }),
  );
  return { samples, wallMs: performance.now() - t0 };
}
