import { statSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Logger } from 'pino';
import { loadPolicyFile, PolicyLoadError, type CompiledPolicy } from './load';

/** How often the policy file's modification time is looked at. */
export const POLICY_POLL_MS = 1000;

/**
 * Keeps a running server's or worker's policy in step with its file: when the file changes and then
 * stays unchanged for a poll (say
 * `countersign reviewers confirm` added a passkey), the new policy replaces the old one in place,
 * in one synchronous step, so every later request sees all of it and none sees half. A file that
 * does not load is logged and ignored: the last good policy keeps running (fail closed on the old
 * rules, never open on a broken file). Runs already under review keep their own snapshot.
 * Returns the function that stops watching.
 */
export function reloadOnChange(policy: CompiledPolicy, logger: Logger, pollMs = POLICY_POLL_MS): () => void {
  const file = policy.file;
  let settle: NodeJS.Timeout | undefined;
  // A file is loaded once it has stopped changing for a poll: an editor that writes in place is never read half-written.
  const listener = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size) return;
    clearTimeout(settle);
    settle = setTimeout(() => {
      let current: Stats;
      try {
        current = statSync(file);
      } catch {
        return; // gone for now (a rename in progress): the next change brings it back
      }
      if (current.mtimeMs === now.mtimeMs && current.size === now.size) reloadPolicy(policy, logger);
    }, pollMs);
    settle.unref();
  };
  watchFile(file, { interval: pollMs, persistent: false }, listener);
  return () => {
    clearTimeout(settle);
    unwatchFile(file, listener);
  };
}

/** Loads the policy's file again and, if it is valid and different, puts it in place of the running one. */
export function reloadPolicy(policy: CompiledPolicy, logger: Logger): boolean {
  let next: CompiledPolicy;
  try {
    next = loadPolicyFile(policy.file);
  } catch (err) {
    const detail = err instanceof PolicyLoadError ? err.message : (err as Error).message;
    logger.error({ policy: policy.file, err: detail }, 'the changed policy does not load; the previous one keeps running');
    return false;
  }
  if (next.digest === policy.digest) return false;
  const previous = policy.digest;
  Object.assign(policy, next);
  logger.info({ policy: policy.file, policyDigest: policy.digest, previous, directoryDigest: policy.directory.digest }, 'policy reloaded');
  return true;
}
