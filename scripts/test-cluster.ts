/**
 * `npm run test:cluster`: brings the cluster up in a fresh folder (scripts/cluster-stack.ts) and runs
 * the end-to-end suites that matter for a deployment against it — approval outcomes, tokens and the
 * front door — with their own workers and servers on fresh task queues, as test/run.ts does with the
 * dev server, and every one on the PostgreSQL store in the cluster's database (COUNTERSIGN_TEST_STORE);
 * then the store's own suite (test/store.cluster.ts) against the same database. Given files
 * (`node --import tsx scripts/test-cluster.ts test/store.cluster.ts test/log.test.ts`), it runs those
 * alone on the cluster, and the cluster's fault suite only when it is one of them.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger } from '@temporalio/worker';
import { bundleApprovalWorkflows } from '../worker/bundle';
import { startClusterStack } from './cluster-stack';

const SUITES = ['test/approval.test.ts', 'test/tokens.test.ts', 'test/server.test.ts', 'test/faults.test.ts', 'test/store.cluster.ts', 'test/edge.cluster.ts'];
/** Faults on the cluster itself: this file starts a cluster of its own, after the one above has stopped. */
const CLUSTER_FAULTS = 'test/cluster-faults.cluster.ts';

async function main(): Promise<number> {
  const named = process.argv.slice(2);
  const suites = named.length ? named.filter((f) => f !== CLUSTER_FAULTS) : SUITES;
  const withFaults = !named.length || named.includes(CLUSTER_FAULTS);
  const dir = mkdtempSync(join(tmpdir(), 'countersign-cluster-'));
  const stack = await startClusterStack({ dir, countersign: false });
  // Interrupted (Ctrl-C, CI's timeout): no Temporal or PostgreSQL left on the fixed ports, no folder with the database password.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stack.stop().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    }));
  }
  try {
    const bundlePath = join(dir, 'workflow-bundle.js');
    writeFileSync(bundlePath, (await bundleApprovalWorkflows(new DefaultLogger('WARN'))).code);
    process.stdout.write(`Temporal cluster ${stack.temporalAddress} (PostgreSQL, separate frontend, matching, worker and two history processes); countersign's store in its database ${stack.store.workerEnv.COUNTERSIGN_DATABASE_NAME}; ${suites.length} suites\n`);
    const failed = !suites.length ? 0 : await test(suites, { COUNTERSIGN_TEST_ADDRESS: stack.temporalAddress, COUNTERSIGN_TEST_BUNDLE: bundlePath, COUNTERSIGN_TEST_STORE: JSON.stringify(stack.store) });
    await stack.stop();
    const faults = withFaults ? await test([CLUSTER_FAULTS], { COUNTERSIGN_TEST_BUNDLE: bundlePath }) : 0;
    return failed || faults;
  } finally {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function test(files: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { cwd: join(__dirname, '..'), stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`npm run test:cluster could not start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
