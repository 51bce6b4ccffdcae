import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DecisionReceipt, ReviewerDecision, ReviewView, SubmitState, SubmitWait } from '../common/schema';

/** Defined once here; the workflow, the SDK and the CLI all import these. */
export const approvalWorkflowType = 'approvalWorkflow';

/** Agent: wait (up to waitMs, on the workflow's clock) for the decision. Used with update-with-start. */
export const awaitDecisionUpdate = defineUpdate<SubmitState, [SubmitWait]>('awaitDecision');

/** Reviewer decision with a synchronous validator: the CLI learns at once if it is refused. */
export const decideUpdate = defineUpdate<DecisionReceipt, [ReviewerDecision]>('decide');

/** The same decision for integrations that cannot wait; refusals are recorded in the history. */
export const decideSignal = defineSignal<[ReviewerDecision]>('decide');

export const reviewViewQuery = defineQuery<ReviewView>('reviewView');
