/**
 * What the HTTP API answers, as zod schemas: the OpenAPI document's response types
 * (server/openapi.ts), for clients in any language. The code's own types stay in views.ts (nothing
 * parses an answer on the way in); SchemasMatchTheCode below fails to compile when a schema and the
 * type the server answers with disagree, and the routes' inline answers are checked with
 * `satisfies`. Pure: imported by no workflow.
 */
import { z } from 'zod';
import type { Problem as ProblemType } from './api';
import { ApprovalStatus, ReasonCode } from './codes';
import type { EvidenceEvent as EvidenceEventType, EvidenceType } from './evidence';
import type { EvidenceView as EvidenceViewType } from './bundle';
import { ActionRequest, PolicyDecision, Risk, SealedToken } from './inputs';
import type { Json } from './json';
import type { DecisionStatement as DecisionStatementType } from './signing';
import type * as views from './views';

/** A moment as toISOString writes it (UTC, Z). */
export const Timestamp = z.iso.datetime();
const digest = () => z.string().regex(/^[0-9a-f]{64}$/);
/** A JSON object as the payload is: any JSON value under each key. */
const JsonObject = z.record(z.string(), z.custom<Json>());
const names = () => z.array(z.string());

export const TokenGrant = z.object({
  tokenId: z.string(),
  expiresAt: Timestamp,
  sealed: SealedToken.optional().describe('The plaintext token sealed to the request\'s agentKey: docs/sealing.md'),
});

export const ExecutionResult = z.object({
  status: z.enum(['succeeded', 'failed', 'unknown', 'not_executed']),
  resultDigest: z.string().optional(),
  message: z.string().optional(),
  receiptId: z.string().optional(),
});

const outcomeFields = {
  requestId: z.string(),
  workflowId: z.string(),
  code: z.enum(ReasonCode).optional().describe('Set on every outcome but approval'),
  message: z.string().optional(),
  reviewerReason: z.string().optional().describe('When a reviewer denied: their own reason code'),
  decidedBy: z.enum(['policy', 'reviewers', 'timer', 'cancellation']),
  reviewers: names(),
  payload: JsonObject.optional().describe('The payload to execute once approved: the reviewer\'s edit when there was one'),
  edited: z.boolean(),
  actionDigest: digest().describe('Digest of {action, resource, payload} for the payload above'),
  comment: z.string().optional(),
  proposedPayload: JsonObject.optional(),
  ruleIds: names(),
  risk: Risk,
  policyDigest: z.string().optional(),
  decidedAt: Timestamp,
};

const CLOSED_STATUSES = ['denied', 'changes_requested', 'expired', 'executed', 'failed', 'not_executed', 'outcome_unknown', 'cancelled'] as const;

const outcomeTail = {
  token: TokenGrant.optional().describe('Once approved: the single-use token, sealed to the agent\'s key'),
  execution: ExecutionResult.optional().describe('Once the execution phase has ended'),
  evidence: z.object({ path: z.string(), digest: z.string() }).optional().describe('Where the signed evidence bundle was written, and its digest'),
};

/** Approved always carries the payload to execute; every other status may not. */
export const ApprovalOutcome = z.discriminatedUnion('status', [
  z.object({ ...outcomeFields, status: z.literal('approved'), payload: JsonObject.describe('The payload to execute: the reviewer\'s edit when there was one'), ...outcomeTail }),
  z.object({ ...outcomeFields, status: z.enum(CLOSED_STATUSES), ...outcomeTail }),
]);

export const SubmitState = z.object({
  requestId: z.string(),
  workflowId: z.string(),
  status: z.enum(ApprovalStatus),
  outcome: ApprovalOutcome.optional().describe('The decision, once there is one'),
  deadline: Timestamp.optional(),
  final: z.boolean().optional().describe('The request has ended: its outcome will not change again'),
});

export const DecisionReceipt = z.object({ requestId: z.string(), status: z.enum(ApprovalStatus), approvals: names(), approvalsNeeded: z.int() });

export const RequestRow = z.object({
  requestId: z.string(),
  workflowId: z.string(),
  action: z.string(),
  resource: z.string(),
  summary: z.string(),
  risk: z.string().optional(),
  groups: names(),
  agent: z.string(),
  status: z.string().describe('The CountersignStatus search attribute: an ApprovalStatus'),
  startedAt: Timestamp,
  deadline: Timestamp.optional(),
  display: z.array(z.object({ name: z.string(), value: z.string() })).optional(),
  approvals: z.int().optional(),
  approvalsNeeded: z.int().optional(),
});

