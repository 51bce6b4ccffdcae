import { mcpActionName } from '../../policy/mcp';
import { mcpToolDigest, toolTitle, type ListedTool } from './tool';

/** The policy's mcp section for this upstream as it is now: paste it after reviewing the tools. */
export function pinsYaml(tools: ListedTool[], server: string): string {
  const hints = (t: ListedTool) => ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'].filter((h) => t.annotations?.[h] === true).join(', ');
  return [
    `# countersign mcp-proxy --print-pins: ${tools.length} tools of ${server}, ${new Date().toISOString()}`,
    'mcp:',
    '  servers:',
    `    ${server}:`,
    "      trusted: false            # true once you trust this server's annotations",
    '      tools:',
    ...tools.map((t) => `        ${/^[A-Za-z0-9_-]+$/.test(t.name) ? t.name : JSON.stringify(t.name)}: { digest: "${mcpToolDigest(t)}" }   # ${[toolTitle(t) ?? t.name, hints(t)].filter(Boolean).join(' — ')}`),
    '# The action catalog: each tool\'s own input schema, as pinned above, checks every call\'s arguments.',
    'actions:',
    ...tools.map((t) => `  ${JSON.stringify(mcpActionName(server, t.name))}: { payload: ${JSON.stringify(catalogSchema(t.inputSchema))} }`),
  ].join('\n');
}

/** A tool's input schema as a catalog payload schema: the catalog speaks draft 2020-12, so a $schema naming another draft goes. */
function catalogSchema(inputSchema: ListedTool['inputSchema']): Record<string, unknown> {
  const { $schema: _draft, ...schema } = (inputSchema ?? { type: 'object' }) as Record<string, unknown>;
  return schema;
}
