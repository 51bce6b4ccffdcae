/**
 * The messages every boundary validates (DESIGN §2), as zod schemas with their types inferred.
 *
 * The worker evaluates this module again for every workflow it starts (each workflow has its own
 * module state; only zod itself is shared, workflows/shared-modules.ts), and building a zod schema
 * costs real time: a `.min().max().regex()` chain is four schemas. So the schemas a
 * workflow reads only at some later step, or never (ReviewerDecision, ConsumeRequest,
 * ExecutionReport, and those only the worker's activities and the types use), are `z.lazy`: built
 * on their first parse, not on every start. They validate exactly as before. ActionRequest, which
 * every workflow checks at its start, and SubmitWait are built at once.
 */
import { z } from 'zod';
import { canonicalJson, utf8Length } from './canonical';
import { ApprovalStatus, ReasonCode } from './codes';
import type { EvidenceEvent } from './evidence';

export const MAX_PAYLOAD_BYTES = 256 * 1024;
export const MAX_SUMMARY_CHARS = 500;
const MAX_DEPTH = 32;
export const MAX_CONTEXT_ENTRIES = 32;
export const MAX_CONTEXT_BYTES = 16 * 1024;
export const MAX_TEXT_CHARS = 2000;

const identifier = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'letters, digits and . _ : @ - only, starting with a letter or digit');

/** Any JSON value: no functions, no undefined, no non-finite numbers. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const jsonValue: z.ZodType<Json> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number().refine(Number.isFinite), z.string(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

function depthOf(value: unknown, depth = 0): number {
  if (value === null || typeof value !== 'object') return depth;
  // Already past the limit: stop here, or a value nested thousands deep overflows the stack.
  if (depth >= MAX_DEPTH) return depth + 1;
  let max = depth + 1;
  for (const v of Object.values(value)) {
    max = Math.max(max, depthOf(v, depth + 1));
    if (max > MAX_DEPTH) break;
  }
  return max;
}

/** The path of the first integer no JSON reader can be trusted to keep exactly, if any. */
function unsafeIntegerAt(value: unknown, path = 'payload'): string | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && !Number.isSafeInteger(value) ? path : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const found = unsafeIntegerAt(inner, `${path}.${key}`);
    if (found) return found;
  }
  return undefined;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
function forbiddenKey(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  for (const key of Object.keys(value)) {
    if (!Array.isArray(value) && FORBIDDEN_KEYS.has(key)) return key;
    const inner = forbiddenKey((value as Record<string, unknown>)[key]);
    if (inner) return inner;
  }
  return undefined;
}

/**
 * zod's records leave an own "__proto__" key (JSON.parse makes one) out of their output without a
 * word, so nothing after them could see it: refuse it on the raw input instead.
 */
function refusingOwnProto<T extends z.ZodType>(record: T) {
  return z
    .unknown()
    .superRefine((value, ctx) => {
      if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.prototype.hasOwnProperty.call(value, '__proto__')) {
        ctx.addIssue({ code: 'custom', message: 'must not contain the key "__proto__"' });
      }
    })
    .pipe(record);
}