const EVIDENCE_TYPES = [
  'requested', 'evaluated', 'notified', 'notification_failed', 'approved', 'edited', 'denied', 'changes_requested', 'escalated', 'expired',
  'refused', 'token_minted', 'consumed', 'consume_refused', 'reported', 'token_expired', 'report_missing', 'cancelled', 'closed',
] as const;

export const EvidenceEvent = z.object({
  seq: z.int(),
  at: Timestamp,
  type: z.enum(EVIDENCE_TYPES),
  actor: z.string().optional(),
  detail: z.string(),
  data: JsonObject.optional(),
  prevHash: digest(),
  hash: digest(),
});

/** The request as the agent sent it, without its agentKey. */
const RequestShown = ActionRequest.omit({ agentKey: true, payload: true }).extend({ payload: JsonObject });

export const ReviewView = z.object({
  requestId: z.string(),
  workflowId: z.string(),
  runId: z.string().optional().describe('The run a signed decision names'),
  status: z.enum(ApprovalStatus),
  request: RequestShown,
  actionDigest: digest(),
  currentDigest: digest().describe('Digest of the version now proposed: what a decision names as its versionDigest'),
  currentPayload: JsonObject,
  policy: PolicyDecision.optional(),
  eligibleGroups: names(),
  approvals: names(),
  approvalsNeeded: z.int(),
  deadline: Timestamp.optional(),
  nextEscalation: Timestamp.optional(),
  outcome: ApprovalOutcome.optional(),
  history: z.array(EvidenceEvent),
});

const signed = <T extends z.ZodType>(body: T) => z.object({ body, keyId: z.string(), signature: z.string().describe('Ed25519 by keyId over the body\'s signing message, base64') });

export const TokenBinding = z.object({ agentId: z.string(), taskId: z.string(), actionDigest: digest(), workflowId: z.string() });

export const ApprovalRecord = z.object({
  workflowId: z.string(),
  requestId: z.string(),
  requestDigest: digest(),
  actionDigest: digest(),
  policyDigest: z.string(),
  ruleIds: names(),
  decidedBy: z.enum(['policy', 'reviewers']),
  decisions: z.array(
    z.object({ reviewer: z.string(), decision: z.string(), actionDigest: z.string(), at: z.string(), signed: z.boolean(), assurance: z.enum(['key', 'passkey', 'chat']).optional() }),
  ),
  tokenId: z.string(),
  tokenHash: digest(),
  binding: TokenBinding,
  expiresAt: Timestamp,
  issuedAt: Timestamp,
});

export const ExecutionReceipt = z.object({
  receiptId: z.string(),
  workflowId: z.string(),
  requestId: z.string(),
  tokenId: z.string(),
  approvalRecordDigest: digest(),
  actionDigest: digest(),
  agentId: z.string(),
  taskId: z.string(),
  consumedAt: Timestamp,
});

export const SignedApprovalRecord = signed(ApprovalRecord);
export const SignedExecutionReceipt = signed(ExecutionReceipt);

/** An exported bundle's proof that it is in the transparency log (common/tlog/inclusion.ts), outside its signed body. */
export const BundleLogProof = z.object({
  runId: z.string().describe('The run that sealed the bundle: with the bundle it makes the log leaf'),
  index: z.int().min(0).describe("The leaf's index in the log"),
  treeSize: z.int().min(1).describe('The size of the tree the checkpoint signs'),
  inclusion: z.array(digest()).describe('The RFC 9162 inclusion proof, leaf to root, each hash 64 hex'),
  checkpoint: z.string().describe('The C2SP signed checkpoint note of that tree, by the layer key'),
});

export const EvidenceView = z.object({
  sealed: z.boolean().describe('Signed by the layer: the request has ended'),
  bundle: z.object({
    format: z.literal('countersign/evidence/v1'),
    decidedAt: z.literal('edge').optional().describe('Set on an allow decided at the front door: signed by the edge key, not the layer key'),
    workflowId: z.string(),
    requestId: z.string(),
    request: RequestShown,
    requestDigest: digest(),
    outcome: z.object({ ...outcomeFields, status: z.enum(['approved', ...CLOSED_STATUSES]), execution: ExecutionResult.optional(), token: z.object({ tokenId: z.string(), expiresAt: Timestamp }).optional() }).optional().describe('Absent while the request is open'),
    events: z.array(EvidenceEvent),
    approvalRecord: SignedApprovalRecord.optional(),
    receipt: SignedExecutionReceipt.optional(),
    signer: z.object({ keyId: z.string(), publicKey: z.string() }).optional().describe('Once sealed'),
    signature: z.string().optional().describe('Once sealed: Ed25519 by the signer over the bundle'),
    log: BundleLogProof.optional().describe('Once sealed and under a checkpoint: where the bundle is in the transparency log, with the proof'),
  }),
});

