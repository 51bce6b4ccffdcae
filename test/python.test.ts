/**
 * The Python package (python/) end to end: its pytest suite against a real countersign server and
 * worker started here (the refund policy the TypeScript adapters are tested with), mypy --strict on
 * the package, and its wheel built and installed into a clean venv. The venv is built once per
 * pyproject.toml into ~/.cache/countersign (test/support/python-env.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PYTHON_DIR, pythonEnv, runAsync, type PythonEnv } from './support/python-env';
import { REFUND_POLICY } from './support/refund-policy';
import { testEnvironment } from './support/server';
import { startStack, type StackContext } from './support/stack';

let env: PythonEnv;
const ctx = {} as StackContext;
// The venv first: when it cannot be had, nothing else is started.
before(async () => {
  env = await pythonEnv();
  process.stderr.write(`python test environment: ${env.venv} (${env.built ? 'built' : 'cached'}, ${env.seconds.toFixed(1)} s)\n`);
  ctx.env = await testEnvironment();
  ctx.stack = await startStack(ctx.env, REFUND_POLICY);
});
after(async () => {
  await ctx.stack?.stop();
  await ctx.env?.teardown();
});
const BIN = join(__dirname, '..', 'bin', 'countersign.js');
/** At least this many pytest cases must have run, none skipped: the suite below cannot pass by running nothing. */
const MIN_PYTEST_CASES = 85;
/** The sealing vector both languages check (docs/sealing.md): when it is there, its Python cases must have run. */
const SEALING_VECTOR = join(__dirname, '..', 'docs', 'vectors', 'sealed-token.json');

const scratch = mkdtempSync(join(tmpdir(), 'countersign-python-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** pytest's JUnit report, summed over its suites. */
function junitCounts(xml: string): { tests: number; failures: number; errors: number; skipped: number } {
  const sum = (attr: string) => [...xml.matchAll(new RegExp(`<testsuite [^>]*\\b${attr}="(\\d+)"`, 'g'))].reduce((n, m) => n + Number(m[1]), 0);
  return { tests: sum('tests'), failures: sum('failures'), errors: sum('errors'), skipped: sum('skipped') };
}

describe('the Python package', () => {
  test('pytest against the live server: every case runs and passes, none skipped', async () => {
    const stack = ctx.stack;
    const junit = join(scratch, 'pytest.xml');
    const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_') && !k.startsWith('COUNTERSIGN_')));
    const result = await runAsync(env.python, ['-m', 'pytest', '-p', 'no:cacheprovider', '-q', `--junitxml=${junit}`, join(PYTHON_DIR, 'tests')], {
      cwd: PYTHON_DIR,
      env: {
        ...childEnv,
        COUNTERSIGN_URL: stack.url,
        COUNTERSIGN_API_KEY: stack.agentKeys.get('support-bot')!,
        COUNTERSIGN_TEST_OTHER_API_KEY: stack.agentKeys.get('ops-bot')!,
        COUNTERSIGN_TEST_AUDITOR_API_KEY: stack.auditorKeys.get('audrey')!,
        // A reviewer's decision, signed with their key by the real CLI: COUNTERSIGN_TEST_CLI + review show/approve --as NAME.
        COUNTERSIGN_TEST_CLI: JSON.stringify([process.execPath, BIN]),
        COUNTERSIGN_TEST_HOME: stack.dir,
        COUNTERSIGN_TEST_PYTHON_SRC: join(PYTHON_DIR, 'src'),
        OPENAI_AGENTS_DISABLE_TRACING: '1',
      },
    });
    process.stderr.write(result.output.split('\n').slice(-40).join('\n'));
    assert.equal(result.code, 0, `pytest failed:\n${result.output.slice(-12000)}`);
    const xml = readFileSync(junit, 'utf8');
    const counts = junitCounts(xml);
    assert.deepEqual({ failures: counts.failures, errors: counts.errors, skipped: counts.skipped }, { failures: 0, errors: 0, skipped: 0 }, result.output.slice(-4000));
    assert.ok(counts.tests >= MIN_PYTEST_CASES, `pytest ran ${counts.tests} cases, expected at least ${MIN_PYTEST_CASES}`);
    if (existsSync(SEALING_VECTOR)) assert.equal([...xml.matchAll(/classname="tests\.test_vectors"/g)].length, 3, 'the sealing vector was checked');
  });

  test('mypy --strict passes on the package', async () => {
    const result = await runAsync(env.python, ['-m', 'mypy', '--cache-dir', join(env.venv, 'mypy-cache')], { cwd: PYTHON_DIR });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /Success: no issues found/);
  });

  test('python -m build makes a wheel that installs into a clean venv and imports; an integration without its extra says which to install', async () => {
    const dist = join(scratch, 'dist');
    const built = await runAsync(env.python, ['-m', 'build', '--wheel', '--no-isolation', '--outdir', dist, PYTHON_DIR]);
    assert.equal(built.code, 0, built.output);
    const wheel = /Successfully built (countersign-[^\s]+\.whl)/.exec(built.output)?.[1];
    assert.ok(wheel, built.output);
    const listing = await runAsync(env.python, ['-c', 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', join(dist, wheel)]);
    assert.match(listing.output, /^countersign\/py\.typed$/m);
    assert.match(listing.output, /^countersign\/langgraph\.py$/m);
    assert.doesNotMatch(listing.output, /tests\//);

    const clean = join(scratch, 'clean');
    const made = await runAsync(env.python, ['-m', 'venv', '--without-pip', clean]);
    assert.equal(made.code, 0, made.output);
    const cleanPython = join(clean, 'bin', 'python');
    // The venv's pip installs into the clean one, from the wheel and the cached wheelhouse only: no network, no other package.
    const installed = await runAsync(env.python, ['-m', 'pip', '--python', cleanPython, 'install', '--no-index', '--find-links', env.wheelhouse, join(dist, wheel)]);
    assert.equal(installed.code, 0, installed.output);
    const check = [
      'import importlib.resources, countersign',
      'assert countersign.__file__.startswith(sys.prefix), countersign.__file__',
      'assert importlib.resources.files("countersign").joinpath("py.typed").is_file()',
      'print(countersign.__version__, countersign.Countersign.__name__, countersign.AsyncCountersign.__name__)',
      'for name, extra in [("langgraph", "langgraph"), ("openai_agents", "openai-agents"), ("pydantic_ai", "pydantic-ai")]:',
      '    try:',
      '        __import__("countersign." + name)',
      '    except ImportError as err:',
      '        assert f"countersign[{extra}]" in str(err), str(err)',
      '    else:',
      '        raise AssertionError(name + " imported without its extra")',
    ];
    const imported = await runAsync(cleanPython, ['-c', `import sys\n${check.join('\n')}`], { cwd: scratch });
    assert.equal(imported.code, 0, imported.output);
    assert.match(imported.output, /^0\.1\.0 Countersign AsyncCountersign$/m);
  });
});
