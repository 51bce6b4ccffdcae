/**
 * The store on the agent's paths (issue 27, "Benchmark"): the auto-allow and review paths, each to
 * the end — submit, (a reviewer's approval,) consume, report, and the outcome once the bundle is
 * sealed — on a worker whose store is PostgreSQL, against a worker of the same run on the file store.
 * Both workers in this process, on one Temporal, each with its own task queue and front door; rounds
 * alternate so that drift in the machine's speed falls on both alike. The target: PostgreSQL adds at
 * most 2 ms to p50. Where the store is on the path: consume records the spend (recordSpend), and the
 * outcome waits for the seal (the bundle, its leaf and a signed checkpoint).
 *
 * A phase of bench/run.ts under --cluster (the cluster's PostgreSQL, countersign's database as the
 * stack provisioned it).
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { NativeConnection } from '@temporalio/worker';
import type { Connection } from '@temporalio/client';
import { DefaultLogger, type Worker } from '@temporalio/worker';
import { Reviewer } from '../client/reviewer';
import { Countersign } from '../client/sdk';
import { createLogger } from '../config/logger';
import type { Signer } from '../crypto/keys';
import { loadKeyFile } from '../crypto/keys';
import type { CompiledPolicy } from '../policy/load';
import { Approvals } from '../server/approvals';
import { startServer, type RunningServer } from '../server/main';
import type { Store } from '../store/types';
import { bundleApprovalWorkflows } from '../worker/bundle';
import { createApprovalWorker } from '../worker/worker';
import { summarize, type Summary } from './stats';

export interface StorePathsSetup {
  /** The worker's connection and the front door's. */
  connection: NativeConnection;
  clientConnection: Connection;
  policy: CompiledPolicy;
  signer: Signer;
  /** The dev credentials of the run: the start key, the agent's API key, the reviewer's key. */
  startKeyPath: string;
  agentKey: string;
  reviewerKey: string;
  /** The file store's folder for the files worker. */
  evidenceDir: string;
  postgres: Store;
  /** The request the run's policy auto-allows (amount ≤ 100) or sends to review. */
  request(payload: Record<string, unknown>): Record<string, unknown> & { agentId: string };
  log(line: string): void;
}

interface Side {
  worker: Worker;
  running: Promise<unknown>;
  server: RunningServer;
  cs: Countersign;
  reviewer: Reviewer;
}

const quiet = () => createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, done) => done() }) });

/** A worker on its own task queue with the given store, and a front door to it. */
async function side(setup: StorePathsSetup, store: Store | undefined, workflowBundle: Awaited<ReturnType<typeof bundleApprovalWorkflows>>): Promise<Side> {
  const taskQueue = `bench-store-${store ? 'pg' : 'files'}-${randomUUID()}`;
  const worker = await createApprovalWorker({ connection: setup.connection, namespace: 'default', taskQueue, policy: setup.policy, logger: quiet(), signer: setup.signer, evidenceDir: setup.evidenceDir, workflowBundle, ...(store ? { store } : {}) });
  const running = worker.run();
  const backend = await Approvals.connect({ connection: setup.clientConnection, taskQueue, startSigner: loadKeyFile(setup.startKeyPath) });
  const server = await startServer({ backend, policy: setup.policy, logger: quiet(), sessionSecret: Buffer.alloc(32, 7), listen: '127.0.0.1:0', rateLimit: { perSecond: 100_000, burst: 100_000 }, maxOpenRequestsPerAgent: 1_000_000 });
  const cs = await Countersign.connect({ url: server.url, apiKey: setup.agentKey });
  const reviewer = await Reviewer.login({ url: server.url, name: 'dave', key: setup.reviewerKey });
  return { worker, running, server, cs, reviewer };
}

/** One request to its sealed end: the whole time, and the consume and report-to-sealed-outcome parts. */
async function lifecycle(s: Side, setup: StorePathsSetup, amount: number): Promise<{ total: number; consume: number; sealed: number }> {
  const t0 = performance.now();
  const request = await s.cs.submit(setup.request({ amount }) as never, { waitMs: amount > 100 ? 0 : 5000 });
  if (amount > 100) {
    await s.reviewer.decide(await s.reviewer.view(request.workflowId), { decision: 'approve' });
    await request.wait(60_000);
  }
  if (!request.openToken()) throw new Error(`the bench request ended ${request.status} without a token`);
  const t1 = performance.now();
  await request.consume();
  const t2 = performance.now();
  await request.report({ status: 'succeeded' });
  await s.cs.outcome(request.workflowId); // final: the workflow has closed, so its bundle is sealed
  const t3 = performance.now();
  if (!(await s.cs.evidence(request.workflowId)).sealed) throw new Error('the bench request closed without sealed evidence');
  return { total: t3 - t0, consume: t2 - t1, sealed: t3 - t2 };
}

export async function benchStorePaths(setup: StorePathsSetup, n: number, reviewN: number): Promise<Record<string, unknown>> {
  const workflowBundle = await bundleApprovalWorkflows(new DefaultLogger('ERROR'));
  const sides = { files: await side(setup, undefined, workflowBundle), postgres: await side(setup, setup.postgres, workflowBundle) };
  try {
    const results: Record<string, unknown> = {};
    for (const [path, amount, count] of [['autoAllow', 10, n], ['review', 500, reviewN]] as const) {
      setup.log(`  ${path}: ${count} to the sealed outcome on each store, alternating rounds`);
      const samples = { files: [] as Awaited<ReturnType<typeof lifecycle>>[], postgres: [] as Awaited<ReturnType<typeof lifecycle>>[] };
      for (const name of ['files', 'postgres'] as const) for (let i = 0; i < 5; i++) await lifecycle(sides[name], setup, amount); // warm
      const rounds = 4;
      for (let round = 0; round < rounds; round++) {
        for (const name of ['files', 'postgres'] as const) {
          for (let i = 0; i < Math.ceil(count / rounds); i++) samples[name].push(await lifecycle(sides[name], setup, amount));
        }
      }
      const of = (name: 'files' | 'postgres', part: 'total' | 'consume' | 'sealed'): Summary => summarize(samples[name].map((s) => s[part]));
      const row: Record<string, unknown> = {};
      for (const part of ['total', 'consume', 'sealed'] as const) {
        const files = of('files', part);
        const postgres = of('postgres', part);
        row[part] = { files, postgres, p50AddedMs: Math.round((postgres.p50 - files.p50) * 100) / 100 };
      }
      results[path] = row;
    }
    return results;
  } finally {
    for (const s of Object.values(sides)) {
      await s.server.close();
      s.worker.shutdown();
      await s.running.catch(() => undefined);
    }
  }
}
