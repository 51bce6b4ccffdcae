/**
 * What the transparency log holds for one sealed bundle (issue 27): the data of its leaf, canonical
 * JSON naming the run and the digest of the bundle it sealed. Pure, so the worker that appends it
 * and an auditor who checks a leaf against its bundle compute the same bytes. The log's own format
 * work (RFC 9162 hashing, proofs, checkpoints) may replace this one function.
 */
import { canonicalJson } from './canonical';

export const LOG_LEAF_FORMAT = 'countersign/log-leaf/v1';

export interface LogLeafFields {
  workflowId: string;
  runId: string;
  requestId: string;
  /** bundleDigest of the sealed bundle's signed body (common/bundle.ts), hex. */
  bundleDigest: string;
}

/** The leaf's data: UTF-8 of the canonical JSON of { format, workflowId, runId, requestId, bundleDigest }. */
export function logLeafData({ workflowId, runId, requestId, bundleDigest }: LogLeafFields): Uint8Array {
  return new TextEncoder().encode(canonicalJson({ format: LOG_LEAF_FORMAT, workflowId, runId, requestId, bundleDigest }));
}
