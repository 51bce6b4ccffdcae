/**
 * Who may see a request, who may decide on it, and what only a gateway may send: one function for
 * each rule, called by the front door (server/) and by the workflow (workflows/review.ts) and the
 * worker's start check (activities/), so the two sides cannot drift apart. Pure: bundled into workflows.
 */
import type { ActionRequest, GroupSnapshot } from '../common/inputs';
import type { ReviewView } from '../common/views';

/** A member of one of these groups, by the exact name the directory lists. */
export function memberOf(groups: readonly Pick<GroupSnapshot, 'members'>[], reviewer: string): boolean {
  return groups.some((g) => g.members.includes(reviewer));
}

/** Nobody decides on a request made by them or on their behalf (`excluded` is lowercased). */
export function isExcluded(excluded: readonly string[], reviewer: string): boolean {
  return excluded.includes(reviewer.toLowerCase());
}

/** Who never counts on a request: the agent that made it and the person it acts for (lowercased). */
export function excludedFrom(request: Pick<ActionRequest, 'agentId' | 'onBehalfOf'>): string[] {
  return [request.agentId.toLowerCase(), ...(request.onBehalfOf ? [request.onBehalfOf.toLowerCase()] : [])];
}

/** Who may decide: a member of a group eligible now who is neither the agent nor the person it acts for. */
export function mayDecide(eligible: readonly Pick<GroupSnapshot, 'members'>[], excluded: readonly string[], reviewer: string): boolean {
  return !isExcluded(excluded, reviewer) && memberOf(eligible, reviewer);
}

/**
 * Who may see: a member of a group the request is routed to and eligible now — in the workflow's
 * own snapshot of the group and in the policy the server runs now (`currentGroups`), so someone
 * removed from a group loses its open requests at once (the workflow, which judges by its
 * snapshot, still refuses non-members).
 */
export function maySee(view: Pick<ReviewView, 'policy' | 'eligibleGroups'>, reviewer: string, currentGroups: readonly string[]): boolean {
  const route = view.policy?.route;
  if (!route) return false;
  const routed = [route.group, ...route.escalationChain].filter((g) => view.eligibleGroups.includes(g.name) && currentGroups.includes(g.name));
  return memberOf(routed, reviewer);
}

/** Who may decide as the front door sees it (a batch checks each request before anything is sent): may see it, and is not excluded. */
export function mayDecideView(view: Pick<ReviewView, 'policy' | 'eligibleGroups' | 'request'>, reviewer: string, currentGroups: readonly string[]): boolean {
  return maySee(view, reviewer, currentGroups) && !isExcluded(excludedFrom(view.request), reviewer);
}

/**
 * The gateway rule: MCP context (`context.mcp.*`) and MCP tool calls (`mcp.*` actions) are believed
 * only from a gateway. Returns the first field of the request that only a gateway may send.
 */
export function gatewayOnlyField(request: Pick<ActionRequest, 'action' | 'context'>): string | undefined {
  const mcpKey = Object.keys(request.context ?? {}).find((k) => k.toLowerCase().startsWith('mcp.'));
  if (mcpKey) return `context.${mcpKey}`;
  if (request.action.toLowerCase().startsWith('mcp.')) return 'action';
  return undefined;
}
