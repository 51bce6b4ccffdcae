/**
 * The manifest of `@countersign/agent` (packages/agent), derived from what the compiler emitted: its
 * dependencies are the packages the emitted JavaScript and declarations import, at the root
 * package.json's ranges; its version, licence, engines and (optional) framework peers are the root's.
 * An import of Temporal or SWC, or of a package the root does not declare, refuses the build.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import ts from 'typescript';

export interface Manifest {
  name?: string;
  version?: string;
  private?: boolean;
  license?: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [field: string]: unknown;
}

/** What an agent never installs: Temporal (its native worker among it) and the SWC compiler. */
const OPERATOR_ONLY = [/^@temporalio\//, /^@swc\//];

export class AgentPackageError extends Error {}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`), or undefined for a relative path or a Node built-in. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return builtinModules.includes(name) ? undefined : name;
}

/** Every package the emitted files under `dir` import (require, import, import(), `/// <reference types>`), with the first file that does. */
export function importedPackages(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (/\.(c|m)?js$|\.d\.(c|m)?ts$/.test(entry.name)) {
        const scanned = ts.preProcessFile(readFileSync(path, 'utf8'), true, true);
        const specifiers = [...scanned.importedFiles, ...scanned.typeReferenceDirectives.filter((t) => t.fileName !== 'node')].map((f) => f.fileName);
        for (const name of specifiers.map(packageOf)) if (name && !found.has(name)) found.set(name, relative(dir, path));
      }
    }
  };
  visit(dir);
  return found;
}

/** The published manifest: the template's own fields, the root's version, licence, engines and peers, and the derived dependencies. */
export function agentManifest(template: Manifest, root: Manifest, imported: Map<string, string>): Manifest {
  const peers = root.peerDependencies ?? {};
  const dependencies: Record<string, string> = {};
  for (const [name, file] of [...imported].sort(([a], [b]) => a.localeCompare(b))) {
    if (OPERATOR_ONLY.some((p) => p.test(name))) {
      throw new AgentPackageError(`${file} imports ${name}, which the agent package must not bring: an agent reaches countersign over HTTP, with no Temporal and no SWC.`);
    }
    if (peers[name]) continue;
    const range = root.dependencies?.[name];
    if (!range) throw new AgentPackageError(`${file} imports ${name}, which the root package.json declares neither as a dependency nor as a peer dependency.`);
    dependencies[name] = range;
  }
  const { private: _private, ...own } = template;
  return {
    name: own.name,
    version: root.version,
    ...own,
    license: root.license,
    engines: root.engines,
    dependencies,
    peerDependencies: root.peerDependencies,
    peerDependenciesMeta: root.peerDependenciesMeta,
  };
}
