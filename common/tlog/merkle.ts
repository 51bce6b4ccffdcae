/**
 * The Merkle tree of RFC 9162 §2.1 (the same hashing as RFC 6962): leaf hash SHA-256(0x00‖data),
 * node hash SHA-256(0x01‖left‖right), a tree of n leaves split at the largest power of two below n.
 * Pure: the worker appends with it, the server proves with it, the CLI verifies with it.
 *
 * Sizes and indexes are non-negative safe integers (so bit tricks would cut them to 32 bits: this
 * file halves with arithmetic). Proof generation from leaf hashes reads each at most once and hashes
 * each node at most once: O(n) for a tree of n leaves, whichever proof; from stored subtree hashes
 * (subtrees.ts), O(log² n). Verification is O(log n).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

export const HASH_SIZE = 32;
/** No proof of a tree of at most 2^53 leaves is longer; a longer one is refused before any hashing. */
export const MAX_PROOF_LENGTH = 64;

/** A 32-byte SHA-256 value: a leaf hash, a node hash or a root. */
export type Hash = Uint8Array;

/** MTH({}) = SHA-256 of nothing. */
export const EMPTY_ROOT: Hash = sha256(new Uint8Array(0));

export function leafHash(data: Uint8Array): Hash {
  const input = new Uint8Array(data.length + 1);
  input.set(data, 1);
  return sha256(input);
}

export function nodeHash(left: Hash, right: Hash): Hash {
  const input = new Uint8Array(1 + 2 * HASH_SIZE);
  input[0] = 1;
  input.set(left, 1);
  input.set(right, 1 + HASH_SIZE);
  return sha256(input);
}

export const isHash = (value: unknown): value is Hash => value instanceof Uint8Array && value.length === HASH_SIZE;
export const isTreeSize = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

export function hashesEqual(a: Hash, b: Hash): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Hashes as the bundle carries them: lowercase hex, 64 characters each. */
export const toHex = (hash: Hash): string => bytesToHex(hash);
export function fromHex(text: unknown): Hash | undefined {
  return typeof text === 'string' && /^[0-9a-f]{64}$/.test(text) ? hexToBytes(text) : undefined;
}

const half = (n: number) => Math.floor(n / 2);
const odd = (n: number) => n % 2 === 1;

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

/** The largest power of two strictly below n (n ≥ 2): where RFC 9162 splits a tree of n leaves. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function requireSize(value: number, what: string): void {
  if (!isTreeSize(value)) throw new RangeError(`${what} must be a non-negative safe integer, not ${String(value)}`);
}

/**
 * The right edge of a tree: the roots of its perfect subtrees, largest first, one per set bit of
 * its size. Enough to append a leaf and to compute the root in O(log n), without reading the leaves.
 */
export interface Frontier {
  readonly size: number;
  readonly hashes: readonly Hash[];
}

export const EMPTY_FRONTIER: Frontier = { size: 0, hashes: [] };

function bitCount(n: number): number {
  let bits = 0;
  for (; n > 0; n = half(n)) bits += n % 2;
  return bits;
}

export function isFrontier(value: Frontier): boolean {
  return isTreeSize(value?.size) && Array.isArray(value.hashes) && value.hashes.length === bitCount(value.size) && value.hashes.every(isHash);
}

/** The frontier after appending one leaf hash: subtrees of equal size merge, as binary carry does. */
export function appendLeaf(frontier: Frontier, leaf: Hash): Frontier {
  if (!isFrontier(frontier)) throw new RangeError('not a frontier: it needs one 32-byte hash per set bit of its size');
  if (!isHash(leaf)) throw new RangeError('a leaf hash is 32 bytes');
  if (frontier.size >= Number.MAX_SAFE_INTEGER) throw new RangeError('the tree is full');
  const hashes = [...frontier.hashes];
  let right = leaf;
  for (let n = frontier.size; odd(n); n = half(n)) right = nodeHash(hashes.pop()!, right);
  hashes.push(right);
  return { size: frontier.size + 1, hashes };
}

/** MTH of the tree the frontier describes: its subtrees folded right to left. */
export function frontierRoot(frontier: Frontier): Hash {
  if (!isFrontier(frontier)) throw new RangeError('not a frontier: it needs one 32-byte hash per set bit of its size');
  const { hashes } = frontier;
  if (hashes.length === 0) return EMPTY_ROOT;
  let root = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) root = nodeHash(hashes[i]!, root);
  return root;
}

/** The frontier of a list of leaf hashes (to rebuild a store's from its leaves): O(n) hashes, O(log n) memory. */
export function frontierOf(leaves: readonly Hash[]): Frontier {
  let frontier = EMPTY_FRONTIER;
  for (const leaf of leaves) frontier = appendLeaf(frontier, leaf);
  return frontier;
}

/** MTH of a list of leaf hashes (RFC 9162 §2.1.1). */
export function treeHash(leaves: readonly Hash[]): Hash {
  return frontierRoot(frontierOf(leaves));
}

/** Leaf hashes by index: an array, or a reader of the range [start, end) (the store's). */
export type LeafHashes = readonly Hash[] | ((start: number, end: number) => readonly Hash[]);

