/**
 * Signing what the layer — or, for allows decided at the front door, the edge — vouches for: an
 * evidence bundle, and a token minted with its signed approval record. One function each, for the
 * worker's activities and the server's edge alike.
 */
import { bundleDigest, type EvidenceBody, type EvidenceBundle } from '../common/bundle';
import type { MintInput, MintResult } from '../common/release';
import type { ApprovalRecord } from '../common/views';
import type { Signer } from './keys';
import { generateToken, sealAad, sealToAgent } from './tokens';

/** A bundle signed by the layer key, as the store keeps it: its exact text, the digest of its body, the signature. */
export interface SignedEvidence {
  text: string;
  digest: string;
  signature: string;
  signer: EvidenceBody['signer'];
}

/** Signs the evidence body with the signer's key: the text is what `countersign verify` reads, byte for byte, from either store. */
export function signEvidence(signer: Signer, body: Omit<EvidenceBody, 'signer'>): SignedEvidence {
  const full: EvidenceBody = { ...body, signer: { keyId: signer.keyId, publicKey: signer.publicKey } };
  const { signature } = signer.sign('countersign/evidence-bundle/v1', full);
  const bundle: EvidenceBundle = { ...full, signature };
  return { text: `${JSON.stringify(bundle, null, 2)}\n`, digest: bundleDigest(full), signature, signer: full.signer };
}

/** A fresh token, sealed to the agent's key, with its signed approval record: the plaintext exists only inside the sealed box. */
export function mintToken(signer: Signer, { binding, expiresAt, agentKey, record }: MintInput, issuedAt = new Date()): MintResult & { sealed: boolean } {
  const { token, tokenId, tokenHash } = generateToken();
  const sealed = agentKey ? sealToAgent(agentKey, token, sealAad(binding.workflowId, tokenId)) : undefined;
  const approvalRecord = signer.sign<ApprovalRecord>('countersign/approval-record/v1', { ...record, tokenId, tokenHash, issuedAt: issuedAt.toISOString() });
  return { grant: { tokenId, expiresAt, ...(sealed ? { sealed } : {}) }, tokenHash, approvalRecord, sealed: Boolean(sealed) };
}
