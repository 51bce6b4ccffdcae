import { actionDigest } from '../common/digest';
import { nativeSha256Hex } from '../crypto/sha256';
import { RISK_ORDER, type ActionRequest, type GroupSnapshot, type PolicyDecision, type Risk } from '../common/inputs';
import type { CompiledPolicy, CompiledRule, PolicyError } from './load';
import { catalogEntries, displayTemplates, renderDisplay } from './catalog';
import { escapeName } from '../common/errors';
import { actionPatternToRegExp, foldAction, isGlob } from './glob';
import { mcpToolVariable } from './mcp';

const RESTRICTIVENESS = { allow: 0, review: 1, deny: 2 } as const;
const DEFAULT_RISK = { allow: 'low', review: 'medium', deny: 'high' } as const;

/** The rules whose action pattern covers this action, in file order. */
export function rulesForAction(policy: CompiledPolicy, action: string): CompiledRule[] {
  const found = new Set(policy.exact.get(foldAction(action)) ?? []);
  for (const { pattern, rule } of policy.wildcard) if (pattern.test(action)) found.add(rule);
  return [...found].sort((a, b) => a.index - b.index);
}

export interface RuleMatch {
  rule: CompiledRule;
  /** Set when the CEL condition failed to evaluate: the rule then applies unless it would allow (fail closed). */
  conditionError?: string;
}

export function matchingRules(policy: CompiledPolicy, request: ActionRequest): RuleMatch[] {
  const target = `${request.resource.type}:${request.resource.id}`;
  const context = celContext(request, policy);
  const matches: RuleMatch[] = [];
  for (const rule of rulesForAction(policy, request.action)) {
    if (rule.resourcePatterns && !rule.resourcePatterns.some((p) => p.test(target))) continue;
    if (rule.environments && !rule.environments.includes(policy.environment(request.resource.environment ?? ''))) continue;
    if (!rule.condition) {
      matches.push({ rule });
      continue;
    }
    try {
      if (rule.condition(context) === true) matches.push({ rule });
    } catch (e) {
      if (rule.decision !== 'allow') matches.push({ rule, conditionError: (e as Error).message.split('\n')[0] });
    }
  }
  return matches;
}

/**
 * Variables visible to CEL; optional request fields are present as "" / {} so conditions read naturally.
 * `tool` describes the MCP tool behind an `mcp.<server>.<tool>` action (policy/mcp.ts), {} otherwise.
 */
export function celContext(request: ActionRequest, policy?: CompiledPolicy): Record<string, unknown> {
  return {
    action: request.action,
    resource: { owner: '', ...request.resource, environment: policy ? policy.environment(request.resource.environment ?? '') : (request.resource.environment ?? '') },
    payload: request.payload,
    agent: { id: request.agentId, taskId: request.taskId, onBehalfOf: request.onBehalfOf ?? '' },
    context: request.context ?? {},
    tool: mcpToolVariable(request, policy?.config.mcp),
  };
}

