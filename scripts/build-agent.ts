/**
 * `npm run build:agent`: the `@countersign/agent` package, built into packages/agent/dist/ from the
 * same sources as `countersign` — only the import graph of the agent's entry points (tsconfig.agent.json),
 * its manifest derived from what that emitted (./agent-package.ts), its README and the licence.
 * That folder is the package: `npm pack packages/agent/dist` or `npm publish packages/agent/dist`.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentManifest, AgentPackageError, importedPackages, type Manifest } from './agent-package';

const root = join(__dirname, '..');
const template = join(root, 'packages', 'agent');
const dist = join(template, 'dist');
const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

function build(): void {
  rmSync(dist, { recursive: true, force: true });
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.agent.json')], { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) throw new AgentPackageError(`tsc -p tsconfig.agent.json failed (exit ${tsc.status}).`);
  const manifest = agentManifest(readManifest(template), readManifest(root), importedPackages(dist));
  const targets = Object.values((manifest.exports ?? {}) as Record<string, string | Record<string, string>>).flatMap((t) => (typeof t === 'string' ? [] : Object.values(t)));
  const missing = targets.filter((t) => !existsSync(join(dist, t)));
  if (missing.length) throw new AgentPackageError(`packages/agent/package.json exports ${missing.join(', ')}, which the build did not emit.`);
  writeFileSync(join(dist, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(join(template, 'README.md'), join(dist, 'README.md'));
  copyFileSync(join(root, 'LICENSE'), join(dist, 'LICENSE'));
  const deps = Object.entries(manifest.dependencies ?? {}).map(([name, range]) => `${name}@${range}`);
  process.stdout.write(`Wrote ${dist}: ${manifest.name}@${manifest.version}, depending on ${deps.join(', ')}; pack it with npm pack packages/agent/dist.\n`);
}

try {
  build();
} catch (err) {
  rmSync(dist, { recursive: true, force: true }); // never leave a half-built package to publish
  process.stderr.write(`${err instanceof AgentPackageError ? err.message : ((err as Error).stack ?? err)}\n`);
  process.exit(1);
}
