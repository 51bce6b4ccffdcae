import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from './canonical';
import { actionDigest, sha256Hex } from './digest';
import { verifyEd25519 } from './ed25519';
import type { ChatSignature, DecisionSignature, Resource } from './inputs';
import { verifyPasskeyAssertion, type PasskeyCredential } from './webauthn';

/**
 * What is signed, as canonical JSON with a domain tag, so a signature for one kind of message can
 * never be replayed as another. Pure and deterministic: the workflow verifies reviewer signatures.
 */
export function signingMessage(domain: SignedDomain, content: unknown): string {
  return canonicalJson({ domain, content });
}

export type SignedDomain =
  | 'countersign/reviewer-decision/v1'
  | 'countersign/reviewer-decision/v2'
  | 'countersign/approval-record/v1'
  | 'countersign/execution-receipt/v1'
  | 'countersign/evidence-bundle/v1'
  | 'countersign/start-voucher/v1'
  | 'countersign/chat-attestation/v1'
  | 'countersign/reviewer-batch/v1'
  | 'countersign/reviewer-batch-leaf/v1';

/**
 * What a reviewer's key signs for one decision (DESIGN §4): which workflow and request, which
 * version of the payload they were shown, under which policy, what they decided and when. A
 * statement for another request, version or policy never verifies there.
 */
export interface DecisionStatement {
  workflowId: string;
  /** The run: a statement never carries over to a reset run or a new run of the same workflow id. */
  runId: string;
  requestId: string;
  /** Digest of the version the reviewer was shown and decides on. */
  versionDigest: string;
  /** Digest of the policy that routed that version. */
  policyDigest: string;
  reviewer: string;
  decision: 'approve' | 'deny' | 'request_changes';
  /** Digest of {action, resource, payload} with the edited or proposed payload, if any. */
  editDigest?: string;
  reasonCode?: string;
  /** The deny message or the approve / request-changes comment, as the agent and the evidence will show it. */
  message?: string;
  comment?: string;
  signedAt: string;
}

export const DECISION_DOMAIN = 'countersign/reviewer-decision/v2';

export function decisionMessage(statement: DecisionStatement): string {
  return signingMessage(DECISION_DOMAIN, statement);
}

/** The statement for a decision on a request, as the CLI signs it and the workflow checks it. */
export function decisionStatement(
  target: { workflowId: string; runId: string; requestId: string; versionDigest: string; policyDigest: string; action: string; resource: Resource },
  decision: { decision: DecisionStatement['decision']; reviewer: string; editedPayload?: unknown; proposedPayload?: unknown; reasonCode?: string; message?: string; comment?: string },
  signedAt: string,
): DecisionStatement {
  const replacement = decision.editedPayload ?? decision.proposedPayload;
  return {
    workflowId: target.workflowId,
    runId: target.runId,
    requestId: target.requestId,
    versionDigest: target.versionDigest,
    policyDigest: target.policyDigest,
    reviewer: decision.reviewer,
    decision: decision.decision,
    ...(replacement !== undefined ? { editDigest: actionDigest({ action: target.action, resource: target.resource, payload: replacement as Record<string, never> }) } : {}),
    ...(decision.reasonCode !== undefined ? { reasonCode: decision.reasonCode } : {}),
    ...(decision.message !== undefined ? { message: decision.message } : {}),
    ...(decision.comment !== undefined ? { comment: decision.comment } : {}),
    signedAt,
  };
}

/** What a decision on the version a reviewer was shown names, from the review view (and the digests they saw). */
export function statementTarget(
  view: { workflowId: string; runId?: string; requestId: string; currentDigest: string; policy?: { policyDigest: string }; request: { action: string; resource: Resource } },
  shown: { versionDigest: string; policyDigest: string } = { versionDigest: view.currentDigest, policyDigest: view.policy?.policyDigest ?? '' },
) {
  return { workflowId: view.workflowId, runId: view.runId ?? '', requestId: view.requestId, versionDigest: shown.versionDigest, policyDigest: shown.policyDigest, action: view.request.action, resource: view.request.resource };
}

/**
 * The statement runs started before the 'integrity-v2' patch verify (workflows/legacy): it names
 * neither the workflow, the run nor the policy. Frozen: those runs replay against it.
 */
export interface DecisionStatementV1 {
  requestId: string;
  actionDigest: string;
  reviewer: string;
  decision: 'approve' | 'deny' | 'request_changes';
  editedPayloadDigest?: string;
  reasonCode?: string;
  signedAt: string;
}

export const decisionMessageV1 = (statement: DecisionStatementV1) => signingMessage('countersign/reviewer-decision/v1', statement);

