/**
 * The token rules (DESIGN §5) as pure functions of the token's state and an attempt: no Temporal and
 * no I/O. The workflow's consume and report handlers ask them; the property test
 * (test/unit/consume-rules.test.ts) drives them with generated sequences of attempts.
 *
 * 1. A token is accepted at most once: the state an accepted attempt returns is consumed.
 * 2. Checks run in one order: shape, the token itself, expiry, single use, the request still
 *    approved, then the binding (agent, task, payload digest); the first that fails is the refusal.
 * 3. Once consumed, what the spend ledger answered decides how the run ends: receipted (then the
 *    agent's report), already spent by an earlier run, or no answer (outcome unknown).
 */
import { ReasonCode, type ApprovalStatus } from '../common/codes';
import { sha256Hex } from '../common/digest';
import { describeIssues } from '../common/errors';
import { ConsumeRequest, ExecutionReport } from '../common/inputs';
import { constantTimeEqual } from '../common/signing';
import type { ExecutionResult, TokenBinding } from '../common/views';

export interface TokenState {
  tokenId: string;
  /** sha256 of the token: the token itself is never kept. */
  hash: string;
  binding: TokenBinding;
  /** Epoch ms on the workflow's clock. */
  expiresAt: number;
  consumed: boolean;
  /** What the spend ledger answered, once it has. */
  spend?: Spend;
}

/** receipted: this run spent it; spent_before_reset: an earlier run of the workflow id had; failed: no answer. */
export type Spend = 'receipted' | 'spent_before_reset' | 'failed';

export interface Refusal {
  ok: false;
  code: ReasonCode;
  message: string;
}

/** The run around the token when an attempt arrives. */
export interface Attempt {
  now: number;
  status: ApprovalStatus;
  requestId: string;
}

/** How the run ends once its token's fate is known. */
export interface Final {
  status: 'executed' | 'failed' | 'not_executed' | 'outcome_unknown';
  execution: ExecutionResult;
}

const refuse = (code: ReasonCode, message: string): Refusal => ({ ok: false, code, message });

const USED = 'The token has already been used.';

/** The checks, in order; a refusal never executes anything. The consume Update's validator asks only this. */
export function checkConsume(token: TokenState | undefined, raw: unknown, at: Attempt): { ok: true; request: ConsumeRequest } | Refusal {
  const parsed = ConsumeRequest.safeParse(raw);
  if (!parsed.success) return refuse(ReasonCode.INVALID_REQUEST, describeIssues(parsed.error, 'consume request'));
  const c = parsed.data;
  if (!token || !constantTimeEqual(sha256Hex(c.token), token.hash)) return refuse(ReasonCode.TOKEN_INVALID, 'The token is not valid for this request.');
  if (at.now >= token.expiresAt) return refuse(ReasonCode.TOKEN_EXPIRED, `The token expired at ${new Date(token.expiresAt).toISOString()}.`);
  if (token.consumed) return refuse(ReasonCode.TOKEN_CONSUMED, USED);
  if (at.status !== 'approved') return refuse(ReasonCode.TOKEN_INVALID, `Request ${at.requestId} is ${at.status}: its token can no longer be used.`);
  const b = token.binding;
  if (c.agentId !== b.agentId || c.taskId !== b.taskId || c.actionDigest !== b.actionDigest) {
    const what = c.agentId !== b.agentId ? 'agent' : c.taskId !== b.taskId ? 'task' : 'payload digest';
    return refuse(ReasonCode.BINDING_MISMATCH, `The token is bound to another ${what}: it approves exactly one agent, task and payload.`);
  }
  return { ok: true, request: c };
}

/** A consumption: the checks, then single use. The token in the answer is consumed: keep it before any await. */
export function consume(token: TokenState | undefined, raw: unknown, at: Attempt): { ok: true; token: TokenState; request: ConsumeRequest } | Refusal {
  const checked = checkConsume(token, raw, at);
  if (!checked.ok) return checked;
  if (!token || token.consumed) return refuse(ReasonCode.TOKEN_CONSUMED, USED);
  return { ok: true, token: { ...token, consumed: true }, request: checked.request };
}

/** The ledger's answer to a consumed token's spend. */
export function spent(token: TokenState, spend: Spend): TokenState {
  return { ...token, spend };
}

/** What the consume handler answers the agent when the ledger does not receipt the spend. */
export const spendRefusal = (spend: Exclude<Spend, 'receipted'>): Refusal =>
  spend === 'failed'
    ? refuse(ReasonCode.TOKEN_CONSUMED, 'The token could not be spent safely and cannot be used again; the request ends with its outcome unknown.')
    : refuse(ReasonCode.TOKEN_CONSUMED, USED);

/** A token that expired unused. */
export const EXPIRED_UNUSED: Final = { status: 'not_executed', execution: { status: 'not_executed' } };

/** How a spend ends the run before any report; undefined when it was receipted (the report decides then). */
export function unreceipted(token: TokenState): Final | undefined {
  if (token.spend === 'spent_before_reset') {
    // Spent in an earlier run of this workflow id (a reset, or a new run): what happened there is in that run's evidence.
    return { status: 'outcome_unknown', execution: { status: 'unknown', message: 'This request was already spent by an earlier run of its workflow (a reset or a new run).' } };
  }
  if (token.spend !== 'receipted') return { status: 'outcome_unknown', execution: { status: 'unknown', message: 'The spend could not be recorded and receipted.' } };
  return undefined;
}

/** How a receipted spend ends the run: the agent's report, or outcome unknown without one. */
export function reported(report: ExecutionReport | undefined, receiptId: string): Final {
  if (!report) return { status: 'outcome_unknown', execution: { status: 'unknown', receiptId } };
  return { status: report.status === 'succeeded' ? 'executed' : 'failed', execution: { ...report, receiptId } };
}

/** The report Update's checks: one report, after a receipted consumption, while the request is still approved. */
export function checkReport(raw: unknown, s: { receipted: boolean; reported: boolean; status: ApprovalStatus; requestId: string }): { ok: true } | Refusal {
  const parsed = ExecutionReport.safeParse(raw);
  if (!parsed.success) return refuse(ReasonCode.INVALID_REQUEST, describeIssues(parsed.error, 'report'));
  if (!s.receipted) return refuse(ReasonCode.NOT_CONSUMED, 'There is nothing to report: the token has not been consumed.');
  if (s.reported) return refuse(ReasonCode.ALREADY_DECIDED, 'The outcome has already been reported.');
  if (s.status !== 'approved') return refuse(ReasonCode.ALREADY_DECIDED, `Request ${s.requestId} has ended (${s.status}).`);
  return { ok: true };
}
