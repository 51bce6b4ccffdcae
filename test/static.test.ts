import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(__dirname, '..');

function run(bin: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'node_modules', ...bin.split('/')), ...args], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

test('the code type-checks (tsc --noEmit)', async () => {
  const { code, output } = await run('typescript/bin/tsc', ['--noEmit', '-p', 'tsconfig.json']);
  assert.equal(code, 0, output);
});

test('lint passes: no Node built-ins in workflows/common, activities imported as types only, no floating promises', async () => {
  const { code, output } = await run('eslint/bin/eslint.js', ['.']);
  assert.equal(code, 0, output);
});
