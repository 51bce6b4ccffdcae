/**
 * Policy's verdict on one action request, with every check before it, in the order the worker's
 * evaluate activity runs them: the request schema, the action catalog, the directory, then the
 * rules. One function for the activity and for policy simulation (issue 28), so a simulated verdict
 * is the one the worker would give. Pure.
 */
import { describeIssues } from '../common/errors';
import { ActionRequest, type PolicyDecision } from '../common/inputs';
import { gatewayOnlyField } from './access';
import { checkCatalog } from './catalog';
import { evaluatePolicy } from './evaluate';
import type { CompiledPolicy } from './load';

/** Where a request is refused before the rules see it: its shape, the catalog's schema or resource, or the directory. */
export type RefusedAt = 'request' | 'catalog' | 'directory';

export type Verdict = { ok: true; request: ActionRequest; decision: PolicyDecision } | { ok: false; at: RefusedAt; message: string };

export function verdictOf(policy: CompiledPolicy, raw: unknown): Verdict {
  const parsed = ActionRequest.safeParse(raw);
  if (!parsed.success) return { ok: false, at: 'request', message: describeIssues(parsed.error) };
  const catalogued = checkCatalog(policy.catalog, parsed.data, policy.environment);
  if (!catalogued.ok) return { ok: false, at: 'catalog', message: catalogued.message };
  const stranger = directoryRefusal(policy, parsed.data);
  if (stranger) return { ok: false, at: 'directory', message: stranger };
  return { ok: true, request: parsed.data, decision: evaluatePolicy(policy, parsed.data) };
}

/** Defence in depth (the server checks it too): an agent the directory does not list, or MCP context from an agent that is not a gateway. */
function directoryRefusal(policy: CompiledPolicy, request: ActionRequest): string | undefined {
  const agents = policy.directory.agents;
  if (agents.size === 0) return undefined;
  const agent = agents.get(request.agentId);
  if (!agent) return `Field "agentId": ${JSON.stringify(request.agentId)} is not an agent in the policy's directory.`;
  const gatewayOnly = agent.kind === 'gateway' ? undefined : gatewayOnlyField(request);
  if (gatewayOnly === 'action') return `Field "action": ${request.action} is an MCP tool call, which only a gateway submits, and ${request.agentId} is not one.`;
  if (gatewayOnly) return `Field "${gatewayOnly}": MCP context is believed only from a gateway, and ${request.agentId} is not one.`;
  return undefined;
}