export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string().describe('One sentence saying what was refused and why'),
  code: z.string().describe('The reason code to act on: one of ReasonCode, or FORBIDDEN, NOT_FOUND, RATE_LIMITED, BODY_TOO_LARGE, AMBIGUOUS_ID, CSRF, HOST_NOT_ALLOWED, …'),
  instance: z.string().optional(),
});

// --- answers the routes build inline -------------------------------------------------------------

export const LogLeaves = z.object({
  treeSize: z.int().min(0).describe("The log's size now"),
  leaves: z.array(z.object({ index: z.int().min(0), data: z.string().describe("The leaf's data, base64: canonical JSON of format, workflowId, runId, requestId, bundleDigest") })),
});
export type LogLeaves = z.infer<typeof LogLeaves>;

export const LogBundles = z.object({
  bundles: z.array(z.object({ workflowId: z.string(), runId: z.string(), requestId: z.string(), bundleDigest: digest() })).describe('Stored bundles, each named by the fields of the log leaf it should have'),
  next: z.string().optional().describe('The cursor of the next page (query parameter after); absent on the last page'),
});
export type LogBundles = z.infer<typeof LogBundles>;

export const InclusionProof = z.object({ index: z.int().min(0), treeSize: z.int().min(1), inclusion: z.array(digest()).describe('Leaf to root, each hash 64 hex') });
export type InclusionProof = z.infer<typeof InclusionProof>;

export const ConsistencyProof = z.object({ from: z.int().min(0), to: z.int().min(0), consistency: z.array(digest()).describe('RFC 9162 §2.1.4 order, each hash 64 hex') });
export type ConsistencyProof = z.infer<typeof ConsistencyProof>;

export const Ok = z.object({
  ok: z.literal(true),
  edge: z
    .object({ allowed: z.number().int(), consumed: z.number().int(), reported: z.number().int(), refused: z.number().int() })
    .optional()
    .describe('On a server with an edge key: its allows decided at the edge since it started — tokens minted, consumed, outcomes reported, consumes refused'),
});
export type Ok = z.infer<typeof Ok>;

export const Whoami = z.union([
  z.object({ role: z.enum(['agent', 'gateway']), name: z.string() }),
  z.object({ role: z.literal('auditor'), name: z.string() }),
  z.object({ role: z.literal('reviewer'), name: z.string(), groups: names() }),
]);
export type Whoami = z.infer<typeof Whoami>;

export const RequestList = z.object({ requests: z.array(RequestRow) });
export type RequestList = z.infer<typeof RequestList>;

export const ReviewQueue = z.object({
  reviewer: z.string(),
  groups: names(),
  requests: z.array(RequestRow),
  nextCursor: z.string().optional().describe('Only when more requests may wait: pass it as ?cursor= for the next page'),
});
export type ReviewQueue = z.infer<typeof ReviewQueue>;

/** What a passkey's navigator.credentials.get needs, besides the challenge. */
const PasskeyRequest = z.object({ rpId: z.string(), allowCredentials: z.array(z.object({ id: z.string(), type: z.literal('public-key') })) });

export const DecisionStatement = z.object({
  workflowId: z.string(),
  runId: z.string(),
  requestId: z.string(),
  versionDigest: digest(),
  policyDigest: z.string(),
  reviewer: z.string(),
  decision: z.enum(['approve', 'deny', 'request_changes']),
  editDigest: digest().optional(),
  reasonCode: z.string().optional(),
  message: z.string().optional(),
  comment: z.string().optional(),
  signedAt: Timestamp,
});

export const StatementToSign = z.object({
  statement: DecisionStatement,
  challenge: z.string().describe('base64url SHA-256 of the statement\'s signing message: the passkey assertion\'s challenge'),
  signedAt: Timestamp,
  passkey: PasskeyRequest,
});
export type StatementToSign = z.infer<typeof StatementToSign>;

export const BatchItem = z.object({ workflowId: z.string(), runId: z.string(), requestId: z.string(), versionDigest: digest(), policyDigest: digest() });
export const BatchStatement = z.object({
  reviewer: z.string(),
  decision: z.literal('approve'),
  root: digest().describe('Merkle root (RFC 9162 hashing, hex) over one leaf per request, in the order of items'),
  size: z.number().int(),
  comment: z.string().optional(),
  signedAt: Timestamp,
});
export const BatchToSign = z.object({
  statement: BatchStatement,
  items: z.array(BatchItem).describe('The leaves, in order: send them back with the signature'),
  challenge: z.string().describe('base64url SHA-256 of the batch statement\'s signing message: the passkey assertion\'s challenge'),
  signedAt: Timestamp,
  passkey: PasskeyRequest,
});
export type BatchToSign = z.infer<typeof BatchToSign>;

