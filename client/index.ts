/**
 * `import { Countersign } from 'countersign'`: the agent SDK (HTTP, through `countersign server`),
 * the reviewer client, and the error classes both throw.
 */
export * from './sdk';
export { Reviewer } from './reviewer';
export { derivedKeyStore, fileKeyStore, memoryKeyStore, type AgentKeyStore } from './agent-keys';
export type { ActionRequest, ActionRequestInput, ExecutionReport, ReviewerDecision } from '../common/inputs';
export type { Payload } from '../common/json';
export type { ApprovalOutcome, ApprovedOutcome, ClosedOutcome, SubmitState } from '../common/views';
