import { canonicalJson } from './canonical';
import { actionDigest, sha256Hex } from './digest';
import { verifyChain, type EvidenceEvent } from './evidence';
import type { ActionRequest, ApprovalOutcome, ApprovalRecord, ExecutionReceipt, Signed } from './schema';
import { decisionMessage, keyId, signingMessage, verifyEd25519, type DecisionStatement } from './signing';

export const BUNDLE_FORMAT = 'countersign/evidence/v1';

/** Everything needed to check an approval offline, signed by the layer at the end. */
export interface EvidenceBody {
  format: typeof BUNDLE_FORMAT;
  workflowId: string;
  requestId: string;
  request: Omit<ActionRequest, 'agentKey'>;
  requestDigest: string;
  outcome: Omit<ApprovalOutcome, 'evidence' | 'token'> & { token?: { tokenId: string; expiresAt: string } };
  events: EvidenceEvent[];
  approvalRecord?: Signed<ApprovalRecord>;
  receipt?: Signed<ExecutionReceipt>;
  signer: { keyId: string; publicKey: string };
}

export interface EvidenceBundle extends EvidenceBody {
  signature: string;
}

export function requestDigest(request: Omit<ActionRequest, 'agentKey'>): string {
  const { agentKey: _omitted, ...shown } = request as ActionRequest;
  return sha256Hex(canonicalJson(shown));
}

export function bundleDigest(body: EvidenceBody): string {
  return sha256Hex(canonicalJson(body));
}

export type Verification = { ok: true; checks: string[] } | { ok: false; link: string; reason: string; checks: string[] };

/** Checks a bundle offline: the chain, every signature and the digests; names the first broken link. */
export function verifyBundle(bundle: EvidenceBundle, options: { publicKey?: string } = {}): Verification {
  const checks: string[] = [];
  const fail = (link: string, reason: string): Verification => ({ ok: false, link, reason, checks });
  if (bundle?.format !== BUNDLE_FORMAT) return fail('format', `not a countersign evidence bundle (format ${JSON.stringify(bundle?.format)})`);
  const trusted = options.publicKey ?? bundle.signer?.publicKey;
  if (options.publicKey && bundle.signer.publicKey !== options.publicKey) {
    return fail('signer', `signed by key ${bundle.signer.keyId}, not by the expected key ${keyId(options.publicKey)}`);
  }
  if (keyId(bundle.signer.publicKey) !== bundle.signer.keyId) return fail('signer', 'the signer key id does not match its public key');

  const chain = verifyChain(bundle.events);
  if (!chain.ok) return fail(`events[${chain.seq}]`, chain.reason);
  checks.push(`hash chain of ${bundle.events.length} events`);

  const digest = requestDigest(bundle.request);
  if (digest !== bundle.requestDigest) return fail('request', 'the request does not match its digest');
  const requested = bundle.events[0];
  if (!requested || requested.type !== 'requested' || requested.data?.requestDigest !== digest) return fail('events[0]', 'the first event does not record this request');
  checks.push('request digest');

  for (const event of bundle.events) {
    const data = event.data as { signature?: string; publicKey?: string; statement?: DecisionStatement } | undefined;
    if (!data?.signature) continue;
    if (!data.publicKey || !data.statement || !verifyEd25519(data.publicKey, decisionMessage(data.statement), data.signature)) {
      return fail(`events[${event.seq}]`, `the signature of ${event.actor ?? 'a reviewer'} on this ${event.type} decision does not verify`);
    }
    checks.push(`reviewer signature of ${event.actor} (events[${event.seq}])`);
  }

  const record = bundle.approvalRecord;
  if (record) {
    if (!verifyEd25519(trusted, signingMessage('countersign/approval-record/v1', record.body), record.signature)) return fail('approvalRecord', 'the approval record signature does not verify');
    if (record.body.requestDigest !== digest) return fail('approvalRecord', 'the approval record names another request');
    const minted = bundle.events.find((e) => e.type === 'token_minted');
    if (!minted || minted.data?.tokenHash !== record.body.tokenHash || minted.data?.tokenId !== record.body.tokenId) return fail('approvalRecord', 'the approval record does not match the token_minted event');
    const payload = bundle.outcome.payload;
    if (!payload || actionDigest({ action: bundle.request.action, resource: bundle.request.resource, payload }) !== record.body.actionDigest) {
      return fail('outcome.payload', 'the approved payload does not match the digest in the approval record');
    }
    checks.push('approval record signature and digests');
  }

  const receipt = bundle.receipt;
  if (receipt) {
    if (!record) return fail('receipt', 'an execution receipt without an approval record');
    if (!verifyEd25519(trusted, signingMessage('countersign/execution-receipt/v1', receipt.body), receipt.signature)) return fail('receipt', 'the execution receipt signature does not verify');
    if (receipt.body.approvalRecordDigest !== sha256Hex(canonicalJson(record.body))) return fail('receipt', 'the receipt does not name this approval record');
    if (receipt.body.actionDigest !== record.body.actionDigest) return fail('receipt', 'the receipt consumed another action digest');
    checks.push('execution receipt signature');
  }

  const { signature, ...body } = bundle;
  if (!verifyEd25519(trusted, signingMessage('countersign/evidence-bundle/v1', body), signature)) return fail('signature', 'the bundle signature does not verify');
  checks.push('bundle signature');
  return { ok: true, checks };
}
