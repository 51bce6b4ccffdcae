/** `npm run build`: the prebuilt workflow bundle production workers start from (COUNTERSIGN_WORKFLOW_BUNDLE). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowsPath } from './worker';

async function build(): Promise<void> {
  const out = join(__dirname, '..', 'dist', 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ workflowsPath: workflowsPath() });
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, code);
  process.stdout.write(`Wrote ${out} (${Math.round(code.length / 1024)} KiB). Start workers with COUNTERSIGN_WORKFLOW_BUNDLE=${out}\n`);
}

build().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
