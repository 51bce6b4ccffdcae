/**
 * The agent package's manifest (scripts/agent-package.ts), derived from emitted files: its
 * dependencies are what they import, at the root's ranges; Temporal, SWC or an undeclared package
 * refuses the build with one sentence naming the file.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { agentManifest, AgentPackageError, importedPackages, packageOf, type Manifest } from '../../scripts/agent-package';

const ROOT: Manifest = {
  name: 'countersign',
  version: '1.2.3',
  license: 'Apache-2.0',
  engines: { node: '>=20.19' },
  dependencies: { zod: '^4.6.7', '@noble/hashes': '^2.4.0', pino: '^10.4.0', '@temporalio/client': '^1.24.0', '@swc/core': '1.16.18' },
  peerDependencies: { ai: '^7.0.185' },
  peerDependenciesMeta: { ai: { optional: true } },
};
const TEMPLATE: Manifest = { name: '@countersign/agent', private: true, exports: { '.': './client/index.js' } };

/** A folder of emitted files, as tsc would leave them. */
function emitted(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-emitted-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const build = (files: Record<string, string>) => agentManifest(TEMPLATE, ROOT, importedPackages(emitted(files)));

describe('the agent package manifest', () => {
  test('depends on exactly what the emitted JavaScript and declarations import, at the root\'s ranges', () => {
    const manifest = build({
      'client/index.js': `"use strict";\nconst zod_1 = require("zod");\nconst node_fs_1 = require("node:fs");\nconst path = require("path");\nconst sdk_1 = require("./sdk");\n`,
      'client/index.d.ts': `/// <reference types="node" />\nimport type { Logger } from 'pino';\nexport declare const log: Logger;\nexport type T = import("ai").Tool;\n`,
      'common/digest.js': `const sha2_js_1 = require("@noble/hashes/sha2.js");\n`,
    });
    assert.deepEqual(manifest.dependencies, { '@noble/hashes': '^2.4.0', pino: '^10.4.0', zod: '^4.6.7' });
    assert.deepEqual([manifest.name, manifest.version, manifest.license, manifest.private], ['@countersign/agent', '1.2.3', 'Apache-2.0', undefined]);
    assert.deepEqual([manifest.peerDependencies, manifest.peerDependenciesMeta, manifest.engines], [ROOT.peerDependencies, ROOT.peerDependenciesMeta, ROOT.engines]);
    assert.deepEqual(manifest.exports, TEMPLATE.exports);
  });

  test('an emitted file that imports Temporal fails the build with one sentence naming it', () => {
    assert.throws(
      () => build({ 'client/index.js': `const zod_1 = require("zod");\n`, 'client/mcp/gateway.js': `const client_1 = require("@temporalio/client");\n` }),
      (err: Error) => err instanceof AgentPackageError && err.message === 'client/mcp/gateway.js imports @temporalio/client, which the agent package must not bring: an agent reaches countersign over HTTP, with no Temporal and no SWC.',
    );
    assert.throws(
      () => build({ 'client/index.d.ts': `export type X = import("@swc/core").Options;\n` }),
      (err: Error) => err instanceof AgentPackageError && err.message.startsWith('client/index.d.ts imports @swc/core, which the agent package must not bring'),
    );
  });

  test('a package the root does not declare fails the build', () => {
    assert.throws(
      () => build({ 'client/http.js': `const undici = require("undici");\n` }),
      (err: Error) => err instanceof AgentPackageError && err.message === 'client/http.js imports undici, which the root package.json declares neither as a dependency nor as a peer dependency.',
    );
  });

  test('names a package by its specifier: scoped, deep, built-in, relative', () => {
    assert.deepEqual(
      ['@modelcontextprotocol/sdk/client/index.js', 'zod/v4/core', 'node:crypto', 'crypto', './sdk', '../common/json', 'pino'].map(packageOf),
      ['@modelcontextprotocol/sdk', 'zod', undefined, undefined, undefined, undefined, 'pino'],
    );
  });
});
