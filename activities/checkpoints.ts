/**
 * Checkpoints of the transparency log, signed by the layer key in the worker (issue 27): after each
 * append, a C2SP signed note of the tree the log holds now. The checkpoint of size N is always of the
 * first N leaves, whichever sealer finishes first: leaves are never rewritten, so every worker that
 * signs size N computes the same root and, Ed25519 being deterministic, the same note.
 */
import { signCheckpoint, type CheckpointSigner as LayerKey } from '../common/tlog/checkpoint';
import { appendLeaf, EMPTY_FRONTIER, frontierRoot, hashesEqual, type Frontier } from '../common/tlog/merkle';
import { MAX_LEAVES_PAGE } from '../store/bounds';
import { CheckpointConflictError, LogDamagedError, StoreInputError, type LogReader, type LogWriter } from '../store/types';

/**
 * The seam for checkpoints (issue 27): after a sealed bundle's leaf is appended, sign a checkpoint
 * of the log (C2SP signed note, by the layer key) and store it with `log.putCheckpoint`.
 */
export interface CheckpointSigner {
  checkpoint(log: LogReader & LogWriter, appended: { index: number; hash: Uint8Array }): Promise<void>;
}

/** Attempts of the seal activity that retry a checkpoint failing for a transient cause (the store unreachable); from then on the seal completes without it. */
export const CHECKPOINT_ATTEMPTS = 5;

/**
 * The checkpoint after a seal, bounded: undefined when it is signed and stored, else the sentence why
 * not. A log that is not what it was (a leaf gone, a stored checkpoint with another root) or a refused
 * input is no reason to retry: the bundle and its leaf are stored, so the seal completes and the reason
 * is logged and returned (the next seal's checkpoint covers this leaf too, and log audit names the
 * damage). Any other failure is thrown while `attempt` is below CHECKPOINT_ATTEMPTS, so the activity
 * retries it (every step of a seal is idempotent), then given up the same way.
 */
export async function checkpointAfterSeal(signer: CheckpointSigner, log: LogReader & LogWriter, appended: { index: number; hash: Uint8Array }, attempt: number): Promise<string | undefined> {
  try {
    await signer.checkpoint(log, appended);
    return undefined;
  } catch (err) {
    if (err instanceof LogDamagedError || err instanceof StoreInputError) return (err as Error).message;
    if (attempt < CHECKPOINT_ATTEMPTS) throw err;
    return `${(err as Error).message} (gave up after ${attempt} attempts)`;
  }
}

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
    if (next.size > size) throw new LogDamagedError(`The log holds ${size} leaves, fewer than the ${next.size} it held before: the log has been truncated.`);
    while (next.size < size) {
      const page = await log.readLeaves(next.size, Math.min(size, next.size + MAX_LEAVES_PAGE));
      for (const leaf of page) next = appendLeaf(next, leaf.hash);
    }
    frontiers.set(log, next);
    return next;
  }

  async function checkpoint(log: LogReader & LogWriter, appended: { index: number }): Promise<void> {
    const size = await log.logSize();
    if (size <= appended.index) throw new LogDamagedError(`The log holds ${size} leaves, yet leaf ${appended.index} was appended to it.`);
    const tree = await extendTo(log, size);
    const root = frontierRoot(tree);
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
    throw new LogDamagedError(`The log's stored checkpoint of ${size} leaves has another root than its first ${size} leaves hash to: the log has been tampered with.`);
  }
}
