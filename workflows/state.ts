/**
 * One approval run's state, shared by its story (workflows/approval.ts), its message handlers and
 * what it publishes: who asked for what (fixed at the start), then what has happened so far.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { requestDigest } from '../common/bundle';
import { OPEN_STATUSES, type ApprovalStatus } from '../common/codes';
import { actionDigest, requestIdFor } from '../common/digest';
import { appendEvent, type EvidenceEvent, type EvidenceType } from '../common/evidence';
import type { Json } from '../common/json';
import type { ActionRequest, ExecutionReport, PolicyDecision } from '../common/inputs';
import type { ApprovalOutcome, ApprovalRecord, ExecutionReceipt, Signed } from '../common/views';
import type { ChatMessageRef } from '../activities/notify/types';
import type { Payload } from '../common/json';
import type { TokenState } from './consume';
import { countedApprovers, type ReviewState } from './review';

/** Who granted the approval, before its token is released. */
export interface Granted {
  decidedBy: 'policy' | 'reviewers';
  reviewers: string[];
  comment?: string;
  message?: string;
}

export interface ApprovalRun {
  readonly request: ActionRequest;
  /** The request without its sealed delivery key: what views and evidence show. */
  readonly shownRequest: Omit<ActionRequest, 'agentKey'>;
  readonly shownRequestDigest: string;
  /** actionDigest of the agent's original {action, resource, payload}. */
  readonly digest: string;
  readonly requestId: string;
  readonly workflowId: string;
  /** The first run of this execution chain: the run signed statements name. */
  readonly runId: string;
  status: ApprovalStatus;
  policy?: PolicyDecision;
  review?: ReviewState;
  approval?: Granted;
  outcome?: ApprovalOutcome;
  decisions: ApprovalRecord['decisions'];
  events: EvidenceEvent[];
  notifications: Promise<void>[];
  /** The request's chat messages and the payload they last showed (chat.ts). */
  chat: { refs: (ChatMessageRef & { shown: string })[]; shown?: { digest: string; payload: Payload }; previous?: Payload };
  token?: TokenState;
  /** What the run's memo last showed the queue (publish.ts publishQueueMemo), as canonical JSON. */
  queueMemo?: string;
  approvalRecord?: Signed<ApprovalRecord>;
  receipt?: Signed<ExecutionReceipt>;
  report?: ExecutionReport;
  sealed?: { signature: string; signer: { keyId: string; publicKey: string } };
}

export function startRun(request: ActionRequest, workflowId: string, runId: string): ApprovalRun {
  const digest = actionDigest(request);
  const requestId = requestIdFor(request.agentId, request.taskId, digest);
  const { agentKey: _sealedDeliveryKey, ...shownRequest } = request;
  const shownRequestDigest = requestDigest(shownRequest);
  return { request, shownRequest, shownRequestDigest, digest, requestId, workflowId, runId, status: 'evaluating', decisions: [], events: [], notifications: [], chat: { refs: [] } };
}

/** The workflow's clock (deterministic in the workflow sandbox), as evidence writes it. */
export const now = () => new Date(Date.now()).toISOString();

export const record = (r: ApprovalRun, type: EvidenceType, detail: string, actor?: string, data?: { [key: string]: Json }) =>
  appendEvent(r.events, { at: now(), type, detail, actor, data });

export const isOpen = (r: ApprovalRun) => OPEN_STATUSES.includes(r.status);

/** The version under review now, and the policy verdict that routes it. */
export const current = (r: ApprovalRun) => ({
  payload: r.review?.version.payload ?? r.request.payload,
  digest: r.review?.version.digest ?? r.digest,
  policy: r.review?.version.policy ?? r.policy,
});
export const approvers = (r: ApprovalRun) => (r.review ? countedApprovers(r.review) : []);
export const approvalsNeeded = (r: ApprovalRun) => r.review?.version.policy.route.approvals ?? 1;
export const eligibleNames = (r: ApprovalRun) => (r.review?.eligible ?? []).map((g) => g.name);

const MAX_MESSAGE_CHARS = 1000;

export const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** A refusal; lone surrogates (from a hostile key or CEL text) would crash payload encoding, so they are replaced. */
export const fail = (code: string, message: string) =>
  ApplicationFailure.nonRetryable(clip(message, MAX_MESSAGE_CHARS).replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'), code);
