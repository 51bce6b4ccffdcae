import { existsSync } from 'node:fs';
import { aptInstall } from '../../scripts/apt';

/** Where Debian's `chromium` package puts the browser (a launcher script around /usr/lib/chromium/chromium). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * The Chromium to drive with playwright-core: /usr/bin/chromium, installed with apt-get when it is
 * missing and we are root on a machine that has apt-get (Debian CI). Otherwise a reason to skip.
 */
export function ensureChromium(): { path: string } | { skip: string } {
  if (existsSync(CHROMIUM_PATH)) return { path: CHROMIUM_PATH };
  const skip = (reason: string) => ({ skip: `Chromium is not installed and could not be installed: ${reason}` });
  const failure = aptInstall('chromium', 'ui test');
  if (failure) return skip(`${CHROMIUM_PATH} does not exist and ${failure}.`);
  if (!existsSync(CHROMIUM_PATH)) return skip(`apt-get installed the chromium package but ${CHROMIUM_PATH} still does not exist.`);
  return { path: CHROMIUM_PATH };
}
