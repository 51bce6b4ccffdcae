import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities } from '../activities';
import { logCheckpoints } from '../activities/checkpoints';
import type { Signer } from '../crypto/keys';
import type { Store } from '../store/types';
import type { CompiledPolicy } from '../policy/load';
import { preloadedModules, workflowsPath } from './bundle';
import { checkpointLateLeaves, DEFAULT_CHECKPOINT_INTERVAL_MS } from './edge-checkpoints';
import { fileStore } from '../store/files';

export interface ApprovalWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  policy: CompiledPolicy;
  logger: Logger;
  /** The layer's Ed25519 key (COUNTERSIGN_HOME/keys/layer.key). */
  signer: Signer;
  /** The files store's folder (COUNTERSIGN_HOME/evidence): where evidence, spends and the log go when no `store` is given. */
  evidenceDir: string;
  /** Spends, evidence and the log (store/open.ts): PostgreSQL when configured; by default the files in evidenceDir. */
  store?: Store;
  /** A prebuilt bundle (tests, production); without it the workflows are bundled from source (dev). */
  workflowBundle?: WorkflowBundleOption;
  env?: NodeJS.ProcessEnv;
  /** Workflows kept in memory between tasks (COUNTERSIGN_MAX_CACHED_WORKFLOWS). */
  maxCachedWorkflows?: number;
  /** Threads running workflow code (COUNTERSIGN_WORKFLOW_THREADS, default 1): each loads the bundle once and runs its share of the workflows. */
  workflowThreads?: number;
  /** On SIGTERM/SIGINT, how long in-flight activities get to finish before they are cancelled. */
  shutdownGraceMs?: number;
  /** How often to sign a checkpoint over leaves the front door appended (edge allows); 0 never. Default COUNTERSIGN_CHECKPOINT_INTERVAL_MS, else 2 s. */
  checkpointIntervalMs?: number;
}

export { workflowsPath } from './bundle';

export async function createApprovalWorker(options: ApprovalWorkerOptions): Promise<Worker> {
  const { connection, namespace, taskQueue, policy, logger, workflowBundle } = options;
  const store = options.store ?? fileStore(options.evidenceDir);
  const checkpoints = logCheckpoints(options.signer);
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    ...(workflowBundle ? { workflowBundle } : { workflowsPath: workflowsPath(), bundlerOptions: { preloadModules: preloadedModules() } }),
    activities: createActivities({
      policy,
      logger,
      signer: options.signer,
      evidenceDir: options.evidenceDir,
      env: options.env,
      store,
      // Every worker signs a checkpoint of the log after each append: dev, cluster and tests alike.
      checkpoints,
    }),
    // Approvals wait for hours on server-side timers and cost the worker nothing while evicted; a cached
    // workflow costs ~1.7 MB of heap, so the cache holds the active ones and the rest replay on their next event.
    maxCachedWorkflows: options.maxCachedWorkflows ?? 250,
    // Workflow code, not activities, is what a busy worker spends its CPU on (bench/README.md): one
    // thread per core it may use. The SDK's default with a reused V8 context is a single thread.
    workflowThreadPoolSize: options.workflowThreads ?? 1,
    shutdownGraceTime: options.shutdownGraceMs ?? 30_000,
  });
  const intervalMs = options.checkpointIntervalMs ?? (Number((options.env ?? process.env).COUNTERSIGN_CHECKPOINT_INTERVAL_MS) || DEFAULT_CHECKPOINT_INTERVAL_MS);
  if (intervalMs > 0) {
    const stop = checkpointLateLeaves(store, checkpoints, logger, intervalMs);
    const run = worker.run.bind(worker);
    // The look stops with the worker's run, however that ends.
    worker.run = () => run().finally(stop);
  }
  return worker;
}
