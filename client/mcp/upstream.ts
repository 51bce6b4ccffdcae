import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { UpstreamTarget } from './names';

/** Connects to the upstream MCP server: a child process over stdio (its stderr is ours), or Streamable HTTP. */
export async function connectUpstream(target: UpstreamTarget, version: string): Promise<Client> {
  // No client capabilities: the upstream keeps its own configuration (e.g. the filesystem server's
  // directories) instead of asking the gateway for roots, sampling or elicitation it cannot relay.
  // The SDK's default handshake (2025's initialize, no server/discover probe): an upstream is
  // spawned once, and a 2025-era upstream never sees a request it does not know.
  const client = new Client({ name: 'countersign-mcp-proxy', version }, { capabilities: {} });
  const transport =
    'url' in target
      ? new StreamableHTTPClientTransport(new URL(target.url))
      : new StdioClientTransport({
          command: target.command,
          args: target.args,
          env: Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => typeof e[1] === 'string')),
          stderr: 'inherit',
        });
  await client.connect(transport);
  return client;
}