/** How each request of a batch answered: accepted with its receipt, or refused alone with its reason code. */
export const BatchResult = z.union([
  z.object({ workflowId: z.string(), requestId: z.string(), accepted: z.literal(true), status: z.enum(ApprovalStatus), approvals: names(), approvalsNeeded: z.number().int() }),
  z.object({ workflowId: z.string(), requestId: z.string(), accepted: z.literal(false), code: z.string(), message: z.string() }),
]);
export type BatchResult = z.infer<typeof BatchResult>;
export const BatchAnswer = z.object({ root: digest(), size: z.number().int(), results: z.array(BatchResult) });
export type BatchAnswer = z.infer<typeof BatchAnswer>;

export const LoginChallenge = z.object({ challenge: z.string(), nonce: z.string(), expiresAt: Timestamp });
export type LoginChallenge = z.infer<typeof LoginChallenge>;
export const ReviewerSession = z.object({ session: z.string().describe('The bearer for the reviewer endpoints'), reviewer: z.string(), expiresAt: Timestamp });
export type ReviewerSession = z.infer<typeof ReviewerSession>;

export const WebAuthnCeremony = z.object({
  options: z.looseObject({ challenge: z.string() }).describe('WebAuthn options (JSON) for navigator.credentials'),
  ticket: z.string().describe('Send it back with the answer'),
});
export const Enrolment = z.object({ reviewer: z.string(), credentialId: z.string(), fingerprint: z.string(), message: z.string() });
export type Enrolment = z.infer<typeof Enrolment>;
export const InboxSession = z.object({ reviewer: z.string(), groups: names(), csrf: z.string().describe(`Send it as x-countersign-csrf on every change`), expiresAt: Timestamp });
export type InboxSession = z.infer<typeof InboxSession>;

const SlackUser = z.object({ teamId: z.string(), userId: z.string(), userName: z.string() });
export const SlackLinkOffer = z.object({
  reviewer: z.string(),
  slack: SlackUser,
  statement: z.object({ teamId: z.string(), userId: z.string(), reviewer: z.string(), nonce: z.string() }),
  challenge: z.string(),
  expiresAt: Timestamp,
  passkey: PasskeyRequest,
});
export type SlackLinkOffer = z.infer<typeof SlackLinkOffer>;
export const SlackLinked = z.object({ reviewer: z.string(), slack: SlackUser, message: z.string() });
export type SlackLinked = z.infer<typeof SlackLinked>;
export const SlackReply = z.looseObject({}).describe('Slack\'s own response shapes (an ephemeral message, a modal\'s response_action)');

export const OpenApiDocument = z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) });

// --- the schemas are the code's types ----------------------------------------------------------

/** The same type, key for key and modifier for modifier, once intersections (Omit<…> & {…}) are flattened. */
type Flat<T> = T extends readonly (infer U)[] ? Flat<U>[] : T extends object ? { [K in keyof T]: Flat<T[K]> } : T;
type Same<A, B> = (<T>() => T extends Flat<A> ? 1 : 2) extends <T>() => T extends Flat<B> ? 1 : 2 ? true : false;
type AllTrue<T extends true[]> = T;
export type SchemasMatchTheCode = AllTrue<
  [
    Same<z.infer<typeof TokenGrant>, views.TokenGrant>,
    Same<z.infer<typeof ExecutionResult>, views.ExecutionResult>,
    Same<z.infer<typeof ApprovalOutcome>, views.ApprovalOutcome>,
    Same<z.infer<typeof SubmitState>, views.SubmitState>,
    Same<z.infer<typeof DecisionReceipt>, views.DecisionReceipt>,
    Same<z.infer<typeof RequestRow>, views.RequestRow>,
    Same<z.infer<typeof EvidenceEvent>, EvidenceEventType>,
    Same<(typeof EVIDENCE_TYPES)[number], EvidenceType>,
    Same<z.infer<typeof ReviewView>, views.ReviewView>,
    Same<z.infer<typeof ApprovalRecord>, views.ApprovalRecord>,
    Same<z.infer<typeof SignedApprovalRecord>, views.Signed<views.ApprovalRecord>>,
    Same<z.infer<typeof SignedExecutionReceipt>, views.Signed<views.ExecutionReceipt>>,
    Same<z.infer<typeof EvidenceView>, EvidenceViewType>,
    Same<z.infer<typeof Problem>, ProblemType>,
    Same<z.infer<typeof DecisionStatement>, DecisionStatementType>,
  ]
>;
