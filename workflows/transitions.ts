/**
 * How an approval run's state moves: a review transition applied, a request closed or finalized,
 * a group notified. Each publishes what changed (./publish.ts).
 */
import type { GroupNotification } from '../activities';
import { ReasonCode } from '../common/codes';
import { formatDuration } from '../common/duration';
import type { GroupSnapshot } from '../common/inputs';
import type { OutcomeWithout } from '../common/views';
import type { Final } from './consume';
import { messagePosted, requestMessage } from './chat';
import { notifyGroup } from './proxies';
import { publish } from './publish';
import type { Transition } from './review';
import { approvers, current, now, record, type ApprovalRun } from './state';

export type CloseFields = OutcomeWithout<'requestId' | 'workflowId' | 'edited' | 'ruleIds' | 'risk' | 'policyDigest' | 'decidedAt' | 'actionDigest'>;

/** The decision the agent hears: approved (with its token), denied, changes requested, expired, cancelled. */
export function close(r: ApprovalRun, fields: CloseFields): void {
  const p = current(r).policy;
  r.outcome = {
    requestId: r.requestId,
    workflowId: r.workflowId,
    edited: (r.review?.versions ?? 1) > 1,
    actionDigest: current(r).digest,
    ruleIds: p?.ruleIds ?? [],
    risk: p?.risk ?? 'high',
    policyDigest: p?.policyDigest,
    decidedAt: now(),
    ...fields,
  };
  r.status = fields.status;
  publish(r);
}

/** How an approved request ended: executed, failed, not executed, outcome unknown. */
export function finalize(r: ApprovalRun, { status, execution }: Final): void {
  r.outcome = { ...r.outcome!, status, execution };
  r.status = status;
  publish(r);
}

/** Applies a transition of the review rules: evidence, notifications, status. */
export function apply(r: ApprovalRun, t: Transition): void {
  const review = (r.review = t.state);
  for (const e of t.events) record(r, e.type, e.detail, e.actor, e.data);
  for (const n of t.notify) notify(r, n.group, n.event);
  const c = review.closure;
  switch (review.status) {
    case 'pending':
    case 'escalated':
      r.status = review.status;
      publish(r);
      break;
    case 'approved':
      r.approval = { decidedBy: 'reviewers', reviewers: approvers(r) };
      r.status = 'approved'; // released (token minted) by the main flow; the agent hears of it then
      publish(r);
      break;
    case 'denied':
      close(r, { status: 'denied', code: c?.code, reviewerReason: c?.reviewerReason, message: c?.message, decidedBy: 'reviewers', reviewers: c?.reviewer ? [c.reviewer] : [] });
      break;
    case 'changes_requested':
      close(r, { status: 'changes_requested', code: c?.code, message: c?.message, comment: c?.comment, proposedPayload: c?.proposedPayload, decidedBy: 'reviewers', reviewers: c?.reviewer ? [c.reviewer] : [] });
      break;
    case 'expired':
      close(r, { status: 'expired', code: ReasonCode.SLA_EXPIRED, message: `No decision within the SLA (${formatDuration(review.version.policy.route.slaMs)}).`, decidedBy: 'timer', reviewers: [] });
      break;
  }
}

/** Notifications never hold up escalation or expiry: they run beside the review, not in its path. */
function notify(r: ApprovalRun, group: GroupSnapshot, event: GroupNotification['event']): void {
  const { request } = r;
  const p = current(r).policy;
  const notification: GroupNotification = {
    event,
    group: group.name,
    requestId: r.requestId,
    workflowId: r.workflowId,
    action: request.action,
    summary: request.summary,
    resource: request.resource,
    agentId: request.agentId,
    risk: p?.risk ?? 'medium',
    ruleIds: p?.ruleIds ?? [],
    reason: p?.reason ?? '',
    deadline: r.review ? new Date(r.review.deadline).toISOString() : undefined,
  };
  // Sent before apply() moves the run's status: the message shows the review's own, pending or escalated.
  const status = r.review?.status === 'pending' || r.review?.status === 'escalated' ? r.review.status : undefined;
  const message = { ...requestMessage(r), ...(status ? { status } : {}) };
  r.notifications.push(
    notifyGroup.executeWithOptions({ summary: `${event === 'escalated' ? 'escalate to' : 'notify'} ${group.name}` }, [notification, message]).then(
      (res) => {
        record(r, 'notified', `${event} sent to ${group.name} via ${res.channels.join(', ')}`, undefined, { group: group.name, event, channels: res.channels });
        if (res.posted) messagePosted(r, { group: group.name, ...res.posted }, message);
      },
      (err: Error) =>
        void record(r, 'notification_failed', `${event} to ${group.name}: ${err.cause instanceof Error ? err.cause.message : err.message}`, undefined, { group: group.name, event }),
    ),
  );
}
