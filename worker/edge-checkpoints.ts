/**
 * Checkpoints for leaves the workers did not append (issue 29): the front door appends the leaf of
 * each edge allow it seals, and only the layer key — here, in the workers — signs checkpoints. So a
 * worker looks every few seconds and signs a checkpoint of the whole log when it has grown past the
 * latest one; its own seals sign one at once, as before. Every worker may: the same size gets the same note.
 */
import type { Logger } from 'pino';
import type { CheckpointSigner } from '../activities';
import type { LogReader, LogWriter } from '../store/types';

/** How often a worker looks for leaves no checkpoint covers yet (COUNTERSIGN_CHECKPOINT_INTERVAL_MS). */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 2000;

/** Starts looking; the returned function stops it. A failed look is logged and tried again next time. */
export function checkpointLateLeaves(log: LogReader & LogWriter, checkpoints: CheckpointSigner, logger: Logger, intervalMs = DEFAULT_CHECKPOINT_INTERVAL_MS): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      // Two cheap reads a look (the size, and the checkpoint of that size), never a listing of every checkpoint.
      const size = await log.logSize();
      if (size > 0 && !(await log.checkpointAt(size))) {
        await checkpoints.checkpoint(log, { index: size - 1, hash: new Uint8Array(32) });
        logger.info({ treeSize: size }, 'checkpoint signed for leaves appended at the edge');
      }
    })()
      .catch((err: Error) => logger.warn({ err: err.message }, 'checkpoint of the log failed; tried again shortly'))
      .finally(() => (busy = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