/** Most restrictive wins: deny > review > allow; among review rules the strictest routing wins. */
export function evaluatePolicy(policy: CompiledPolicy, request: ActionRequest): PolicyDecision {
  // catalog: { required: review }: an uncatalogued action is never allowed, and the resource it asserts never picks the group.
  const uncatalogued = policy.catalog.required === 'review' && catalogEntries(policy.catalog, request.action).length === 0;
  const matches = uncatalogued ? [...matchingRules(policy, request).filter((m) => m.rule.decision !== 'allow'), { rule: uncataloguedRule(policy, request) }] : matchingRules(policy, request);
  const digest = actionDigest(request, nativeSha256Hex);
  const defaults = policy.defaults;
  const tokenTtlMs = Math.min(defaults.tokenTtlMs, ...matches.map((m) => m.rule.tokenTtlMs ?? Infinity));
  const reportWithinMs = Math.min(defaults.reportWithinMs, ...matches.map((m) => m.rule.reportWithinMs ?? Infinity));

  if (matches.length === 0) {
    const decision = defaults.decision;
    return {
      decision,
      ruleIds: ['defaults'],
      risk: defaults.risk,
      reason: `No rule matches ${request.action}; the policy default (${decision}) applies.`,
      route: decision === 'review' ? route(policy, resolveGroup(policy, request, undefined), defaults.approvals, defaults.slaMs, undefined) : undefined,
      tokenTtlMs,
      reportWithinMs,
      policyDigest: policy.digest,
      directoryDigest: policy.directory.digest,
      ...webauthnOf(policy),
      actionDigest: digest,
      ...(decision === 'review' ? { ...assuranceOf(policy, []), batch: batchByDefault(defaults.risk) } : {}),
      ...displayOf(policy, request),
    };
  }

  const decision = matches.reduce<'allow' | 'deny' | 'review'>(
    (worst, m) => (RESTRICTIVENESS[m.rule.decision] > RESTRICTIVENESS[worst] ? m.rule.decision : worst),
    'allow',
  );
  const deciding = matches.filter((m) => m.rule.decision === decision);
  const risk = matches
    .map((m) => m.rule.risk ?? DEFAULT_RISK[m.rule.decision])
    .reduce<Risk>((a, b) => (RISK_ORDER.indexOf(b) > RISK_ORDER.indexOf(a) ? b : a), 'low');
  const reason = deciding
    .map((m) => (m.conditionError ? `${m.rule.id}: condition could not be evaluated (${m.conditionError}), so the rule applies` : (m.rule.reason ?? `${decision === 'allow' ? 'Allowed' : decision === 'review' ? 'Review required' : 'Denied'} by rule ${m.rule.id}.`)))
    .reduce((text, part) => (text ? `${text}${/[.!?]$/.test(text) ? ' ' : '; '}${part}` : part), '');

  let reviewRoute: PolicyDecision['route'];
  if (decision === 'review') {
    // The whole route is the strictest rule's own: never one rule's group with another's escalation.
    const strictest = [...deciding].map((m) => m.rule).sort((a, b) => compareRouting(a, b, defaults))[0]!;
    const group = uncatalogued && (strictest.reviewers === undefined || strictest.reviewers === 'owner') ? defaults.reviewers : resolveGroup(policy, request, strictest.reviewers);
    reviewRoute = route(policy, group, strictest.approvals ?? defaults.approvals, strictest.slaMs ?? defaults.slaMs, strictest.escalateAfterMs);
  }

  return {
    decision,
    ruleIds: matches.map((m) => m.rule.id),
    risk,
    reason,
    route: reviewRoute,
    tokenTtlMs,
    reportWithinMs,
    policyDigest: policy.digest,
    directoryDigest: policy.directory.digest,
    ...webauthnOf(policy),
    actionDigest: digest,
    ...(decision === 'review' ? { ...assuranceOf(policy, deciding.map((m) => m.rule)), batch: batchAllowed(matches.map((m) => m.rule)) } : {}),
    ...displayOf(policy, request),
  };
}

/** The catalog's display fields for this payload, when the action's entry declares any (absent otherwise). */
function displayOf(policy: CompiledPolicy, request: ActionRequest): Pick<PolicyDecision, 'display'> {
  const templates = displayTemplates(policy.catalog, request.action);
  return templates ? { display: renderDisplay(templates, request.payload) } : {};
}

/**
 * What a decision on this review must prove: chat only when every deciding rule allows chat (the
 * default applies to a rule that names none); with chat, the front door's key that attests it.
 */
function assuranceOf(policy: CompiledPolicy, deciding: readonly { assurance?: 'chat' | 'passkey' }[]): Pick<PolicyDecision, 'assurance' | 'attestationKey'> {
  const levels = deciding.length ? deciding.map((r) => r.assurance ?? policy.defaults.assurance) : [policy.defaults.assurance];
  const assurance = levels.every((l) => l === 'chat') ? 'chat' : 'passkey';
  const startKey = policy.config.directory.server?.startKey;
  return { assurance, ...(assurance === 'chat' && startKey ? { attestationKey: startKey } : {}) };
}

/** A rule that says nothing of batching allows it below high risk. */
const batchByDefault = (risk: Risk) => RISK_ORDER.indexOf(risk) < RISK_ORDER.indexOf('high');

