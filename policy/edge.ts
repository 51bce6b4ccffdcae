/**
 * Which allows are decided at the front door (issue 29): pure, no Temporal, no I/O. Only the policy
 * chooses: a plain allow whose every matching rule says `edge: true`. The policy default, an
 * uncatalogued action, a condition that failed to evaluate, a review, a deny — none of them is.
 */
import type { PolicyDecision } from '../common/inputs';
import type { CompiledPolicy } from './load';

/** Whether this verdict, reached under `policy`, is an edge allow. */
export function isEdgeAllow(policy: Pick<CompiledPolicy, 'rules'>, decision: Pick<PolicyDecision, 'decision' | 'ruleIds'>): boolean {
  if (decision.decision !== 'allow' || decision.ruleIds.length === 0) return false;
  return decision.ruleIds.every((id) => {
    const rules = policy.rules.filter((r) => r.id === id);
    // A rule id the policy holds twice, or not at all (the default, "uncatalogued"): not an edge allow.
    return rules.length === 1 && rules[0]!.edge === true && rules[0]!.decision === 'allow';
  });
}
