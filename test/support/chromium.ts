import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { onPath } from '../../worker/temporal-cli';

/** Where Debian's `chromium` package puts the browser (a launcher script around /usr/lib/chromium/chromium). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** apt-get update + install can take minutes on a cold CI machine. */
const APT_TIMEOUT_MS = 15 * 60_000;

/** Runs an apt-get step with its output on stderr (stdout belongs to the test runner); a failure reason, or undefined. */
function apt(aptGet: string, args: string[]): string | undefined {
  process.stderr.write(`[ui test] ${aptGet} ${args.join(' ')}\n`);
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
 * The Chromium to drive with playwright-core: /usr/bin/chromium, installed with apt-get when it is
 * missing and we are root on a machine that has apt-get (Debian CI). Otherwise a reason to skip.
 */
export function ensureChromium(): { path: string } | { skip: string } {
  if (existsSync(CHROMIUM_PATH)) return { path: CHROMIUM_PATH };
  const skip = (reason: string) => ({ skip: `Chromium is not installed and could not be installed: ${reason}` });
  if (process.platform !== 'linux') return skip(`${CHROMIUM_PATH} does not exist and automatic installation is only done on Linux (platform ${process.platform}).`);
  const aptGet = onPath('apt-get');
  if (!aptGet) return skip(`${CHROMIUM_PATH} does not exist and apt-get is not available.`);
  if (process.getuid?.() !== 0) return skip(`${CHROMIUM_PATH} does not exist and this process is not root, so apt-get cannot install it.`);
  const failure = apt(aptGet, ['update']) ?? apt(aptGet, ['install', '-y', 'chromium']);
  if (failure) return skip(failure);
  if (!existsSync(CHROMIUM_PATH)) return skip(`apt-get installed the chromium package but ${CHROMIUM_PATH} still does not exist.`);
  return { path: CHROMIUM_PATH };
}
