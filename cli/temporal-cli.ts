import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The newest Temporal CLI tag whose go.mod has no replace directive, so `go install` accepts it (DESIGN §8). */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

/** What tooling builds once per machine, outside the repo and shared by every clone: ~/.cache/countersign. */
export function countersignCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.COUNTERSIGN_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'countersign');
}

/** ~/.cache/countersign/temporal-v1.5.1/temporal. */
export function temporalCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(countersignCacheDir(env), `temporal-${TEMPORAL_CLI_VERSION}`);
}

export class TemporalCliMissing extends Error {
  override name = 'TemporalCliMissing';
}

/** The first executable called `command` on PATH. */
export function onPath(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/**
 * Finds the Temporal CLI: $TEMPORAL_CLI_PATH, the cache directory, then PATH; otherwise builds it
 * into the cache with Go. Building takes a few minutes once; later runs reuse it.
 */
export function findOrBuildTemporalCli(options: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {}): string {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (env.TEMPORAL_CLI_PATH) {
    if (!existsSync(env.TEMPORAL_CLI_PATH)) throw new TemporalCliMissing(`TEMPORAL_CLI_PATH points to ${env.TEMPORAL_CLI_PATH}, which does not exist.`);
    return env.TEMPORAL_CLI_PATH;
  }
  const dir = temporalCacheDir(env);
  const cached = join(dir, 'temporal');
  if (existsSync(cached)) return cached;
  const installed = onPath('temporal', env);
  if (installed) return installed;

  const go = onPath('go', env);
  if (!go) {
    throw new TemporalCliMissing(
      `The Temporal CLI was not found and Go is not installed to build it. Install Go, or run ` +
        `"GOBIN=${dir} go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}" on a machine that has it, ` +
        `or set TEMPORAL_CLI_PATH to an existing temporal binary.`,
    );
  }
  mkdirSync(dir, { recursive: true });
  // Build into a private folder, then rename: two processes building at once cannot leave half a binary.
  const staging = mkdtempSync(join(dir, '.build-'));
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} from its Go module into ${dir} (once; a few minutes)...`);
  const result = spawnSync(go, ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
    env: { ...env, GOBIN: staging },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    if (result.status !== 0) {
      throw new TemporalCliMissing(
        `Building the Temporal CLI failed (go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} exited ${result.status ?? result.signal}).`,
      );
    }
    if (!existsSync(cached)) renameSync(join(staging, 'temporal'), cached);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  log(`Temporal CLI ready: ${cached}`);
  return cached;
}
