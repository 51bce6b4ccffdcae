#!/usr/bin/env node
'use strict';
// Entry of `npm run dev` and `npm test` on a fresh clone: install what is missing, then hand over.
const { spawnSync } = require('node:child_process');
const { existsSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function installIfNeeded() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  const stale = !existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs);
  if (!stale) return;
  process.stderr.write('Installing dependencies (npm ci)...\n');
  const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const targets = {
  dev: [join(root, 'bin', 'countersign.js'), 'dev'],
  test: ['--import', 'tsx', join(root, 'test', 'run.ts')],
  bench: ['--import', 'tsx', join(root, 'bench', 'run.ts')],
  cluster: ['--import', 'tsx', join(root, 'scripts', 'cluster.ts')],
  'test-cluster': ['--import', 'tsx', join(root, 'scripts', 'test-cluster.ts')],
};
const [target, ...rest] = process.argv.slice(2);
if (!targets[target]) {
  process.stderr.write(`usage: node scripts/bootstrap.js ${Object.keys(targets).join('|')}\n`);
  process.exit(2);
}
installIfNeeded();
const child = spawnSync(process.execPath, [...targets[target], ...rest], { cwd: root, stdio: 'inherit' });
process.exit(child.status ?? (child.signal === 'SIGINT' ? 130 : 1));
