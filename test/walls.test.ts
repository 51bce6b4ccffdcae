/**
 * The walls between the rooms, and no import circles, checked on the source text itself: the lint
 * config (eslint.config.mjs) enforces the walls too, but this holds them even if that file is
 * edited, and it also sees `require()` and `import()`. Fast: no Temporal, no stack.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';

const ROOT = join(__dirname, '..');

/** The folders whose files are checked: the rooms, plus the entry points in bin/ and scripts/. */
const SOURCE_FOLDERS = ['common', 'policy', 'crypto', 'config', 'store', 'workflows', 'activities', 'worker', 'server', 'client', 'cli', 'bin', 'scripts'];
const SKIP = new Set(['test', 'node_modules', 'dist', '.countersign']);

/** What each room must not import, and why (the same table as eslint.config.mjs). */
const WALLS: Record<string, { why: string; forbid: string[]; typesOnly?: string[]; packages?: string[]; allow?: string[] }> = {
  client: { why: 'client/ is the package face over HTTP only', forbid: ['activities', 'worker', 'workflows', 'server', 'cli', 'scripts', 'store'] },
  common: { why: 'common/ is pure and bundled into workflows', forbid: ['activities', 'worker', 'workflows', 'server', 'client', 'cli', 'policy', 'crypto', 'config', 'store'] },
  policy: { why: 'policy/ is the pure policy engine', forbid: ['activities', 'worker', 'workflows', 'server', 'client', 'cli', 'store'], packages: ['@temporalio/'] },
  crypto: { why: 'crypto/ is keys and signatures, beneath every service', forbid: ['activities', 'worker', 'workflows', 'server', 'client', 'cli', 'store'] },
  config: { why: 'config/ is settings, paths and logging, beneath every service', forbid: ['activities', 'worker', 'workflows', 'server', 'client', 'cli', 'store'] },
  // policy/access.ts (who may see, who may decide) is pure and bundled: the workflow runs the server's rule.
  workflows: { why: 'workflows/ is deterministic code in the sandbox', forbid: ['worker', 'server', 'client', 'cli', 'policy', 'crypto', 'config', 'store'], typesOnly: ['activities'], allow: ['policy/access.ts'] },
  activities: { why: "activities/ is the worker's side effects", forbid: ['worker', 'server', 'client', 'cli'] },
  server: { why: 'server/ is the front door and reaches the worker through Temporal only', forbid: ['worker', 'client', 'cli', 'activities'] },
  worker: { why: 'worker/ hosts workflows and activities and is no front door', forbid: ['server', 'client', 'cli'] },
  store: { why: 'store/ keeps spends, evidence and the log for the worker and the server alike, beneath both', forbid: ['activities', 'worker', 'workflows', 'server', 'client', 'cli', 'policy', 'scripts'] },
};

interface Import {
  spec: string;
  typeOnly: boolean;
}

/** Source files under the given folders of `root` (.ts, .js, .mjs; no declaration files). */
function sourceFiles(root: string, folders: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (SKIP.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
    }
  };
  for (const folder of folders) if (existsSync(join(root, folder))) walk(join(root, folder));
  return out.sort();
}

/** Comments out of the way, so an import quoted in a comment is no import (line comments only where they start a line). */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

