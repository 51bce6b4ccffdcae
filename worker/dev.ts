import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { layerSigner } from '../activities/keys';
import { loadPolicyFile } from '../activities/policy/load';
import { ALL_SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { loadConfig } from './config';
import { createLogger, installTemporalLogging } from './logger';
import { findOrBuildTemporalCli } from './temporal-cli';
import { createApprovalWorker } from './worker';

const PROJECT = resolve(__dirname, '..');

/**
 * `npm run dev`: a Temporal dev server whose SQLite file lives in .countersign/ (so pending approvals
 * survive a restart), its UI, the countersign search attributes, and one worker with examples/policy.yaml.
 */
export async function runDev(): Promise<void> {
  process.env.COUNTERSIGN_HOME ??= join(PROJECT, '.countersign');
  process.env.COUNTERSIGN_POLICY ??= join(PROJECT, 'examples', 'policy.yaml');
  process.env.COUNTERSIGN_LOG_FORMAT ??= 'pretty';
  const config = loadConfig();
  const logger = createLogger({ format: config.logFormat, level: config.logLevel });
  installTemporalLogging(logger);
  const policy = loadPolicyFile(config.policyFile);
  mkdirSync(config.home, { recursive: true });
  const signer = layerSigner(config.home, { createIfMissing: true });
  const evidenceDir = join(config.home, 'evidence');

  const [host = '127.0.0.1', portText = '7233'] = config.address.split(':');
  const port = Number(portText);
  const uiPort = Number(process.env.COUNTERSIGN_UI_PORT ?? port + 1000);
  const dbFilename = join(config.home, 'temporal.db');
  const executable = findOrBuildTemporalCli();
  let env: TestWorkflowEnvironment;
  try {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: executable },
        ip: host,
        port,
        ui: true,
        uiPort,
        dbFilename,
        namespace: config.namespace,
        searchAttributes: ALL_SEARCH_ATTRIBUTES,
        log: { format: 'pretty', level: 'error' },
      },
    });
  } catch (err) {
    throw new Error(`The Temporal dev server did not start on ${config.address} (is another one running on port ${port}?): ${(err as Error).message}`);
  }
  const worker = await createApprovalWorker({ connection: env.nativeConnection, namespace: config.namespace, taskQueue: config.taskQueue, policy, logger, signer, evidenceDir });

  const ui = `http://${host === '0.0.0.0' ? 'localhost' : host}:${uiPort}`;
  process.stdout.write(`
countersign dev stack is up
  Temporal server   ${config.address} (namespace ${config.namespace}, data in ${dbFilename})
  Temporal UI       ${ui}/namespaces/${config.namespace}/workflows
  Worker            task queue ${config.taskQueue}, policy ${config.policyFile}
  Signing key       ${signer.keyId} (${config.home}/keys/layer.pub); evidence in ${evidenceDir}

Next, in another terminal:
  npx countersign submit --file examples/actions/refund-small.json --wait 10s
  npx countersign consume <id> --token <token> --action examples/actions/refund-small.json
  npx countersign report <id> --status succeeded
  npx countersign submit --file examples/actions/refund-large.json
  npx countersign review list
  npx countersign review show <id> --as dave
  npx countersign review approve <id> --as dave
Filter the UI with: CountersignStatus="pending" AND CountersignGroup="finance"
Ctrl-C stops everything; pending approvals are still pending next time.

`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nStopping the worker and the Temporal server...\n');
    worker.shutdown();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await worker.run();
  } finally {
    await env.teardown();
    process.stdout.write('Stopped.\n');
  }
}
