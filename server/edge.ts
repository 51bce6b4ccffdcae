/**
 * Allows decided at the front door (issue 29). Only the policy chooses this path (policy/edge.ts):
 * a plain allow whose every matching rule says `edge: true`, reached by the same validation, catalog
 * and policy engine the worker runs. Then no workflow starts: the server mints the token itself,
 * bound as the workflow binds it, signs its approval record with the edge key (never the layer key),
 * and keeps the token's hash, binding and expiry in the store. Consuming it spends it in the store's
 * ledger — the workers' ledger, one spend per workflow id — atomically and once, and seals the
 * decision's evidence bundle and its log leaf before the agent is told to act. A report seals the
 * outcome in a second bundle. Anything else — a token or an id that is not the edge's — takes today's path.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { canonicalJson } from '../common/canonical';
import { requestDigest } from '../common/bundle';
import { approvalWorkflowId, sha256Hex } from '../common/digest';
import { EDGE_DECISION_FORMAT, edgeEvidenceBody, edgeReportedBody, edgeRunId, type EdgeDecision } from '../common/edge';
import type { ActionRequest, ConsumeRequest, ExecutionReport } from '../common/inputs';
import { ReasonCode } from '../common/codes';
import { ConsumeRefusedError } from '../common/refusals';
import { mintRequest } from '../common/release';
import type { EvidenceBody, EvidenceBundle } from '../common/bundle';
import { logLeafData } from '../common/tlog/leaf';
import type { ExecutionReceipt, Signed, SubmitState } from '../common/views';
import { mintToken, signEvidence } from '../crypto/evidence';
import type { Signer } from '../crypto/keys';
import { nativeSha256Hex } from '../crypto/sha256';
import { hashToken } from '../crypto/tokens';
import { isEdgeAllow } from '../policy/edge';
import type { CompiledPolicy } from '../policy/load';
import { isPrefix, ownWorkflowId } from './lookup';
import { verdictOf } from '../policy/verdict';
import { EvidenceConflictError, type EdgeWriter } from '../store/types';
import { checkConsume } from '../workflows/consume';


/** This instance's edge decisions since it started: what /healthz and `countersign status` report. */
export interface EdgeCounts {
  allowed: number;
  consumed: number;
  reported: number;
  refused: number;
}

export class EdgeDesk {
  readonly counts: EdgeCounts = { allowed: 0, consumed: 0, reported: 0, refused: 0 };

  constructor(
    private readonly signer: Signer,
    private readonly store: EdgeWriter,
    private readonly logger: Logger,
  ) {}

  get keyId(): string {
    return this.signer.keyId;
  }

