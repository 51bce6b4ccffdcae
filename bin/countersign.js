#!/usr/bin/env node
'use strict';
// Installed from npm: the compiled dist/ (no TypeScript at run time). In a clone: the TypeScript
// sources through tsx, so `npx countersign` runs what you just edited, right after `npm ci`
// (COUNTERSIGN_FROM_DIST=1 runs the clone's `npm run build` output instead, as npm run bench does).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const source = join(__dirname, '..', 'cli', 'main.ts');
let cli;
if (existsSync(source) && process.env.COUNTERSIGN_FROM_DIST !== '1') {
  require('tsx/cjs');
  cli = require(source);
} else {
  cli = require(join(__dirname, '..', 'dist', 'cli', 'main.js'));
}
// Once the command is done, and what it wrote has been handed to the OS (a pipe takes output
// asynchronously once its buffer is full), so is the process: nothing left idle holds it open.
cli.main(process.argv.slice(2)).then(() => {
  let pending = 2;
  const flushed = () => {
    if (--pending === 0) process.exit();
  };
  process.stdout.write('', flushed);
  process.stderr.write('', flushed);
});
