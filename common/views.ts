/**
 * What the workflow answers: receipts, records, outcomes and the views agents and reviewers read.
 * Plain types, no schemas: nothing parses them on the way in.
 */
import type { ApprovalStatus, ReasonCode } from './codes';
import type { EvidenceEvent } from './evidence';
import type { Payload } from './json';
import type { ActionRequest, PolicyDecision, Risk, SealedToken } from './inputs';

/** What the workflow answers a reviewer whose decision it accepted. */
export interface DecisionReceipt {
  requestId: string;
  status: ApprovalStatus;
  approvals: string[];
  approvalsNeeded: number;
}
/** What the agent receives with an approval: never the plaintext, only the sealed box. */
export interface TokenGrant {
  tokenId: string;
  expiresAt: string;
  sealed?: SealedToken;
}

/** The binding a token is valid for, and nothing else. */
export interface TokenBinding {
  agentId: string;
  taskId: string;
  actionDigest: string;
  workflowId: string;
}
export interface Signed<T> {
  body: T;
  keyId: string;
  /** Ed25519 over signingMessage(domain, body), base64. */
  signature: string;
}

/** Signed by the layer at mint: who asked, which policy, who decided, which token. */
export interface ApprovalRecord {
  workflowId: string;
  requestId: string;
  /** SHA-256 of the canonical request (without agentKey). */
  requestDigest: string;
  actionDigest: string;
  policyDigest: string;
  ruleIds: string[];
  decidedBy: 'policy' | 'reviewers';
  /** `assurance`: how the decision proved its reviewer (absent on runs before chat decisions, and when unsigned). */
  decisions: { reviewer: string; decision: string; actionDigest: string; at: string; signed: boolean; assurance?: 'key' | 'passkey' | 'chat' }[];
  tokenId: string;
  tokenHash: string;
  binding: TokenBinding;
  expiresAt: string;
  issuedAt: string;
}

/** Signed at consumption: names the approval record it consumes. */
export interface ExecutionReceipt {
  receiptId: string;
  workflowId: string;
  requestId: string;
  tokenId: string;
  approvalRecordDigest: string;
  actionDigest: string;
  agentId: string;
  taskId: string;
  consumedAt: string;
}

export interface ExecutionResult {
  status: 'succeeded' | 'failed' | 'unknown' | 'not_executed';
  resultDigest?: string;
  message?: string;
  receiptId?: string;
}

/** What every outcome says, whatever its status. */
interface OutcomeFields {
  requestId: string;
  workflowId: string;
  /** Set on every outcome but approval. */
  code?: ReasonCode;
  message?: string;
  /** Set when a reviewer denied: the reviewer's own reason code. */
  reviewerReason?: string;
  decidedBy: 'policy' | 'reviewers' | 'timer' | 'cancellation';
  reviewers: string[];
  /** The payload to execute (approved) — the reviewer's edit when there was one. */
  payload?: Payload;
  edited: boolean;
  /** Digest of {action, resource, payload} for the payload above. */
  actionDigest: string;
  comment?: string;
  proposedPayload?: Payload;
  ruleIds: string[];
  risk: Risk;
  policyDigest?: string;
  decidedAt: string;
  /** Present once approved: the single-use token, sealed to the agent's key. */
  token?: TokenGrant;
  /** Present once the execution phase has ended. */
  execution?: ExecutionResult;
  /** Where the signed evidence bundle was written, and its digest. */
  evidence?: { path: string; digest: string };
}

/** Approved: always with the payload to execute, so `outcome.status === 'approved'` is enough to reach it. */
export interface ApprovedOutcome extends OutcomeFields {
  status: 'approved';
  payload: Payload;
}

/** Every other outcome: refused, expired or cancelled, or how an approved action's execution ended. */
export interface ClosedOutcome extends OutcomeFields {
  status: Extract<ApprovalStatus, 'denied' | 'changes_requested' | 'expired' | 'executed' | 'failed' | 'not_executed' | 'outcome_unknown' | 'cancelled'>;
}

/** The final decision handed to the agent. */
export type ApprovalOutcome = ApprovedOutcome | ClosedOutcome;

/** An outcome without the fields `K`, still one type per status (what fills them in takes the rest). */
export type OutcomeWithout<K extends keyof OutcomeFields> = Omit<ApprovedOutcome, K> | Omit<ClosedOutcome, K>;

/** What `submit` returns: the decision, or the pending state with the request id. */
export interface SubmitState {
  requestId: string;
  workflowId: string;
  status: ApprovalStatus;
  outcome?: ApprovalOutcome;
  deadline?: string;
  /** Set by the server once the request has ended: its outcome will not change again. */
  final?: boolean;
}

/** Everything a reviewer needs to decide, from the reviewView query. */
export interface ReviewView {
  requestId: string;
  workflowId: string;
  /** The run a signed decision must name; absent for runs started before the 'integrity-v2' patch. */
  runId?: string;
  status: ApprovalStatus;
  request: Omit<ActionRequest, 'agentKey'>;
  actionDigest: string;
  /** Digest of the version now proposed: what a reviewer's signature must name. */
  currentDigest: string;
  /** The payload now proposed for execution: the request's, or the latest reviewer edit. */
  currentPayload: Payload;
  policy?: PolicyDecision;
  eligibleGroups: string[];
  approvals: string[];
  approvalsNeeded: number;
  deadline?: string;
  nextEscalation?: string;
  outcome?: ApprovalOutcome;
  /** The hash-chained evidence events so far. */
  history: EvidenceEvent[];
}

/** One request in a listing: an agent's own requests, or a reviewer's queue. */
export interface RequestRow {
  requestId: string;
  workflowId: string;
  action: string;
  resource: string;
  summary: string;
  risk?: string;
  groups: string[];
  agent: string;
  status: string;
  startedAt: string;
  deadline?: string;
  /** The catalog's display fields for the version under review, as its run last published them (runs from before 'queue-memo' have none). */
  display?: { name: string; value: string }[];
  /** How many approvals count so far, and how many the route needs. */
  approvals?: number;
  approvalsNeeded?: number;
}
