/**
 * Batch decisions: one reviewer signature approves several requests. What is signed names every
 * request's workflow, run, request id, version digest and policy digest as a Merkle root (RFC 9162
 * hashing, ./tlog/merkle.ts) over one leaf per request; each request gets its leaf's index and
 * inclusion proof, and each workflow recomputes its own leaf and checks it is in the signed tree.
 * The batch has signing domains of its own, so a single decision's signature is never a batch's and
 * a batch's never a single decision's. Pure: the CLI, the inbox's server and the workflow use it.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { MAX_BATCH_PROOF, MAX_BATCH_SIZE, type DecisionSignature } from './inputs';
import { signingMessage, verifyOwnSignature, type DecisionCheck, type DecisionCredentials } from './signing';
import { fromHex, inclusionProof, leafHash, rootHash, toHex, verifyInclusion, type Hash } from './tlog/merkle';

export { MAX_BATCH_PROOF, MAX_BATCH_SIZE };

export const BATCH_DOMAIN = 'countersign/reviewer-batch/v1';
export const BATCH_LEAF_DOMAIN = 'countersign/reviewer-batch-leaf/v1';

/** One request in a batch: exactly what a single decision's statement names about its target. */
export interface BatchItem {
  workflowId: string;
  runId: string;
  requestId: string;
  /** The version the reviewer was shown. */
  versionDigest: string;
  /** The policy that routed that version. */
  policyDigest: string;
}

/** What the reviewer's key or passkey signs for a batch: who, what, over which tree, and when. */
export interface BatchStatement {
  reviewer: string;
  decision: 'approve';
  /** Merkle root (hex) over the batch's leaves, in the order the reviewer's client gave them. */
  root: string;
  size: number;
  comment?: string;
  signedAt: string;
}

/** Where one request sits in a batch: what its decision carries for the workflow to check. */
export interface BatchPosition {
  root: string;
  size: number;
  index: number;
  proof: string[];
}

const leafOf = (item: BatchItem): Hash =>
  leafHash(
    utf8ToBytes(
      signingMessage(BATCH_LEAF_DOMAIN, {
        workflowId: item.workflowId,
        runId: item.runId,
        requestId: item.requestId,
        versionDigest: item.versionDigest,
        policyDigest: item.policyDigest,
      }),
    ),
  );

/** The tree over a batch: its root and each request's position (index and inclusion proof). */
export function batchTree(items: readonly BatchItem[]): { root: string; size: number; positions: BatchPosition[] } {
  if (items.length < 1 || items.length > MAX_BATCH_SIZE) throw new RangeError(`A batch holds from 1 to ${MAX_BATCH_SIZE} requests, got ${items.length}.`);
  const leaves = items.map(leafOf);
  const root = toHex(rootHash(leaves.length, leaves));
  return { root, size: leaves.length, positions: leaves.map((_, index) => ({ root, size: leaves.length, index, proof: inclusionProof(index, leaves.length, leaves).map(toHex) })) };
}

/** Whether `item` is the leaf at `position.index` of the tree whose root `position` names. */
export function inBatch(item: BatchItem, position: BatchPosition): boolean {
  const root = fromHex(position.root);
  const proof = position.proof.map(fromHex);
  if (!root || proof.some((p) => !p) || proof.length > MAX_BATCH_PROOF) return false;
  if (!(Number.isSafeInteger(position.size) && position.size >= 1 && position.size <= MAX_BATCH_SIZE)) return false;
  if (!(Number.isSafeInteger(position.index) && position.index >= 0 && position.index < position.size)) return false;
  return verifyInclusion(leafOf(item), position.index, position.size, proof as Hash[], root);
}

export function batchStatement(reviewer: string, tree: { root: string; size: number }, comment: string | undefined, signedAt: string): BatchStatement {
  return { reviewer, decision: 'approve', root: tree.root, size: tree.size, ...(comment !== undefined ? { comment } : {}), signedAt };
}

export function batchMessage(statement: BatchStatement): string {
  return signingMessage(BATCH_DOMAIN, statement);
}

/** The challenge a passkey answers for a batch: SHA-256 of its signing message. */
export function batchChallenge(statement: BatchStatement): Uint8Array {
  return sha256(utf8ToBytes(batchMessage(statement)));
}

/** Whether the reviewer's own key or passkey signs this batch statement; a chat click never approves a batch. */
export function verifyBatch(statement: BatchStatement, signature: DecisionSignature, credentials: DecisionCredentials): DecisionCheck {
  if ('chat' in signature) return { ok: false, why: 'bad-attestation' };
  return verifyOwnSignature(batchMessage(statement), signature, credentials);
}