  /**
   * The submit's answer when `policy` allows `request` at the edge; undefined for every other verdict
   * (today's path then, which evaluates again in the workflow). The request is parsed and catalogued already.
   */
  async submit(policy: CompiledPolicy, request: ActionRequest & { agentKey: string }): Promise<SubmitState | undefined> {
    // Every check the worker's evaluate activity runs (request, catalog, directory, rules), in its order.
    const verdict = verdictOf(policy, request);
    if (!verdict.ok || !isEdgeAllow(policy, verdict.decision)) return undefined;
    const { decision } = verdict;
    const { workflowId, requestId, actionDigest } = approvalWorkflowId(request, nativeSha256Hex);
    const { agentKey: _key, ...shown } = request;
    const issuedAt = new Date();
    const asked = mintRequest({ request, workflowId, requestId, requestDigest: requestDigest(shown), actionDigest, policy: decision, decidedBy: 'policy', decisions: [], expiresAt: issuedAt.getTime() + decision.tokenTtlMs });
    const { sealed: _sealed, ...minted } = mintToken(this.signer, asked, issuedAt);
    const { tokenId } = minted.grant;
    const record: EdgeDecision = {
      format: EDGE_DECISION_FORMAT,
      workflowId,
      requestId,
      request: shown,
      requestDigest: asked.record.requestDigest,
      actionDigest,
      policy: { ruleIds: decision.ruleIds, risk: decision.risk, reason: decision.reason, policyDigest: decision.policyDigest, ...(decision.directoryDigest ? { directoryDigest: decision.directoryDigest } : {}) },
      binding: asked.binding,
      tokenId,
      tokenHash: minted.tokenHash,
      issuedAt: issuedAt.toISOString(),
      expiresAt: asked.expiresAt,
      approvalRecord: minted.approvalRecord,
    };
    await this.store.putEdgeToken({ tokenHash: minted.tokenHash, tokenId, workflowId, requestId, expiresAt: asked.expiresAt, record: JSON.stringify(record) });
    this.counts.allowed += 1;
    this.logger.info({ workflowId, requestId, agentId: request.agentId, action: request.action, ruleIds: decision.ruleIds, tokenId, expiresAt: asked.expiresAt, policyDigest: decision.policyDigest, keyId: this.signer.keyId }, 'edge allow: token minted, no workflow');
    return {
      requestId,
      workflowId,
      status: 'approved',
      outcome: {
        requestId,
        workflowId,
        status: 'approved',
        message: decision.reason,
        decidedBy: 'policy',
        reviewers: [],
        payload: request.payload,
        edited: false,
        actionDigest,
        ruleIds: decision.ruleIds,
        risk: decision.risk,
        policyDigest: decision.policyDigest,
        decidedAt: record.issuedAt,
        token: minted.grant,
      },
    };
  }

  /**
   * Spends an edge token: the receipt, once its spend is in the ledger and its bundle sealed and
   * logged. Undefined when the token is not an edge token of the request `id` names for `agent`
   * (today's path answers then: not found, or the workflow's own refusal).
   */
  async consume(agent: string, id: string, consume: ConsumeRequest): Promise<Signed<ExecutionReceipt> | undefined> {
    const entry = await this.store.getEdgeToken(hashToken(consume.token));
    if (!entry) return undefined;
    const d = JSON.parse(entry.record) as EdgeDecision;
    if (!names(id, agent, d)) return undefined;
    const refuse = (code: string, message: string) => {
      this.counts.refused += 1;
      this.logger.warn({ workflowId: d.workflowId, requestId: d.requestId, tokenId: d.tokenId, code }, `edge consume refused: ${message}`);
      return new ConsumeRefusedError(code, message);
    };
    const spent = await this.store.getSpend(d.workflowId);
    // The workflow's own checks, in its order: the token, expiry, single use, then the binding.
    const token = { tokenId: d.tokenId, hash: d.tokenHash, binding: d.binding, expiresAt: Date.parse(d.expiresAt), consumed: spent !== undefined };
    const checked = checkConsume(token, consume, { now: Date.now(), status: 'approved', requestId: d.requestId });
    if (!checked.ok) throw refuse(checked.code, checked.message);
    const consumedAt = new Date().toISOString();
    // A run id of its own per attempt: of two spends of one token, the ledger records exactly one.
    const recorded = await this.store.recordSpend({ tokenId: d.tokenId, workflowId: d.workflowId, requestId: d.requestId, actionDigest: consume.actionDigest, runId: `edge-${randomBytes(12).toString('hex')}`, spentAt: consumedAt });
    if (!recorded.recorded) throw refuse(ReasonCode.TOKEN_CONSUMED, 'The token has already been used.');
    const receipt = this.signer.sign<ExecutionReceipt>('countersign/execution-receipt/v1', {
      receiptId: `rcpt_${randomBytes(16).toString('hex')}`,
      workflowId: d.workflowId,
      requestId: d.requestId,
      tokenId: d.tokenId,
      approvalRecordDigest: sha256Hex(canonicalJson(d.approvalRecord.body)),
      actionDigest: consume.actionDigest,
      agentId: consume.agentId,
      taskId: consume.taskId,
      consumedAt,
    });
    // Sealed and logged before the agent hears "go": no edge action runs without its evidence in the log.
    const sealed = await this.seal(edgeEvidenceBody(d, receipt), edgeRunId(d.tokenId, 'consumed'));
    this.counts.consumed += 1;
    this.logger.info({ workflowId: d.workflowId, requestId: d.requestId, tokenId: d.tokenId, receiptId: receipt.body.receiptId, digest: sealed.digest, logIndex: sealed.logIndex }, 'edge token consumed; spend recorded, evidence sealed');
    return receipt;
  }

