/**
 * The hashes of every complete, aligned subtree of a growing log (level L, position p: the MTH of
 * leaves p·2^L … (p+1)·2^L − 1), kept as leaves are appended: 2n hashes for n leaves, one node hash
 * per leaf amortised. A subtree a proof names (RFC 9162's split at the largest power of two) is then
 * at most O(log n) of them folded, so an inclusion or consistency proof costs O(log² n) hashing and
 * no leaf reads, where merkle.ts computed each from the leaves in O(n). Pure, like merkle.ts.
 */
import { HASH_SIZE, isHash, nodeHash, type Hash } from './merkle';

interface Level {
  bytes: Uint8Array;
  count: number;
}

const isPowerOfTwo = (n: number) => n >= 1 && Number.isInteger(Math.log2(n)) && 2 ** Math.log2(n) === n;

/** The largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export class MerkleSubtrees {
  private readonly levels: Level[] = [{ bytes: new Uint8Array(0), count: 0 }];

  /** Leaves appended. */
  get size(): number {
    return this.levels[0]!.count;
  }

  /** Appends a leaf hash; every subtree it completes is hashed once, now. */
  append(leaf: Hash): void {
    if (!isHash(leaf)) throw new RangeError('a leaf hash is 32 bytes');
    let hash = leaf;
    for (let level = 0; ; level++) {
      const at = this.levels[level] ?? (this.levels[level] = { bytes: new Uint8Array(0), count: 0 });
      push(at, hash);
      if (at.count % 2 === 1) return;
      hash = nodeHash(this.node(level, at.count - 2), this.node(level, at.count - 1));
    }
  }

  /** The hashes of leaves start … end − 1, as stored. */
  leaves(start: number, end: number): Hash[] {
    this.inRange(start, end);
    return Array.from({ length: end - start }, (_, i) => this.node(0, start + i));
  }

  /** MTH of leaves start … end − 1 (RFC 9162 §2.1.1 over that range), from stored subtrees wherever the range is made of them. */
  rangeHash(start: number, end: number): Hash {
    this.inRange(start, end);
    if (end === start) throw new RangeError('a range of no leaves has no subtree hash');
    const n = end - start;
    if (isPowerOfTwo(n) && start % n === 0) return this.node(Math.log2(n), start / n);
    const k = splitPoint(n);
    return nodeHash(this.rangeHash(start, start + k), this.rangeHash(start + k, end));
  }

  private node(level: number, position: number): Hash {
    return this.levels[level]!.bytes.subarray(position * HASH_SIZE, (position + 1) * HASH_SIZE);
  }

  private inRange(start: number, end: number): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > this.size) throw new RangeError(`leaves ${start}..${end - 1} are not all appended (${this.size} are)`);
  }
}

function push(level: Level, hash: Hash): void {
  if (level.bytes.length < (level.count + 1) * HASH_SIZE) {
    const grown = new Uint8Array(Math.max(level.bytes.length * 2, 64 * HASH_SIZE));
    grown.set(level.bytes.subarray(0, level.count * HASH_SIZE));
    level.bytes = grown;
  }
  level.bytes.set(hash, level.count++ * HASH_SIZE);
}
