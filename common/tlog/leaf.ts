/**
 * One leaf of the log per sealed evidence bundle: the UTF-8 canonical JSON (RFC 8785) of
 * `{format, workflowId, runId, requestId, bundleDigest}`. Small, and enough for an auditor to find the
 * bundle it names (workflow id and the run that sealed it: a reset run seals a bundle of its own)
 * and to check that bundle is the one logged (its digest). Pure.
 */
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../canonical';

export const LOG_LEAF_FORMAT = 'countersign/log-leaf/v1';
/** A leaf larger than this is not one of ours (ids are short; the digest is 64 hex). */
export const MAX_LEAF_BYTES = 4096;

export interface LogLeaf {
  format: typeof LOG_LEAF_FORMAT;
  workflowId: string;
  /** The run that sealed the bundle (the sealing activity's run id, which names its evidence file). */
  runId: string;
  requestId: string;
  /** bundleDigest(body) of common/bundle.ts: SHA-256 hex of the canonical JSON of the signed body. */
  bundleDigest: string;
}

const FIELDS = ['bundleDigest', 'format', 'requestId', 'runId', 'workflowId'];

/** The leaf's bytes: what the log hashes (leaf hash = SHA-256(0x00 ‖ these bytes)). */
export function logLeafData(leaf: Omit<LogLeaf, 'format'>): Uint8Array {
  const full: LogLeaf = { format: LOG_LEAF_FORMAT, workflowId: leaf.workflowId, runId: leaf.runId, requestId: leaf.requestId, bundleDigest: leaf.bundleDigest };
  if (!isLogLeaf(full)) throw new TypeError('a log leaf names a workflow id, run id and request id (non-empty text) and a 64-hex bundle digest');
  const data = utf8ToBytes(canonicalJson(full));
  if (data.length > MAX_LEAF_BYTES) throw new TypeError(`a log leaf is at most ${MAX_LEAF_BYTES} bytes`);
  return data;
}

function isLogLeaf(value: unknown): value is LogLeaf {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const leaf = value as Record<string, unknown>;
  return (
    Object.keys(leaf).sort().join() === FIELDS.join() &&
    leaf.format === LOG_LEAF_FORMAT &&
    [leaf.workflowId, leaf.runId, leaf.requestId].every((s) => typeof s === 'string' && s !== '') &&
    typeof leaf.bundleDigest === 'string' &&
    /^[0-9a-f]{64}$/.test(leaf.bundleDigest)
  );
}

/**
 * Reads a leaf back, strictly: valid UTF-8 holding exactly the canonical JSON `logLeafData` writes
 * for it, so one leaf has one spelling. Returns undefined for anything else.
 */
export function parseLogLeaf(data: Uint8Array): LogLeaf | undefined {
  if (!(data instanceof Uint8Array) || data.length > MAX_LEAF_BYTES) return undefined;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    const leaf = JSON.parse(text) as unknown;
    return isLogLeaf(leaf) && canonicalJson(leaf) === text ? leaf : undefined;
  } catch {
    return undefined;
  }
}
