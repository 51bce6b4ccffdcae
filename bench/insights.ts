/**
 * Insights and policy simulation over recorded traffic (issue 28, "Benchmark"): a store filled with
 * INSIGHTS_N (10,000) sealed bundles — the scripted mix of test/support/recorded.ts, over and over,
 * from several agents — then the p50 time of one insights answer (server/insights.ts insightsReport,
 * what GET /v1/insights runs: list the window, read every bundle, count) and the throughput of policy
 * simulation (policy/simulate.ts over the recorded requests the store lists), in requests per second.
 *
 * Wired into bench/run.ts as a phase (PostgreSQL on the cluster); on its own, file store only, or
 * PostgreSQL too when COUNTERSIGN_DATABASE_* is set:
 *   node --import tsx bench/insights.ts
 * Sizes: BENCH_INSIGHTS_N (10000 bundles), BENCH_INSIGHTS_RUNS (5 timed answers after one warm-up).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { RecordedRequest } from '../common/insights/report';
import { newEd25519Key, signerFromKey, type Signer } from '../crypto/keys';
import { compilePolicy } from '../policy/load';
import { simulate } from '../policy/simulate';
import { insightsReport, recordedRequests } from '../server/insights';
import { fileStore } from '../store/files';
import type { Store } from '../store/types';
import { recordedBundle, sealRecorded, SCRIPTED_MIX } from '../test/support/recorded';
import { runStandalone } from './standalone';
import { concurrent, sequential, summarize } from './stats';

const INSIGHTS_N = Number(process.env.BENCH_INSIGHTS_N ?? 10_000);
const RUNS = Number(process.env.BENCH_INSIGHTS_RUNS ?? 5);
const AGENTS = ['support-bot', 'ops-bot', 'sales-bot', 'analytics-bot', 'release-bot'];

/** A stricter policy than the mix was recorded under: what a simulation compares it with. */
const CANDIDATE = `
version: 1
defaults: { decision: review, reviewers: finance, sla: 1h }
groups:
  finance: { members: [dave, erin] }
  cfo-office: { members: [fiona] }
  support: { members: [alice] }
rules:
  - id: small-refunds
    match: { action: payments.refund }
    when: "payload.amount <= 5"
    decision: allow
  - id: large-refunds
    match: { action: payments.refund }
    when: "payload.amount > 5"
    decision: review
    reviewers: cfo-office
    approvals: 2
  - id: no-prod-drops
    match: { action: db.drop }
    decision: deny
    reason: never automated
  - id: email-change
    match: { action: account.email.change }
    decision: deny
    reason: frozen
`;

async function fill(store: Store, signer: Signer, n: number): Promise<number> {
  const t0 = performance.now();
  await concurrent(n, 32, async (i) => {
    const spec = SCRIPTED_MIX[i % SCRIPTED_MIX.length]!;
    await sealRecorded(store, recordedBundle(signer, { ...spec, agent: AGENTS[i % AGENTS.length]!, at: spec.at + i * 1000 }));
  });
  return Math.round((performance.now() - t0) / 100) / 10;
}

/** One store's figures: the fill, insights p50, simulation throughput. */
export async function measureInsights(store: Store, signer: Signer, n: number): Promise<Record<string, unknown>> {
  const fillSeconds = await fill(store, signer, n);
  const since = () => new Date(Date.now() - 86_400_000);
  let requests = 0;
  await insightsReport(store, since(), new Date()); // warm: caches, connections
  const samples = await sequential(RUNS, async () => {
    requests = (await insightsReport(store, since(), new Date())).outcomes.requests;
  });
  const readT = performance.now();
  const recorded: RecordedRequest[] = [];
  let cursor: string | undefined;
  do {
    const page = await recordedRequests(store, since(), cursor);
    recorded.push(...page.items);
    cursor = page.next;
  } while (cursor);
  const readSeconds = (performance.now() - readT) / 1000;
  const candidate = compilePolicy(CANDIDATE, 'candidate.yaml');
  const simT = performance.now();
  const result = simulate(candidate, recorded);
  const simSeconds = (performance.now() - simT) / 1000;
  return {
    bundles: n,
    fillSeconds,
    insights: { requests, ...summarize(samples) },
    simulation: {
      requests: result.requests,
      changed: result.changed,
      readSeconds: Math.round(readSeconds * 100) / 100,
      readPerSecond: Math.round(recorded.length / readSeconds),
      evaluatePerSecond: Math.round(result.requests / simSeconds),
      endToEndPerSecond: Math.round(result.requests / (readSeconds + simSeconds)),
    },
  };
}

/** The phase: the file store (the dev stack's), and PostgreSQL when given its store. */
export async function benchInsights(options: { postgres?: Store; log?: (line: string) => void } = {}): Promise<Record<string, unknown>> {
  const log = options.log ?? (() => undefined);
  const signer = signerFromKey(newEd25519Key());
  const dir = mkdtempSync(join(os.tmpdir(), 'countersign-bench-insights-'));
  try {
    log(`  insights and simulation: ${INSIGHTS_N} recorded requests, file store`);
    const results: Record<string, unknown> = { files: await measureInsights(fileStore(dir), signer, INSIGHTS_N) };
    if (options.postgres) {
      log(`  insights and simulation: ${INSIGHTS_N} recorded requests, PostgreSQL (${options.postgres.description})`);
      results.postgres = await measureInsights(options.postgres, signer, INSIGHTS_N);
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) runStandalone(benchInsights);
