import { NativeConnection } from '@temporalio/worker';
import { layerSigner } from '../crypto/keys';
import { securePrivateState } from '../config/private-files';
import { loadPolicyFile } from '../policy/load';
import { reloadOnChange } from '../policy/watch';
import { loadConfig, TemporalUnreachable } from '../config/env';
import { createLogger, installTemporalLogging } from '../config/logger';
import { createApprovalWorker } from './worker';
import { evidenceDir as evidenceDirOf } from '../config/home';
import { openStore } from '../store/open';

/** `countersign worker`: connect, load the policy, poll the task queue until SIGINT/SIGTERM. */
export async function runWorker(overrides: { policyFile?: string } = {}): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ format: config.logFormat, level: config.logLevel });
  const policy = loadPolicyFile(overrides.policyFile ?? config.policyFile);
  const stopWatching = reloadOnChange(policy, logger);
  const tightened = securePrivateState(config.home);
  if (tightened.length) logger.warn({ paths: tightened }, 'made state in COUNTERSIGN_HOME private (0700 folders, 0600 files); it was readable by others');
  const signer = layerSigner(config.home); // outside dev mode a missing key is an error, never a silent new one
  installTemporalLogging(logger, ({ trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', warn: 'WARN' } as const)[config.logLevel as 'info'] ?? 'ERROR');
  // Before Temporal: a database that is unreachable, not set up, or open to a role that could rewrite evidence stops the worker here.
  const store = await openStore({ home: config.home, onError: (message) => logger.warn({ store: 'postgresql' }, message) });
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(config.connection);
  } catch (err) {
    await store.close();
    throw new TemporalUnreachable(config.address, err);
  }
  const evidenceDir = evidenceDirOf(config.home);
  const worker = await createApprovalWorker({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    policy,
    logger,
    signer,
    evidenceDir,
    store,
    shutdownGraceMs: config.shutdownGraceMs,
    maxCachedWorkflows: config.maxCachedWorkflows,
    workflowThreads: config.workflowThreads,
    ...(config.workflowBundle ? { workflowBundle: { codePath: config.workflowBundle } } : {}),
  });
  logger.info(
    {
      address: config.address,
      taskQueue: config.taskQueue,
      namespace: config.namespace,
      policy: policy.file,
      policyDigest: policy.digest,
      keyId: signer.keyId,
      store: store.description,
      workflowBundle: config.workflowBundle ?? 'bundled from source',
    },
    'countersign worker started',
  );
  try {
    await worker.run(); // the SDK shuts down gracefully on SIGINT/SIGTERM
  } finally {
    stopWatching();
    await connection.close();
    await store.close();
    logger.info('countersign worker stopped');
  }
}
