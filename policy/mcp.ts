import type { ActionRequest } from '../common/inputs';
import type { McpConfig, McpResourceMapping, McpServerConfig } from './schema';

/**
 * What the MCP gateway (client/mcp) and policy evaluation agree on: action names, the request
 * context keys the gateway fills in, and the `tool` variable CEL conditions read.
 */

export const MCP_HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const;
export type McpHint = (typeof MCP_HINTS)[number];

/** An untrusted, changed or silent tool may write, destroy, repeat and reach the world (also MCP's own defaults). */
export const WORST_CASE_HINTS: Readonly<Record<McpHint, boolean>> = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true };

/** Request context keys (string values, shown to reviewers). */
export const McpContext = {
  server: 'mcp.server',
  tool: 'mcp.tool',
  title: 'mcp.title',
  /** SHA-256 of the tool's definition as the upstream listed it (mcpToolDigest in client/mcp). */
  digest: 'mcp.toolDigest',
  /** The annotations as the upstream claims them, JSON. */
  annotations: 'mcp.annotations',
  /** Set when the definition differs from the pinned one (or from the one first seen this session). */
  changed: 'mcp.toolChanged',
  hint: (hint: McpHint) => `mcp.${hint}`,
} as const;

export const TOOL_CHANGED = 'tool description changed since the policy was approved';

/** A server or tool name as it may appear in an action name segment. */
export function sanitizeMcpName(name: string, max = 64): string {
  const clean = name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, max);
  return clean || '_';
}

/** `mcp.<server>.<tool>`, each part cut to the ActionName alphabet. */
export function mcpActionName(server: string, tool: string): string {
  return `mcp.${sanitizeMcpName(server)}.${sanitizeMcpName(tool, 128)}`;
}

const MCP_ACTION = /^mcp\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

export function mcpServerConfig(mcp: McpConfig | undefined, server: string): McpServerConfig | undefined {
  return mcp && Object.hasOwn(mcp.servers, server) ? mcp.servers[server] : undefined;
}

/** The digest the policy pins for a tool, if any. */
export function pinnedDigest(mcp: McpConfig | undefined, server: string, tool: string): string | undefined {
  const config = mcpServerConfig(mcp, server);
  return config && Object.hasOwn(config.tools, tool) ? config.tools[tool]!.digest : undefined;
}

/** The policy's resource mapping for a tool: its own, else its server's. */
export function resourceMapping(mcp: McpConfig | undefined, server: string, tool: string): McpResourceMapping | undefined {
  const config = mcpServerConfig(mcp, server);
  if (!config) return undefined;
  return (Object.hasOwn(config.tools, tool) ? config.tools[tool]!.resource : undefined) ?? config.resource;
}

/**
 * CEL's `tool` for an `mcp.<server>.<tool>` action ({} for any other): name, server, title, digest,
 * trusted, pinned, changed and the four hints. Hints are believed only from a server the policy
 * marks trusted, and only for a tool pinned by digest that still matches it (an unpinned tool on a
 * trusted server could be anything the server says, delete_file claiming readOnlyHint included);
 * otherwise each is worst case.
 */
export function mcpToolVariable(request: ActionRequest, mcp: McpConfig | undefined): Record<string, unknown> {
  const match = MCP_ACTION.exec(request.action);
  if (!match) return {};
  const [, server, segment] = match as unknown as [string, string, string];
  const context = request.context ?? {};
  const claimed = context[McpContext.tool];
  const name = claimed !== undefined && sanitizeMcpName(claimed, 128) === segment ? claimed : segment;
  const trusted = mcpServerConfig(mcp, server)?.trusted === true;
  const pin = pinnedDigest(mcp, server, name);
  const digest = context[McpContext.digest] ?? '';
  const changed = pin !== undefined && pin !== digest;
  const believe = trusted && pin !== undefined && !changed;
  const hints = Object.fromEntries(
    MCP_HINTS.map((hint) => {
      const value = context[McpContext.hint(hint)];
      return [hint, believe && (value === 'true' || value === 'false') ? value === 'true' : WORST_CASE_HINTS[hint]];
    }),
  );
  return { name, server, title: context[McpContext.title] ?? '', digest, trusted, pinned: pin !== undefined, changed, ...hints };
}
