/**
 * One approval, start to finish: evaluate → review → release → execute → evidence.
 * Deterministic: no Node built-ins, no I/O; policy, notification and key-holding crypto run as
 * activities, and who may decide what is the pure state machine in ./review.ts.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, EvaluationAndRelease, GroupNotification, MintResult } from '../activities';
import { BUNDLE_FORMAT, requestDigest, type EvidenceBody } from '../common/bundle';
import { canonicalJson } from '../common/canonical';
import { OPEN_STATUSES, ReasonCode, type ApprovalStatus } from '../common/codes';
import { actionDigest, requestIdFor, sha256Hex } from '../common/digest';
import { formatDuration } from '../common/duration';
import { describeIssues, escapeName } from '../common/errors';
import { appendEvent, type EvidenceEvent, type EvidenceType } from '../common/evidence';
import { type Json, type Payload } from '../common/json';
import { ActionRequest, ConsumeRequest, ExecutionReport, ReviewerDecision, SubmitWait, type ApprovalInput, type GroupSnapshot, type PolicyDecision } from '../common/inputs';
import { type ApprovalOutcome, type ApprovalRecord, type DecisionReceipt, type ExecutionReceipt, type ExecutionResult, type ReviewView, type Signed, type SubmitState, type TokenBinding } from '../common/views';
import { SA } from '../common/search-attributes';
import { constantTimeEqual } from '../common/signing';
import { approvalWorkflowV1 } from './legacy/approval-v1';
import { AGENT_WAIT_BUDGET_PATCH, CURRENT_CREDENTIALS_PATCH, CURRENT_KEYS_PATCH, INTEGRITY_PATCH, ONE_ROUND_ALLOW_PATCH, SIGNED_DECISIONS_PATCH, VOUCHED_START_PATCH } from './patches';
import { awaitDecisionUpdate, consumeUpdate, decideSignal, decideUpdate, evidenceQuery, reportUpdate, reviewViewQuery, submitStateQuery, WAIT_BUDGET_SPENT } from './messages';
import type { EvidenceView } from '../common/bundle';
import { mintRequest, preMintedMismatch } from '../common/release';
import { checkDecision, countedApprovers, decide, escalate, expire, isNewVersion, nextWake, openReview, registeredKey, registeredPasskeys, withCurrentCredentials, type ReviewState, type Transition } from './review';

const { evaluateRequest, evaluateRequestAndRelease, evaluateEdit, mintToken, spendToken, reviewerCredentials } = proxyLocalActivities<Activities>({
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

/** The agent's waits and joins a request answers (AGENT_WAIT_BUDGET_PATCH); then its state is read by query. */
export const MAX_AGENT_WAITS = 100;

