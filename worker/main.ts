import { NativeConnection } from '@temporalio/worker';
import { loadPolicyFile } from '../activities/policy/load';
import { loadConfig, TemporalUnreachable } from './config';
import { createLogger } from './logger';
import { createApprovalWorker } from './worker';

/** `countersign worker`: connect, load the policy, poll the task queue until SIGINT/SIGTERM. */
export async function runWorker(overrides: { policyFile?: string } = {}): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ format: config.logFormat, level: config.logLevel });
  const policy = loadPolicyFile(overrides.policyFile ?? config.policyFile);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: config.address });
  } catch (err) {
    throw new TemporalUnreachable(config.address, err);
  }
  const worker = await createApprovalWorker({ connection, namespace: config.namespace, taskQueue: config.taskQueue, policy, logger });
  logger.info({ taskQueue: config.taskQueue, namespace: config.namespace, policy: policy.file, policyDigest: policy.digest }, 'countersign worker started');
  try {
    await worker.run(); // the SDK shuts down gracefully on SIGINT/SIGTERM
  } finally {
    await connection.close();
    logger.info('countersign worker stopped');
  }
}
