/** The approval workflow's activities, each with the options its step needs (workflows/approval.ts and its handlers). */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

/** Policy, minting, spending and the directory's keys: local activities, so each costs no server round trip. */
export const { evaluateRequest, evaluateRequestAndRelease, evaluateEdit, mintToken, spendToken, reviewerCredentials } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3 },
});
export const { notifyGroup } = proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 5 },
});
/**
 * A chat message kept current: retried for up to ten minutes (Slack's 429s ask for waits of their
 * own, which count as attempts), so a closed request does not keep live buttons for want of a retry.
 */
export const { updateGroupMessages } = proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  scheduleToCloseTimeout: '10m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
export const { sealEvidence } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
