import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities } from '../activities';
import type { Signer } from '../activities/keys';
import type { CompiledPolicy } from '../activities/policy/load';

export interface ApprovalWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  policy: CompiledPolicy;
  logger: Logger;
  /** The layer's Ed25519 key (COUNTERSIGN_HOME/keys/layer.key). */
  signer: Signer;
  /** Where signed evidence bundles are written (COUNTERSIGN_HOME/evidence). */
  evidenceDir: string;
  /** A prebuilt bundle (tests, production); without it the workflows are bundled from source (dev). */
  workflowBundle?: WorkflowBundleOption;
  env?: NodeJS.ProcessEnv;
  /** On SIGTERM/SIGINT, how long in-flight activities get to finish before they are cancelled. */
  shutdownGraceMs?: number;
}

export function workflowsPath(): string {
  return require.resolve('../workflows');
}

export async function createApprovalWorker(options: ApprovalWorkerOptions): Promise<Worker> {
  const { connection, namespace, taskQueue, policy, logger, workflowBundle } = options;
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    ...(workflowBundle ? { workflowBundle } : { workflowsPath: workflowsPath() }),
    activities: createActivities({ policy, logger, signer: options.signer, evidenceDir: options.evidenceDir, env: options.env }),
    // Thousands of approvals wait for days: keep their workflows cached rather than replaying on every decision.
    maxCachedWorkflows: 10_000,
    shutdownGraceTime: options.shutdownGraceMs ?? 30_000,
  });
}
