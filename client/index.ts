/**
 * `import { Countersign } from 'countersign'`: the agent SDK (HTTP, through `countersign server`),
 * the reviewer client, and the error classes both throw.
 */
export * from './sdk';
export { Reviewer } from './reviewer';
export type { ActionRequest, ApprovalOutcome, ExecutionReport, Payload, ReviewerDecision, SubmitState } from '../common/schema';
