import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/**
 * A reviewer's passkey enrolment (`countersign reviewers invite` → the inbox's enrol page →
 * `countersign reviewers confirm`), one durable workflow per reviewer. Shared by the workflow, the
 * server and the CLI. The invite itself is never in the history: the start input holds
 * SHA-256(SHA-256(invite)), and only the single registration carries SHA-256(invite) (its proof).
 */
export const enrollmentWorkflowType = 'reviewerEnrollment';

/** Workflow id of a reviewer's enrolment: one open invite per reviewer. */
export const enrollmentWorkflowId = (reviewer: string) => `countersign-enroll-${reviewer}`;

export interface EnrollmentInput {
  reviewer: string;
  /** Hex SHA-256 of the invite's proof (itself the hex SHA-256 of the invite token). */
  inviteCheck: string;
  /** Epoch ms on the workflow's clock after which the invite is refused. */
  expiresAt: number;
  /** How long a registered passkey waits for the operator to confirm it. */
  confirmWithinMs: number;
}

/** A passkey as the inbox registered it: public parts only. */
export interface RegisteredPasskey {
  id: string;
  publicKey: string;
  aaguid?: string;
  /** The origin the browser was on, and the relying party it was made for. */
  origin: string;
  rpId: string;
  /** passkeyFingerprint(id, publicKey): what the reviewer was shown, and the operator must confirm. */
  fingerprint: string;
}

export type EnrollmentStatus = 'invited' | 'registered' | 'confirmed' | 'expired' | 'revoked';

export interface EnrollmentState {
  reviewer: string;
  status: EnrollmentStatus;
  expiresAt: string;
  registeredAt?: string;
  passkey?: RegisteredPasskey;
}

/** The inbox: the invite (by its proof) answered with a new passkey. Single use: refused unless the invite is open. */
export const registerPasskeyUpdate = defineUpdate<EnrollmentState, [{ inviteProof: string; passkey: RegisteredPasskey }]>('registerPasskey');

/** The inbox, before the ceremony: is this invite open? A Query, so nothing of it is written to the history. */
export const inviteOpenQuery = defineQuery<boolean, [{ inviteProof: string }]>('inviteOpen');

/** The operator: the passkey is now in the directory; the enrolment ends. */
export const confirmPasskeyUpdate = defineUpdate<EnrollmentState, [{ credentialId: string }]>('confirmPasskey');

/** The operator: the invite (or the registered, unconfirmed passkey) is withdrawn. */
export const revokeEnrollmentSignal = defineSignal('revokeEnrollment');

export const enrollmentStateQuery = defineQuery<EnrollmentState>('enrollmentState');
