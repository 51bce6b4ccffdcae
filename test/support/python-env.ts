/**
 * The Python package's virtual environment for its tests, built the way the Temporal CLI is
 * (cli/temporal-cli.ts): once per machine into ~/.cache/countersign/python-<hash>/, keyed by
 * python/pyproject.toml and the interpreter's version, so a changed pyproject builds a fresh one and
 * reruns reuse it. It holds the package's dependencies with every extra (`pip install -e
 * 'python[test,all]'`) and a wheelhouse of the core dependencies, for installing the built wheel into
 * a clean venv without the network. Each run installs the package itself again (editable, no deps),
 * so it is always this clone's source that is tested.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countersignCacheDir, onPath } from '../../cli/temporal-cli';
import { aptInstall } from '../../scripts/apt';

export const PYTHON_DIR = join(__dirname, '..', '..', 'python');
const PIP_TIMEOUT_MS = 20 * 60_000;

export interface PythonEnv {
  /** The venv's interpreter: run everything as `python -m …`. */
  python: string;
  venv: string;
  /** Wheels of the core dependencies (httpx, cryptography, pydantic and theirs). */
  wheelhouse: string;
  /** How long getting it took, and whether it was built now. */
  seconds: number;
  built: boolean;
}

/** Runs a command to completion without holding the event loop; throws with the tail of its output on failure. */
async function run(command: string, args: string[], what: string): Promise<string> {
  const result = await runAsync(command, args, { env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' }, timeoutMs: PIP_TIMEOUT_MS });
  if (result.code !== 0) throw new Error(`${what} failed (${command} ${args.join(' ')} exited ${result.code}):\n${result.output.slice(-4000)}`);
  return result.output;
}

/** The machine's python3, able to make a venv: Debian splits venv and ensurepip into python3-venv, installed here when we are root (as CI is). */
export function systemPython(): string {
  const python = onPath('python3');
  if (!python) throw new Error('python3 is not installed: install Debian\'s python3 and python3-venv (apt-get install python3 python3-venv).');
  const hasVenv = () => spawnSync(python, ['-c', 'import venv, ensurepip'], { stdio: 'ignore' }).status === 0;
  if (hasVenv()) return python;
  const failure = aptInstall('python3-venv', 'python tests');
  if (failure || !hasVenv()) throw new Error(`${python} cannot make a virtual environment (no venv/ensurepip module): install Debian's python3-venv (apt-get install python3-venv)${failure ? `; ${failure}` : ''}.`);
  return python;
}

async function cacheKey(python: string): Promise<string> {
  const version = (await run(python, ['-c', 'import sys; print(sys.version)'], 'python3 --version')).trim();
  return createHash('sha256').update(readFileSync(join(PYTHON_DIR, 'pyproject.toml'))).update(`\n${version}`).digest('hex').slice(0, 12);
}

/** The cached venv, built when missing (a few minutes once), then this clone's package installed into it. */
export async function pythonEnv(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<PythonEnv> {
  const started = Date.now();
  const system = systemPython();
  const root = countersignCacheDir();
  const venv = join(root, `python-${await cacheKey(system)}`);
  const python = join(venv, 'bin', 'python');
  let built = false;
  if (!existsSync(join(venv, '.complete'))) {
    mkdirSync(root, { recursive: true });
    // Build in a private folder, then rename: two runs building at once cannot leave half a venv.
    const staging = mkdtempSync(join(root, '.python-build-'));
    log(`Building the Python test environment into ${venv} (once per pyproject.toml; a few minutes)...`);
    try {
      await run(system, ['-m', 'venv', staging], 'python3 -m venv');
      const pip = [join(staging, 'bin', 'python'), '-m', 'pip'];
      await run(pip[0]!, [...pip.slice(1), 'install', '--upgrade', 'pip'], 'pip install --upgrade pip');
      await run(pip[0]!, [...pip.slice(1), 'install', '--editable', `${PYTHON_DIR}[test,all]`], 'pip install -e python[test,all]');
      const wheelhouse = join(staging, 'wheelhouse');
      await run(pip[0]!, [...pip.slice(1), 'wheel', '--wheel-dir', wheelhouse, PYTHON_DIR], 'pip wheel python (the core dependencies)');
      for (const file of readdirSync(wheelhouse)) if (file.startsWith('countersign-')) rmSync(join(wheelhouse, file));
      writeFileSync(join(staging, '.complete'), `${new Date().toISOString()}\n`);
      if (existsSync(venv)) rmSync(venv, { recursive: true, force: true }); // a half-built one from a killed run
      renameSync(staging, venv);
      built = true;
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  // This clone's source, whichever clone built the venv: editable, no dependencies, no network.
  await run(python, ['-m', 'pip', 'install', '--quiet', '--no-deps', '--no-build-isolation', '--editable', PYTHON_DIR], 'pip install -e python');
  return { python, venv, wheelhouse: join(venv, 'wheelhouse'), seconds: (Date.now() - started) / 1000, built };
}

export interface ProcessResult {
  code: number;
  output: string;
}

/** Runs a command without blocking this process's event loop (its worker and server keep serving). */
export function runAsync(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ProcessResult> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: options.cwd, env: options.env ?? process.env, timeout: options.timeoutMs ?? 15 * 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}