/** Every module a file names: `import … from`, `export … from`, side-effect `import '…'`, `require('…')`, `import('…')`. */
function importsOf(text: string): Import[] {
  const code = withoutComments(text);
  const out: Import[] = [];
  for (const m of code.matchAll(/\b(import|export)\s+(?:([^'";]*?)\s*\bfrom\s*)?['"]([^'"]+)['"]/g)) {
    const clause = (m[2] ?? '').trim();
    const braces = /^\{([\s\S]*)\}$/.exec(clause);
    const specifiers = braces ? braces[1]!.split(',').map((s) => s.trim()).filter(Boolean) : [];
    const typeOnly = /^type\s/.test(clause) || (specifiers.length > 0 && specifiers.every((s) => /^type\s/.test(s)));
    out.push({ spec: m[3]!, typeOnly });
  }
  for (const m of code.matchAll(/\b(?:require|import)\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ spec: m[1]!, typeOnly: false });
  return out;
}

/** The file a relative specifier names (x, x.ts, x.js, x.mjs, x/index.ts, x/index.js; a .js name may be a .ts file), or undefined. */
function resolveImport(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec);
  const candidates = [base, `${base}.ts`, `${base}.js`, `${base}.mjs`, join(base, 'index.ts'), join(base, 'index.js'), base.replace(/\.js$/, '.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/** Wall breaks and import circles among the source files under `root`, each as one line. */
export function checkLayout(root: string, folders = SOURCE_FOLDERS): { walls: string[]; circles: string[] } {
  const rel = (path: string) => relative(root, path).split(sep).join('/');
  const roomOf = (path: string) => rel(path).split('/')[0]!;
  const files = sourceFiles(root, folders);
  const known = new Set(files);
  const edges = new Map<string, string[]>();
  const walls: string[] = [];
  for (const file of files) {
    const room = WALLS[roomOf(file)];
    const targets: string[] = [];
    for (const { spec, typeOnly } of importsOf(readFileSync(file, 'utf8'))) {
      const pkg = room?.packages?.find((p) => spec.startsWith(p));
      if (pkg) walls.push(`${rel(file)} imports ${spec} (${room!.why}: it must not import ${pkg}* packages)`);
      const target = resolveImport(file, spec);
      if (!target) continue;
      if (known.has(target)) targets.push(target);
      const other = roomOf(target);
      if (room?.forbid.includes(other) && !room.allow?.includes(rel(target))) walls.push(`${rel(file)} imports ${rel(target)} (${room.why}: it must not import ${other}/)`);
      else if (room?.typesOnly?.includes(other) && !typeOnly) walls.push(`${rel(file)} imports ${rel(target)} (${room.why}: it may import ${other}/ only with \`import type\`)`);
    }
    edges.set(file, [...new Set(targets)]);
  }
  // Depth-first: an edge back to a file still on the stack closes a circle (type imports count too:
  // a type circle still says two files are one).
  const circles = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const target of edges.get(file) ?? []) {
      if (state.get(target) === 'open') circles.add([...stack.slice(stack.indexOf(target)), target].map(rel).join(' -> '));
      else if (!state.has(target)) visit(target);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return { walls, circles: [...circles] };
}

test('no import circles among the source files', () => {
  const { circles } = checkLayout(ROOT);
  assert.deepEqual(circles, [], `import circles:\n${circles.join('\n')}`);
});

test('no room imports across its walls', () => {
  const { walls } = checkLayout(ROOT);
  assert.deepEqual(walls, [], `wall breaks:\n${walls.join('\n')}`);
});

test('the checker finds circles and wall breaks in a tree built to have them', () => {
  const root = mkdtempSync(join(tmpdir(), 'countersign-walls-'));
  try {
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    // Circles: a value import and a type import; require() and import(); through index.ts.
    write('common/a.ts', "import { b } from './b';\nexport const a = b;\n");
    write('common/b.ts', "import type { A } from './a';\nexport const b = 1;\nexport type B = A;\n");
    write('cli/x.ts', "const y = require('./y');\nexport const x = y;\n");
    write('cli/y.js', "module.exports = () => import('./x');\n");
    write('config/index.ts', "export * from './paths';\n");
    write('config/paths.ts', "import { home } from '.';\nexport const paths = home;\n");
    // Wall breaks, from the top of a room and from deeper, by path and through an index.ts.
    write('client/c.ts', "export { s } from '../server/s';\n// import { w } from '../worker/w';  (a comment: no import)\n");
    write('client/deep/d.ts', "import { main } from '../../cli/x';\nexport const d = main;\n");
    write('server/s.ts', "export const s = 1;\n");
    write('worker/w.ts', "import { s } from '../server';\nexport const w = s;\n");
    write('server/index.ts', "export * from './s';\n");
    write('workflows/f.ts', "import type { Act } from '../activities/act';\nimport { run } from '../activities/act';\nimport { paths } from '../config/paths';\nexport const f: Act = run(paths);\n");
    write('activities/act.ts', "export const run = (x: unknown) => x;\nexport type Act = unknown;\n");
    write('policy/p.ts', "import { Client } from '@temporalio/client';\nexport const p = Client;\n");
    write('policy/ok.ts', "import { a } from '../common/a';\nexport const ok = a;\n");
    write('store/st.ts', "import { s } from '../server/s';\nimport { a } from '../common/a';\nexport const st = [s, a];\n");
    write('config/c.ts', "export { st } from '../store/st';\n");

    const { walls, circles } = checkLayout(root);
    assert.deepEqual(circles.sort(), ['cli/x.ts -> cli/y.js -> cli/x.ts', 'common/a.ts -> common/b.ts -> common/a.ts', 'config/index.ts -> config/paths.ts -> config/index.ts']);
    assert.deepEqual(walls.sort(), [
      'client/c.ts imports server/s.ts (client/ is the package face over HTTP only: it must not import server/)',
      'client/deep/d.ts imports cli/x.ts (client/ is the package face over HTTP only: it must not import cli/)',
      'config/c.ts imports store/st.ts (config/ is settings, paths and logging, beneath every service: it must not import store/)',
      'policy/p.ts imports @temporalio/client (policy/ is the pure policy engine: it must not import @temporalio/* packages)',
      'store/st.ts imports server/s.ts (store/ keeps spends, evidence and the log for the worker and the server alike, beneath both: it must not import server/)',
      'worker/w.ts imports server/index.ts (worker/ hosts workflows and activities and is no front door: it must not import server/)',
      'workflows/f.ts imports activities/act.ts (workflows/ is deterministic code in the sandbox: it may import activities/ only with `import type`)',
      'workflows/f.ts imports config/paths.ts (workflows/ is deterministic code in the sandbox: it must not import config/)',
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
