/**
 * FROZEN: the approval workflow as it ran before the 'integrity-v2' patch (workflows/approval.ts).
 * Runs started before that patch replay and finish on this code, so it must not change; new runs
 * never reach it. Delete it with deprecatePatch('integrity-v2') once no such run is open.
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
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, GroupNotification } from '../../activities';
import { BUNDLE_FORMAT, requestDigest, type EvidenceBody } from '../../common/bundle';
import { canonicalJson } from '../../common/canonical';
import { OPEN_STATUSES, ReasonCode, type ApprovalStatus } from '../../common/codes';
import { sha256Hex } from '../../common/digest';
import { formatDuration } from '../../common/duration';
import { describeIssues } from '../../common/errors';
import { appendEvent, type EvidenceEvent, type EvidenceType } from '../../common/evidence';
import { type Json, type Payload } from '../../common/json';
import { ConsumeRequest, ExecutionReport, ReviewerDecision, SubmitWait, type ApprovalInput, type GroupSnapshot, type PolicyDecision } from '../../common/inputs';
import { type ApprovalOutcome, type ApprovalRecord, type DecisionReceipt, type ExecutionReceipt, type ExecutionResult, type OutcomeWithout, type ReviewView, type Signed, type SubmitState, type TokenBinding } from '../../common/views';
import { SA } from '../../common/search-attributes';
import { constantTimeEqual, decisionMessageV1 as decisionMessage, decisionStatementV1 as statementFor } from '../../common/signing';
import { verifyEd25519 } from '../../common/ed25519';
import { awaitDecisionUpdate, consumeUpdate, decideSignal, decideUpdate, evidenceQuery, reportUpdate, reviewViewQuery } from '../messages';
import type { EvidenceView } from '../../common/bundle';

const { evaluateRequest, evaluateEdit, mintToken, signReceipt } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3 },
});
const { notifyGroup } = proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 5 },
});
const { sealEvidence } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

/** A refusal; lone surrogates (from a hostile key or CEL text) would crash payload encoding, so they are replaced. */
const fail = (code: string, message: string) =>
  ApplicationFailure.nonRetryable(message.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'), code);

export async function approvalWorkflowV1(input: ApprovalInput): Promise<ApprovalOutcome> {
  const { request, requestId } = input;
  const { workflowId } = workflowInfo();
  const { agentKey: _sealedDeliveryKey, ...shownRequest } = request;
  const shownRequestDigest = requestDigest(shownRequest);

  let status: ApprovalStatus = 'evaluating';
  let policy: PolicyDecision | undefined;
  let outcome: ApprovalOutcome | undefined;
  let approval: { decidedBy: 'policy' | 'reviewers'; reviewers: string[]; comment?: string; message?: string } | undefined;
  let currentPayload: Payload = request.payload;
  let currentDigest = input.actionDigest;
  let edited = false;
  let approvalsNeeded = 1;
  let deadline: number | undefined;
  let nextEscalation: number | undefined;
  let editing = false;
  const eligible: GroupSnapshot[] = [];
  const approvals: { reviewer: string; digest: string }[] = [];
  const decisions: ApprovalRecord['decisions'] = [];
  const events: EvidenceEvent[] = [];
  const notifications: Promise<void>[] = [];
  let token: { tokenId: string; hash: string; binding: TokenBinding; expiresAt: number; consumed: boolean } | undefined;
  let approvalRecord: Signed<ApprovalRecord> | undefined;
  let receipt: Signed<ExecutionReceipt> | undefined;
  let report: ExecutionReport | undefined;
  let sealed: { signature: string; signer: { keyId: string; publicKey: string } } | undefined;

  const now = () => new Date(Date.now()).toISOString();
  const record = (type: EvidenceType, detail: string, actor?: string, data?: { [key: string]: Json }) =>
    appendEvent(events, { at: now(), type, detail, actor, data });
  const currentApprovers = () => approvals.filter((a) => a.digest === currentDigest).map((a) => a.reviewer);
  const isOpen = () => OPEN_STATUSES.includes(status);

  const view = (): ReviewView => ({
    requestId,
    workflowId,
    status,
    request: shownRequest,
    actionDigest: input.actionDigest,
    currentDigest,
    currentPayload,
    policy,
    eligibleGroups: eligible.map((g) => g.name),
    approvals: currentApprovers(),
    approvalsNeeded,
    deadline: deadline ? new Date(deadline).toISOString() : undefined,
    nextEscalation: nextEscalation ? new Date(nextEscalation).toISOString() : undefined,
    outcome: outcome && { ...outcome, token: outcome.token && { tokenId: outcome.token.tokenId, expiresAt: outcome.token.expiresAt } },
    history: events,
  });
  const submitState = (): SubmitState => ({ requestId, workflowId, status, outcome, deadline: deadline ? new Date(deadline).toISOString() : undefined });

  const evidenceBody = (): Omit<EvidenceBody, 'signer'> => ({
    format: BUNDLE_FORMAT,
    workflowId,
    requestId,
    request: shownRequest,
    requestDigest: shownRequestDigest,
    outcome: stripForEvidence(outcome),
    events,
    ...(approvalRecord ? { approvalRecord } : {}),
    ...(receipt ? { receipt } : {}),
  });

  /** Search attributes and the UI's current details follow every transition. */
  const publish = () => {
    upsertSearchAttributes([
      { key: SA.status, value: status },
      { key: SA.group, value: eligible.map((g) => g.name) },
      ...(policy ? [{ key: SA.risk, value: policy.risk }] : []),
      ...(deadline && isOpen() ? [{ key: SA.deadline, value: new Date(deadline) }] : []),
      ...(token && status === 'approved' ? [{ key: SA.deadline, value: new Date(token.expiresAt) }] : []),
    ]);
    const route = policy?.route;
    const headline =
      isOpen() && route
        ? `**${request.action}** — needs ${eligible.map((g) => g.name).join(' or ')} (${approvalsNeeded} approval${approvalsNeeded > 1 ? 's' : ''})${status === 'escalated' ? ', escalated' : ''}`
        : `**${request.action}** — ${status}`;
    const lines = [
      headline,
      `**Status:** ${status}`,
      eligible.length ? `**Reviewers:** ${eligible.map((g) => g.name).join(', ')} (${currentApprovers().length}/${approvalsNeeded} approvals)` : '',
      currentApprovers().length ? `**Approved by:** ${currentApprovers().join(', ')}` : '',
      isOpen() && nextEscalation ? `**Escalates:** ${new Date(nextEscalation).toISOString()}` : '',
      isOpen() && deadline ? `**Expires (SLA):** ${new Date(deadline).toISOString()}` : '',
      token && status === 'approved' ? `**Token:** ${token.tokenId}, ${token.consumed ? 'consumed; awaiting the outcome report' : `unused, expires ${new Date(token.expiresAt).toISOString()}`}` : '',
      outcome ? `**Outcome:** ${outcome.status}${outcome.code ? ` (${outcome.code})` : ''}${outcome.message ? ` — ${outcome.message}` : ''}` : '',
    ];
    setCurrentDetails(lines.filter(Boolean).join('\n\n'));
  };

  type CloseFields = OutcomeWithout<'requestId' | 'workflowId' | 'edited' | 'ruleIds' | 'risk' | 'policyDigest' | 'decidedAt' | 'actionDigest'>;
  const close = (fields: CloseFields) => {
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
      notifyGroup.executeWithOptions({ summary: `${event === 'escalated' ? 'escalate to' : 'notify'} ${group.name}` }, [notification]).then(
        (r) => void record('notified', `${event} sent to ${group.name} via ${r.channels.join(', ')}`, undefined, { group: group.name, event, channels: r.channels }),
        (err: Error) =>
          void record('notification_failed', `${event} to ${group.name}: ${err.cause instanceof Error ? err.cause.message : err.message}`, undefined, { group: group.name, event }),
      ),
    );
  };

  const reviewerKey = (reviewer: string) => eligible.find((g) => g.keys?.[reviewer])?.keys?.[reviewer];

  /** Synchronous checks shared by the Update validator and the Signal handler. */
  const refuseIfIneligible = (raw: unknown): ReviewerDecision => {
    const parsed = ReviewerDecision.safeParse(raw);
    if (!parsed.success) throw fail(ReasonCode.INVALID_REQUEST, describeIssues(parsed.error, 'decision'));
    const d = parsed.data;
    if (!isOpen()) throw fail(ReasonCode.ALREADY_DECIDED, `Request ${requestId} is already closed (${status}).`);
    if (status === 'evaluating') throw fail(ReasonCode.NOT_ELIGIBLE, `Request ${requestId} is still being evaluated.`);
    const who = d.reviewer.toLowerCase();
    if (who === request.agentId.toLowerCase() || who === request.onBehalfOf?.toLowerCase()) {
      throw fail(ReasonCode.NOT_ELIGIBLE, `${d.reviewer} cannot decide on a request made by or on behalf of themselves.`);
    }
    if (!eligible.some((g) => g.members.includes(d.reviewer))) {
      throw fail(ReasonCode.NOT_ELIGIBLE, `${d.reviewer} is not in an eligible group (${eligible.map((g) => g.name).join(', ')}).`);
    }
    // An edit is a new version, so its author may approve it even after approving the previous one.
    if (currentApprovers().includes(d.reviewer) && !(d.decision === 'approve' && d.editedPayload)) {
      throw fail(ReasonCode.ALREADY_DECIDED, `${d.reviewer} has already approved this request; another reviewer must decide.`);
    }
    const key = reviewerKey(d.reviewer);
    if (key) {
      if (!d.signature) throw fail(ReasonCode.NOT_ELIGIBLE, `${d.reviewer} has a registered key, so the decision must be signed with it.`);
      const statement = statementFor(requestId, currentDigest, request, d, d.signature.signedAt);
      if (!verifyEd25519(key, decisionMessage(statement), keySignatureValue(d.signature))) {
        throw fail(ReasonCode.NOT_ELIGIBLE, `The signature on ${d.reviewer}'s decision does not verify against their registered key.`);
      }
    }
    return d;
  };

  /** An edited or proposed payload goes through the second validation: schema, then policy again. */
  const revalidate = async (payload: Payload, what: string) => {
    const evaluation = await evaluateEdit.executeWithOptions({ summary: `re-evaluate the ${what}` }, [{ request: { ...request, payload } }]);
    if (!evaluation.ok) throw fail(ReasonCode.INVALID_REQUEST, `The ${what} is refused: ${evaluation.message}`);
    if (evaluation.decision.decision === 'deny') throw fail(ReasonCode.POLICY_DENIED, `The ${what} is refused: policy denies it (${evaluation.decision.reason})`);
    return evaluation.decision;
  };

  /** What the reviewer saw and signed, kept in the evidence with their decision. */
  const decisionEvidence = (d: ReviewerDecision, extra: { [key: string]: Json } = {}): { [key: string]: Json } => {
    const key = reviewerKey(d.reviewer);
    return {
      decision: d.decision,
      actionDigest: currentDigest,
      shown: { summary: request.summary, payloadDigest: currentDigest, ruleIds: policy?.ruleIds ?? [], risk: policy?.risk ?? '', reason: policy?.reason ?? '' },
      signed: Boolean(key && d.signature),
      ...(key && d.signature
        ? { publicKey: key, signature: keySignatureValue(d.signature), statement: statementFor(requestId, currentDigest, request, d, d.signature.signedAt) as unknown as Json }
        : {}),
      ...extra,
    };
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
    decisions.push({ reviewer: d.reviewer, decision: d.decision, actionDigest: currentDigest, at: now(), signed: Boolean(reviewerKey(d.reviewer)) });
    if (d.decision === 'deny') {
      record('denied', `${d.reasonCode}: ${d.message}`, d.reviewer, decisionEvidence(d, { reasonCode: d.reasonCode, message: d.message }));
      close({ status: 'denied', code: ReasonCode.REVIEWER_DENIED, reviewerReason: d.reasonCode, message: d.message, decidedBy: 'reviewers', reviewers: [d.reviewer] });
    } else if (d.decision === 'request_changes') {
      record('changes_requested', d.comment, d.reviewer, decisionEvidence(d, { comment: d.comment, ...(d.proposedPayload ? { proposedPayload: d.proposedPayload } : {}) }));
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
      const evidence = decisionEvidence(d, d.comment ? { comment: d.comment } : {});
      if (d.editedPayload && revised) {
        currentPayload = d.editedPayload;
        currentDigest = revised.actionDigest;
        edited = true;
        approvalsNeeded = Math.max(approvalsNeeded, revised.route?.approvals ?? 1);
        record('edited', `payload edited (digest ${currentDigest.slice(0, 16)}); earlier approvals no longer count`, d.reviewer, {
          payload: currentPayload,
          actionDigest: currentDigest,
        });
      }
      approvals.push({ reviewer: d.reviewer, digest: currentDigest });
      record('approved', `${currentApprovers().length}/${approvalsNeeded} approvals${d.comment ? `: ${d.comment}` : ''}`, d.reviewer, evidence);
      if (currentApprovers().length >= approvalsNeeded) {
        approval = { decidedBy: 'reviewers', reviewers: currentApprovers(), comment: d.comment };
        status = 'approved'; // released (token minted) by the main flow; the agent hears of it then
      }
      publish();
    }
    return { requestId, status, approvals: currentApprovers(), approvalsNeeded };
  };

  /** Token checks in the order DESIGN §5 gives; a refusal never executes anything. */
  const refuseConsumption = (raw: unknown): ConsumeRequest => {
    const parsed = ConsumeRequest.safeParse(raw);
    if (!parsed.success) throw fail(ReasonCode.INVALID_REQUEST, describeIssues(parsed.error, 'consume request'));
    const c = parsed.data;
    if (!token || !constantTimeEqual(sha256Hex(c.token), token.hash)) throw fail(ReasonCode.TOKEN_INVALID, 'The token is not valid for this request.');
    if (Date.now() >= token.expiresAt) throw fail(ReasonCode.TOKEN_EXPIRED, `The token expired at ${new Date(token.expiresAt).toISOString()}.`);
    if (token.consumed) throw fail(ReasonCode.TOKEN_CONSUMED, 'The token has already been used.');
    const b = token.binding;
    if (c.agentId !== b.agentId || c.taskId !== b.taskId || c.actionDigest !== b.actionDigest) {
      const what = c.agentId !== b.agentId ? 'agent' : c.taskId !== b.taskId ? 'task' : 'payload digest';
      throw fail(ReasonCode.BINDING_MISMATCH, `The token is bound to another ${what}: it approves exactly one agent, task and payload.`);
    }
    return c;
  };

  setHandler(reviewViewQuery, view);
  setHandler(evidenceQuery, (): EvidenceView => ({ sealed: Boolean(sealed), bundle: { ...evidenceBody(), ...(sealed ?? {}) } }));
  setHandler(
    awaitDecisionUpdate,
    async ({ waitMs }) => {
      // Evaluation is a local activity of a few milliseconds: even a zero wait returns policy's verdict.
      await condition(() => status !== 'evaluating' && (status !== 'approved' || outcome !== undefined));
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
  setHandler(
    consumeUpdate,
    async (raw) => {
      const c = refuseConsumption(raw);
      if (!token || token.consumed) throw fail(ReasonCode.TOKEN_CONSUMED, 'The token has already been used.');
      token.consumed = true; // before any await: exactly one consumption wins
      record('consumed', `token ${token.tokenId} consumed for digest ${c.actionDigest.slice(0, 16)}`, c.agentId, { tokenId: token.tokenId, actionDigest: c.actionDigest });
      publish();
      receipt = await signReceipt.executeWithOptions({ summary: 'sign execution receipt' }, [{
        receiptId: `rcpt_${uuid4().replace(/-/g, '')}`,
        workflowId,
        requestId,
        tokenId: token.tokenId,
        approvalRecordDigest: sha256Hex(canonicalJson(approvalRecord!.body)),
        actionDigest: c.actionDigest,
        agentId: c.agentId,
        taskId: c.taskId,
        consumedAt: now(),
      }]);
      return receipt;
    },
    { validator: (c) => void refuseConsumption(c) },
  );
  setHandler(
    reportUpdate,
    (raw) => {
      report = ExecutionReport.parse(raw);
      record('reported', `${report.status}${report.message ? `: ${report.message}` : ''}`, request.agentId, { ...report });
    },
    {
      validator: (raw) => {
        const parsed = ExecutionReport.safeParse(raw);
        if (!parsed.success) throw fail(ReasonCode.INVALID_REQUEST, describeIssues(parsed.error, 'report'));
        if (!token?.consumed) throw fail(ReasonCode.NOT_CONSUMED, 'There is nothing to report: the token has not been consumed.');
        if (report) throw fail(ReasonCode.ALREADY_DECIDED, 'The outcome has already been reported.');
      },
    },
  );

  // 1 evaluate — a local activity, so the auto-allow path pays no extra server round trip.
  record('requested', `${request.action} on ${request.resource.type}:${request.resource.id}`, request.agentId, {
    requestDigest: shownRequestDigest,
    actionDigest: input.actionDigest,
  });
  const evaluation = await evaluateRequest.executeWithOptions({ summary: 'evaluate policy' }, [{ request }]);
  if (!evaluation.ok) {
    record('denied', evaluation.message);
    close({ status: 'denied', code: ReasonCode.INVALID_REQUEST, message: evaluation.message, decidedBy: 'policy', reviewers: [] });
    return finish();
  }
  policy = evaluation.decision;
  record('evaluated', `${policy.decision} by ${policy.ruleIds.join(', ')} (risk ${policy.risk}): ${policy.reason}`, undefined, {
    decision: policy.decision,
    ruleIds: policy.ruleIds,
    risk: policy.risk,
    reason: policy.reason,
    policyDigest: policy.policyDigest,
    ...(policy.route ? { group: policy.route.group.name, approvals: policy.route.approvals } : {}),
  });

  if (policy.decision === 'allow') {
    approval = { decidedBy: 'policy', reviewers: [], message: policy.reason };
    status = 'approved';
  } else if (policy.decision === 'deny') {
    record('denied', policy.reason);
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
        record('escalated', `no decision after ${formatDuration(route.escalateAfterMs!)}; ${next.name} may now decide`, undefined, { group: next.name });
        publish();
        notify(next, 'escalated');
      }
    }
  }

  if (approval) {
    await release(approval);
    await execute();
  }
  return finish();

  // 3 release — mint the single-use token bound to the approved digest; keep only its hash.
  async function release(granted: NonNullable<typeof approval>): Promise<void> {
    const expiresAt = Date.now() + policy!.tokenTtlMs;
    const binding: TokenBinding = { agentId: request.agentId, taskId: request.taskId, actionDigest: currentDigest, workflowId };
    const minted = await mintToken.executeWithOptions({ summary: 'mint token' }, [{
      binding,
      expiresAt: new Date(expiresAt).toISOString(),
      agentKey: request.agentKey,
      record: {
        workflowId,
        requestId,
        requestDigest: shownRequestDigest,
        actionDigest: currentDigest,
        policyDigest: policy!.policyDigest,
        ruleIds: policy!.ruleIds,
        decidedBy: granted.decidedBy,
        decisions,
        binding,
        expiresAt: new Date(expiresAt).toISOString(),
      },
    }]);
    token = { tokenId: minted.grant.tokenId, hash: minted.tokenHash, binding, expiresAt, consumed: false };
    approvalRecord = minted.approvalRecord;
    record('token_minted', `token ${minted.grant.tokenId} for digest ${currentDigest.slice(0, 16)}, expires ${minted.grant.expiresAt}`, undefined, {
      tokenId: minted.grant.tokenId,
      tokenHash: minted.tokenHash,
      expiresAt: minted.grant.expiresAt,
      actionDigest: currentDigest,
      keyId: minted.approvalRecord.keyId,
      sealed: Boolean(minted.grant.sealed),
    });
    close({ status: 'approved', ...granted, payload: currentPayload, token: minted.grant });
  }

  // 4 execute — the agent consumes the token before it expires, then reports what happened.
  async function execute(): Promise<void> {
    const t = token!;
    const consumed = await condition(() => t.consumed, Math.max(1, t.expiresAt - Date.now()), { summary: 'token expiry' });
    if (!consumed) {
      record('token_expired', `token ${t.tokenId} expired unused`);
      return finalize('not_executed', { status: 'not_executed' });
    }
    await condition(() => receipt !== undefined);
    const reported = await condition(() => report !== undefined, policy!.reportWithinMs, { summary: 'await outcome report' });
    const receiptId = receipt!.body.receiptId;
    if (!reported) {
      record('report_missing', `no outcome reported within ${formatDuration(policy!.reportWithinMs)}`);
      return finalize('outcome_unknown', { status: 'unknown', receiptId });
    }
    finalize(report!.status === 'succeeded' ? 'executed' : 'failed', { ...report!, receiptId });
  }

  function finalize(final: 'executed' | 'failed' | 'not_executed' | 'outcome_unknown', execution: ExecutionResult): void {
    outcome = { ...outcome!, status: final, execution };
    status = final;
    publish();
  }

  // 5 evidence — the hash-chained log, signed and written to the sink by an activity.
  async function finish(): Promise<ApprovalOutcome> {
    await Promise.all(notifications);
    record('closed', `${status}${outcome?.code ? ` (${outcome.code})` : ''}`, undefined, { status });
    const written = await sealEvidence.executeWithOptions({ summary: 'seal evidence' }, [evidenceBody()]);
    sealed = { signature: written.signature, signer: written.signer };
    outcome = { ...outcome!, evidence: { path: written.path, digest: written.digest } };
    await condition(allHandlersFinished);
    return outcome;
  }
}

/** The evidence keeps what was decided and executed, not the sealed token box. */
function stripForEvidence(outcome: ApprovalOutcome | undefined): EvidenceBody['outcome'] {
  const { evidence: _evidence, token, ...rest } = outcome!;
  return { ...rest, ...(token ? { token: { tokenId: token.tokenId, expiresAt: token.expiresAt } } : {}) };
}

/** v1 runs know Ed25519 signatures only: a passkey assertion has no `value`, so it never verifies here. */
function keySignatureValue(signature: NonNullable<ReviewerDecision['signature']>): string {
  return 'value' in signature ? signature.value : '';
}
