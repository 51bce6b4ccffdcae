import { escapeName } from '../../common/errors';
import { routingRank } from './evaluate';
import { actionPatternToRegExp, foldAction, isGlob } from './glob';
import type { CompiledPolicy, CompiledRule, PolicyError } from './load';

/**
 * What `policy check` warns about in a policy that loads: rules that decide on what the agent
 * merely asserts, and review rules that can tie on routing (file order then picks the group).
 */
export function policyWarnings(policy: CompiledPolicy): PolicyError[] {
  const warnings: PolicyError[] = [];
  const warn = (rule: CompiledRule, field: string, message: string) => {
    const path = ['rules', rule.index, ...(field ? [field] : [])];
    warnings.push({ file: policy.file, path: `rules[${rule.index}]${field ? `.${field}` : ''}`, line: policy.lineOf(path), rule: rule.id, message });
  };

  for (const rule of policy.rules) {
    const reads = assertedReads(rule);
    if (!reads.length) continue;
    const resourceReads = reads.filter((r) => r.startsWith('resource'));
    const asserted = resourceReads.length ? rule.actionPatterns.filter((p) => !resourceDerived(policy, p)) : [];
    const other = reads.filter((r) => !r.startsWith('resource'));
    const parts = [
      ...(asserted.length ? [`${resourceReads.join(', ')}, which the agent asserts for ${asserted.join(', ')} (no catalog entry derives the resource from the payload)`] : []),
      ...(other.length ? [`${other.join(', ')}, which the agent asserts`] : []),
    ];
    if (parts.length) warn(rule, '', `decides on ${parts.join(', and on ')}: a hostile agent picks these; catalog the action with a resource mapping and set catalog: { required: true }`);
  }

  const reviews = policy.rules.filter((r) => r.decision === 'review');
  for (const [i, a] of reviews.entries()) {
    for (const b of reviews.slice(i + 1)) {
      if (!tiesOnRouting(a, b, policy.defaults)) continue;
      if (sameReviewers(a, b) || !mayOverlap(a, b)) continue;
      warn(b, 'reviewers', `ties with rules[${a.index}] (${escapeName(a.id)}) on approvals, SLA and escalation but names other reviewers: when both match, ${escapeName(a.id)} (first in the file) routes; give one of them more approvals, a shorter SLA or an earlier escalation`);
    }
  }
  return warnings.sort((x, y) => (x.line ?? 0) - (y.line ?? 0));
}

/** The agent-asserted request fields a rule reads: the resource (match, condition, owner routing), context, onBehalfOf, taskId. */
function assertedReads(rule: CompiledRule): string[] {
  const when = rule.when ?? '';
  const reads = new Set<string>();
  if (rule.match.environment !== undefined) reads.add('resource.environment');
  if (rule.match.resource !== undefined) reads.add('resource.type and resource.id');
  for (const [, field] of when.matchAll(/\bresource\s*(?:\.\s*([A-Za-z_]+))?/g)) reads.add(field ? `resource.${field}` : 'resource');
  if (rule.decision === 'review' && (rule.reviewers === undefined || rule.reviewers === 'owner')) reads.add('resource (reviewers: owner)');
  if (/\bcontext\b/.test(when)) reads.add('context');
  for (const [, field] of when.matchAll(/\bagent\s*\.\s*(onBehalfOf|taskId)\b/g)) reads.add(`agent.${field}`);
  return [...reads];
}

/**
 * Whether every action a rule's pattern matches has its resource derived, not asserted: a catalog
 * entry with a resource mapping covers the whole pattern, or the action is an MCP tool call.
 */
function resourceDerived(policy: CompiledPolicy, pattern: string): boolean {
  // Only a gateway credential submits mcp.*, and the gateway sets the resource from the mcp section (or system:<server>).
  if (/^mcp\./i.test(pattern)) return true;
  const entries = [...policy.catalog.exact.values(), ...policy.catalog.patterns];
  if (entries.some((e) => e.resource && covers(e.key, pattern))) return true;
  // Where the catalog is required, an action no entry covers never reaches a rule: every entry the pattern may reach must map.
  const reached = entries.filter((e) => patternsMayOverlap(e.key, pattern));
  return policy.catalog.required === true && reached.length > 0 && reached.every((e) => e.resource);
}

/** Whether catalog key `outer` matches every action pattern `inner` matches (a `**` in inner spans one, two or three segments). */
function covers(outer: string, inner: string): boolean {
  const regex = actionPatternToRegExp(outer);
  if (!isGlob(inner)) return regex.test(inner);
  // Read inner's stars as literal text: `[^.]*` in outer takes a `*`, only `.*` takes a `*.*`.
  return ['*', '*.*', '*.*.*'].every((span) => regex.test(inner.split('**').join(span)));
}

function tiesOnRouting(a: CompiledRule, b: CompiledRule, defaults: CompiledPolicy['defaults']): boolean {
  const [x, y] = [routingRank(a, defaults), routingRank(b, defaults)];
  return x.every((v, i) => v === y[i]);
}

function sameReviewers(a: CompiledRule, b: CompiledRule): boolean {
  const group = (r: CompiledRule) => (r.reviewers === undefined ? 'owner' : r.reviewers);
  return group(a) === group(b);
}

/** Whether some request could match both rules (conservative: conditions and resource globs are assumed to overlap). */
function mayOverlap(a: CompiledRule, b: CompiledRule): boolean {
  if (a.environments && b.environments && !a.environments.some((e) => b.environments!.includes(e))) return false;
  return a.actionPatterns.some((p) => b.actionPatterns.some((q) => patternsMayOverlap(p, q)));
}

function patternsMayOverlap(p: string, q: string): boolean {
  if (!isGlob(p) && !isGlob(q)) return foldAction(p) === foldAction(q);
  if (!isGlob(p)) return actionPatternToRegExp(q).test(p);
  if (!isGlob(q)) return actionPatternToRegExp(p).test(q);
  const [pp, qq] = [foldAction(p), foldAction(q)];
  const prefix = (s: string) => s.slice(0, s.indexOf('*'));
  const suffix = (s: string) => s.slice(s.lastIndexOf('*') + 1);
  return (prefix(pp).startsWith(prefix(qq)) || prefix(qq).startsWith(prefix(pp))) && (suffix(pp).endsWith(suffix(qq)) || suffix(qq).endsWith(suffix(pp)));
}
