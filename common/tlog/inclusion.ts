/**
 * What an exported bundle carries to prove it is in the log (its `log` field, outside the signed
 * body), how the server builds it and how `verify` checks it. Pure.
 */
import { openLogCheckpoint } from './checkpoint';
import { fromHex, inclusionProof, isTreeSize, leafHash, MAX_PROOF_LENGTH, toHex, verifyInclusion, type Hash, type ProofSource } from './merkle';
import { MAX_NOTE_BYTES, NoteError } from './note';

export interface BundleLogProof {
  /** The run that sealed the bundle: with the bundle it makes the leaf (common/tlog/leaf.ts). */
  runId: string;
  /** The leaf's index in the log. */
  index: number;
  /** The size of the tree the checkpoint signs. */
  treeSize: number;
  /** The RFC 9162 inclusion proof of the leaf in that tree, leaf to root, each hash as 64 hex. */
  inclusion: string[];
  /** The signed checkpoint (C2SP note text) of that tree. */
  checkpoint: string;
}

/** Where a bundle was proven to be: the log, its leaf and the size of the tree that holds it. */
export interface LoggedAt {
  origin: string;
  index: number;
  treeSize: number;
}

export type LogProofCheck = ({ ok: true } & LoggedAt) | { ok: false; reason: string };

/** The `log` field for the leaf at `index`, under the signed `checkpoint` of the tree of `treeSize` leaves (O(treeSize) from leaf hashes, O(log² treeSize) from stored subtrees). */
export function bundleLogProof(at: { runId: string; index: number; treeSize: number; checkpoint: string }, leaves: ProofSource): BundleLogProof {
  return { runId: at.runId, index: at.index, treeSize: at.treeSize, inclusion: inclusionProof(at.index, at.treeSize, leaves).map(toHex), checkpoint: at.checkpoint };
}

/**
 * Whether `proof` shows the leaf `leafOf(proof.runId)` is in the log of the layer key `publicKey`
 * (base64): the checkpoint is that log's, signed once by that key, for a tree of `treeSize` leaves,
 * and the inclusion proof leads from the leaf at `index` to its root. Never throws.
 */
export function checkLogProof(proof: unknown, leafOf: (runId: string) => Uint8Array, publicKey: string): LogProofCheck {
  const fail = (reason: string): LogProofCheck => ({ ok: false, reason });
  if (proof === null || typeof proof !== 'object' || Array.isArray(proof)) return fail('the log field is not an object');
  const { runId, index, treeSize, inclusion, checkpoint } = proof as Partial<Record<keyof BundleLogProof, unknown>>;
  if (!isTreeSize(treeSize) || !isTreeSize(index) || index >= treeSize) return fail(`leaf ${String(index)} of a tree of ${String(treeSize)}: not a leaf index below a tree size`);
  if (!Array.isArray(inclusion) || inclusion.length > MAX_PROOF_LENGTH) return fail(`the inclusion proof is not a list of at most ${MAX_PROOF_LENGTH} hashes`);
  const path = inclusion.map(fromHex);
  if (!path.every((h): h is Hash => h !== undefined)) return fail('the inclusion proof holds something other than 64 lowercase hex');
  if (typeof checkpoint !== 'string' || checkpoint.length > MAX_NOTE_BYTES) return fail('the checkpoint is not a signed note');
  let leaf: Uint8Array;
  try {
    leaf = leafOf(typeof runId === 'string' ? runId : '');
  } catch {
    return fail('the log field names no run id the leaf can be made with');
  }
  let signed;
  try {
    signed = openLogCheckpoint(checkpoint, publicKey);
  } catch (err) {
    if (err instanceof NoteError) return fail(`checkpoint: ${err.message}`);
    throw err;
  }
  if (signed.size !== treeSize) return fail(`the checkpoint signs a tree of ${signed.size} leaves, the proof is for ${treeSize}`);
  if (!verifyInclusion(leafHash(leaf), index, treeSize, path, signed.root)) {
    return fail(`the inclusion proof does not lead from this bundle's leaf at index ${index} to the root of the checkpoint`);
  }
  return { ok: true, origin: signed.origin, index, treeSize };
}
