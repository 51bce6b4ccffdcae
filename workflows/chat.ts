/**
 * A request's chat messages (Slack): what they show, and keeping them current. The first message
 * to a group is posted by notifyGroup (transitions.ts); its reference comes back here, and after
 * every transition each message whose content is stale is re-rendered in place. Notifications never
 * hold up the review: the updates run beside it, and a failure is recorded, never thrown.
 */
import { patched } from '@temporalio/workflow';
import type { ChatMessageRef, RequestMessage } from '../activities/notify/types';
import { canonicalJson } from '../common/canonical';
import { CHAT_MESSAGES_PATCH } from './patches';
import { updateGroupMessages } from './proxies';
import { approvalsNeeded, approvers, current, eligibleNames, isOpen, record, type ApprovalRun } from './state';

/** What a group's message shows now, from the run's own state. */
export function requestMessage(r: ApprovalRun): RequestMessage {
  const { request, review, outcome } = r;
  const { payload, digest, policy } = current(r);
  if (r.chat.shown?.digest !== digest) r.chat = { ...r.chat, previous: r.chat.shown?.payload, shown: { digest, payload } };
  return {
    requestId: r.requestId,
    workflowId: r.workflowId,
    status: r.status,
    action: request.action,
    summary: request.summary,
    resource: request.resource,
    agentId: request.agentId,
    ...(request.onBehalfOf ? { onBehalfOf: request.onBehalfOf } : {}),
    risk: policy?.risk ?? 'medium',
    ruleIds: policy?.ruleIds ?? [],
    reason: policy?.reason ?? '',
    ...(policy?.display ? { display: policy.display } : {}),
    payload,
    versionDigest: digest,
    version: review?.versions ?? 1,
    ...(review?.version.editedBy ? { editedBy: review.version.editedBy } : {}),
    ...(r.chat.previous ? { previousPayload: r.chat.previous } : {}),
    approvals: approvers(r),
    approvalsNeeded: approvalsNeeded(r),
    eligibleGroups: eligibleNames(r),
    ...(review && isOpen(r) ? { deadline: new Date(review.deadline).toISOString() } : {}),
    assurance: policy?.assurance ?? 'passkey',
    ...(outcome ? { outcome: { status: outcome.status, code: outcome.code, message: outcome.message, decidedBy: outcome.decidedBy, reviewers: outcome.reviewers } } : {}),
  };
}

/** The content a message shows, as one string: a message is stale when it differs. */
const stamp = (m: RequestMessage, live: boolean) => canonicalJson({ m, live } as never);

/** A group's message was posted showing `message`: remember it, and bring it up to date if the run moved on meanwhile. */
export function messagePosted(r: ApprovalRun, ref: ChatMessageRef, message: RequestMessage): void {
  r.chat.refs.push({ ...ref, shown: stamp(message, true) });
  refreshChatMessages(r);
}

/** After a transition: re-render every message whose content changed (buttons go once its group may no longer decide). */
export function refreshChatMessages(r: ApprovalRun): void {
  if (!r.chat.refs.length || !patched(CHAT_MESSAGES_PATCH)) return;
  const message = requestMessage(r);
  const stale = r.chat.refs
    .map((ref) => ({ ref, live: isOpen(r) && eligibleNames(r).includes(ref.group) }))
    .map(({ ref, live }) => ({ ref, live, shown: stamp(message, live) }))
    .filter(({ ref, shown }) => ref.shown !== shown);
  if (!stale.length) return;
  for (const s of stale) s.ref.shown = s.shown;
  const refs = stale.map(({ ref, live }) => ({ group: ref.group, channel: ref.channel, ts: ref.ts, live }));
  r.notifications.push(
    updateGroupMessages.executeWithOptions({ summary: `update ${refs.map((x) => x.group).join(', ')} in chat` }, [{ message, refs }]).then(
      () => undefined,
      (err: Error) => {
        // Shown nothing new after all: the next transition sends these again.
        for (const s of stale) if (s.ref.shown === s.shown) s.ref.shown = '';
        record(r, 'notification_failed', `chat update for ${refs.map((x) => x.group).join(', ')}: ${err.cause instanceof Error ? err.cause.message : err.message}`, undefined, { groups: refs.map((x) => x.group) });
      },
    ),
  );
}
