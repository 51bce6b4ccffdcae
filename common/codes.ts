/** Reason codes returned to agents and reviewers: structured, never only prose (DESIGN §4). */
export const ReasonCode = {
  POLICY_DENIED: 'POLICY_DENIED',
  REVIEWER_DENIED: 'REVIEWER_DENIED',
  CHANGES_REQUESTED: 'CHANGES_REQUESTED',
  SLA_EXPIRED: 'SLA_EXPIRED',
  INVALID_REQUEST: 'INVALID_REQUEST',
  TOKEN_INVALID: 'TOKEN_INVALID',
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  TOKEN_CONSUMED: 'TOKEN_CONSUMED',
  BINDING_MISMATCH: 'BINDING_MISMATCH',
  NOT_ELIGIBLE: 'NOT_ELIGIBLE',
  ALREADY_DECIDED: 'ALREADY_DECIDED',
  /** An outcome report for a token that was never consumed. */
  NOT_CONSUMED: 'NOT_CONSUMED',
  /** A decision on a version of the payload other than the current one: the reviewer must look again. */
  STALE_VERSION: 'STALE_VERSION',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The rule wants a stronger proof than this decision gives: a passkey, not a chat click. */
  ASSURANCE_REQUIRED: 'ASSURANCE_REQUIRED',
  /** A batch approval of a request whose rule forbids batching (`batch: false`, the default from high risk): approve it on its own. */
  BATCH_NOT_ALLOWED: 'BATCH_NOT_ALLOWED',
  /** The agent already has as many requests waiting for a reviewer as it may: refused at the front door, nothing started. */
  TOO_MANY_OPEN_REQUESTS: 'TOO_MANY_OPEN_REQUESTS',
} as const;
export type ReasonCode = (typeof ReasonCode)[keyof typeof ReasonCode];

/** Workflow status, mirrored in the CountersignStatus search attribute. */
export const ApprovalStatus = {
  evaluating: 'evaluating',
  pending: 'pending',
  escalated: 'escalated',
  approved: 'approved',
  denied: 'denied',
  changes_requested: 'changes_requested',
  expired: 'expired',
  executed: 'executed',
  failed: 'failed',
  not_executed: 'not_executed',
  /** The token was consumed but the agent never reported how execution went. */
  outcome_unknown: 'outcome_unknown',
  /** The run was cancelled; its evidence is sealed all the same. */
  cancelled: 'cancelled',
} as const;
export type ApprovalStatus = (typeof ApprovalStatus)[keyof typeof ApprovalStatus];

/**
 * The two meanings of "open", from this one place (issue 23):
 *
 * WAITING_STATUSES: waiting for a reviewer now. What a reviewer's queue lists, what the visibility
 * queries match (CountersignStatus IN ("pending", "escalated"), server/approvals.ts), the review
 * state machine's open states (isOpen in workflows/review.ts), and where the web inbox offers a decision.
 */
export const WAITING_STATUSES: readonly ApprovalStatus[] = ['pending', 'escalated'];
/**
 * OPEN_STATUSES: not decided yet. Waiting for a reviewer, or still evaluating (routed in a moment;
 * a decision until then is refused NOT_ELIGIBLE). The workflow's isOpen and the cap on an agent's
 * open requests (server/open-requests.ts) use this one.
 */
export const OPEN_STATUSES: readonly ApprovalStatus[] = ['evaluating', ...WAITING_STATUSES];

/**
 * Deny reasons the web inbox suggests (a datalist). A reviewer may give any UPPER_SNAKE_CASE code
 * (DenyReason, inputs.ts); these are the common ones.
 */
export const SUGGESTED_DENY_REASONS: readonly string[] = ['NOT_JUSTIFIED', 'AMOUNT_TOO_HIGH', 'WRONG_RESOURCE', 'NEEDS_MORE_CONTEXT', 'SUSPECTED_PROMPT_INJECTION'];

/** CLI exit codes (DESIGN §7). */
export const ExitCode = { ok: 0, refused: 1, usage: 2, notFound: 3, unreachable: 4 } as const;
