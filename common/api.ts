/**
 * The HTTP API's bodies (DESIGN §7): the single source for the server's validation, the SDK's
 * requests and the OpenAPI document (server/openapi.ts). Pure: bundled nowhere near Node.
 */
import { z } from 'zod';
import { ActionRequest, ConsumeRequest, ExecutionReport, ReviewerDecision } from './inputs';

/** What an agent submits: an action request whose agentId, if given, must be the credential's own. */
export const SubmitBody = ActionRequest.extend({ agentId: ActionRequest.shape.agentId.optional() }).required({ agentKey: true });
export type SubmitBody = z.input<typeof SubmitBody>;

export const ConsumeBody = ConsumeRequest;
export const ReportBody = ExecutionReport;
export const DecisionBody = ReviewerDecision;

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
