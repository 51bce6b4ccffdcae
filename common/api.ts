/**
 * The HTTP API's bodies (DESIGN §7): the single source for the server's validation, the SDK's
 * requests and the OpenAPI document (server/openapi.ts). Pure: bundled nowhere near Node.
 */
import { z } from 'zod';
import { ActionRequest, ConsumeRequest, DecisionSignature, ExecutionReport, MAX_BATCH_SIZE, ReviewerDecision } from './inputs';

/** What an agent submits: an action request whose agentId, if given, must be the credential's own. */
export const SubmitBody = ActionRequest.extend({ agentId: ActionRequest.shape.agentId.optional() }).required({ agentKey: true });
export type SubmitBody = z.input<typeof SubmitBody>;

export const ConsumeBody = ConsumeRequest;
export const ReportBody = ExecutionReport;
export const DecisionBody = ReviewerDecision;

// --- batch decisions (docs/reviewer-cli.md, docs/inbox.md) -----------------------------------

const hex64 = () => z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hex digest');
const workflowIdField = () => z.string().min(1).max(300).regex(/^cs-[A-Za-z0-9._:@-]+$/, 'a workflow id (cs-…) as the review view names it');
/** Each request of a batch once, in the order of the tree's leaves. */
const batchOf = <T extends z.ZodType<{ workflowId?: string; id?: string }>>(item: T) =>
  z
    .array(item)
    .min(1)
    .max(MAX_BATCH_SIZE, `a batch approves at most ${MAX_BATCH_SIZE} requests`)
    .refine((items) => new Set(items.map((i) => i.workflowId ?? i.id)).size === items.length, 'each request at most once');

/** One request of a batch as it is signed: a leaf of the tree (common/batch.ts BatchItem). */
export const BatchItemBody = z.strictObject({
  workflowId: workflowIdField(),
  runId: z.string().min(1).max(64),
  requestId: z.string().min(1).max(64),
  versionDigest: hex64(),
  policyDigest: hex64(),
});

/** A signed batch approval: the leaves, the comment every request gets, and one signature over the root (not a chat attestation). */
export const BatchBody = z.strictObject({
  items: batchOf(BatchItemBody),
  comment: z.string().max(2000).optional(),
  signature: DecisionSignature.refine((s) => !('chat' in s), 'the reviewer\'s own key or passkey signature: a chat attestation never approves a batch'),
});
export type BatchBody = z.infer<typeof BatchBody>;

/** What the inbox asks the server to word for a passkey to sign: the requests shown, each by id and the version shown. */
export const BatchStatementBody = z.strictObject({
  items: batchOf(z.strictObject({ id: z.string().min(1).max(300), versionDigest: hex64() })),
  comment: z.string().max(2000).optional(),
});

const reviewerName = z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'a reviewer name as the directory lists it');
export const ChallengeBody = z.strictObject({ reviewer: reviewerName });
export const LoginBody = z.strictObject({
  challenge: z.string().min(1).max(2048),
  /** A compact JWS (EdDSA) by the reviewer's key: { sub: reviewer, aud: the server's origin as the client reached it, nonce, iat, exp }. */
  proof: z.string().min(1).max(2048),
});

/** Longest a request may hold an HTTP call open waiting for a decision (?wait=). */
export const MAX_HTTP_WAIT_MS = 60_000;

/** RFC 9457 problem details, with the reason code an agent or a reviewer acts on. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
}

// --- the web inbox (docs/inbox.md) -------------------------------------------------------------

/** A browser's WebAuthn answer as @simplewebauthn/browser returns it: checked in full by the ceremony's verifier. */
const WebAuthnResponse = z.looseObject({ id: z.string().min(1).max(1366), rawId: z.string().max(1366), type: z.literal('public-key'), response: z.looseObject({}) });

export const EnrollOptionsBody = z.strictObject({ reviewer: reviewerName, token: z.string().min(1).max(128) });
export const EnrollBody = z.strictObject({ reviewer: reviewerName, token: z.string().min(1).max(128), ticket: z.string().min(1).max(2048), response: WebAuthnResponse });
export const PasskeyLoginOptionsBody = z.strictObject({});
export const PasskeyLoginBody = z.strictObject({ ticket: z.string().min(1).max(2048), response: WebAuthnResponse });
export const ValidateBody = z.strictObject({ payload: z.unknown() });
