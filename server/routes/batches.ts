/**
 * Batch approvals, under /v1/batches: one reviewer signature over a Merkle root of several requests
 * (common/batch.ts). Every request is checked before anything is sent: one the reviewer may not
 * decide, or whose rule forbids batching, refuses the whole batch with nothing changed. Then each
 * workflow gets its own decision (the signature, its leaf's index and proof) and checks it all
 * again; each answers alone (a stale version is refused STALE_VERSION, the others go through).
 */
import { Hono, type Context } from 'hono';
import { BatchBody, BatchStatementBody } from '../../common/api';
import { batchChallenge, batchStatement, batchTree, verifyBatch, type BatchItem } from '../../common/batch';
import { ReasonCode, WAITING_STATUSES } from '../../common/codes';
import { DecisionRefusedError } from '../../common/refusals';
import type { BatchAnswer, BatchResult, BatchToSign } from '../../common/responses';
import type { ReviewView } from '../../common/views';
import { bytesToBase64Url } from '../../common/webauthn';
import { mayDecideView } from '../../policy/access';
import { signedIn } from '../auth';
import type { Deps } from '../deps';
import { jsonBody, largeBody, parse, type Env } from '../http';
import { HttpProblem, invalid, unauthenticated } from '../problems';
import { countPasskeySignature, passkeyRequest, reviewFor, signatureRefused, type Reviewer } from './reviews';

export function batchRoutes(deps: Deps): Hono<Env> {
  const { backend, policy } = deps;
  const routes = new Hono<Env>();

  /** The batch statement a passkey signs (the inbox): the server looks up each request shown and words the leaves. */
  routes.post('/statement', largeBody, signedIn(deps, 'reviewer'), async (c) => {
    const reviewer = c.get('principal');
    const body = parse(BatchStatementBody, await jsonBody(c));
    const views = await decidable(c, deps, reviewer, body.items.map((i) => i.id));
    const items: BatchItem[] = views.map((view, i) => leafOf(view, body.items[i]!.versionDigest));
    const passkey = passkeyRequest(deps, reviewer.name, 'approve a batch from the CLI');
    const signedAt = new Date().toISOString();
    const statement = batchStatement(reviewer.name, batchTree(items), body.comment, signedAt);
    return c.json({ statement, items, challenge: bytesToBase64Url(batchChallenge(statement)), signedAt, passkey } satisfies BatchToSign);
  });

  /** A signed batch approval: checked whole here, then sent to each request, which answers alone. */
  routes.post('/', largeBody, signedIn(deps, 'reviewer'), async (c) => {
    const reviewer = c.get('principal');
    const body = parse(BatchBody, await jsonBody(c));
    const views = await decidable(c, deps, reviewer, body.items.map((i) => i.workflowId));
    body.items.forEach((item, i) => {
      const view = views[i]!;
      if (item.requestId !== view.requestId || item.runId !== view.runId) throw invalid(`Field "items.${i}" names request ${item.requestId.slice(0, 64)}, run ${item.runId.slice(0, 64)}, but ${item.workflowId} is request ${view.requestId}, run ${view.runId}.`);
    });
    const tree = batchTree(body.items);
    const signature = body.signature;
    if (!('passkey' in signature) && !policy.reviewerKeys.has(reviewer.name)) throw unauthenticated(`${reviewer.name} has no key in the directory: sign the batch with your passkey.`);
    // Checked here for a quick, clear answer; each workflow checks it again against its own directory snapshot.
    const credentials = { key: policy.reviewerKeys.get(reviewer.name), passkeys: policy.reviewerPasskeys.get(reviewer.name) ?? [], webauthn: policy.webauthn };
    const checked = verifyBatch(batchStatement(reviewer.name, tree, body.comment, signature.signedAt), signature, credentials);
    if (!checked.ok) throw unauthenticated(signatureRefused(checked, reviewer.name).replace('this request and version', 'this batch'));
    await countPasskeySignature(deps, reviewer.name, signature, checked.signCount);
    const results: BatchResult[] = [];
    for (const [index, item] of body.items.entries()) {
      const named = { workflowId: item.workflowId, requestId: item.requestId };
      const decision = { decision: 'approve' as const, reviewer: reviewer.name, versionDigest: item.versionDigest, ...(body.comment !== undefined ? { comment: body.comment } : {}), signature, batch: tree.positions[index]! };
      try {
        results.push({ ...named, accepted: true, ...(await backend.decide(item.workflowId, decision)) });
      } catch (err) {
        if (!(err instanceof DecisionRefusedError)) throw err;
        results.push({ ...named, accepted: false, code: err.code, message: err.message });
      }
    }
    return c.json({ root: tree.root, size: tree.size, results } satisfies BatchAnswer);
  });

  return routes;
}

/** This request as a leaf: what the reviewer signs about it, with the version they were shown. */
function leafOf(view: ReviewView, versionDigest: string): BatchItem {
  return { workflowId: view.workflowId, runId: view.runId!, requestId: view.requestId, versionDigest, policyDigest: view.policy!.policyDigest };
}

/**
 * Every request of the batch, each one this reviewer may decide now and whose rule allows batching:
 * otherwise the whole batch is refused and nothing is sent. One the reviewer may not see reads the
 * same as one that does not exist. A stale version is left to its workflow: it alone is refused.
 */
async function decidable(c: Context, deps: Deps, reviewer: Reviewer, ids: string[]): Promise<ReviewView[]> {
  const views: ReviewView[] = [];
  for (const [i, id] of ids.entries()) {
    const notYours = () => new HttpProblem(403, ReasonCode.NOT_ELIGIBLE, `Request ${id.slice(0, 200)} (items.${i}) is not in your queue to decide: the batch is refused and nothing was decided.`);
    let view: ReviewView;
    try {
      view = await reviewFor(c, deps, reviewer, id);
    } catch (err) {
      if (err instanceof HttpProblem && err.status === 404) throw notYours();
      throw err;
    }
    if (!mayDecideView(view, reviewer.name, reviewer.groups) || !WAITING_STATUSES.includes(view.status)) throw notYours();
    if (!view.runId || !view.policy || view.policy.batch === undefined) throw invalid(`Request ${view.requestId} (items.${i}) was made before batch decisions: approve it on its own; nothing was decided.`);
    if (view.policy.batch !== true) {
      throw new HttpProblem(403, ReasonCode.BATCH_NOT_ALLOWED, `Rule ${view.policy.ruleIds.join(', ')} does not allow batch approval of request ${view.requestId} (items.${i}): approve it on its own; nothing was decided.`);
    }
    views.push(view);
  }
  return views;
}
