import { basename, dirname, extname } from 'node:path';
import { sanitizeMcpName } from '../../policy/mcp';

export type UpstreamTarget = { command: string; args: string[] } | { url: string };

const LAUNCHERS = new Set(['npx', 'node', 'nodejs', 'tsx', 'uvx', 'uv', 'pipx', 'python', 'python3', 'deno', 'bun', 'bunx', 'pnpm', 'pnpx', 'yarn', 'run', 'dlx', 'exec', 'tool', 'x']);
const NOT_A_NAME = new Set(['index', 'main', 'cli', 'server', 'dist', 'build', 'lib', 'src', 'bin', '']);

/**
 * The server's name in actions when --server-name is not given: the package or script the
 * command runs, without scope, version and mcp/server affixes
 * (`npx -y @modelcontextprotocol/server-filesystem /data` → filesystem, `uvx mcp-server-git` → git).
 * Never the upstream's self-reported name: an untrusted server must not pick which policy entry it gets.
 */
export function serverNameFor(target: UpstreamTarget): string {
  if ('url' in target) {
    const url = new URL(target.url);
    const label = url.hostname.split('.').find((l) => !['mcp', 'www', 'api', 'localhost'].includes(l) && !/^\d+$/.test(l) && !l.includes(':'));
    return sanitizeMcpName(label ?? 'upstream');
  }
  const word = [target.command, ...target.args].find((arg) => !arg.startsWith('-') && !LAUNCHERS.has(basename(arg).replace(/\.(exe|cmd)$/i, '')));
  if (!word) return 'upstream';
  let name: string;
  const inModules = word.split(/node_modules[\\/]/).at(-1)!;
  if (inModules !== word) {
    const parts = inModules.split(/[\\/]/);
    name = parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : parts[0]!;
  } else if (/[\\/]/.test(word) && !word.startsWith('@')) {
    let path = word;
    name = basename(path, extname(path));
    while (NOT_A_NAME.has(name) && dirname(path) !== path) {
      path = dirname(path);
      name = basename(path);
    }
  } else {
    name = word;
  }
  const scope = /^@([^/]+)\//.exec(name)?.[1];
  name = name
    .replace(/^@[^/]+\//, '')
    .replace(/@[^@/]*$/, '')
    .replace(/^(mcp-server-|server-|mcp-)/, '')
    .replace(/([-_]mcp[-_]server|[-_]mcp|[-_]server)$/, '');
  if (['mcp', 'server', 'mcp-server', ''].includes(name) && scope) name = scope; // @playwright/mcp → playwright
  return sanitizeMcpName(name || 'upstream');
}