function readLeaves(leaves: LeafHashes, start: number, end: number): readonly Hash[] {
  const read = typeof leaves === 'function' ? leaves(start, end) : leaves.slice(start, end);
  if (read.length !== end - start || !read.every(isHash)) throw new RangeError(`leaves ${start}..${end - 1}: expected ${end - start} hashes of 32 bytes`);
  return read;
}

/** MTH of the first `size` leaves: O(size). */
export function rootHash(size: number, leaves: LeafHashes): Hash {
  requireSize(size, 'the tree size');
  return treeHash(readLeaves(leaves, 0, size));
}

/** A run of leaves [start, end) whose MTH is one element of a proof. */
export interface LeafRange {
  start: number;
  end: number;
}

/**
 * Which subtrees an inclusion proof names, leaf to root (RFC 9162 §2.1.3.1 PATH(m, D[n])): a store
 * that keeps subtree hashes can answer these without reading leaves. Disjoint, so O(n) reads at most.
 */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  requireSize(size, 'the tree size');
  requireSize(index, 'the leaf index');
  if (index >= size) throw new RangeError(`leaf ${index} is not in a tree of ${size}`);
  const path: LeafRange[] = [];
  let [start, end] = [0, size];
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      path.push({ start: start + k, end });
      end = start + k;
    } else {
      path.push({ start, end: start + k });
      start += k;
    }
  }
  return path.reverse();
}

/**
 * Which subtrees a consistency proof from `from` leaves to `to` leaves names (RFC 9162 §2.1.4.1
 * SUBPROOF(m, D[n], true)), in proof order. Empty when from is 0 or equal to to.
 */
export function consistencyRanges(from: number, to: number): LeafRange[] {
  requireSize(from, 'the first tree size');
  requireSize(to, 'the second tree size');
  if (from > to) throw new RangeError(`no consistency proof from ${from} leaves down to ${to}`);
  const path: LeafRange[] = [];
  if (from === 0 || from === to) return path;
  let [start, end, m, whole] = [0, to, from, true];
  for (;;) {
    const n = end - start;
    if (m === n) {
      // SUBPROOF(m, D[m], b): nothing when this subtree is the old tree itself, else its hash.
      if (!whole) path.push({ start, end });
      break;
    }
    const k = splitPoint(n);
    if (m <= k) {
      path.push({ start: start + k, end });
      end = start + k;
    } else {
      path.push({ start, end: start + k });
      start += k;
      m -= k;
      whole = false;
    }
  }
  return path.reverse();
}

/** What a proof is computed from: leaf hashes (each subtree hashed from its leaves, O(n)), or stored subtree hashes (common/tlog/subtrees.ts, O(log n) each). */
export type ProofSource = LeafHashes | { rangeHash(start: number, end: number): Hash };

function subtreeHash(source: ProofSource, r: LeafRange): Hash {
  return !Array.isArray(source) && typeof source === 'object' && 'rangeHash' in source ? source.rangeHash(r.start, r.end) : treeHash(readLeaves(source as LeafHashes, r.start, r.end));
}

export function inclusionProof(index: number, size: number, leaves: ProofSource): Hash[] {
  return inclusionRanges(index, size).map((r) => subtreeHash(leaves, r));
}

export function consistencyProof(from: number, to: number, leaves: ProofSource): Hash[] {
  return consistencyRanges(from, to).map((r) => subtreeHash(leaves, r));
}

/** RFC 9162 §2.1.3.2: whether `proof` shows `leaf` at `index` in the tree of `size` leaves with `root`. False on any malformed input. */
export function verifyInclusion(leaf: Hash, index: number, size: number, proof: readonly Hash[], root: Hash): boolean {
  if (!isTreeSize(index) || !isTreeSize(size) || index >= size || !isHash(leaf) || !isHash(root)) return false;
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_LENGTH || !proof.every(isHash)) return false;
  let [fn, sn, r] = [index, size - 1, leaf];
  for (const p of proof) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (!odd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      r = nodeHash(r, p);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && hashesEqual(r, root);
}

/**
 * RFC 9162 §2.1.4.2: whether `proof` shows the tree of `from` leaves with `fromRoot` is a prefix of
 * the tree of `to` leaves with `toRoot`. Equal sizes need equal roots and an empty proof; the empty
 * tree (whose root must be SHA-256 of nothing) is a prefix of every tree. False on any malformed input.
 */
export function verifyConsistency(from: number, to: number, proof: readonly Hash[], fromRoot: Hash, toRoot: Hash): boolean {
  if (!isTreeSize(from) || !isTreeSize(to) || from > to || !isHash(fromRoot) || !isHash(toRoot)) return false;
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_LENGTH || !proof.every(isHash)) return false;
  if (from === 0) return proof.length === 0 && hashesEqual(fromRoot, EMPTY_ROOT);
  if (from === to) return proof.length === 0 && hashesEqual(fromRoot, toRoot);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(from) ? [fromRoot, ...proof] : proof;
  let [fn, sn] = [from - 1, to - 1];
  while (odd(fn)) [fn, sn] = [half(fn), half(sn)];
  let [fr, sr] = [path[0]!, path[0]!];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!odd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      sr = nodeHash(sr, c);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && hashesEqual(fr, fromRoot) && hashesEqual(sr, toRoot);
}
