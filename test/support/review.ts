import type { DecisionReceipt, ReviewerDecision } from '../../common/schema';
import type { Countersign } from '../../client/sdk';

/** A reviewer who looks at the request, then decides on the version shown (a decision may override versionDigest). */
export async function decideSeen(cs: Countersign, id: string, decision: ReviewerDecision): Promise<DecisionReceipt> {
  const view = await cs.view(id);
  return cs.decide(id, { versionDigest: view.currentDigest, ...decision });
}
