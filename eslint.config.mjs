// ESLint flat config (ESLint 9 + typescript-eslint). Run with `npm run lint`.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Workflow code runs in Temporal's deterministic sandbox and common/ is bundled into it:
// neither may import anything from Node, whether as `node:x` or as a bare name.
const NODE_BUILTINS = [
  ...new Set([
    'fs', 'path', 'crypto', 'child_process', 'os', 'http', 'https', 'net', 'stream', 'util',
    'worker_threads', 'timers', 'events', 'buffer', 'process',
    ...builtinModules,
  ]),
];
const noNodeBuiltins = {
  paths: NODE_BUILTINS.map((name) => ({
    name,
    message: 'Node built-ins are not allowed in workflow code (workflows/, common/): move the work to an activity.',
  })),
  patterns: [
    {
      group: ['node:*'],
      message: 'Node built-ins are not allowed in workflow code (workflows/, common/): move the work to an activity.',
    },
  ],
};

// The walls between the top-level rooms: what each room must not import (relative imports from any
// depth: ../server/app, ../../server, ...). test/walls.test.ts holds the same table, so the walls
// stand even if this file is edited; `import()` and `require()` are caught there only.
const WALLS = {
  client: {
    why: 'client/ is the package face over HTTP only',
    forbid: ['activities', 'worker', 'workflows', 'server', 'cli', 'scripts', 'store'],
  },
  common: {
    why: 'common/ is pure and bundled into workflows',
    forbid: ['activities', 'worker', 'workflows', 'server', 'client', 'cli', 'policy', 'crypto', 'config', 'store'],
  },
  policy: {
    why: 'policy/ is the pure policy engine, loaded by the worker, the server and the CLI alike',
    forbid: ['activities', 'worker', 'workflows', 'server', 'client', 'cli', 'store'],
    packages: ['@temporalio'],
  },
  crypto: {
    why: 'crypto/ is keys and signatures, beneath every service',
    forbid: ['activities', 'worker', 'workflows', 'server', 'client', 'cli', 'store'],
  },
  config: {
    why: 'config/ is settings, paths and logging, beneath every service',
    forbid: ['activities', 'worker', 'workflows', 'server', 'client', 'cli', 'store'],
  },
  workflows: {
    why: 'workflows/ is deterministic code in the sandbox',
    forbid: ['worker', 'server', 'client', 'cli', 'policy', 'crypto', 'config', 'store'],
    // policy/access.ts (who may see, who may decide) is pure and bundled: the workflow runs the server's rule.
    allow: { policy: ['access'] },
  },
  activities: {
    why: 'activities/ is the worker\'s side effects, called through Temporal',
    forbid: ['worker', 'server', 'client', 'cli'],
  },
  server: {
    why: 'server/ is the front door and reaches the worker through Temporal only',
    forbid: ['worker', 'client', 'cli', 'activities'],
  },
  worker: {
    why: 'worker/ hosts workflows and activities and is no front door',
    forbid: ['server', 'client', 'cli'],
  },
  store: {
    why: 'store/ keeps spends, evidence and the log for the worker and the server alike, beneath both',
    forbid: ['activities', 'worker', 'workflows', 'server', 'client', 'cli', 'policy', 'scripts'],
  },
};
/** generateKeyPair(Sync) leaves a job whose finalisation locks the new key's mutex; an export of that key during a GC then deadlocks (Node 20). */
const NO_KEYGEN_JOB = {
  selector: "CallExpression[callee.name=/^generateKeyPair(Sync)?$/]",
  message: 'Make keys with crypto/keys.ts newEd25519Key / ed25519KeyPair or crypto/tokens.ts x25519KeyPair: on Node 20 a generateKeyPair job finalised while its key is exported deadlocks the process.',
};

/** `@typescript-eslint/no-restricted-imports` patterns for one room: each names the rule it enforces. */
function wallPatterns(room) {
  const { why, forbid, packages = [], allow = {} } = WALLS[room];
  const except = (target) => (allow[target] ? `(?!/(${allow[target].join('|')})$)` : '');
  return [
    ...forbid.map((target) => ({ regex: `^(\\.\\./)+${target}${except(target)}(/|$)`, message: `${why}: it must not import ${target}/${allow[target] ? ` (other than ${allow[target].map((f) => `${target}/${f}`).join(', ')})` : ''}.` })),
    ...packages.map((scope) => ({ regex: `^${scope}/`, message: `${why}: it must not import ${scope}/* packages.` })),
  ];
}

