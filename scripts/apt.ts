/** Debian packages the test and cluster tooling needs (Chromium, PostgreSQL), installed on demand on a Debian CI machine. */
import { spawnSync } from 'node:child_process';
import { onPath } from '../cli/temporal-cli';

/** apt-get update + install can take minutes on a cold CI machine. */
const APT_TIMEOUT_MS = 15 * 60_000;

/** Runs an apt-get step with its output on stderr (stdout may belong to a test runner); a failure reason, or undefined. */
function apt(aptGet: string, args: string[], label: string): string | undefined {
  process.stderr.write(`[${label}] ${aptGet} ${args.join(' ')}\n`);
  const result = spawnSync(aptGet, args, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 2, 2],
    timeout: APT_TIMEOUT_MS,
  });
  if (result.error) return `"apt-get ${args.join(' ')}" failed: ${result.error.message}`;
  if (result.signal) return `"apt-get ${args.join(' ')}" was killed by ${result.signal}`;
  if (result.status !== 0) return `"apt-get ${args.join(' ')}" exited with status ${result.status}`;
  return undefined;
}

/**
 * Installs a Debian package when we are root on Linux with apt-get (a Debian CI machine): undefined
 * when it installed, else the reason it could not.
 */
export function aptInstall(pkg: string, label: string): string | undefined {
  if (process.platform !== 'linux') return `automatic installation is only done on Linux (platform ${process.platform})`;
  const aptGet = onPath('apt-get');
  if (!aptGet) return 'apt-get is not available';
  if (process.getuid?.() !== 0) return 'this process is not root, so apt-get cannot install it';
  return apt(aptGet, ['update'], label) ?? apt(aptGet, ['install', '-y', pkg], label);
}
