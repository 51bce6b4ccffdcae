/**
 * What a release asks a mint to sign, and the check that a token minted with the policy verdict
 * (patch 'one-round-allow') is exactly that token. Pure: no Temporal, no I/O.
 */
import { canonicalJson } from './canonical';
import type { ActionRequest, PolicyDecision } from './inputs';
import type { ApprovalRecord, Signed, TokenBinding, TokenGrant } from './views';

/** What the mint activity is asked for: the binding, the expiry, the sealing key and the record to sign. */
export interface MintInput {
  binding: TokenBinding;
  expiresAt: string;
  agentKey?: string;
  record: Omit<ApprovalRecord, 'tokenId' | 'tokenHash' | 'issuedAt'>;
}

/** What it answers: the sealed grant, the token's hash, the signed approval record. */
export interface MintResult {
  grant: TokenGrant;
  tokenHash: string;
  approvalRecord: Signed<ApprovalRecord>;
}

export interface ReleaseFacts {
  request: Pick<ActionRequest, 'agentId' | 'taskId' | 'agentKey'>;
  workflowId: string;
  requestId: string;
  /** Digest of the request as shown to reviewers (without its delivery key). */
  requestDigest: string;
  /** The approved version's action digest. */
  actionDigest: string;
  policy: Pick<PolicyDecision, 'policyDigest' | 'ruleIds'>;
  decidedBy: ApprovalRecord['decidedBy'];
  decisions: ApprovalRecord['decisions'];
  expiresAt: number;
}

/** The token's binding and the approval record a release asks the mint to sign. */
export function mintRequest(f: ReleaseFacts): MintInput {
  const binding: TokenBinding = { agentId: f.request.agentId, taskId: f.request.taskId, actionDigest: f.actionDigest, workflowId: f.workflowId };
  const expiresAt = new Date(f.expiresAt).toISOString();
  return {
    binding,
    expiresAt,
    agentKey: f.request.agentKey,
    record: {
      workflowId: f.workflowId,
      requestId: f.requestId,
      requestDigest: f.requestDigest,
      actionDigest: f.actionDigest,
      policyDigest: f.policy.policyDigest,
      ruleIds: f.policy.ruleIds,
      decidedBy: f.decidedBy,
      decisions: f.decisions,
      binding,
      expiresAt,
    },
  };
}

/**
 * Why a token minted with the policy verdict must not be released, if it must not: its signed
 * record has to say exactly what this release would have asked a separate mint to sign, so the
 * binding that consumption enforces and the record auditors verify cannot drift apart.
 */
export function preMintedMismatch(minted: MintResult, asked: MintInput): string | undefined {
  const { tokenId, tokenHash, issuedAt: _issuedAt, ...signed } = minted.approvalRecord.body;
  if (tokenId !== minted.grant.tokenId || tokenHash !== minted.tokenHash) return 'its signed record names another token';
  if (minted.grant.expiresAt !== asked.expiresAt) return 'it does not expire when its policy says';
  if (canonicalJson(signed) !== canonicalJson(asked.record)) return 'its signed record is not the one this release asks for';
  return undefined;
}
