/**
 * One reviewer's passkey enrolment, durable and single-use (issue 12). The invite is a random
 * token the operator hands over; this workflow holds only its hash. The first registration that
 * names the right hash, before expiry, wins; every later one is refused. A registered passkey
 * grants nothing: it waits here for the operator to confirm it into the policy's directory.
 */
import { allHandlersFinished, ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import { sha256Hex } from '../common/digest';
import { constantTimeEqual } from '../common/signing';
import {
  confirmPasskeyUpdate,
  enrollmentStateQuery,
  inviteOpenQuery,
  registerPasskeyUpdate,
  revokeEnrollmentSignal,
  type EnrollmentInput,
  type EnrollmentState,
  type RegisteredPasskey,
} from './enrollment-messages';

export async function reviewerEnrollment(input: EnrollmentInput): Promise<EnrollmentState> {
  let status: EnrollmentState['status'] = 'invited';
  let passkey: RegisteredPasskey | undefined;
  let registeredAt: number | undefined;
  const state = (): EnrollmentState => ({
    reviewer: input.reviewer,
    status,
    expiresAt: new Date(input.expiresAt).toISOString(),
    ...(registeredAt !== undefined ? { registeredAt: new Date(registeredAt).toISOString() } : {}),
    ...(passkey ? { passkey } : {}),
  });
  const inviteOpen = (inviteProof: string) => typeof inviteProof === 'string' && inviteProof.length === 64 && status === 'invited' && Date.now() < input.expiresAt && constantTimeEqual(sha256Hex(inviteProof), input.inviteCheck);
  // The same refusal for a wrong, used or expired invite: the answer says nothing about which.
  const refuseInvite = (inviteProof: string) => {
    if (!inviteOpen(inviteProof)) {
      throw ApplicationFailure.nonRetryable('This enrolment link is not valid: it was used already, has expired or was withdrawn. Ask your operator for a new one.', 'INVITE_INVALID');
    }
  };

  setHandler(enrollmentStateQuery, state);
  setHandler(inviteOpenQuery, ({ inviteProof }) => inviteOpen(inviteProof));
  setHandler(
    registerPasskeyUpdate,
    ({ passkey: registered }) => {
      passkey = registered;
      registeredAt = Date.now();
      status = 'registered';
      return state();
    },
    { validator: ({ inviteProof }) => refuseInvite(inviteProof) },
  );
  setHandler(
    confirmPasskeyUpdate,
    () => {
      status = 'confirmed';
      return state();
    },
    {
      validator: ({ credentialId }) => {
        if (status !== 'registered' || !passkey) throw ApplicationFailure.nonRetryable(`${input.reviewer} has not registered a passkey from the invite yet (status ${status}).`, 'NOT_REGISTERED');
        if (credentialId !== passkey.id) throw ApplicationFailure.nonRetryable('That is not the passkey this enrolment registered.', 'NOT_REGISTERED');
      },
    },
  );
  setHandler(revokeEnrollmentSignal, () => {
    if (status === 'invited' || status === 'registered') status = 'revoked';
  });

  // The invite is open until it expires; a registered passkey then waits for the operator.
  if (!(await condition(() => status !== 'invited', Math.max(0, input.expiresAt - Date.now())))) status = 'expired';
  const now = (): EnrollmentState['status'] => status; // handlers change it while we wait
  if (now() === 'registered' && !(await condition(() => now() !== 'registered', input.confirmWithinMs))) status = 'expired';
  await condition(allHandlersFinished); // an Update accepted just now still gets its answer
  return state();
}