export default defineConfig(
  globalIgnores(['node_modules/', '.countersign/', 'dist/', 'packages/*/dist/', 'test/artifacts/', 'bench/results/']),

  js.configs.recommended,
  tseslint.configs.recommended,

  // Everywhere: deliberate `_`-prefixed names are not unused-variable findings, and a `let` that
  // closures may read before its single assignment (so `const` would hit the TDZ) stays a `let`.
  {
    rules: {
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },

  // TypeScript sources: type-aware, so unhandled promises are caught.
  {
    files: ['**/*.ts'],
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        projectService: {
          // Root-level scratch scripts and the framework examples (written as a user imports the
          // package; each type-checked by its adapter's test) sit outside tsconfig.json's `include`.
          allowDefaultProject: ['*.ts'],
          defaultProject: 'tsconfig.json',
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's test()/describe() promises are tracked by the runner itself
          // (unawaited `t.test(...)` subtests are caught by the test/ block below).
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
    },
  },

  // Keys come from crypto/keys.ts (newEd25519Key, ed25519KeyPair) and crypto/tokens.ts (x25519KeyPair):
  // on Node 20 a key-generation job finalised while its own key is exported deadlocks the process.
  {
    files: ['**/*.ts'],
    rules: { 'no-restricted-syntax': ['error', NO_KEYGEN_JOB] },
  },

  // TestContext#test has the very type of node:test's test(), so the allowance above also covers
  // `t.test(...)`; a subtest that is not awaited is cancelled when its parent ends, so flag that here.
  {
    files: ['test/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "ExpressionStatement > CallExpression[callee.type='MemberExpression'][callee.property.name='test']",
          message: 'Await subtests (`await t.test(...)`): the parent test does not wait for them.',
        },
        NO_KEYGEN_JOB,
      ],
    },
  },

  // CommonJS entry points (bin/, scripts/): require() and Node globals.
  {
    files: ['bin/**/*.js', 'scripts/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: globals.node,
    },
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
    },
  },

  // The web inbox's browser script (server/inbox/, served as is): browser globals, the passkey library's UMD global.
  {
    files: ['server/inbox/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { ...globals.browser, SimpleWebAuthnBrowser: 'readonly' },
    },
  },

  // This file and any other ES module config.
  {
    files: ['**/*.mjs'],
    languageOptions: {
      sourceType: 'module',
      globals: globals.node,
    },
  },

  // The walls between the rooms (see WALLS above): one block per room.
  ...Object.keys(WALLS)
    .filter((room) => room !== 'workflows')
    .map((room) => ({
      files: [`${room}/**/*.{ts,js,mjs}`],
      rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: wallPatterns(room) }] },
    })),

  // Bundled into workflows: nothing from Node.
  {
    files: ['common/**/*.ts', 'policy/access.ts'],
    rules: {
      'no-restricted-imports': ['error', noNodeBuiltins],
    },
  },

  // Workflows: nothing from Node, activities only as types (proxyActivities<typeof ...>), and the walls.
  // One rule object: a later block naming the same rule for these files would replace these options.
  {
    files: ['workflows/**/*.{ts,js,mjs}'],
    rules: {
      'no-restricted-imports': ['error', noNodeBuiltins],
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '../activities',
              allowTypeImports: true,
              message: 'Workflows may import activities only with `import type` (use proxyActivities).',
            },
          ],
          patterns: [
            {
              group: ['../activities/*'],
              allowTypeImports: true,
              message: 'Workflows may import activities only with `import type` (use proxyActivities).',
            },
            {
              // The same from a nested folder of workflows/ (../../activities, ../../activities/x, ...).
              regex: '^(\\.\\./){2,}activities(/|$)',
              allowTypeImports: true,
              message: 'Workflows may import activities only with `import type` (use proxyActivities).',
            },
            ...wallPatterns('workflows'),
          ],
        },
      ],
    },
  },
);