/** The exact JSON that executes if approved: an object, at most 256 KiB canonical. */
export const Payload = refusingOwnProto(z.record(z.string(), z.unknown()))
  .superRefine((value, ctx) => {
    const depth = depthOf(value);
    if (depth > MAX_DEPTH) {
      ctx.addIssue({ code: 'custom', message: `must be nested at most ${MAX_DEPTH} levels deep` });
      return;
    }
    const bad = forbiddenKey(value);
    if (bad) {
      ctx.addIssue({ code: 'custom', message: `must not contain the key "${bad}"` });
      return;
    }
    const parsed = jsonValue.safeParse(value);
    if (!parsed.success) {
      ctx.addIssue({ code: 'custom', message: 'must be plain JSON (no functions, undefined or non-finite numbers)' });
      return;
    }
    const unsafe = unsafeIntegerAt(value);
    if (unsafe !== undefined) {
      ctx.addIssue({ code: 'custom', message: `has an integer outside ±(2^53 − 1) at ${unsafe}, which JSON readers round differently: send it as a string` });
      return;
    }
    if (utf8Length(canonicalJson(value)) > MAX_PAYLOAD_BYTES) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_PAYLOAD_BYTES / 1024} KiB as canonical JSON` });
    }
  })
  .transform((v) => v as Record<string, Json>);
export type Payload = z.infer<typeof Payload>;

export const Resource = z.strictObject({
  type: z.string().min(1).max(64).regex(/^[a-z][a-z0-9_-]*$/, 'a lower-case word such as customer, account, dataset, system'),
  id: z.string().min(1).max(256),
  owner: z.string().min(1).max(128).optional(),
  /** Letters, digits and . _ - only: a look-alike spelling of an environment cannot slip past a rule. */
  environment: z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'an environment name such as prod (letters, digits and . _ - only)').optional(),
});
export type Resource = z.infer<typeof Resource>;

export const ActionName = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/, 'a dotted name such as payments.refund');

/** What an agent sends before it acts (DESIGN §2). */
export const ActionRequest = z.strictObject({
  agentId: identifier,
  taskId: identifier,
  action: ActionName,
  summary: z.string().trim().min(1).max(MAX_SUMMARY_CHARS),
  resource: Resource,
  payload: Payload,
  onBehalfOf: z.string().min(1).max(128).optional(),
  context: refusingOwnProto(z.record(z.string().max(64), z.string().max(2000)))
    .refine((c) => Object.keys(c).length <= MAX_CONTEXT_ENTRIES, `must have at most ${MAX_CONTEXT_ENTRIES} entries`)
    .refine((c) => utf8Length(canonicalJson(c)) <= MAX_CONTEXT_BYTES, `must be at most ${MAX_CONTEXT_BYTES / 1024} KiB as JSON`)
    .optional(),
  agentKey: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'a base64 X25519 public key (44 characters)').optional(),
});
export type ActionRequest = z.infer<typeof ActionRequest>;

export const Risk = z.enum(['low', 'medium', 'high', 'critical']);
export type Risk = z.infer<typeof Risk>;
export const RISK_ORDER: readonly Risk[] = ['low', 'medium', 'high', 'critical'];

/** A reviewer group as snapshotted into the workflow: decisions are judged against this, not a later policy. */
export const GroupSnapshot = z.lazy(() => z.object({
  name: z.string(),
  members: z.array(z.string()),
  /** Reviewers with an Ed25519 key (base64, raw 32 bytes): their decisions must be signed. */
  keys: z.record(z.string(), z.string()).optional(),
  /** Reviewers' registered passkeys (credential id and COSE public key, base64url): a decision may be signed by one. */
  passkeys: z.record(z.string(), z.array(z.object({ credentialId: z.string(), publicKey: z.string() }))).optional(),
}));
export type GroupSnapshot = z.infer<typeof GroupSnapshot>;

export const ReviewRoute = z.lazy(() => z.object({
  group: GroupSnapshot,
  approvals: z.number().int().min(1),
  slaMs: z.number().int().positive(),
  escalateAfterMs: z.number().int().positive().optional(),
  /** The groups above `group`, in the order escalation reaches them. */
  escalationChain: z.array(GroupSnapshot),
}));
export type ReviewRoute = z.infer<typeof ReviewRoute>;

/** What the policy decided for one request (DESIGN §3). */
export const PolicyDecision = z.lazy(() => z.object({
  decision: z.enum(['allow', 'deny', 'review']),
  ruleIds: z.array(z.string()),
  risk: Risk,
  reason: z.string(),
  route: ReviewRoute.optional(),
  tokenTtlMs: z.number().int().positive(),
  /** How long after consumption the agent has to report the outcome. */
  reportWithinMs: z.number().int().positive(),
  policyDigest: z.string(),
  /** Digest of the directory (who may decide, with which keys) this decision was made under. */
  directoryDigest: z.string().optional(),
  /** Where passkeys are used (the directory's webauthn): the relying party and the inbox's origins an assertion must come from. */
  webauthn: z.object({ rpId: z.string(), origins: z.array(z.string()) }).optional(),
  actionDigest: z.string(),
}));
export type PolicyDecision = z.infer<typeof PolicyDecision>;

export type Evaluation =
  | { ok: true; decision: PolicyDecision }
  | { ok: false; code: typeof ReasonCode.INVALID_REQUEST; message: string };

export const DenyReason = z.lazy(() => z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/, 'an UPPER_SNAKE_CASE code such as AMOUNT_TOO_HIGH'));

/** A reviewer's Ed25519 signature over their DecisionStatement (common/signing.ts). */
export const KeySignature = z.lazy(() =>
  z.strictObject({
    signedAt: z.iso.datetime(),
    // A regex, not z.base64(): zod's check relies on atob, which the workflow sandbox lacks.
    value: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'a base64 Ed25519 signature (88 characters)'),
  }),
);

const base64Url = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+$/, 'base64url');

/**
 * A passkey's WebAuthn assertion whose challenge is SHA-256 of the DecisionStatement
 * (common/webauthn.ts): what the browser's navigator.credentials.get returns, each field base64url.
 */
export const PasskeySignature = z.lazy(() =>
  z.strictObject({
    signedAt: z.iso.datetime(),
    passkey: z.strictObject({
      credentialId: base64Url(1366),
      authenticatorData: base64Url(1366),
      clientDataJSON: base64Url(5462),
      signature: base64Url(342),
    }),
  }),
);

/** How a decision is signed: by the reviewer's Ed25519 key (CLI) or by their passkey (web inbox). */
export const DecisionSignature = z.lazy(() => z.union([KeySignature, PasskeySignature]));
export type DecisionSignature = z.infer<typeof DecisionSignature>;
export type PasskeySignature = z.infer<typeof PasskeySignature>;

const hexDigest = () => z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hex digest');

/**
 * Names the version of the payload the reviewer was shown (ReviewView.currentDigest). Required by
 * the review rules (workflows/review.ts); optional here only so runs started before it still parse.
 */
const versionDigest = () => hexDigest().optional();

/** One reviewer's decision, as sent by the CLI (Update) or an integration (Signal). */
export const ReviewerDecision = z.lazy(() => {
  const version = versionDigest();
  return z.discriminatedUnion('decision', [
    z.strictObject({
      decision: z.literal('approve'),
      reviewer: identifier,
      versionDigest: version,
      editedPayload: Payload.optional(),
      comment: z.string().max(2000).optional(),
      signature: DecisionSignature.optional(),
    }),
    z.strictObject({
      decision: z.literal('deny'),
      reviewer: identifier,
      versionDigest: version,
      reasonCode: DenyReason,
      message: z.string().trim().min(1).max(2000),
      signature: DecisionSignature.optional(),
    }),
    z.strictObject({
      decision: z.literal('request_changes'),
      reviewer: identifier,
      versionDigest: version,
      comment: z.string().trim().min(1).max(2000),
      proposedPayload: Payload.optional(),
      signature: DecisionSignature.optional(),
    }),
  ]);
});
export type ReviewerDecision = z.infer<typeof ReviewerDecision>;

/** What the workflow answers a reviewer whose decision it accepted. */
export interface DecisionReceipt {
  requestId: string;
  status: ApprovalStatus;
  approvals: string[];
  approvalsNeeded: number;
}

/** The plaintext token sealed to the agent's X25519 key: X25519 → HKDF-SHA256 → AES-256-GCM. */
export const SealedToken = z.lazy(() => z.object({
  alg: z.literal('X25519-HKDF-SHA256-A256GCM'),
  /** The sender's ephemeral X25519 public key, base64 (raw 32 bytes). */
  epk: z.string(),
  iv: z.string(),
  ciphertext: z.string(),
  tag: z.string(),
}));
export type SealedToken = z.infer<typeof SealedToken>;

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

export const ConsumeRequest = z.lazy(() => z.strictObject({
  token: z.string().min(1).max(200),
  agentId: z.string().min(1).max(128),
  taskId: z.string().min(1).max(128),
  /** Digest of {action, resource, payload} the agent is about to execute. */
  actionDigest: hexDigest(),
}));
export type ConsumeRequest = z.infer<typeof ConsumeRequest>;

export const ExecutionReport = z.lazy(() => z.strictObject({
  status: z.enum(['succeeded', 'failed']),
  resultDigest: hexDigest().optional(),
  message: z.string().max(2000).optional(),
}));
export type ExecutionReport = z.infer<typeof ExecutionReport>;

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
  decisions: { reviewer: string; decision: string; actionDigest: string; at: string; signed: boolean }[];
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

/** The final decision handed to the agent. */
export interface ApprovalOutcome {
  requestId: string;
  workflowId: string;
  status: Extract<ApprovalStatus, 'approved' | 'denied' | 'changes_requested' | 'expired' | 'executed' | 'failed' | 'not_executed' | 'outcome_unknown' | 'cancelled'>;
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

export const ApprovalInput = z.lazy(() => z.object({ request: ActionRequest, requestId: z.string(), actionDigest: z.string(), voucher: z.unknown().optional() }));
export type ApprovalInput = z.infer<typeof ApprovalInput>;

export const SubmitWait = z.object({ waitMs: z.number().int().min(0).max(10 * 60_000) });
export type SubmitWait = z.infer<typeof SubmitWait>;
