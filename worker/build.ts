/**
 * `npm run build`: everything the npm package runs from, under dist/ — the compiled JavaScript and
 * type declarations (tsconfig.build.json), the web inbox's files, the store's SQL migrations, and the prebuilt workflow bundle
 * that workers start from (COUNTERSIGN_WORKFLOW_BUNDLE, the default when running from dist/).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleApprovalWorkflows } from './bundle';

const root = join(__dirname, '..');
const dist = join(root, 'dist');

async function build(): Promise<void> {
  rmSync(dist, { recursive: true, force: true });
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${tsc.status}).`);
  cpSync(join(root, 'server', 'inbox'), join(dist, 'server', 'inbox'), { recursive: true });
  cpSync(join(root, 'store', 'migrations'), join(dist, 'store', 'migrations'), { recursive: true }); // countersign setup applies them
  const out = join(dist, 'workflow-bundle.js');
  const { code } = await bundleApprovalWorkflows();
  mkdirSync(dist, { recursive: true });
  writeFileSync(out, code);
  process.stdout.write(`Wrote ${dist}: compiled sources and declarations, the inbox, and ${out} (${Math.round(code.length / 1024)} KiB).\n`);
}

build().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
