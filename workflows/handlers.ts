/**
 * The messages that reach an approval run, registered once at its start: the queries (review view,
 * submit state, evidence), the agent's waits, reviewers' decisions (Update and Signal), the agent's
 * consume and report. Who may decide is ./review.ts; what a token allows is ./consume.ts.
 */
import { type ApplicationFailure, condition, patched, setHandler, uuid4 } from '@temporalio/workflow';
import { canonicalJson } from '../common/canonical';
import { ReasonCode } from '../common/codes';
import { sha256Hex } from '../common/digest';
import { describeIssues, escapeName } from '../common/errors';
import { ExecutionReport, ReviewerDecision, SubmitWait, type PolicyDecision } from '../common/inputs';
import type { DecisionReceipt } from '../common/views';
import { checkConsume, checkReport, consume, spendRefusal, spent, type Attempt } from './consume';
import { awaitDecisionUpdate, consumeUpdate, decideSignal, decideUpdate, evidenceQuery, reportUpdate, reviewViewQuery, submitStateQuery, WAIT_BUDGET_SPENT } from './messages';
import { CURRENT_CREDENTIALS_PATCH } from './patches';
import { evaluateEdit, reviewerCredentials, spendToken } from './proxies';
import { evidenceView, publish, submitState, view } from './publish';
import { checkDecision, decide, isNewVersion, registeredKey, registeredPasskeys, withCurrentCredentials } from './review';
import { approvalsNeeded, approvers, clip, fail, isOpen, now, record, type ApprovalRun } from './state';
import { apply } from './transitions';
import { assuranceOf } from '../common/signing';

/** The agent's waits and joins a request answers (AGENT_WAIT_BUDGET_PATCH); then its state is read by query. */
export const MAX_AGENT_WAITS = 100;

/** Refused signals recorded in the evidence per request; later ones are only counted. */
export const MAX_RECORDED_REFUSALS = 20;

