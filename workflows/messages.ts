import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ConsumeRequest, ExecutionReport, ReviewerDecision, SubmitWait } from '../common/inputs';
import type { EvidenceView } from '../common/bundle';
import type { DecisionReceipt, ExecutionReceipt, ReviewView, Signed, SubmitState } from '../common/views';

/** Defined once here; the workflow, the SDK and the CLI all import these. */
export const approvalWorkflowType = 'approvalWorkflow';

/** Agent: wait (up to waitMs, on the workflow's clock) for the decision. Used with update-with-start. */
export const awaitDecisionUpdate = defineUpdate<SubmitState, [SubmitWait]>('awaitDecision');

/** Reviewer decision with a synchronous validator: the CLI learns at once if it is refused. */
export const decideUpdate = defineUpdate<DecisionReceipt, [ReviewerDecision]>('decide');

/** The same decision for integrations that cannot wait; refusals are recorded in the history. */
export const decideSignal = defineSignal<[ReviewerDecision]>('decide');

/** Agent: spend the single-use token on the exact payload it is about to run; returns the signed receipt. */
export const consumeUpdate = defineUpdate<Signed<ExecutionReceipt>, [ConsumeRequest]>('consume');

/** Agent: how execution went, after consuming. */
export const reportUpdate = defineUpdate<void, [ExecutionReport]>('report');

export const reviewViewQuery = defineQuery<ReviewView>('reviewView');

/** Agent: the state awaitDecision would return, without an Update (what the server asks once the wait budget is spent). */
export const submitStateQuery = defineQuery<SubmitState>('submitState');

/** The failure type of an awaitDecision refused because the request's budget of agent waits is spent. */
export const WAIT_BUDGET_SPENT = 'WAIT_BUDGET_SPENT';

export const evidenceQuery = defineQuery<EvidenceView>('evidence');
