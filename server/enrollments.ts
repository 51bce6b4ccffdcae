import { createHash, randomBytes } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import {
  confirmPasskeyUpdate,
  enrollmentStateQuery,
  inviteOpenQuery,
  enrollmentWorkflowId,
  enrollmentWorkflowType,
  registerPasskeyUpdate,
  revokeEnrollmentSignal,
  type EnrollmentState,
  type RegisteredPasskey,
} from '../workflows/enrollment-messages';

/** How long an invite is open unless the operator says otherwise, and the longest it may be. */
export const DEFAULT_INVITE_TTL_MS = 24 * 3600_000;
export const MAX_INVITE_TTL_MS = 7 * 24 * 3600_000;
/** How long a registered passkey waits for the operator's confirmation. */
export const CONFIRM_WITHIN_MS = 7 * 24 * 3600_000;

const INVITE_INVALID = 'This enrolment link is not valid: it was used already, has expired or was withdrawn. Ask your operator for a new one.';

export const INVITE_PATTERN = /^cs_invite_[A-Za-z0-9_-]{43}$/;

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
/** What a registration sends to prove it holds the invite: its SHA-256 (the token itself never reaches Temporal). */
export const inviteProof = (token: string) => sha256(token);
/** What the enrolment workflow starts with: the proof's SHA-256, which proves nothing by itself. */
export const inviteCheck = (token: string) => sha256(inviteProof(token));

export class EnrollmentError extends Error {
  override name = 'EnrollmentError';
}

/** Reviewers' passkey enrolments in Temporal: the operator's CLI invites and confirms, the server registers. */
export class Enrollments {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  /** A new invite for the reviewer (a previous open one is withdrawn first when `replace`). The token is returned once. */
  async invite(reviewer: string, options: { ttlMs?: number; replace?: boolean } = {}): Promise<{ token: string; expiresAt: string }> {
    const ttlMs = options.ttlMs ?? DEFAULT_INVITE_TTL_MS;
    if (!(ttlMs > 0 && ttlMs <= MAX_INVITE_TTL_MS)) throw new EnrollmentError(`An invite lasts at most ${MAX_INVITE_TTL_MS / 3600_000} hours.`);
    const token = `cs_invite_${randomBytes(32).toString('base64url')}`;
    const workflowId = enrollmentWorkflowId(reviewer);
    const open = await this.state(reviewer);
    if (open && (open.status === 'invited' || open.status === 'registered')) {
      if (!options.replace) throw new EnrollmentError(`${reviewer} already has an open enrolment (${open.status}, until ${open.expiresAt}): confirm it, or pass --replace to withdraw it and invite again.`);
      await this.client.workflow.getHandle(workflowId).signal(revokeEnrollmentSignal);
      await this.client.workflow.getHandle(workflowId).result().catch(() => undefined);
    }
    const expiresAt = Date.now() + ttlMs;
    try {
      await this.client.workflow.start(enrollmentWorkflowType, {
        workflowId,
        taskQueue: this.taskQueue,
        args: [{ reviewer, inviteCheck: inviteCheck(token), expiresAt, confirmWithinMs: CONFIRM_WITHIN_MS }],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        staticSummary: `Passkey enrolment of reviewer ${reviewer}`,
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new EnrollmentError(`${reviewer} already has an open enrolment: pass --replace to withdraw it.`);
      throw err;
    }
    return { token, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** The reviewer's latest enrolment, if any. */
  async state(reviewer: string): Promise<EnrollmentState | undefined> {
    try {
      return await this.client.workflow.getHandle(enrollmentWorkflowId(reviewer)).query(enrollmentStateQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /** Throws EnrollmentError unless the invite is open for this reviewer (a Query: nothing is written). */
  async check(reviewer: string, token: string): Promise<void> {
    let open = false;
    try {
      open = await this.client.workflow.getHandle(enrollmentWorkflowId(reviewer)).query(inviteOpenQuery, { inviteProof: inviteProof(token) });
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    if (!open) throw new EnrollmentError(INVITE_INVALID);
  }

  /** Records the passkey against the invite: single use, decided by the workflow. */
  async register(reviewer: string, token: string, passkey: RegisteredPasskey): Promise<EnrollmentState> {
    return this.update(reviewer, (h) => h.executeUpdate(registerPasskeyUpdate, { args: [{ inviteProof: inviteProof(token), passkey }] }));
  }

  /** The operator has put the passkey in the directory: the enrolment ends. */
  async confirm(reviewer: string, credentialId: string): Promise<EnrollmentState> {
    return this.update(reviewer, (h) => h.executeUpdate(confirmPasskeyUpdate, { args: [{ credentialId }] }));
  }

  async revoke(reviewer: string): Promise<void> {
    await this.client.workflow.getHandle(enrollmentWorkflowId(reviewer)).signal(revokeEnrollmentSignal);
  }

  private async update(reviewer: string, fn: (h: ReturnType<Client['workflow']['getHandle']>) => Promise<EnrollmentState>): Promise<EnrollmentState> {
    const invalid = INVITE_INVALID;
    try {
      return await fn(this.client.workflow.getHandle(enrollmentWorkflowId(reviewer)));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new EnrollmentError(invalid);
      if (err instanceof WorkflowUpdateFailedError) throw new EnrollmentError((err.cause as Error | undefined)?.message ?? invalid);
      // An update on a closed run: the enrolment is over.
      if ((err as { name?: string }).name === 'WorkflowNotFoundError' || /workflow execution already completed/i.test((err as Error).message ?? '')) throw new EnrollmentError(invalid);
      throw err;
    }
  }
}