export function registerHandlers(r: ApprovalRun, waitBudget: boolean): void {
  const { request, requestId, workflowId } = r;
  let agentWaits = 0;
  let deciding = false;
  let refusals = 0;
  const attempt = (): Attempt => ({ now: Date.now(), status: r.status, requestId });

  /** Synchronous checks shared by the Update validator and the Signal handler. */
  const refuseIfIneligible = (raw: unknown): ReviewerDecision => {
    const parsed = ReviewerDecision.safeParse(raw);
    if (!parsed.success) throw fail(ReasonCode.INVALID_REQUEST, describeIssues(parsed.error, 'decision'));
    if (r.status === 'evaluating') throw fail(ReasonCode.NOT_ELIGIBLE, `Request ${requestId} is still being evaluated.`);
    if (!r.review || !isOpen(r)) throw fail(ReasonCode.ALREADY_DECIDED, `Request ${requestId} is already closed (${r.status}).`);
    // A passkey is checked by the handler, once it has the directory's current credentials.
    const checked = checkDecision(r.review, parsed.data, Date.now(), { passkeyLater: true });
    if (!checked.ok) throw fail(checked.code, checked.message);
    return parsed.data;
  };

  const applyDecision = async (raw: unknown): Promise<DecisionReceipt> => {
    await condition(() => !deciding); // one decision at a time: an edit waits for policy
    const d = refuseIfIneligible(raw);
    if (d.signature && (r.review!.currentKeys || ('passkey' in d.signature && patched(CURRENT_CREDENTIALS_PATCH)))) {
      // Who holds which key or passkey is the directory's answer now (one registered after routing
      // counts, a replaced or removed one does not); who may decide stays the routed snapshot's.
      deciding = true;
      try {
        const what = r.review!.currentKeys ? 'keys' : 'passkeys';
        const held = await reviewerCredentials.executeWithOptions({ summary: `look up ${d.reviewer}'s ${what}` }, [{ reviewer: d.reviewer }]);
        r.review = withCurrentCredentials(r.review!, d.reviewer, held);
      } finally {
        deciding = false;
      }
    }
    const replacement = d.decision === 'approve' ? d.editedPayload : d.decision === 'request_changes' ? d.proposedPayload : undefined;
    let revised: PolicyDecision | undefined;
    if (replacement && isNewVersion(r.review!, replacement)) {
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
    const shown = r.review!.version.digest;
    const t = decide(r.review!, d, Date.now(), revised); // checks again: the world may have moved while policy ran
    if (!t.ok) throw fail(t.code, t.message);
    r.decisions.push({ reviewer: d.reviewer, decision: d.decision, actionDigest: shown, at: now(), signed: Boolean(d.signature && !('chat' in d.signature) && (registeredKey(r.review!, d.reviewer) || registeredPasskeys(r.review!, d.reviewer).length)), ...(d.signature ? { assurance: assuranceOf(d.signature) } : {}) });
    apply(r, t);
    return { requestId, status: r.status, approvals: approvers(r), approvalsNeeded: approvalsNeeded(r) };
  };

  /** A refused signal is kept in the evidence, bounded: a flood cannot grow the request without limit. */
  const recordRefusal = (err: unknown, raw: unknown) => {
    refusals += 1;
    if (refusals > MAX_RECORDED_REFUSALS) return;
    const failure = err as ApplicationFailure;
    const who = (raw as { reviewer?: unknown } | null)?.reviewer;
    const actor = typeof who === 'string' ? clip(escapeName(who), 128) : undefined;
    record(r, 'refused', `${clip(String(failure.type ?? 'ERROR'), 64)}: ${clip(String(failure.message), 300)}`, actor);
    if (refusals === MAX_RECORDED_REFUSALS) record(r, 'refused', `${MAX_RECORDED_REFUSALS} refused decisions recorded; later refusals are not recorded`);
  };

  setHandler(reviewViewQuery, () => view(r));
  setHandler(submitStateQuery, () => submitState(r));
  setHandler(evidenceQuery, () => evidenceView(r));
  setHandler(
    awaitDecisionUpdate,
    async ({ waitMs }) => {
      agentWaits += 1;
      // Evaluation is a local activity of a few milliseconds: even a zero wait returns policy's verdict.
      await condition(() => r.status !== 'evaluating' && (r.status !== 'approved' || r.outcome !== undefined));
      if (!r.outcome && waitMs > 0) await condition(() => r.outcome !== undefined, waitMs, { summary: 'agent waits for decision' });
      return submitState(r);
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
      const accepted = consume(r.token, raw, attempt());
      if (!accepted.ok) throw fail(accepted.code, accepted.message);
      const { request: c, token } = accepted;
      r.token = token; // before any await: exactly one consumption wins in this run
      record(r, 'consumed', `token ${token.tokenId} consumed for digest ${c.actionDigest.slice(0, 16)}`, c.agentId, { tokenId: token.tokenId, actionDigest: c.actionDigest });
      publish(r);
      // The ledger lives outside workflow state, so a reset to before this point cannot re-arm the token.
      let spend: Awaited<ReturnType<typeof spendToken>>;
      try {
        spend = await spendToken.executeWithOptions({ summary: 'spend token: ledger, then receipt' }, [{
          receiptId: `rcpt_${uuid4().replace(/-/g, '')}`,
          workflowId,
          requestId,
          tokenId: token.tokenId,
          approvalRecordDigest: sha256Hex(canonicalJson(r.approvalRecord!.body)),
          actionDigest: c.actionDigest,
          agentId: c.agentId,
          taskId: c.taskId,
          consumedAt: now(),
        }]);
      } catch (err) {
        // The token stays spent (it may have been recorded): the request ends with its outcome unknown.
        r.token = spent(r.token, 'failed');
        record(r, 'consume_refused', `token ${token.tokenId}: the spend could not be recorded and receipted (${clip(String((err as Error).message), 200)})`, c.agentId, { tokenId: token.tokenId });
        const refused = spendRefusal('failed');
        throw fail(refused.code, refused.message);
      }
      if (!spend.recorded) {
        r.token = spent(r.token, 'spent_before_reset');
        record(r, 'consume_refused', `token ${token.tokenId} was already spent (ledger: ${spend.spentAt}, run ${spend.runId}); this run was reset`, c.agentId, {
          tokenId: token.tokenId,
          spentAt: spend.spentAt,
          spentInRun: spend.runId,
        });
        const refused = spendRefusal('spent_before_reset');
        throw fail(refused.code, refused.message);
      }
      r.receipt = spend.receipt;
      r.token = spent(r.token, 'receipted');
      return r.receipt;
    },
    {
      validator: (raw) => {
        const checked = checkConsume(r.token, raw, attempt());
        if (!checked.ok) throw fail(checked.code, checked.message);
      },
    },
  );
  setHandler(
    reportUpdate,
    (raw) => {
      const report = (r.report = ExecutionReport.parse(raw));
      record(r, 'reported', `${report.status}${report.message ? `: ${report.message}` : ''}`, request.agentId, { ...report });
    },
    {
      validator: (raw) => {
        const checked = checkReport(raw, { receipted: Boolean(r.receipt), reported: Boolean(r.report), status: r.status, requestId });
        if (!checked.ok) throw fail(checked.code, checked.message);
      },
    },
  );
}
