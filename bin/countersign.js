#!/usr/bin/env node
'use strict';
// Runs the TypeScript sources directly through tsx: `npx countersign` works right after `npm ci`.
require('tsx/cjs');
require('../client/cli/main.ts').main(process.argv.slice(2));
