/**
 * The web inbox's files: the browser modules in server/inbox/ (served as they are), the passkey
 * library, and one module written at startup, constants.js, which hands the browser the values it
 * shares with the server (issue 23) so that the inbox keeps no copy of its own.
 *
 * Only the names below are served, each from a map read once at startup: a request names a key,
 * never a path, so nothing outside server/inbox/ can be reached (../, %2F and the like are simply
 * unknown keys).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OPEN_STATUSES, ReasonCode, SUGGESTED_DENY_REASONS, WAITING_STATUSES } from '../common/codes';
import { MAX_BATCH_SIZE, RISK_ORDER } from '../common/inputs';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../common/paging';

export const INBOX_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** The browser's ES modules in server/inbox/, the entry (inbox.js) first. Add a new module here, or it is a 404. */
export const INBOX_MODULES: readonly string[] = ['inbox.js', 'api.js', 'dom.js', 'session.js', 'queue.js', 'batch.js', 'request.js', 'decision.js', 'link.js', 'insights.js'];

/** The server's values the inbox reads from /inbox/assets/constants.js, by the names it imports them as. */
export function inboxConstants(csrfHeader: string): Record<string, unknown> {
  return {
    OPEN_STATUSES,
    WAITING_STATUSES,
    RISK_ORDER,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_BATCH_SIZE,
    SUGGESTED_DENY_REASONS,
    REASON_CODES: ReasonCode,
    CSRF_HEADER: csrfHeader,
  };
}

/** An ES module exporting each constant, frozen: `export const NAME = <JSON>;`. */
export function constantsModule(constants: Record<string, unknown>): string {
  const lines = Object.entries(constants).map(([name, value]) => {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new Error(`An inbox constant needs an UPPER_SNAKE_CASE name, not "${name}".`);
    const json = JSON.stringify(value);
    if (json === undefined) throw new Error(`The inbox constant ${name} has no JSON value.`);
    return `export const ${name} = ${value !== null && typeof value === 'object' ? `Object.freeze(${json})` : json};`;
  });
  return ['// The values the countersign inbox shares with its server, written by the server at startup (server/inbox-assets.ts).', ...lines, ''].join('\n');
}

export interface InboxAsset {
  body: string;
  type: string;
}

const JAVASCRIPT = 'text/javascript; charset=utf-8';

/** The inbox's files, read once: they are part of the package and need no network. */
export function loadInboxAssets(constants: Record<string, unknown>): { html: InboxAsset; files: ReadonlyMap<string, InboxAsset> } {
  const dir = join(__dirname, 'inbox');
  const webauthn = join(dirname(require.resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js');
  const files = new Map<string, InboxAsset>();
  for (const name of INBOX_MODULES) files.set(name, { body: readFileSync(join(dir, name), 'utf8'), type: JAVASCRIPT });
  files.set('inbox.css', { body: readFileSync(join(dir, 'inbox.css'), 'utf8'), type: 'text/css; charset=utf-8' });
  files.set('webauthn.js', { body: readFileSync(webauthn, 'utf8'), type: JAVASCRIPT });
  files.set('constants.js', { body: constantsModule(constants), type: JAVASCRIPT });
  return { html: { body: readFileSync(join(dir, 'index.html'), 'utf8'), type: 'text/html; charset=utf-8' }, files };
}
