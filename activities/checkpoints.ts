/**
 * Checkpoints of the transparency log, signed by the layer key in the worker (issue 27): after each
 * append, a C2SP signed note of the tree the log holds now. The checkpoint of size N is always of the
 * first N leaves, whichever sealer finishes first: leaves are never rewritten, so every worker that
 * signs size N computes the same root and, Ed25519 being deterministic, the same note.
 */
import { signCheckpoint, type CheckpointSigner as LayerKey } from '../common/tlog/checkpoint';
import { appendLeaf, EMPTY_FRONTIER, frontierRoot, hashesEqual, type Frontier } from '../common/tlog/merkle';
import { MAX_LEAVES_PAGE } from '../store/bounds';
import { CheckpointConflictError, type LogReader, type LogWriter } from '../store/types';
import type { CheckpointSigner } from './index';

/**
 * Signs and stores a checkpoint of the whole log after an append. It keeps the frontier of the leaves
 * it has read (O(log n) hashes), so each checkpoint reads only the leaves appended since the last one.
 * Calls are queued: one frontier, extended in order.
 */
export function logCheckpoints(layerKey: LayerKey): CheckpointSigner {
  const frontiers = new WeakMap<LogReader, Frontier>();
  let queue: Promise<unknown> = Promise.resolve();

  async function extendTo(log: LogReader, size: number): Promise<Frontier> {
    let next = frontiers.get(log) ?? EMPTY_FRONTIER;
    if (next.size > size) throw new Error(`The log holds ${size} leaves, fewer than the ${next.size} it held before: the log has been truncated.`);
    while (next.size < size) {
      const page = await log.readLeaves(next.size, Math.min(size, next.size + MAX_LEAVES_PAGE));
      for (const leaf of page) next = appendLeaf(next, leaf.hash);
    }
    frontiers.set(log, next);
    return next;
  }

  async function checkpoint(log: LogReader & LogWriter, appended: { index: number }): Promise<void> {
    const size = await log.logSize();
    if (size <= appended.index) throw new Error(`The log holds ${size} leaves, yet leaf ${appended.index} was appended to it.`);
    const tree = await extendTo(log, size);
    const root = frontierRoot(tree);
    if ((await log.checkpointAt(size)) !== undefined) return checkSame(log, size, root);
    const note = signCheckpoint({ size, root }, layerKey);
    try {
      await log.putCheckpoint({ treeSize: size, rootHash: root, note });
    } catch (err) {
      // Another worker signed this size first: the same tree, so the same root, is no conflict.
      if (err instanceof CheckpointConflictError) return checkSame(log, size, root);
      throw err;
    }
  }

  return {
    checkpoint(log, appended) {
      const done = queue.then(() => checkpoint(log, appended));
      queue = done.catch(() => undefined);
      return done;
    },
  };
}

/** A stored checkpoint of this size with another root: the log's leaves changed under it. Never papered over. */
async function checkSame(log: LogReader, size: number, root: Uint8Array): Promise<void> {
  const stored = await log.checkpointAt(size);
  if (stored && !hashesEqual(stored.rootHash, root)) {
    throw new Error(`The log's stored checkpoint of ${size} leaves has another root than its first ${size} leaves hash to: the log has been tampered with.`);
  }
}
