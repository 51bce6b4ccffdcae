/**
 * The inputs every boundary validates (DESIGN §2), as zod schemas with their types inferred; what
 * the workflow answers is in views.ts, the JSON primitive in json.ts.
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
import { ReasonCode } from './codes';
import { Payload, refusingOwnProto } from './json';

export const MAX_SUMMARY_CHARS = 500;
export const MAX_CONTEXT_ENTRIES = 32;
export const MAX_CONTEXT_BYTES = 16 * 1024;
export const MAX_TEXT_CHARS = 2000;

const identifier = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'letters, digits and . _ : @ - only, starting with a letter or digit');

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
/** An action request as an agent writes it for the SDK: its agentId comes from the agent's key. */
export type ActionRequestInput = Omit<z.input<typeof ActionRequest>, 'agentId'>;

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
  /**
   * What a decision on this route must prove (the rule's `assurance`): `passkey` — signed by the
   * reviewer's own credential (passkey, or the Ed25519 key the directory registers) — or `chat`,
   * which also takes a chat click the front door attests (Slack). Absent means `passkey`.
   */
  assurance: z.enum(['chat', 'passkey']).optional(),
  /** The front door's public key (directory.server.startKey), which signs chat attestations. */
  attestationKey: z.string().optional(),
  /** Whether one batch signature may approve this request (the rules' `batch`; false by default from high risk). Absent: never. */
  batch: z.boolean().optional(),
  /** The catalog's display fields for this payload, in the catalog's order: what a reviewer sees first. */
  display: z.array(z.object({ name: z.string(), value: z.string() })).optional(),
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

const slackId = z.string().regex(/^[A-Z0-9]{2,32}$/, 'a Slack id such as U0123ABCD');

/**
 * A decision made in chat: the front door checked the Slack request's signature and that the Slack
 * user is linked to the reviewer, and signs that attestation with its own key (the start key):
 * signingMessage('countersign/chat-attestation/v1', { statement, slack }). Counts only on a route
 * whose assurance is `chat`; the workflow checks both.
 */
export const ChatSignature = z.lazy(() =>
  z.strictObject({
    signedAt: z.iso.datetime(),
    chat: z.strictObject({
      slack: z.strictObject({ teamId: slackId, userId: slackId, channelId: slackId, actionTs: z.string().regex(/^[0-9]{1,12}\.[0-9]{1,9}$/, 'a Slack action timestamp') }),
      value: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'a base64 Ed25519 signature (88 characters)'),
    }),
  }),
);
export type ChatSignature = z.infer<typeof ChatSignature>;

/** How a decision is signed: by the reviewer's Ed25519 key (CLI), their passkey (web inbox), or attested in chat (Slack). */
export const DecisionSignature = z.lazy(() => z.union([KeySignature, PasskeySignature, ChatSignature]));
export type DecisionSignature = z.infer<typeof DecisionSignature>;
export type PasskeySignature = z.infer<typeof PasskeySignature>;

const hexDigest = () => z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hex digest');

/**
 * Names the version of the payload the reviewer was shown (ReviewView.currentDigest). Required by
 * the review rules (workflows/review.ts); optional here only so runs started before it still parse.
 */
const versionDigest = () => hexDigest().optional();

/** The most requests one batch signature approves (common/batch.ts). */
export const MAX_BATCH_SIZE = 50;
/** No inclusion proof in a tree of MAX_BATCH_SIZE leaves is longer than this (ceil(log2 50) = 6). */
export const MAX_BATCH_PROOF = 6;

/**
 * Where this request sits in a batch the reviewer signed once (common/batch.ts): the signature then
 * covers the batch statement over `root`, and the workflow checks its own leaf is at `index`.
 */
export const BatchPosition = z.lazy(() =>
  z.strictObject({
    root: hexDigest(),
    size: z.number().int().min(1).max(MAX_BATCH_SIZE),
    index: z.number().int().min(0).max(MAX_BATCH_SIZE - 1),
    proof: z.array(hexDigest()).max(MAX_BATCH_PROOF),
  }),
);

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
      batch: BatchPosition.optional(),
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
export const ApprovalInput = z.lazy(() => z.object({ request: ActionRequest, requestId: z.string(), actionDigest: z.string(), voucher: z.unknown().optional() }));
export type ApprovalInput = z.infer<typeof ApprovalInput>;

export const SubmitWait = z.object({ waitMs: z.number().int().min(0).max(10 * 60_000) });
export type SubmitWait = z.infer<typeof SubmitWait>;
