/**
 * GET /v1/requests/:id/evidence (issue 27): a request that has ended is served from the store, where
 * its signed bundle was written once, so its evidence outlives Temporal's retention of the history
 * (and a closed run is not replayed to answer a query). An open request's evidence is the chain so
 * far, from its workflow. When Temporal no longer knows the id, the store is asked by the exact id:
 * a workflow id, or a full request id (an agent's own only); a prefix needs visibility and is not
 * looked up there.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { EvidenceBundle, EvidenceView } from '../common/bundle';
import { AmbiguousRequestIdError, RequestNotFoundError } from '../common/refusals';
import type { StoredEvidence, StoreReader } from '../store/types';
import type { Approvals } from './approvals';
import type { LogService } from './log';
import { lookUpRequest, type Lookup } from './lookup';

const WORKFLOW_ID = /^cs-[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}-[0-9a-f]{16}$/;
const REQUEST_ID = /^[0-9a-f]{16}$/;

/** The evidence `id` names, for a caller limited by `lookup` (an agent sees only its own requests). */
export async function evidenceFor(backend: Approvals, store: StoreReader | undefined, id: string, lookup: Lookup, log?: LogService): Promise<EvidenceView> {
  const sealedView = (stored: StoredEvidence) => sealedWithProof(stored, log);
  let workflowId: string | undefined;
  try {
    workflowId = await lookUpRequest(backend, id, lookup);
  } catch (err) {
    if (!store || !isMissing(err)) throw err;
  }
  if (workflowId) {
    let closed: boolean | undefined;
    try {
      closed = (await backend.status(workflowId)).closed;
    } catch (err) {
      if (!isMissing(err)) throw err; // visibility still listed a workflow that has just been deleted
    }
    if (closed !== false && store) {
      const stored = await store.getEvidence(workflowId);
      if (stored) return sealedView(stored);
    }
    if (closed !== undefined) return backend.evidence(workflowId);
  }
  const stored = store ? await storedFor(store, workflowId ?? id, lookup.agent) : undefined;
  if (!stored) throw new RequestNotFoundError(`No request ${id.slice(0, 200)}.`);
  return sealedView(stored);
}

/** Temporal does not know the workflow (never started, or deleted once its retention ran out). */
const isMissing = (err: unknown) => err instanceof RequestNotFoundError || err instanceof WorkflowNotFoundError;

/** The stored bundle an exact id names: the latest sealed run of that workflow. */
async function storedFor(store: StoreReader, id: string, agent: string | undefined): Promise<StoredEvidence | undefined> {
  if (WORKFLOW_ID.test(id)) {
    if (agent !== undefined && id !== `cs-${agent}-${id.slice(-16)}`) return undefined;
    return store.getEvidence(id);
  }
  if (!REQUEST_ID.test(id)) return undefined;
  if (agent !== undefined) return store.getEvidence(`cs-${agent}-${id}`);
  const workflows = await store.workflowsOfRequest(id, 2);
  if (workflows.length > 1) throw new AmbiguousRequestIdError(`The id ${id} matches more than one request; give its workflow id.`);
  return workflows[0] ? store.getEvidence(workflows[0]) : undefined;
}

/**
 * A stored bundle as the API serves it, with its log proof once a checkpoint covers its leaf (so
 * `verify` proves it is in the log); one whose text names another workflow is not served.
 */
async function sealedWithProof(stored: StoredEvidence, log: LogService | undefined): Promise<EvidenceView> {
  const bundle = JSON.parse(stored.text) as EvidenceBundle;
  if (bundle?.workflowId !== stored.workflowId) throw new Error(`The stored evidence of ${stored.workflowId.slice(0, 200)} names another workflow: the store has been tampered with.`);
  const proof = log ? await log.bundleProof(bundle, stored.runId) : undefined;
  return { sealed: true, bundle: proof ? { ...bundle, log: proof } : bundle };
}
