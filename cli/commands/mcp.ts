import { sanitizeMcpName } from '../../policy/mcp';
import { serverNameFor, type UpstreamTarget } from '../../client/mcp/names';
import { usage } from '../errors';
import { durationFlag, parseFlags } from '../io';
import { commandHelp } from '../help';


const DEFAULT_HOLD_MS = 50_000;
const MAX_HOLD_MS = 10 * 60_000;

export async function mcpProxyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, 'mcp-proxy');
  const upstreamUrl = values['upstream-url'];
  if (positionals.length && upstreamUrl) throw usage('mcp-proxy takes an upstream command after -- or --upstream-url, not both.');
  if (!positionals.length && !upstreamUrl) throw usage(`mcp-proxy needs the upstream MCP server: -- <command and args>, or --upstream-url URL.\n${commandHelp('mcp-proxy')}`);
  if (upstreamUrl && !/^https?:\/\/[^/]/.test(upstreamUrl)) throw usage(`--upstream-url must be an http(s) URL, got "${upstreamUrl}".`);
  const target: UpstreamTarget = upstreamUrl ? { url: upstreamUrl } : { command: positionals[0]!, args: positionals.slice(1) };
  const holdMs = durationFlag(values.hold, '--hold') ?? DEFAULT_HOLD_MS;
  if (holdMs > MAX_HOLD_MS) throw usage('--hold must be at most 10m.');
  const serverName = values['server-name'];
  if (serverName !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(serverName)) throw usage(`--server-name may use letters, digits, _ and - only (it is part of action names), got "${serverName}".`);
  const server = serverName ?? serverNameFor(target);
  const agentId = values['agent-id'];
  for (const [flag, value] of [['--agent-id', agentId], ['--task-id', values['task-id']]] as const) {
    if (value !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,100}$/.test(value)) throw usage(`${flag} may use letters, digits and . _ : @ - (at most 101), starting with a letter or digit, got "${value}".`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the MCP SDK loads only for this command (import() would bypass tsx's CommonJS hook)
  const { runMcpProxy } = require('../mcp-proxy') as typeof import('../mcp-proxy');
  return runMcpProxy({
    target,
    server: sanitizeMcpName(server),
    agentId,
    // One task per gateway process unless named: a retry of the same call (same digest) joins the same request.
    taskId: values['task-id'],
    onBehalfOf: values['on-behalf-of'],
    holdMs,
    policyFile: values.policy ?? (process.env.COUNTERSIGN_POLICY || undefined),
    listen: values.listen === undefined ? undefined : parseListen(values.listen),
    printPins: values['print-pins'] === true,
  });
}

function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw usage(`--listen must be PORT or HOST:PORT (0 picks a free port), got "${value}".`);
  return { host: match[1]?.replace(/^\[|\]$/g, '') ?? '127.0.0.1', port };
}
