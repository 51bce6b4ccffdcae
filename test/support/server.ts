import { DefaultLogger, Runtime, type WorkflowBundleOption } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../../common/search-attributes';
import { findOrBuildTemporalCli } from '../../cli/temporal-cli';
import { bundleApprovalWorkflows } from '../../worker/bundle';

/**
 * The real Temporal dev server: the one test/run.ts started for the whole run (COUNTERSIGN_TEST_ADDRESS),
 * or, when a test file runs on its own, one started here by @temporalio/testing.
 */
export async function testEnvironment(): Promise<TestWorkflowEnvironment> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const address = process.env.COUNTERSIGN_TEST_ADDRESS;
  if (address) return TestWorkflowEnvironment.createFromExistingServer({ address, namespace: 'default' });
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: findOrBuildTemporalCli() },
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
    },
  });
}

let bundle: Promise<WorkflowBundleOption> | undefined;
/** The workflow bundle, built once per run by test/run.ts or once per test file. */
export function testWorkflowBundle(): Promise<WorkflowBundleOption> {
  const codePath = process.env.COUNTERSIGN_TEST_BUNDLE;
  bundle ??= codePath ? Promise.resolve({ codePath }) : bundleApprovalWorkflows(quietLogger).then(({ code }) => ({ code }));
  return bundle;
}

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };
