import { bundleDigest, type EvidenceBody, type EvidenceBundle } from '../common/bundle';
import type { Signer } from '../crypto/keys';

/** A bundle signed by the layer key, as the store keeps it: its exact text, the digest of its body, the signature. */
export interface SignedEvidence {
  text: string;
  digest: string;
  signature: string;
  signer: EvidenceBody['signer'];
}

/** Signs the evidence body with the layer key: the text is what `countersign verify` reads, byte for byte, from either store. */
export function signEvidence(signer: Signer, body: Omit<EvidenceBody, 'signer'>): SignedEvidence {
  const full: EvidenceBody = { ...body, signer: { keyId: signer.keyId, publicKey: signer.publicKey } };
  const { signature } = signer.sign('countersign/evidence-bundle/v1', full);
  const bundle: EvidenceBundle = { ...full, signature };
  return { text: `${JSON.stringify(bundle, null, 2)}\n`, digest: bundleDigest(full), signature, signer: full.signer };
}
