/**
 * `npm test`: one real Temporal dev server and one workflow bundle for the whole run, then every
 * test file under Node's test runner. Test files also run alone (they start their own server then).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { findOrBuildTemporalCli } from '../cli/temporal-cli';
import { bundleApprovalWorkflows } from '../worker/bundle';

const root = join(__dirname, '..');

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'support' || entry.name === 'artifacts' ? [] : testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const files = only.length ? only : testFiles(__dirname).map((f) => relative(root, f)).sort();
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const executable = findOrBuildTemporalCli();
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: executable }, searchAttributes: ALL_SEARCH_ATTRIBUTES, log: { format: 'pretty', level: 'error' } },
  });
  try {
    const stateDir = join(root, '.countersign', 'test');
    mkdirSync(stateDir, { recursive: true });
    const bundlePath = join(stateDir, 'workflow-bundle.js');
    const { code } = await bundleApprovalWorkflows(new DefaultLogger('WARN'));
    writeFileSync(bundlePath, code);
    process.stdout.write(`Temporal dev server ${env.address} (${executable}); ${files.length} test files\n`);
    return await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
        cwd: root,
        stdio: 'inherit',
        env: { ...process.env, COUNTERSIGN_TEST_ADDRESS: env.address, COUNTERSIGN_TEST_BUNDLE: bundlePath, COUNTERSIGN_TEMPORAL_CLI: executable },
      });
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  } finally {
    await env.teardown();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`npm test could not start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
