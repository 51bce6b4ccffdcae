import { ed25519 } from '@noble/curves/ed25519.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { base64ToBytes } from './base64';
import { canonicalJson } from './canonical';
import { actionDigest, sha256Hex } from './digest';
import type { Resource } from './schema';

/**
 * What is signed, as canonical JSON with a domain tag, so a signature for one kind of message can
 * never be replayed as another. Pure and deterministic: the workflow verifies reviewer signatures.
 */
export function signingMessage(domain: SignedDomain, content: unknown): string {
  return canonicalJson({ domain, content });
}

export type SignedDomain =
  | 'countersign/reviewer-decision/v1'
  | 'countersign/approval-record/v1'
  | 'countersign/execution-receipt/v1'
  | 'countersign/evidence-bundle/v1';

/** The fields of a reviewer decision that the reviewer's key signs. */
export interface DecisionStatement {
  requestId: string;
  /** Digest of the action version the reviewer decided on. */
  actionDigest: string;
  reviewer: string;
  decision: 'approve' | 'deny' | 'request_changes';
  /** Digest of {action, resource, payload} with the edited or proposed payload, if any. */
  editedPayloadDigest?: string;
  reasonCode?: string;
  signedAt: string;
}

export function decisionMessage(statement: DecisionStatement): string {
  return signingMessage('countersign/reviewer-decision/v1', statement);
}

/** Pure-JS Ed25519 verification (synchronous, deterministic); false on any malformed input. */
export function verifyEd25519(publicKeyBase64: string, message: string, signatureBase64: string): boolean {
  try {
    const publicKey = base64ToBytes(publicKeyBase64);
    const signature = base64ToBytes(signatureBase64);
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    return ed25519.verify(signature, utf8ToBytes(message), publicKey);
  } catch {
    return false;
  }
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

/** The statement a reviewer signs for a decision on the current version of a request. */
export function statementFor(
  requestId: string,
  currentDigest: string,
  request: { action: string; resource: Resource },
  decision: { decision: DecisionStatement['decision']; reviewer: string; editedPayload?: unknown; proposedPayload?: unknown; reasonCode?: string },
  signedAt: string,
): DecisionStatement {
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