export function decisionStatementV1(
  requestId: string,
  currentDigest: string,
  request: { action: string; resource: Resource },
  decision: { decision: DecisionStatementV1['decision']; reviewer: string; editedPayload?: unknown; proposedPayload?: unknown; reasonCode?: string },
  signedAt: string,
): DecisionStatementV1 {
  const replacement = decision.editedPayload ?? decision.proposedPayload;
  return {
    requestId,
    actionDigest: currentDigest,
    reviewer: decision.reviewer,
    decision: decision.decision,
    ...(replacement !== undefined ? { editedPayloadDigest: actionDigest({ action: request.action, resource: request.resource, payload: replacement as Record<string, never> }) } : {}),
    ...(decision.reasonCode !== undefined ? { reasonCode: decision.reasonCode } : {}),
    signedAt,
  };
}

/** A short, stable name for a public key: the first 16 hex of its SHA-256. */
export function keyId(publicKeyBase64: string): string {
  return sha256Hex(publicKeyBase64).slice(0, 16);
}

/** Compares two equal-length hex digests without an early exit. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The challenge a decision's assertion answers: SHA-256 of the statement's signing message. */
export function decisionChallenge(statement: DecisionStatement): Uint8Array {
  return sha256(utf8ToBytes(decisionMessage(statement)));
}

/** What a reviewer may sign a decision with: their registered Ed25519 key, their passkeys, and the relying party those answer to. */
export interface DecisionCredentials {
  key?: string;
  passkeys: readonly PasskeyCredential[];
  webauthn?: { rpId: string; origins: string[] };
  /** The front door's public key: it attests chat decisions. */
  attestationKey?: string;
}

/** How strongly a decision proves its reviewer: their own key, their passkey, or a chat click the front door attests. */
export type Assurance = 'key' | 'passkey' | 'chat';

export const CHAT_ATTESTATION_DOMAIN = 'countersign/chat-attestation/v1';

/** What the front door signs for a chat decision: the statement the reviewer would have signed, and what Slack proved. */
export function chatAttestationMessage(statement: DecisionStatement, slack: ChatSignature['chat']['slack']): string {
  return signingMessage(CHAT_ATTESTATION_DOMAIN, { statement, slack });
}

export function assuranceOf(signature: DecisionSignature): Assurance {
  return 'passkey' in signature ? 'passkey' : 'chat' in signature ? 'chat' : 'key';
}

/** Why a decision's signature is refused; each caller words it for its reader. */
export type DecisionCheck =
  | { ok: true; signCount?: number }
  | { ok: false; why: 'unknown-passkey' | 'no-relying-party' | 'no-key' | 'bad-signature' | 'no-attestation-key' | 'bad-attestation' }
  | { ok: false; why: 'assertion-refused'; reason: string };

/**
 * Whether `signature` signs `statement` with one of the reviewer's own credentials: the one rule the
 * front door (for a quick, clear answer) and the workflow (against its own directory snapshot) both run.
 * A passkey signs the SHA-256 of the statement (WebAuthn); a key signs the statement's message (Ed25519).
 */
export function verifyDecision(statement: DecisionStatement, signature: DecisionSignature, credentials: DecisionCredentials): DecisionCheck {
  if ('chat' in signature) {
    if (!credentials.attestationKey) return { ok: false, why: 'no-attestation-key' };
    return verifyEd25519(credentials.attestationKey, chatAttestationMessage(statement, signature.chat.slack), signature.chat.value) ? { ok: true } : { ok: false, why: 'bad-attestation' };
  }
  return verifyOwnSignature(decisionMessage(statement), signature, credentials);
}

/**
 * Whether the reviewer's own key or passkey signs `message` (a signingMessage, domain and all): a
 * passkey signs its SHA-256 (WebAuthn), a key the message itself (Ed25519). Single and batch decisions share it.
 */
export function verifyOwnSignature(message: string, signature: Exclude<DecisionSignature, ChatSignature>, credentials: DecisionCredentials): DecisionCheck {
  if ('passkey' in signature) {
    const assertion = signature.passkey;
    const credential = credentials.passkeys.find((p) => p.credentialId === assertion.credentialId);
    if (!credential) return { ok: false, why: 'unknown-passkey' };
    const rp = credentials.webauthn;
    if (!rp) return { ok: false, why: 'no-relying-party' };
    const checked = verifyPasskeyAssertion(assertion, credential, { challenge: sha256(utf8ToBytes(message)), origins: rp.origins, rpId: rp.rpId });
    return checked.ok ? { ok: true, signCount: checked.signCount } : { ok: false, why: 'assertion-refused', reason: checked.reason };
  }
  if (!credentials.key) return { ok: false, why: 'no-key' };
  return verifyEd25519(credentials.key, message, signature.value) ? { ok: true } : { ok: false, why: 'bad-signature' };
}
