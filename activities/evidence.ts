import { existsSync, linkSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { bundleDigest, type EvidenceBody, type EvidenceBundle } from '../common/bundle';
import type { Signer } from '../crypto/keys';
import { privateDir, writePrivateFile } from '../config/private-files';
import { nativeSha256Hex } from '../crypto/sha256';

/**
 * One file per run, named by a hash of workflow id and run id: ids that differ only in characters a
 * file name cannot hold never share a file, and a reset run (new run id) never replaces the first.
 */
export const evidencePath = (dir: string, workflowId: string, runId: string) =>
  join(dir, `${nativeSha256Hex(`${workflowId}\n${runId}`).slice(0, 32)}.json`);

export class EvidenceConflictError extends Error {
  override name = 'EvidenceConflictError';
}

/**
 * Signs the bundle and writes it once: a temporary file hard-linked to its final name, which fails
 * if that name exists. A retry that would write the very same bytes succeeds; anything else is refused.
 */
export function writeEvidence(
  dir: string,
  signer: Signer,
  body: Omit<EvidenceBody, 'signer'>,
  runId: string,
): { path: string; digest: string; signature: string; signer: EvidenceBody['signer'] } {
  const full: EvidenceBody = { ...body, signer: { keyId: signer.keyId, publicKey: signer.publicKey } };
  const { signature } = signer.sign('countersign/evidence-bundle/v1', full);
  const bundle: EvidenceBundle = { ...full, signature };
  const text = `${JSON.stringify(bundle, null, 2)}\n`;
  privateDir(dir); // 0700 whichever writer (evidence or the spend ledger inside it) comes first
  const path = evidencePath(dir, body.workflowId, runId);
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writePrivateFile(temp, text); // 0600, and so is the name it is linked to
  try {
    linkSync(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) {
      throw new EvidenceConflictError(`Evidence for run ${runId} of ${body.workflowId} is already written at ${path} and differs: it is never overwritten.`);
    }
  } finally {
    unlinkSync(temp);
  }
  return { path, digest: bundleDigest(full), signature, signer: full.signer };
}