/** Refused signals recorded in the evidence per request; later ones are only counted. */
export const MAX_RECORDED_REFUSALS = 20;
const MAX_MESSAGE_CHARS = 1000;

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** A refusal; lone surrogates (from a hostile key or CEL text) would crash payload encoding, so they are replaced. */
const fail = (code: string, message: string) =>
  ApplicationFailure.nonRetryable(clip(message, MAX_MESSAGE_CHARS).replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'), code);

export async function approvalWorkflow(input: ApprovalInput): Promise<ApprovalOutcome> {
  if (!patched(INTEGRITY_PATCH)) return approvalWorkflowV1(input);

  // Nothing in the input is trusted: a raw Temporal client can start this workflow with anything.
  const parsedRequest = ActionRequest.safeParse(input?.request);
  if (!parsedRequest.success) {
    // Whatever search attributes the caller set at start (a victim's request id, "pending") must not stay.
    upsertSearchAttributes([
      { key: SA.status, value: 'denied' },
      { key: SA.requestId, value: null },
      { key: SA.group, value: null },
    ]);
    throw fail(ReasonCode.INVALID_REQUEST, describeIssues(parsedRequest.error));
  }
  const request = parsedRequest.data;
  const waitBudget = patched(AGENT_WAIT_BUDGET_PATCH);
  let agentWaits = 0;
  // Signed statements name the first run of this execution chain: a reset run replays the decisions
  // signed before its reset point (a new start of the same workflow id has a run id of its own).
  const { workflowId, firstExecutionRunId: runId } = workflowInfo();
  const digest = actionDigest(request);
  const requestId = requestIdFor(request.agentId, request.taskId, digest);
  const { agentKey: _sealedDeliveryKey, ...shownRequest } = request;
  const shownRequestDigest = requestDigest(shownRequest);

  let status: ApprovalStatus = 'evaluating';
  let policy: PolicyDecision | undefined;
  let review: ReviewState | undefined;
  let outcome: ApprovalOutcome | undefined;
  let approval: { decidedBy: 'policy' | 'reviewers'; reviewers: string[]; comment?: string; message?: string } | undefined;
  let deciding = false;
  let refusals = 0;
  const decisions: ApprovalRecord['decisions'] = [];
  const events: EvidenceEvent[] = [];
  const notifications: Promise<void>[] = [];
  let token: { tokenId: string; hash: string; binding: TokenBinding; expiresAt: number; consumed: boolean } | undefined;
  let approvalRecord: Signed<ApprovalRecord> | undefined;
  let receipt: Signed<ExecutionReceipt> | undefined;
  let spentBeforeReset = false;
  let spendFailed = false;
  let report: ExecutionReport | undefined;
  let sealed: { signature: string; signer: { keyId: string; publicKey: string } } | undefined;

  const now = () => new Date(Date.now()).toISOString();
  const record = (type: EvidenceType, detail: string, actor?: string, data?: { [key: string]: Json }) =>
    appendEvent(events, { at: now(), type, detail, actor, data });
  const isOpen = () => OPEN_STATUSES.includes(status);
  /** The version under review now, and the policy verdict that routes it. */
  const current = () => ({
    payload: review?.version.payload ?? request.payload,
    digest: review?.version.digest ?? digest,
    policy: review?.version.policy ?? policy,
  });
  const approvers = () => (review ? countedApprovers(review) : []);
  const approvalsNeeded = () => review?.version.policy.route.approvals ?? 1;
  const eligibleNames = () => (review?.eligible ?? []).map((g) => g.name);

  const view = (): ReviewView => ({
    requestId,
    workflowId,
    runId,
    status,
    request: shownRequest,
    actionDigest: digest,
    currentDigest: current().digest,
    currentPayload: current().payload,
    policy: current().policy,
    eligibleGroups: eligibleNames(),
    approvals: approvers(),
    approvalsNeeded: approvalsNeeded(),
    deadline: review && isOpen() ? new Date(review.deadline).toISOString() : undefined,
    nextEscalation: review?.nextEscalation && isOpen() ? new Date(review.nextEscalation).toISOString() : undefined,
    outcome: outcome && { ...outcome, token: outcome.token && { tokenId: outcome.token.tokenId, expiresAt: outcome.token.expiresAt } },
    history: events,
  });
  const submitState = (): SubmitState => ({ requestId, workflowId, status, outcome, deadline: review && isOpen() ? new Date(review.deadline).toISOString() : undefined });

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

  /** Search attributes and the UI's current details follow every transition; identity attributes are the recomputed ones. */
  const publish = () => {
    const p = current().policy;
    upsertSearchAttributes([
      { key: SA.status, value: status },
      { key: SA.group, value: eligibleNames() },
      { key: SA.requestId, value: requestId },
      { key: SA.agent, value: request.agentId },
      { key: SA.action, value: request.action },
      ...(p ? [{ key: SA.risk, value: p.risk }] : []),
      ...(review && isOpen() ? [{ key: SA.deadline, value: new Date(review.deadline) }] : []),
      ...(token && status === 'approved' ? [{ key: SA.deadline, value: new Date(token.expiresAt) }] : []),
    ]);
    const needed = approvalsNeeded();
    const headline =
      isOpen() && review
        ? `**${request.action}** — needs ${eligibleNames().join(' or ')} (${needed} approval${needed > 1 ? 's' : ''})${status === 'escalated' ? ', escalated' : ''}`
        : `**${request.action}** — ${status}`;
    const lines = [
      headline,
      `**Status:** ${status}`,
      review ? `**Reviewers:** ${eligibleNames().join(', ')} (${approvers().length}/${needed} approvals)` : '',
      approvers().length ? `**Approved by:** ${approvers().join(', ')}` : '',
      review && review.versions > 1 ? `**Version:** ${review.versions} (edited by ${review.version.editedBy}), digest ${review.version.digest.slice(0, 16)}` : '',
      isOpen() && review?.nextEscalation ? `**Escalates:** ${new Date(review.nextEscalation).toISOString()}` : '',
      isOpen() && review ? `**Expires (SLA):** ${new Date(review.deadline).toISOString()}` : '',
      token && status === 'approved' ? `**Token:** ${token.tokenId}, ${token.consumed ? 'consumed; awaiting the outcome report' : `unused, expires ${new Date(token.expiresAt).toISOString()}`}` : '',
      outcome ? `**Outcome:** ${outcome.status}${outcome.code ? ` (${outcome.code})` : ''}${outcome.message ? ` — ${outcome.message}` : ''}` : '',
    ];
    setCurrentDetails(lines.filter(Boolean).join('\n\n'));
  };

  type CloseFields = Omit<ApprovalOutcome, 'requestId' | 'workflowId' | 'edited' | 'ruleIds' | 'risk' | 'policyDigest' | 'decidedAt' | 'actionDigest'>;
  const close = (fields: CloseFields) => {
    const p = current().policy;
    outcome = {
      requestId,
      workflowId,
      edited: (review?.versions ?? 1) > 1,
      actionDigest: current().digest,
      ruleIds: p?.ruleIds ?? [],
      risk: p?.risk ?? 'high',
      policyDigest: p?.policyDigest,
      decidedAt: now(),
      ...fields,
    };
    status = fields.status;
    publish();
  };

  const notify = (group: GroupSnapshot, event: GroupNotification['event']) => {
    const p = current().policy;
    const notification: GroupNotification = {
      event,
      group: group.name,
      requestId,
      workflowId,
      action: request.action,
      summary: request.summary,
      resource: request.resource,
      agentId: request.agentId,
      risk: p?.risk ?? 'medium',
      ruleIds: p?.ruleIds ?? [],
      reason: p?.reason ?? '',
      deadline: review ? new Date(review.deadline).toISOString() : undefined,
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

  /** Applies a transition of the review rules: evidence, notifications, status. */
  const apply = (t: Transition) => {
    review = t.state;
    for (const e of t.events) record(e.type, e.detail, e.actor, e.data);
    for (const n of t.notify) notify(n.group, n.event);
    const c = review.closure;
    switch (review.status) {
      case 'pending':
      case 'escalated':
        status = review.status;
        publish();
        break;
      case 'approved':
        approval = { decidedBy: 'reviewers', reviewers: approvers() };
        status = 'approved'; // released (token minted) by the main flow; the agent hears of it then
        publish();
        break;
      case 'denied':
        close({ status: 'denied', code: c?.code, reviewerReason: c?.reviewerReason, message: c?.message, decidedBy: 'reviewers', reviewers: c?.reviewer ? [c.reviewer] : [] });
        break;
      case 'changes_requested':
        close({ status: 'changes_requested', code: c?.code, message: c?.message, comment: c?.comment, proposedPayload: c?.proposedPayload, decidedBy: 'reviewers', reviewers: c?.reviewer ? [c.reviewer] : [] });
        break;
      case 'expired':
        close({ status: 'expired', code: ReasonCode.SLA_EXPIRED, message: `No decision within the SLA (${formatDuration(review.version.policy.route.slaMs)}).`, decidedBy: 'timer', reviewers: [] });
        break;
    }
  };

  /** Synchronous checks shared by the Update validator and the Signal handler. */
  const refuseIfIneligible = (raw: unknown): ReviewerDecision => {
    const parsed = ReviewerDecision.safeParse(raw);
    if (!parsed.success) throw fail(ReasonCode.INVALID_REQUEST, describeIssues(parsed.error, 'decision'));
    if (status === 'evaluating') throw fail(ReasonCode.NOT_ELIGIBLE, `Request ${requestId} is still being evaluated.`);
    if (!review || !isOpen()) throw fail(ReasonCode.ALREADY_DECIDED, `Request ${requestId} is already closed (${status}).`);
    // A passkey is checked by the handler, once it has the directory's current credentials.
    const checked = checkDecision(review, parsed.data, Date.now(), { passkeyLater: true });
    if (!checked.ok) throw fail(checked.code, checked.message);
    return parsed.data;
  };

  const applyDecision = async (raw: unknown): Promise<DecisionReceipt> => {
    await condition(() => !deciding); // one decision at a time: an edit waits for policy
    const d = refuseIfIneligible(raw);
    if (d.signature && (review!.currentKeys || ('passkey' in d.signature && patched(CURRENT_CREDENTIALS_PATCH)))) {
      // Who holds which key or passkey is the directory's answer now (one registered after routing
      // counts, a replaced or removed one does not); who may decide stays the routed snapshot's.
      deciding = true;
      try {
        const what = review!.currentKeys ? 'keys' : 'passkeys';
        const current = await reviewerCredentials.executeWithOptions({ summary: `look up ${d.reviewer}'s ${what}` }, [{ reviewer: d.reviewer }]);
        review = withCurrentCredentials(review!, d.reviewer, current);
      } finally {
        deciding = false;
      }
    }
    const replacement = d.decision === 'approve' ? d.editedPayload : d.decision === 'request_changes' ? d.proposedPayload : undefined;
    let revised: PolicyDecision | undefined;
    if (replacement && isNewVersion(review!, replacement)) {
      // The second validation of an edited or proposed payload: schema, then policy, which routes it.
      deciding = true;
      try {
        const what = d.decision === 'approve' ? 'edit' : 'proposed payload';
        const evaluation = await evaluateEdit.executeWithOptions({ summary: `re-evaluate the ${what}` }, [{ request: { ...request, payload: replacement } }]);
        if (!evaluation.ok) throw fail(ReasonCode.INVALID_REQUEST, `The ${what} is refused: ${evaluation.message}`);
        revised = evaluation.decision;
      } finally {
        deciding = false;
      }
    }
    const shown = review!.version.digest;
    const t = decide(review!, d, Date.now(), revised); // checks again: the world may have moved while policy ran
    if (!t.ok) throw fail(t.code, t.message);
    decisions.push({ reviewer: d.reviewer, decision: d.decision, actionDigest: shown, at: now(), signed: Boolean(d.signature && (registeredKey(review!, d.reviewer) || registeredPasskeys(review!, d.reviewer).length)) });
    apply(t);
    return { requestId, status, approvals: approvers(), approvalsNeeded: approvalsNeeded() };
  };

  /** A refused signal is kept in the evidence, bounded: a flood cannot grow the request without limit. */
  const recordRefusal = (err: unknown, raw: unknown) => {
    refusals += 1;
    if (refusals > MAX_RECORDED_REFUSALS) return;
    const failure = err as ApplicationFailure;
    const who = (raw as { reviewer?: unknown } | null)?.reviewer;
    const actor = typeof who === 'string' ? clip(escapeName(who), 128) : undefined;
    record('refused', `${clip(String(failure.type ?? 'ERROR'), 64)}: ${clip(String(failure.message), 300)}`, actor);
    if (refusals === MAX_RECORDED_REFUSALS) record('refused', `${MAX_RECORDED_REFUSALS} refused decisions recorded; later refusals are not recorded`);
  };

  /** Token checks in the order DESIGN §5 gives; a refusal never executes anything. */
  const refuseConsumption = (raw: unknown): ConsumeRequest => {
    const parsed = ConsumeRequest.safeParse(raw);
    if (!parsed.success) throw fail(ReasonCode.INVALID_REQUEST, describeIssues(parsed.error, 'consume request'));
    const c = parsed.data;
    if (!token || !constantTimeEqual(sha256Hex(c.token), token.hash)) throw fail(ReasonCode.TOKEN_INVALID, 'The token is not valid for this request.');
    if (Date.now() >= token.expiresAt) throw fail(ReasonCode.TOKEN_EXPIRED, `The token expired at ${new Date(token.expiresAt).toISOString()}.`);
    if (token.consumed) throw fail(ReasonCode.TOKEN_CONSUMED, 'The token has already been used.');
    if (status !== 'approved') throw fail(ReasonCode.TOKEN_INVALID, `Request ${requestId} is ${status}: its token can no longer be used.`);
    const b = token.binding;
    if (c.agentId !== b.agentId || c.taskId !== b.taskId || c.actionDigest !== b.actionDigest) {
      const what = c.agentId !== b.agentId ? 'agent' : c.taskId !== b.taskId ? 'task' : 'payload digest';
      throw fail(ReasonCode.BINDING_MISMATCH, `The token is bound to another ${what}: it approves exactly one agent, task and payload.`);
    }
    return c;
  };

  setHandler(reviewViewQuery, view);
  setHandler(submitStateQuery, submitState);
  setHandler(evidenceQuery, (): EvidenceView => ({ sealed: Boolean(sealed), bundle: { ...evidenceBody(), ...(sealed ?? {}) } }));
  setHandler(
    awaitDecisionUpdate,
    async ({ waitMs }) => {
      agentWaits += 1;
      // Evaluation is a local activity of a few milliseconds: even a zero wait returns policy's verdict.
      await condition(() => status !== 'evaluating' && (status !== 'approved' || outcome !== undefined));
      if (!outcome && waitMs > 0) await condition(() => outcome !== undefined, waitMs, { summary: 'agent waits for decision' });
      return submitState();
    },
    {
      validator: (wait) => {
        SubmitWait.parse(wait);
        if (waitBudget && agentWaits >= MAX_AGENT_WAITS) throw fail(WAIT_BUDGET_SPENT, `Request ${requestId} has answered ${MAX_AGENT_WAITS} waits: its state is read without waiting from now on.`);
      },
    },
  );
  setHandler(decideUpdate, applyDecision, { validator: (d) => void refuseIfIneligible(d) });
  setHandler(decideSignal, async (d) => {
    try {
      await applyDecision(d);
    } catch (err) {
      recordRefusal(err, d);
    }
  });
  setHandler(
    consumeUpdate,
    async (raw) => {
      const c = refuseConsumption(raw);
      if (!token || token.consumed) throw fail(ReasonCode.TOKEN_CONSUMED, 'The token has already been used.');
      token.consumed = true; // before any await: exactly one consumption wins in this run
      record('consumed', `token ${token.tokenId} consumed for digest ${c.actionDigest.slice(0, 16)}`, c.agentId, { tokenId: token.tokenId, actionDigest: c.actionDigest });
      publish();
      // The ledger lives outside workflow state, so a reset to before this point cannot re-arm the token.
      let spend: Awaited<ReturnType<typeof spendToken>>;
      try {
        spend = await spendToken.executeWithOptions({ summary: 'spend token: ledger, then receipt' }, [{
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
      } catch (err) {
        // The token stays spent (it may have been recorded): the request ends with its outcome unknown.
        spendFailed = true;
        record('consume_refused', `token ${token.tokenId}: the spend could not be recorded and receipted (${clip(String((err as Error).message), 200)})`, c.agentId, { tokenId: token.tokenId });
        throw fail(ReasonCode.TOKEN_CONSUMED, 'The token could not be spent safely and cannot be used again; the request ends with its outcome unknown.');
      }
      if (!spend.recorded) {
        spentBeforeReset = true;
        record('consume_refused', `token ${token.tokenId} was already spent (ledger: ${spend.spentAt}, run ${spend.runId}); this run was reset`, c.agentId, {
          tokenId: token.tokenId,
          spentAt: spend.spentAt,
          spentInRun: spend.runId,
        });
        throw fail(ReasonCode.TOKEN_CONSUMED, 'The token has already been used.');
      }
      receipt = spend.receipt;
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
        if (!receipt) throw fail(ReasonCode.NOT_CONSUMED, 'There is nothing to report: the token has not been consumed.');
        if (report) throw fail(ReasonCode.ALREADY_DECIDED, 'The outcome has already been reported.');
        if (status !== 'approved') throw fail(ReasonCode.ALREADY_DECIDED, `Request ${requestId} has ended (${status}).`);
      },
    },
  );

  try {
    await run();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // A cancelled run is sealed too: its evidence says what happened up to the cancellation.
    return CancellationScope.nonCancellable(async () => {
      record('cancelled', `the run was cancelled while ${status}`);
      const execution: ExecutionResult | undefined = receipt ? { status: 'unknown', receiptId: receipt.body.receiptId } : undefined;
      if (outcome) {
        outcome = { ...outcome, status: 'cancelled', ...(execution ? { execution } : {}) };
        status = 'cancelled';
        publish();
      } else {
        close({ status: 'cancelled', message: 'The request was cancelled before a decision.', decidedBy: 'cancellation', reviewers: [] });
      }
      return finish();
    });
  }
  return finish();

  async function run(): Promise<void> {
    // 1 evaluate — a local activity, so the auto-allow path pays no extra server round trip.
    record('requested', `${request.action} on ${request.resource.type}:${request.resource.id}`, request.agentId, {
      requestDigest: shownRequestDigest,
      actionDigest: digest,
    });
    const mismatch =
      input.actionDigest !== digest
        ? 'its actionDigest is not the digest of its action, resource and payload'
        : input.requestId !== requestId
          ? 'its requestId is not the one derived from the agent, task and action digest'
          : workflowId !== `cs-${request.agentId}-${requestId}`
            ? `the workflow id is not the one derived from the request (cs-${request.agentId}-${requestId})`
            : undefined;
    if (mismatch) {
      const message = `The request is refused: ${mismatch}.`;
      record('denied', message, undefined, { asserted: { actionDigest: clip(String(input.actionDigest), 64), requestId: clip(String(input.requestId), 64) } });
      close({ status: 'denied', code: ReasonCode.INVALID_REQUEST, message, decidedBy: 'policy', reviewers: [] });
      return;
    }
    const issuedAt = Date.now();
    const evaluation: EvaluationAndRelease = patched(ONE_ROUND_ALLOW_PATCH)
      ? await evaluateRequestAndRelease.executeWithOptions({ summary: 'evaluate policy, mint the token on allow' }, [
          {
            request,
            release: { workflowId, requestId, requestDigest: shownRequestDigest, actionDigest: digest, issuedAt },
            // null, not absent, when the start carried none: the activity then refuses it.
            ...(patched(VOUCHED_START_PATCH) ? { voucher: input.voucher ?? null } : {}),
          },
        ])
      : await evaluateRequest.executeWithOptions({ summary: 'evaluate policy' }, [{ request }]);
    if (!evaluation.ok) {
      record('denied', evaluation.message);
      close({ status: 'denied', code: ReasonCode.INVALID_REQUEST, message: evaluation.message, decidedBy: 'policy', reviewers: [] });
      return;
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
      apply(
        openReview({
          workflowId,
          runId,
          requestId,
          action: request.action,
          resource: request.resource,
          agentId: request.agentId,
          onBehalfOf: request.onBehalfOf,
          version: { payload: request.payload, digest, policy: { ...policy, route: policy.route! } },
          now: Date.now(),
          signaturesRequired: patched(SIGNED_DECISIONS_PATCH),
          currentKeys: patched(CURRENT_KEYS_PATCH),
        }),
      );
      while (isOpen()) {
        const wake = nextWake(review!);
        const summary = wake.what === 'expiry' ? 'SLA expiry' : `escalate to ${review!.version.policy.route.escalationChain[review!.escalationLevel]?.name}`;
        const at = wake.at;
        await condition(() => !isOpen() || nextWake(review!).at !== at, Math.max(1, at - Date.now()), { summary });
        if (!isOpen()) break;
        if (Date.now() >= review!.deadline) apply(expire(review!, Date.now()));
        else if (review!.nextEscalation !== undefined && Date.now() >= review!.nextEscalation) apply(escalate(review!, Date.now()));
      }
    }

    if (approval) {
      await release(approval, policy.decision === 'allow' ? { issuedAt, minted: evaluation.minted } : undefined);
      await execute();
    }
  }

  // 3 release — mint the single-use token bound to the approved digest; keep only its hash.
  // A policy allow under ONE_ROUND_ALLOW_PATCH arrives with its token minted by the evaluation.
  async function release(granted: NonNullable<typeof approval>, allowed?: { issuedAt: number; minted?: MintResult }): Promise<void> {
    const { digest: approved, payload, policy: p } = current();
    const expiresAt = (allowed?.minted ? allowed.issuedAt : Date.now()) + p!.tokenTtlMs;
    const asked = mintRequest({
      request,
      workflowId,
      requestId,
      requestDigest: shownRequestDigest,
      actionDigest: approved,
      policy: p!,
      decidedBy: granted.decidedBy,
      decisions,
      expiresAt,
    });
    const binding = asked.binding;
    const mismatch = allowed?.minted && preMintedMismatch(allowed.minted, asked);
    if (mismatch) throw fail(ReasonCode.TOKEN_INVALID, `The token minted with the policy verdict is not released: ${mismatch}.`);
    const minted = allowed?.minted ?? (await mintToken.executeWithOptions({ summary: 'mint token' }, [asked]));
    token = { tokenId: minted.grant.tokenId, hash: minted.tokenHash, binding, expiresAt, consumed: false };
    approvalRecord = minted.approvalRecord;
    record('token_minted', `token ${minted.grant.tokenId} for digest ${approved.slice(0, 16)}, expires ${minted.grant.expiresAt}`, undefined, {
      tokenId: minted.grant.tokenId,
      tokenHash: minted.tokenHash,
      expiresAt: minted.grant.expiresAt,
      actionDigest: approved,
      keyId: minted.approvalRecord.keyId,
      sealed: Boolean(minted.grant.sealed),
    });
    close({ status: 'approved', ...granted, payload: payload as Payload, token: minted.grant });
  }

  // 4 execute — the agent consumes the token before it expires, then reports what happened.
  async function execute(): Promise<void> {
    const t = token!;
    const consumed = await condition(() => t.consumed, Math.max(1, t.expiresAt - Date.now()), { summary: 'token expiry' });
    if (!consumed) {
      record('token_expired', `token ${t.tokenId} expired unused`);
      return finalize('not_executed', { status: 'not_executed' });
    }
    await condition(() => receipt !== undefined || spentBeforeReset || spendFailed);
    if (spentBeforeReset) {
      // Spent in an earlier run of this workflow id (a reset, or a new run): what happened there is in that run's evidence.
      return finalize('outcome_unknown', { status: 'unknown', message: 'This request was already spent by an earlier run of its workflow (a reset or a new run).' });
    }
    if (!receipt) return finalize('outcome_unknown', { status: 'unknown', message: 'The spend could not be recorded and receipted.' });
    const p = current().policy!;
    const reported = await condition(() => report !== undefined, p.reportWithinMs, { summary: 'await outcome report' });
    const receiptId = receipt.body.receiptId;
    if (!reported) {
      record('report_missing', `no outcome reported within ${formatDuration(p.reportWithinMs)}`);
      return finalize('outcome_unknown', { status: 'unknown', receiptId });
    }
    finalize(report!.status === 'succeeded' ? 'executed' : 'failed', { ...report!, receiptId });
  }

  function finalize(final: 'executed' | 'failed' | 'not_executed' | 'outcome_unknown', execution: ExecutionResult): void {
    outcome = { ...outcome!, status: final, execution };
    status = final;
    publish();
  }

  // 5 evidence — the hash-chained log, signed and written once for this run by an activity.
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
