/**
 * One approval, start to finish: evaluate → review → release → execute → evidence.
 * Deterministic: no Node built-ins, no I/O; policy, notification and key-holding crypto run as
 * activities. Who may decide what is the pure state machine in ./review.ts and what a token allows
 * is ./consume.ts; the run's state is ./state.ts, how it moves ./transitions.ts, what it shows the
 * world ./publish.ts, the messages that reach it ./handlers.ts, and its patches ./patches.ts.
 */
import { allHandlersFinished, CancellationScope, condition, isCancellation, patched, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { EvaluationAndRelease, MintResult } from '../activities';
import { ReasonCode } from '../common/codes';
import { formatDuration } from '../common/duration';
import { describeIssues } from '../common/errors';
import type { Payload } from '../common/json';
import { ActionRequest, type ApprovalInput } from '../common/inputs';
import { mintRequest, preMintedMismatch } from '../common/release';
import { SA } from '../common/search-attributes';
import type { ApprovalOutcome, ExecutionResult } from '../common/views';
import { EXPIRED_UNUSED, reported, unreceipted } from './consume';
import { registerHandlers } from './handlers';
import { approvalWorkflowV1 } from './legacy/approval-v1';
import { AGENT_WAIT_BUDGET_PATCH, BATCH_DECISIONS_PATCH, CURRENT_KEYS_PATCH, INTEGRITY_PATCH, ONE_ROUND_ALLOW_PATCH, SIGNED_DECISIONS_PATCH, VOUCHED_START_PATCH } from './patches';
import { evaluateRequest, evaluateRequestAndRelease, mintToken, sealEvidence } from './proxies';
import { evidenceBody, publish } from './publish';
import { escalate, expire, nextWake, openReview } from './review';
import { clip, current, fail, isOpen, record, startRun, type Granted } from './state';
import { apply, close, finalize } from './transitions';

export { MAX_AGENT_WAITS, MAX_RECORDED_REFUSALS } from './handlers';

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
  // Signed statements name the first run of this execution chain: a reset run replays the decisions
  // signed before its reset point (a new start of the same workflow id has a run id of its own).
  const { workflowId, firstExecutionRunId: runId } = workflowInfo();
  const r = startRun(request, workflowId, runId);
  const { digest, requestId, shownRequestDigest } = r;
  registerHandlers(r, waitBudget);

  try {
    await run();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // A cancelled run is sealed too: its evidence says what happened up to the cancellation.
    return CancellationScope.nonCancellable(async () => {
      record(r, 'cancelled', `the run was cancelled while ${r.status}`);
      const execution: ExecutionResult | undefined = r.receipt ? { status: 'unknown', receiptId: r.receipt.body.receiptId } : undefined;
      if (r.outcome) {
        r.outcome = { ...r.outcome, status: 'cancelled', ...(execution ? { execution } : {}) };
        r.status = 'cancelled';
        publish(r);
      } else {
        close(r, { status: 'cancelled', message: 'The request was cancelled before a decision.', decidedBy: 'cancellation', reviewers: [] });
      }
      return finish();
    });
  }
  return finish();

  async function run(): Promise<void> {
    // 1 evaluate — a local activity, so the auto-allow path pays no extra server round trip.
    record(r, 'requested', `${request.action} on ${request.resource.type}:${request.resource.id}`, request.agentId, {
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
      record(r, 'denied', message, undefined, { asserted: { actionDigest: clip(String(input.actionDigest), 64), requestId: clip(String(input.requestId), 64) } });
      close(r, { status: 'denied', code: ReasonCode.INVALID_REQUEST, message, decidedBy: 'policy', reviewers: [] });
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
      record(r, 'denied', evaluation.message);
      close(r, { status: 'denied', code: ReasonCode.INVALID_REQUEST, message: evaluation.message, decidedBy: 'policy', reviewers: [] });
      return;
    }
    const policy = (r.policy = evaluation.decision);
    record(r, 'evaluated', `${policy.decision} by ${policy.ruleIds.join(', ')} (risk ${policy.risk}): ${policy.reason}`, undefined, {
      decision: policy.decision,
      ruleIds: policy.ruleIds,
      risk: policy.risk,
      reason: policy.reason,
      policyDigest: policy.policyDigest,
      ...(policy.route ? { group: policy.route.group.name, approvals: policy.route.approvals } : {}),
    });

    if (policy.decision === 'allow') {
      r.approval = { decidedBy: 'policy', reviewers: [], message: policy.reason };
      r.status = 'approved';
    } else if (policy.decision === 'deny') {
      record(r, 'denied', policy.reason);
      close(r, { status: 'denied', code: ReasonCode.POLICY_DENIED, message: policy.reason, decidedBy: 'policy', reviewers: [] });
    } else {
      // 2 review — notify the routed group, wait for decisions, escalate on timer, expire at SLA.
      apply(
        r,
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
          batchDecisions: patched(BATCH_DECISIONS_PATCH),
        }),
      );
      while (isOpen(r)) {
        const wake = nextWake(r.review!);
        const summary = wake.what === 'expiry' ? 'SLA expiry' : `escalate to ${r.review!.version.policy.route.escalationChain[r.review!.escalationLevel]?.name}`;
        const at = wake.at;
        await condition(() => !isOpen(r) || nextWake(r.review!).at !== at, Math.max(1, at - Date.now()), { summary });
        if (!isOpen(r)) break;
        if (Date.now() >= r.review!.deadline) apply(r, expire(r.review!, Date.now()));
        else if (r.review!.nextEscalation !== undefined && Date.now() >= r.review!.nextEscalation) apply(r, escalate(r.review!, Date.now()));
      }
    }

    if (r.approval) {
      await release(r.approval, policy.decision === 'allow' ? { issuedAt, minted: evaluation.minted } : undefined);
      await execute();
    }
  }

  // 3 release — mint the single-use token bound to the approved digest; keep only its hash.
  // A policy allow under ONE_ROUND_ALLOW_PATCH arrives with its token minted by the evaluation.
  async function release(granted: Granted, allowed?: { issuedAt: number; minted?: MintResult }): Promise<void> {
    const { digest: approved, payload, policy: p } = current(r);
    const expiresAt = (allowed?.minted ? allowed.issuedAt : Date.now()) + p!.tokenTtlMs;
    const asked = mintRequest({
      request,
      workflowId,
      requestId,
      requestDigest: shownRequestDigest,
      actionDigest: approved,
      policy: p!,
      decidedBy: granted.decidedBy,
      decisions: r.decisions,
      expiresAt,
    });
    const mismatch = allowed?.minted && preMintedMismatch(allowed.minted, asked);
    if (mismatch) throw fail(ReasonCode.TOKEN_INVALID, `The token minted with the policy verdict is not released: ${mismatch}.`);
    const minted = allowed?.minted ?? (await mintToken.executeWithOptions({ summary: 'mint token' }, [asked]));
    r.token = { tokenId: minted.grant.tokenId, hash: minted.tokenHash, binding: asked.binding, expiresAt, consumed: false };
    r.approvalRecord = minted.approvalRecord;
    record(r, 'token_minted', `token ${minted.grant.tokenId} for digest ${approved.slice(0, 16)}, expires ${minted.grant.expiresAt}`, undefined, {
      tokenId: minted.grant.tokenId,
      tokenHash: minted.tokenHash,
      expiresAt: minted.grant.expiresAt,
      actionDigest: approved,
      keyId: minted.approvalRecord.keyId,
      sealed: Boolean(minted.grant.sealed),
    });
    close(r, { status: 'approved', ...granted, payload: payload as Payload, token: minted.grant });
  }

  // 4 execute — the agent consumes the token before it expires (./consume.ts), then reports what happened.
  async function execute(): Promise<void> {
    const { tokenId, expiresAt } = r.token!;
    const consumed = await condition(() => r.token!.consumed, Math.max(1, expiresAt - Date.now()), { summary: 'token expiry' });
    if (!consumed) {
      record(r, 'token_expired', `token ${tokenId} expired unused`);
      return finalize(r, EXPIRED_UNUSED);
    }
    await condition(() => r.token!.spend !== undefined);
    const unspent = unreceipted(r.token!);
    if (unspent) return finalize(r, unspent);
    const { reportWithinMs } = current(r).policy!;
    const isReported = await condition(() => r.report !== undefined, reportWithinMs, { summary: 'await outcome report' });
    if (!isReported) record(r, 'report_missing', `no outcome reported within ${formatDuration(reportWithinMs)}`);
    finalize(r, reported(isReported ? r.report : undefined, r.receipt!.body.receiptId));
  }

  // 5 evidence — the hash-chained log, signed and written once for this run by an activity.
  async function finish(): Promise<ApprovalOutcome> {
    await Promise.all(r.notifications);
    record(r, 'closed', `${r.status}${r.outcome?.code ? ` (${r.outcome.code})` : ''}`, undefined, { status: r.status });
    const written = await sealEvidence.executeWithOptions({ summary: 'seal evidence' }, [evidenceBody(r)]);
    r.sealed = { signature: written.signature, signer: written.signer };
    r.outcome = { ...r.outcome!, evidence: { path: written.path, digest: written.digest } };
    await condition(allHandlersFinished);
    return r.outcome;
  }
}
