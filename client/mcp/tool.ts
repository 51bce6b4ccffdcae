import { canonicalJson } from '../../common/canonical';
import { MAX_SUMMARY_CHARS, type Resource } from '../../common/inputs';
import { nativeSha256Hex } from '../../crypto/sha256';
import { MCP_HINTS, mcpActionName, McpContext, pinnedDigest, resourceMapping, sanitizeMcpName, TOOL_CHANGED } from '../../policy/mcp';
import type { McpConfig, McpResourceMapping } from '../../policy/schema';
import { fillTemplate } from '../../common/resource-template';

/** A tool as the upstream lists it; passed on to the agent unchanged, so only what we read is typed. */
export interface ListedTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: { title?: string; [hint: string]: unknown };
  [field: string]: unknown;
}

/** SHA-256 of what the model is shown and the policy trusts: name, title, description, input schema, annotations. */
export function mcpToolDigest(tool: ListedTool): string {
  const definition = Object.fromEntries(
    Object.entries({ name: tool.name, title: tool.title, description: tool.description, inputSchema: tool.inputSchema, annotations: tool.annotations }).filter(([, v]) => v !== undefined),
  );
  return nativeSha256Hex(canonicalJson(definition));
}

export function toolTitle(tool: ListedTool | undefined): string | undefined {
  const title = tool?.title ?? tool?.annotations?.title;
  return typeof title === 'string' && title.trim() ? title.trim() : undefined;
}

/** Why reviewers should look twice at this tool's definition, if they should. */
export function toolChange(options: { mcp?: McpConfig; server: string; name: string; digest?: string; firstSeen?: string }): string | undefined {
  const pin = pinnedDigest(options.mcp, sanitizeMcpName(options.server), options.name);
  if (pin !== undefined && pin !== options.digest) return `${TOOL_CHANGED} (pinned ${pin.slice(0, 12)}, now ${options.digest?.slice(0, 12) ?? 'not listed'})`;
  if (options.firstSeen && options.digest && options.firstSeen !== options.digest) return `tool description changed during this session (first ${options.firstSeen.slice(0, 12)}, now ${options.digest.slice(0, 12)})`;
  return undefined;
}

export interface ToolCall {
  /** The upstream's name, as the agent knows it (--server-name or derived from the command). */
  server: string;
  agentId: string;
  taskId: string;
  onBehalfOf?: string;
  name: string;
  args: Record<string, unknown>;
  /** Undefined when the upstream does not list the tool. */
  tool?: ListedTool;
  mcp?: McpConfig;
  /** The digest this gateway first saw for the tool in this session. */
  firstSeen?: string;
}

/** The action request countersign decides on for one tools/call (validated by the SDK on submit). */
export function actionRequestFor(call: ToolCall): Record<string, unknown> & { context: Record<string, string> } {
  const server = sanitizeMcpName(call.server);
  const digest = call.tool ? mcpToolDigest(call.tool) : undefined;
  const changed = toolChange({ mcp: call.mcp, server: call.server, name: call.name, digest, firstSeen: call.firstSeen });
  const { resource, note } = mapResource(resourceMapping(call.mcp, server, call.name), call.args, server);
  const context: Record<string, string> = { [McpContext.server]: call.server, [McpContext.tool]: call.name };
  const title = toolTitle(call.tool);
  if (title) context[McpContext.title] = title.slice(0, 2000);
  if (digest) context[McpContext.digest] = digest;
  else context['mcp.unlisted'] = 'the upstream does not list this tool';
  const annotations = call.tool?.annotations;
  if (annotations) {
    context[McpContext.annotations] = cut(JSON.stringify(annotations), 2000);
    for (const hint of MCP_HINTS) if (typeof annotations[hint] === 'boolean') context[McpContext.hint(hint)] = String(annotations[hint]);
  }
  if (changed) context[McpContext.changed] = changed;
  if (note) context['mcp.resource'] = note;
  return {
    agentId: call.agentId,
    taskId: call.taskId,
    action: mcpActionName(call.server, call.name),
    summary: toolSummary(call, title, changed),
    resource,
    payload: call.args,
    ...(call.onBehalfOf ? { onBehalfOf: call.onBehalfOf } : {}),
    context,
  };
}

/** Plain language for reviewers and the Temporal UI: the flag, what the tool is, the arguments. */
export function toolSummary(call: Pick<ToolCall, 'server' | 'name' | 'args' | 'tool'>, title = toolTitle(call.tool), changed?: string): string {
  const description = firstSentence(call.tool?.description ?? '');
  const head = `${changed ? `[${changed.replace(/ \(.*\)$/, '')}] ` : ''}${title ? `${title} (${call.server}/${call.name})` : `${call.server}/${call.name}`}${description ? `: ${description}` : ''}`;
  const args = Object.entries(call.args).map(([key, value]) => `${key}=${argText(value)}`);
  const text = `${/[.!?…]$/.test(head) ? head : `${head}.`} ${args.length ? `Arguments: ${args.join(', ')}` : 'No arguments.'}`;
  return cut(text, MAX_SUMMARY_CHARS);
}

function firstSentence(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const end = flat.search(/[.!?](\s|$)/);
  return cut(end >= 0 ? flat.slice(0, end + 1) : flat, 160);
}

function argText(value: unknown): string {
  const json = JSON.stringify(value) ?? 'null';
  if (json.length <= 80) return json;
  return `${json.slice(0, 77)}…${typeof value === 'string' ? ` (${value.length} chars)` : ''}`;
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * The resource for a call: the policy's mapping with {argument} placeholders filled in, or
 * `{type: system, id: <server>}`. A mapping whose id names an argument the call lacks falls back
 * to the default and says so (the note goes to the request's context).
 */
export function mapResource(mapping: McpResourceMapping | undefined, args: Record<string, unknown>, server: string): { resource: Resource; note?: string } {
  const fallback: Resource = { type: 'system', id: server };
  if (!mapping) return { resource: fallback };
  const id = fillTemplate(mapping.id, args);
  if (!id.text) return { resource: fallback, note: `policy mapping ${mapping.type}:${mapping.id} not applied: the call has no usable argument ${id.missing.map((m) => `"${m}"`).join(', ')}` };
  const resource: Resource = { type: mapping.type, id: id.text.slice(0, 256) };
  const owner = mapping.owner ? fillTemplate(mapping.owner, args).text : undefined;
  const environment = mapping.environment ? fillTemplate(mapping.environment, args).text : undefined;
  if (owner) resource.owner = owner.slice(0, 128);
  if (environment) resource.environment = environment.slice(0, 64);
  return { resource };
}
