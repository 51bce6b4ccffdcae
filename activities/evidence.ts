import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleDigest, type EvidenceBody, type EvidenceBundle } from '../common/bundle';
import type { Signer } from './keys';

export const evidencePath = (dir: string, workflowId: string) => join(dir, `${workflowId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);

/** Signs the bundle and writes it to the sink directory atomically (temp file, then rename). */
export function writeEvidence(
  dir: string,
  signer: Signer,
  body: Omit<EvidenceBody, 'signer'>,
): { path: string; digest: string; signature: string; signer: EvidenceBody['signer'] } {
  const full: EvidenceBody = { ...body, signer: { keyId: signer.keyId, publicKey: signer.publicKey } };
  const { signature } = signer.sign('countersign/evidence-bundle/v1', full);
  const bundle: EvidenceBundle = { ...full, signature };
  mkdirSync(dir, { recursive: true });
  const path = evidencePath(dir, body.workflowId);
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temp, `${JSON.stringify(bundle, null, 2)}\n`);
  renameSync(temp, path);
  return { path, digest: bundleDigest(full), signature, signer: full.signer };
}
