/**
 * The transparency log as the front door serves it (issue 27): the latest signed checkpoint, pages of
 * leaves, inclusion and consistency proofs, and the log proof an exported bundle carries. Proofs come
 * from the leaf hashes, read from the store once, and every complete subtree's hash, kept as they are
 * read (64 bytes a leaf: leaves are never rewritten), so a proof of a tree of n leaves costs
 * O(log² n) hashing and no reads after the first (common/tlog/subtrees.ts).
 */
import { leafFor, type EvidenceBundle } from '../common/bundle';
import { bundleLogProof, type BundleLogProof } from '../common/tlog/inclusion';
import { consistencyProof, inclusionProof, leafHash, toHex } from '../common/tlog/merkle';
import { MerkleSubtrees } from '../common/tlog/subtrees';
import { MAX_LEAVES_PAGE } from '../store/bounds';
import { LogDamagedError, type LogCheckpoint, type LogLeaf, type LogReader } from '../store/types';

/** A size or index the log cannot answer for: the caller named something out of range (one sentence, naming the field). */
export class LogRangeError extends Error {
  override name = 'LogRangeError';
}

export interface LeafPage {
  /** The log's size now. */
  treeSize: number;
  leaves: { index: number; data: string }[];
}

export class LogService {
  /** The hashes of leaves 0..size-1 and of every complete subtree over them. */
  private readonly tree = new MerkleSubtrees();
  private reading: Promise<void> = Promise.resolve();

  constructor(private readonly log: LogReader) {}

  latestCheckpoint(): Promise<LogCheckpoint | undefined> {
    return this.log.latestCheckpoint();
  }

  /**
   * Up to `count` leaves from `start`, their data base64; none past the end. A leaf removed from the
   * store ends the page before it, so an auditor reads a log cut short there (and `log audit` says so), never an error.
   */
  async leaves(start: number, count: number): Promise<LeafPage> {
    const treeSize = await this.log.logSize();
    const end = Math.min(treeSize, start + Math.min(count, MAX_LEAVES_PAGE));
    const leaves = start >= end ? [] : await this.log.readLeaves(start, end).catch(async (err: unknown) => {
      if (!(err instanceof LogDamagedError)) throw err;
      return this.upToMissing(start, end);
    });
    return { treeSize, leaves: leaves.map((l) => ({ index: l.index, data: Buffer.from(l.data).toString('base64') })) };
  }

  /** The inclusion proof of leaf `index` in the tree of `size` leaves, hex, leaf to root. */
  async inclusion(index: number, size: number): Promise<string[]> {
    await this.withinLog('size', size);
    if (index >= size) throw new LogRangeError(`Query parameter "index" must be below "size" (${size}), got ${index}.`);
    return inclusionProof(index, size, this.tree).map(toHex);
  }

  /** The consistency proof from the tree of `from` leaves to the tree of `to` leaves, hex. */
  async consistency(from: number, to: number): Promise<string[]> {
    await this.withinLog('to', to);
    if (from > to) throw new LogRangeError(`Query parameter "from" must be at most "to" (${to}), got ${from}.`);
    return consistencyProof(from, to, this.tree).map(toHex);
  }

  /** The `log` field of a sealed bundle: its leaf under the latest checkpoint; undefined while no checkpoint covers it, or while leaves under it are missing. */
  async bundleProof(bundle: EvidenceBundle, runId: string): Promise<BundleLogProof | undefined> {
    const index = await this.log.leafIndex(leafHash(leafFor(bundle, runId)));
    const checkpoint = await this.log.latestCheckpoint();
    if (index === undefined || !checkpoint || checkpoint.treeSize <= index) return undefined;
    try {
      await this.extend(checkpoint.treeSize);
    } catch (err) {
      if (err instanceof LogDamagedError) return undefined; // exported unproven: verify says so, log audit says why
      throw err;
    }
    return bundleLogProof({ runId, index, treeSize: checkpoint.treeSize, checkpoint: checkpoint.note }, this.tree);
  }

  /** Leaves from `start` one by one, up to the first one missing. */
  private async upToMissing(start: number, end: number): Promise<LogLeaf[]> {
    const found: LogLeaf[] = [];
    for (let index = start; index < end; index++) {
      const leaf = await this.log.readLeaves(index, index + 1).catch((err: unknown) => {
        if (err instanceof LogDamagedError) return undefined;
        throw err;
      });
      if (!leaf) break;
      found.push(...leaf);
    }
    return found;
  }

  private async withinLog(field: string, size: number): Promise<void> {
    const logSize = await this.log.logSize();
    if (size > logSize) throw new LogRangeError(`Query parameter "${field}" must be at most the log's size, ${logSize}, got ${size}.`);
    await this.extend(size);
  }

  /** Reads the hashes of leaves up to `size`, one reader at a time. */
  private extend(size: number): Promise<void> {
    const done = this.reading.then(async () => {
      while (this.tree.size < size) {
        const page = await this.log.readLeaves(this.tree.size, Math.min(size, this.tree.size + MAX_LEAVES_PAGE));
        for (const leaf of page) this.tree.append(leaf.hash);
      }
    });
    this.reading = done.catch(() => undefined);
    return done;
  }
}
