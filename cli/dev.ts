import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../client/version';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { createKeyFile, layerSigner } from '../crypto/keys';
import { devDatabaseFiles, PRIVATE_FILE, securePrivateState, tighten, writePrivateFile } from '../config/private-files';
import { compilePolicy } from '../policy/load';
import { reloadOnChange } from '../policy/watch';
import { Approvals } from '../server/approvals';
import { edgeKey, serverStartSigner, sessionSecret, startServer } from '../server/main';
import { withDevCredentials } from './dev-credentials';
import { ALL_SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { loadConfig } from '../config/env';
import { createLogger, installTemporalLogging } from '../config/logger';
import { findOrBuildTemporalCli } from './temporal-cli';
import { createApprovalWorker } from '../worker/worker';
import { edgeKeyPath, evidenceDir as evidenceDirOf } from '../config/home';
import { openStore } from '../store/open';

const PROJECT = packageRoot();

/**
 * `npm run dev`: a Temporal dev server whose SQLite file lives in .countersign/ (so pending approvals
 * survive a restart), its UI, the countersign search attributes, and one worker with examples/policy.yaml.
 */
export async function runDev(): Promise<void> {
  // In a clone, .countersign/ next to the sources; installed from npm, in the directory it is run from.
  process.env.COUNTERSIGN_HOME ??= join(existsSync(join(PROJECT, '.git')) ? PROJECT : process.cwd(), '.countersign');
  process.env.COUNTERSIGN_POLICY ??= join(PROJECT, 'examples', 'policy.yaml');
  process.env.COUNTERSIGN_LOG_FORMAT ??= 'pretty';
  const config = loadConfig();
  const logger = createLogger({ format: config.logFormat, level: config.logLevel });
  installTemporalLogging(logger);
  const tightened = securePrivateState(config.home); // 0700 and 0600, also what an older version left looser
  if (tightened.length) logger.warn({ paths: tightened }, 'made state in COUNTERSIGN_HOME private (0700 folders, 0600 files)');
  // Local credentials: a key per example agent (and the MCP gateway), a signing key per reviewer, in the policy's directory.
  const agents = readdirSync(join(PROJECT, 'examples', 'actions'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => (JSON.parse(readFileSync(join(PROJECT, 'examples', 'actions', f), 'utf8')) as { agentId: string }).agentId);
  const listen = process.env.COUNTERSIGN_LISTEN ?? '127.0.0.1:7280';
  const inboxOrigin = `http://localhost:${listen.split(':').pop()}`;
  const devPolicyFile = join(config.home, 'dev-policy.yaml');
  // Passkeys confirmed into the last run's dev policy (countersign reviewers confirm) carry over.
  const creds = withDevCredentials(readFileSync(config.policyFile, 'utf8'), config.home, {
    agents,
    gateways: ['mcp-gateway'],
    auditors: ['auditor'],
    webauthn: { rpId: 'localhost', origins: [inboxOrigin] },
    passkeysFrom: devPolicyFile,
  });
  writePrivateFile(devPolicyFile, creds.policyText);
  const policy = compilePolicy(creds.policyText, devPolicyFile);
  const stopWatching = reloadOnChange(policy, logger);
  const signer = layerSigner(config.home, { createIfMissing: true });
  const evidenceDir = evidenceDirOf(config.home);
  // The files under COUNTERSIGN_HOME/evidence, as always; PostgreSQL if COUNTERSIGN_DATABASE_URL is set. The server reads the same.
  const store = await openStore({ home: config.home, onError: (message) => logger.warn({ store: 'postgresql' }, message) });

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
  for (const file of devDatabaseFiles(config.home)) tighten(file, PRIVATE_FILE); // the Temporal CLI makes it 0644; SQLite's journals copy its mode
  const worker = await createApprovalWorker({
    connection: env.nativeConnection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    policy,
    logger,
    signer,
    evidenceDir,
    store,
    ...(config.workflowBundle ? { workflowBundle: { codePath: config.workflowBundle } } : {}),
  });
  const backend = await Approvals.connect({ connection: env.connection, namespace: config.namespace, taskQueue: config.taskQueue, startSigner: serverStartSigner(config.home, policy) });
  const server = await startServer({
    backend,
    policy,
    logger,
    sessionSecret: sessionSecret(config.home, { createIfMissing: true }),
    listen,
    store,
    // Rules marked edge: true are decided by the server itself, signed by its own edge key (keys/edge.key, made once).
    edge: { signer: edgeKey(config.home) ?? createKeyFile(edgeKeyPath(config.home)), store },
  });

  const ui = `http://${host === '0.0.0.0' ? 'localhost' : host}:${uiPort}`;
  // Every variable another terminal needs to reach this stack, defaults or not: the CLI's own defaults name 127.0.0.1:7280 and :7233.
  const exports = [
    `export COUNTERSIGN_HOME=${config.home}`,
    `export COUNTERSIGN_URL=${server.url}`,
    `export TEMPORAL_ADDRESS=${config.address}      # operators only (reviewers invite, status, setup); agents and reviewers need none`,
    ...(config.namespace !== 'default' ? [`export TEMPORAL_NAMESPACE=${config.namespace}`] : []),
    ...(config.taskQueue !== 'countersign' ? [`export COUNTERSIGN_TASK_QUEUE=${config.taskQueue}`] : []),
  ];
  process.stdout.write(`
countersign dev stack is up
  Temporal server   ${config.address} (namespace ${config.namespace}, data in ${dbFilename})
  Temporal UI       ${ui}/namespaces/${config.namespace}/workflows
  Worker            task queue ${config.taskQueue}, policy ${config.policyFile}
  countersign server ${server.url}  (OpenAPI: ${server.url}/openapi.json)
  Signing key       ${signer.keyId} (${config.home}/keys/layer.pub); edge key in ${config.home}/keys/edge.pub; evidence in ${store.description.replace(/^files in /, '')}
  Dev credentials   agent keys in ${config.home}/agents (${[...creds.agentKeys.keys()].join(', ')}),
                    reviewer keys in ${config.home}/keys/reviewers; the policy with their directory: ${devPolicyFile}

Next, in another terminal (the CLI reaches the server at ${server.url}; agents need no Temporal access):
${exports.map((line) => `  ${line}`).join('\n')}
  npx countersign submit --file examples/actions/refund-small.json --wait 10s
  npx countersign consume <id> --token <token> --action examples/actions/refund-small.json
  npx countersign report <id> --agent support-bot --status succeeded
  npx countersign submit --file examples/actions/refund-large.json
  npx countersign review list --as dave
  npx countersign review show <id> --as dave
  npx countersign review approve <id> --as dave
Filter the UI with: CountersignStatus="pending" AND CountersignGroup="finance"

The reviewer inbox is ${inboxOrigin}/inbox (passkeys; open it as localhost, not 127.0.0.1). To enrol alice:
  npx countersign reviewers invite alice           # a one-time link: alice opens it and creates a passkey
  npx countersign reviewers confirm alice --fingerprint <what alice's page shows> --policy ${devPolicyFile}
The server and the worker reload the policy by themselves; alice then signs in at ${inboxOrigin}/inbox.
Ports: TEMPORAL_ADDRESS (Temporal, 127.0.0.1:7233), COUNTERSIGN_UI_PORT (its UI, the Temporal port + 1000),
COUNTERSIGN_LISTEN (this server, 127.0.0.1:7280), set before npm run dev.
Ctrl-C stops everything; pending approvals are still pending next time.

`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nStopping the server, the worker and the Temporal server...\n');
    stopWatching();
    void server.close();
    worker.shutdown();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await worker.run();
  } finally {
    await env.teardown();
    await store.close();
    process.stdout.write('Stopped.\n');
  }
}