  /** Whether `id` (a workflow id or a full request id) names a request of `agent`'s that was decided at the edge. */
  async decidedAtEdge(agent: string, id: string): Promise<boolean> {
    const workflowId = ownWorkflowId(id, agent);
    return workflowId !== undefined && (await this.store.edgeMinted(workflowId));
  }

  /** The refusal of a token this store does not hold (another deployment's, a made-up one), presented for an edge request. */
  unknownToken(consume: ConsumeRequest): ConsumeRefusedError {
    this.counts.refused += 1;
    this.logger.warn({ agentId: consume.agentId, taskId: consume.taskId, code: ReasonCode.TOKEN_INVALID }, 'edge consume refused: a token this store does not hold');
    return new ConsumeRefusedError(ReasonCode.TOKEN_INVALID, 'The token is not valid for this request.');
  }

  /** Seals the outcome an agent reports after an edge consume; false when `id` names no edge spend of `agent`'s (today's path then). */
  async report(agent: string, id: string, report: ExecutionReport): Promise<boolean> {
    const workflowId = ownWorkflowId(id, agent);
    if (!workflowId) return false;
    const spend = await this.store.getSpend(workflowId);
    if (!spend?.runId.startsWith('edge-')) return false;
    const stored = await this.store.getEvidence(workflowId, edgeRunId(spend.tokenId, 'consumed'));
    if (!stored) throw new ConsumeRefusedError(ReasonCode.ALREADY_DECIDED, `Request ${workflowId.slice(-16)} was spent at the edge, but its evidence was not sealed: its outcome stays unknown.`);
    const { signature: _s, signer: _k, log: _l, ...consumed } = JSON.parse(stored.text) as EvidenceBundle;
    try {
      await this.seal(edgeReportedBody(consumed, report, new Date().toISOString()), edgeRunId(spend.tokenId, 'reported'));
    } catch (err) {
      if (err instanceof EvidenceConflictError) throw new ConsumeRefusedError(ReasonCode.ALREADY_DECIDED, 'The outcome has already been reported.');
      throw err;
    }
    this.counts.reported += 1;
    return true;
  }

  /** Signs a bundle with the edge key, writes it once and appends its leaf; the layer's workers sign the checkpoints that cover it. */
  private async seal(body: Omit<EvidenceBody, 'signer'>, runId: string): Promise<{ digest: string; logIndex: number }> {
    const signed = signEvidence(this.signer, body);
    const leaf = logLeafData({ workflowId: body.workflowId, runId, requestId: body.requestId, bundleDigest: signed.digest });
    // The bundle and its leaf as one (one statement on PostgreSQL): no edge bundle is stored without its leaf.
    const { leaf: logged } = await this.store.sealEvidence({ workflowId: body.workflowId, runId, requestId: body.requestId, bundleDigest: signed.digest, text: signed.text }, leaf);
    return { digest: signed.digest, logIndex: logged.index };
  }
}

/** Whether the id an agent names is this edge decision's request, and the request is that agent's own. */
function names(id: string, agent: string, d: EdgeDecision): boolean {
  if (d.workflowId !== `cs-${agent}-${d.requestId}`) return false;
  return ownWorkflowId(id, agent) === d.workflowId || (isPrefix(id) && d.requestId.startsWith(id));
}
