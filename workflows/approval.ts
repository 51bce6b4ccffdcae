/**
 * One approval, start to finish: evaluate → review → decide (release and execute arrive with tokens).
 * Deterministic: no Node built-ins, no I/O; policy, notification and crypto run as activities.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, GroupNotification } from '../activities';
import { OPEN_STATUSES, ReasonCode, type ApprovalStatus } from '../common/codes';
import { formatDuration } from '../common/duration';
import { describeIssues } from '../common/errors';
import {
  ReviewerDecision,
  SubmitWait,
  type ApprovalEvent,
  type ApprovalInput,
  type ApprovalOutcome,
  type DecisionReceipt,
  type GroupSnapshot,
  type Payload,
  type PolicyDecision,
  type ReviewView,
  type SubmitState,
} from '../common/schema';
import { SA } from '../common/search-attributes';
import { awaitDecisionUpdate, decideSignal, decideUpdate, reviewViewQuery } from './messages';

const { evaluateRequest, evaluateEdit } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3 },
});
const { notifyGroup } = proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 5 },
});

export async function approvalWorkflow(input: ApprovalInput): Promise<ApprovalOutcome> {
  const { request, requestId } = input;
  const { workflowId } = workflowInfo();
  const { agentKey: _sealedDeliveryKey, ...shownRequest } = request;

  let status: ApprovalStatus = 'evaluating';
  let policy: PolicyDecision | undefined;
  let outcome: ApprovalOutcome | undefined;
  let currentPayload: Payload = request.payload;
  let currentDigest = input.actionDigest;
  let edited = false;
  let approvalsNeeded = 1;
  let deadline: number | undefined;
  let nextEscalation: number | undefined;
  let editing = false;
  const eligible: GroupSnapshot[] = [];
  const approvals: { reviewer: string; digest: string }[] = [];
  const history: ApprovalEvent[] = [];
  const notifications: Promise<void>[] = [];

  const now = () => new Date(Date.now()).toISOString();
  const record = (type: ApprovalEvent['type'], detail: string, actor?: string) => history.push({ at: now(), type, detail, ...(actor ? { actor } : {}) });
  const currentApprovers = () => approvals.filter((a) => a.digest === currentDigest).map((a) => a.reviewer);
  const isOpen = () => OPEN_STATUSES.includes(status);

  const view = (): ReviewView => ({
    requestId,
    workflowId,
    status,
    request: shownRequest,
    actionDigest: input.actionDigest,
    currentPayload,
    policy,
    eligibleGroups: eligible.map((g) => g.name),
    approvals: currentApprovers(),
    approvalsNeeded,
    deadline: deadline ? new Date(deadline).toISOString() : undefined,
    nextEscalation: nextEscalation ? new Date(nextEscalation).toISOString() : undefined,
    outcome,
    history,
  });
  const submitState = (): SubmitState => ({
    requestId,
    workflowId,
    status,
    outcome,
    deadline: deadline ? new Date(deadline).toISOString() : undefined,
  });

  /** Search attributes and the UI's current details follow every transition. */
  const publish = () => {
    upsertSearchAttributes([
      { key: SA.status, value: status },
      { key: SA.group, value: eligible.map((g) => g.name) },
      ...(policy ? [{ key: SA.risk, value: policy.risk }] : []),
      ...(deadline && isOpen() ? [{ key: SA.deadline, value: new Date(deadline) }] : []),
    ]);
    const lines = [
      `**Status:** ${status}`,
      eligible.length ? `**Reviewers:** ${eligible.map((g) => g.name).join(', ')} (${currentApprovers().length}/${approvalsNeeded} approvals)` : '',
      currentApprovers().length ? `**Approved by:** ${currentApprovers().join(', ')}` : '',
      isOpen() && nextEscalation ? `**Escalates:** ${new Date(nextEscalation).toISOString()}` : '',
      isOpen() && deadline ? `**Expires (SLA):** ${new Date(deadline).toISOString()}` : '',
      outcome ? `**Outcome:** ${outcome.status}${outcome.code ? ` (${outcome.code})` : ''}${outcome.message ? ` — ${outcome.message}` : ''}` : '',
    ];
    setCurrentDetails(lines.filter(Boolean).join('\n\n'));
  };

  const close = (fields: Omit<ApprovalOutcome, 'requestId' | 'workflowId' | 'edited' | 'ruleIds' | 'risk' | 'policyDigest' | 'decidedAt' | 'actionDigest'>) => {
    outcome = {
      requestId,
      workflowId,
      edited,
      actionDigest: currentDigest,
      ruleIds: policy?.ruleIds ?? [],
      risk: policy?.risk ?? 'high',
      policyDigest: policy?.policyDigest,
      decidedAt: now(),
      ...fields,
    };
    status = fields.status;
    record('closed', `${fields.status}${fields.code ? ` (${fields.code})` : ''}`);
    publish();
  };

  const notify = (group: GroupSnapshot, event: GroupNotification['event']) => {
    const notification: GroupNotification = {
      event,
      group: group.name,
      requestId,
      workflowId,
      action: request.action,
      summary: request.summary,
      resource: request.resource,
      agentId: request.agentId,
      risk: policy?.risk ?? 'medium',
      ruleIds: policy?.ruleIds ?? [],
      reason: policy?.reason ?? '',
      deadline: deadline ? new Date(deadline).toISOString() : undefined,
    };
    // Notifications never hold up escalation or expiry: they run beside the review, not in its path.
    notifications.push(
      notifyGroup(notification).then(
        (r) => void record('notified', `${event} sent to ${group.name} via ${r.channels.join(', ')}`),
        (err: Error) => void record('notification_failed', `${event} to ${group.name}: ${err.cause instanceof Error ? err.cause.message : err.message}`),
      ),
    );
  };

  /** Synchronous checks shared by the Update validator and the Signal handler. */
  const refuseIfIneligible = (raw: unknown): ReviewerDecision => {
    const parsed = ReviewerDecision.safeParse(raw);
    if (!parsed.success) throw ApplicationFailure.nonRetryable(describeIssues(parsed.error, 'decision'), ReasonCode.INVALID_REQUEST);
    const d = parsed.data;
    if (!isOpen()) throw ApplicationFailure.nonRetryable(`Request ${requestId} is already closed (${status}).`, ReasonCode.ALREADY_DECIDED);
    if (status === 'evaluating') throw ApplicationFailure.nonRetryable(`Request ${requestId} is still being evaluated.`, ReasonCode.NOT_ELIGIBLE);
    const who = d.reviewer.toLowerCase();
    if (who === request.agentId.toLowerCase() || who === request.onBehalfOf?.toLowerCase()) {
      throw ApplicationFailure.nonRetryable(`${d.reviewer} cannot decide on a request made by or on behalf of themselves.`, ReasonCode.NOT_ELIGIBLE);
    }
    if (!eligible.some((g) => g.members.includes(d.reviewer))) {
      throw ApplicationFailure.nonRetryable(`${d.reviewer} is not in an eligible group (${eligible.map((g) => g.name).join(', ')}).`, ReasonCode.NOT_ELIGIBLE);
    }
    // An edit is a new version, so its author may approve it even after approving the previous one.
    if (currentApprovers().includes(d.reviewer) && !(d.decision === 'approve' && d.editedPayload)) {
      throw ApplicationFailure.nonRetryable(`${d.reviewer} has already approved this request; another reviewer must decide.`, ReasonCode.ALREADY_DECIDED);
    }
    return d;
  };

  /** An edited or proposed payload goes through the second validation: schema, then policy again. */
  const revalidate = async (payload: Payload, what: string) => {
    const evaluation = await evaluateEdit({ request: { ...request, payload } });
    if (!evaluation.ok) throw ApplicationFailure.nonRetryable(`The ${what} is refused: ${evaluation.message}`, ReasonCode.INVALID_REQUEST);
    if (evaluation.decision.decision === 'deny') {
      throw ApplicationFailure.nonRetryable(`The ${what} is refused: policy denies it (${evaluation.decision.reason})`, ReasonCode.POLICY_DENIED);
    }
    return evaluation.decision;
  };

  const applyDecision = async (raw: unknown): Promise<DecisionReceipt> => {
    await condition(() => !editing);
    let d = refuseIfIneligible(raw);
    const replacement = d.decision === 'approve' ? d.editedPayload : d.decision === 'request_changes' ? d.proposedPayload : undefined;
    let revised: PolicyDecision | undefined;
    if (replacement) {
      editing = true;
      try {
        revised = await revalidate(replacement, d.decision === 'approve' ? 'edit' : 'proposed payload');
      } finally {
        editing = false;
      }
      d = refuseIfIneligible(raw); // the world may have moved while policy ran
    }
    if (d.decision === 'deny') {
      record('denied', `${d.reasonCode}: ${d.message}`, d.reviewer);
      close({ status: 'denied', code: ReasonCode.REVIEWER_DENIED, reviewerReason: d.reasonCode, message: d.message, decidedBy: 'reviewers', reviewers: [d.reviewer] });
    } else if (d.decision === 'request_changes') {
      record('changes_requested', d.comment, d.reviewer);
      close({
        status: 'changes_requested',
        code: ReasonCode.CHANGES_REQUESTED,
        message: d.comment,
        comment: d.comment,
        proposedPayload: d.proposedPayload,
        decidedBy: 'reviewers',
        reviewers: [d.reviewer],
      });
    } else {
      if (d.editedPayload && revised) {
        currentPayload = d.editedPayload;
        currentDigest = revised.actionDigest;
        edited = true;
        approvalsNeeded = Math.max(approvalsNeeded, revised.route?.approvals ?? 1);
        record('edited', `payload edited (digest ${currentDigest.slice(0, 16)}); earlier approvals no longer count`, d.reviewer);
      }
      approvals.push({ reviewer: d.reviewer, digest: currentDigest });
      record('approved', `${currentApprovers().length}/${approvalsNeeded} approvals${d.comment ? `: ${d.comment}` : ''}`, d.reviewer);
      if (currentApprovers().length >= approvalsNeeded) {
        close({ status: 'approved', decidedBy: 'reviewers', reviewers: currentApprovers(), payload: currentPayload, comment: d.comment });
      } else {
        publish();
      }
    }
    return { requestId, status, approvals: currentApprovers(), approvalsNeeded };
  };

  setHandler(reviewViewQuery, view);
  setHandler(
    awaitDecisionUpdate,
    async ({ waitMs }) => {
      // Evaluation is a local activity of a few milliseconds: even a zero wait returns policy's verdict.
      await condition(() => status !== 'evaluating');
      if (!outcome && waitMs > 0) await condition(() => outcome !== undefined, waitMs, { summary: 'agent waits for decision' });
      return submitState();
    },
    { validator: (wait) => void SubmitWait.parse(wait) },
  );
  setHandler(decideUpdate, applyDecision, { validator: (d) => void refuseIfIneligible(d) });
  setHandler(decideSignal, async (d) => {
    try {
      await applyDecision(d);
    } catch (err) {
      const failure = err as ApplicationFailure;
      record('refused', `${failure.type ?? 'ERROR'}: ${failure.message}`, (d as { reviewer?: string })?.reviewer);
    }
  });

  // 1 evaluate — a local activity, so the auto-allow path pays no extra server round trip.
  record('requested', `${request.action} on ${request.resource.type}:${request.resource.id}`, request.agentId);
  const evaluation = await evaluateRequest({ request });
  if (!evaluation.ok) {
    close({ status: 'denied', code: ReasonCode.INVALID_REQUEST, message: evaluation.message, decidedBy: 'policy', reviewers: [] });
    return finish();
  }
  policy = evaluation.decision;
  record('evaluated', `${policy.decision} by ${policy.ruleIds.join(', ')} (risk ${policy.risk}): ${policy.reason}`);

  if (policy.decision === 'allow') {
    close({ status: 'approved', decidedBy: 'policy', reviewers: [], payload: currentPayload, message: policy.reason });
  } else if (policy.decision === 'deny') {
    close({ status: 'denied', code: ReasonCode.POLICY_DENIED, message: policy.reason, decidedBy: 'policy', reviewers: [] });
  } else {
    // 2 review — notify the routed group, wait for decisions, escalate on timer, expire at SLA.
    const route = policy.route!;
    approvalsNeeded = route.approvals;
    eligible.push(route.group);
    const start = Date.now();
    deadline = start + route.slaMs;
    const chain = [...route.escalationChain];
    nextEscalation = route.escalateAfterMs && chain.length ? start + route.escalateAfterMs : undefined;
    status = 'pending';
    publish();
    notify(route.group, 'review_requested');

    while (isOpen()) {
      const wakeAt = Math.min(deadline, nextEscalation ?? Infinity);
      const summary = wakeAt === deadline ? 'SLA expiry' : `escalate to ${chain[0]?.name}`;
      await condition(() => !isOpen(), Math.max(1, wakeAt - Date.now()), { summary });
      if (!isOpen()) break;
      if (Date.now() >= deadline) {
        record('expired', `no decision within the SLA of ${formatDuration(route.slaMs)}`);
        close({ status: 'expired', code: ReasonCode.SLA_EXPIRED, message: `No decision within the SLA (${formatDuration(route.slaMs)}).`, decidedBy: 'timer', reviewers: [] });
      } else if (nextEscalation !== undefined && Date.now() >= nextEscalation) {
        const next = chain.shift()!;
        eligible.push(next);
        status = 'escalated';
        nextEscalation = chain.length ? Date.now() + route.escalateAfterMs! : undefined;
        record('escalated', `no decision after ${formatDuration(route.escalateAfterMs!)}; ${next.name} may now decide`);
        publish();
        notify(next, 'escalated');
      }
    }
  }
  return finish();

  async function finish(): Promise<ApprovalOutcome> {
    await Promise.all(notifications);
    await condition(allHandlersFinished);
    return outcome!;
  }
}