/** Whether a batch decision may approve this request: only when every matching rule allows it (most restrictive wins). */
function batchAllowed(rules: readonly CompiledRule[]): boolean {
  return rules.every((r) => r.batch ?? batchByDefault(r.risk ?? DEFAULT_RISK[r.decision]));
}

/** The default review an uncatalogued action meets under catalog: { required: review }, as a rule last in the file. */
function uncataloguedRule(policy: CompiledPolicy, request: ActionRequest): CompiledRule {
  const reviewers = policy.defaults.reviewers;
  return {
    id: 'uncatalogued',
    index: policy.rules.length,
    match: { action: request.action },
    actionPatterns: [request.action],
    decision: 'review',
    risk: policy.defaults.risk,
    reviewers,
    reason: `${request.action} is not in the policy's action catalog, so its resource is only what the agent says: ${reviewers} reviews it.`,
  };
}

/**
 * Review rules from strictest to most lenient: most approvals, then shortest SLA, then earliest
 * escalation (one that escalates before one that never does); a full tie goes to file order.
 */
export function compareRouting(a: CompiledRule, b: CompiledRule, defaults: CompiledPolicy['defaults']): number {
  const [x, y] = [routingRank(a, defaults), routingRank(b, defaults)];
  for (const [i, v] of x.entries()) if (v !== y[i]) return v < y[i]! ? -1 : 1;
  return a.index - b.index;
}

/** A review rule's strictness as a key to sort by, lowest first: fewer approvals, longer SLA and later escalation sort later. */
export function routingRank(rule: CompiledRule, defaults: CompiledPolicy['defaults']): [number, number, number] {
  return [-(rule.approvals ?? defaults.approvals), rule.slaMs ?? defaults.slaMs, rule.escalateAfterMs ?? Infinity];
}

/** The inbox's relying party, snapshotted with the route: the workflow checks passkey assertions against it. */
function webauthnOf(policy: CompiledPolicy): Pick<PolicyDecision, 'webauthn'> {
  return policy.webauthn ? { webauthn: { rpId: policy.webauthn.rpId, origins: [...policy.webauthn.origins] } } : {};
}

/** Ownership routing: a named group, else the resource's owner group, else the default reviewers. */
export function resolveGroup(policy: CompiledPolicy, request: ActionRequest, reviewers: string | undefined): string {
  if (reviewers && reviewers !== 'owner') return reviewers;
  const target = `${request.resource.type}:${request.resource.id}`;
  const owner = policy.owners.find((o) => o.pattern.test(target));
  if (owner) return owner.group;
  const declared = request.resource.owner;
  if (declared && Object.hasOwn(policy.config.groups, declared)) return declared;
  return policy.defaults.reviewers;
}

function route(
  policy: CompiledPolicy,
  groupName: string,
  approvals: number,
  slaMs: number,
  escalateAfterMs: number | undefined,
): NonNullable<PolicyDecision['route']> {
  const snapshot = (name: string): GroupSnapshot => {
    const group = policy.config.groups[name]!;
    // A reviewer's key holds in every group they are in: registered in one, they must sign in all.
    const keys = Object.fromEntries(group.members.flatMap((m) => (policy.reviewerKeys.has(m) ? [[m, policy.reviewerKeys.get(m)!]] : [])));
    const passkeys = Object.fromEntries(group.members.flatMap((m) => (policy.reviewerPasskeys.has(m) ? [[m, policy.reviewerPasskeys.get(m)!]] : [])));
    return { name, members: [...group.members], ...(Object.keys(keys).length ? { keys } : {}), ...(Object.keys(passkeys).length ? { passkeys } : {}) };
  };
  const chain: GroupSnapshot[] = [];
  let next = policy.config.groups[groupName]!.escalatesTo;
  while (next && !chain.some((g) => g.name === next) && next !== groupName) {
    chain.push(snapshot(next));
    next = policy.config.groups[next]!.escalatesTo;
  }
  return {
    group: snapshot(groupName),
    approvals,
    slaMs,
    escalateAfterMs: chain.length ? escalateAfterMs : undefined,
    escalationChain: escalateAfterMs && chain.length ? chain : [],
  };
}

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
