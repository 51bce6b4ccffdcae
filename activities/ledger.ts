import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PRIVATE_FILE, privateDir, privateFd } from '../config/private-files';
import { nativeSha256Hex } from '../crypto/sha256';

/** One spend of a token, as the ledger keeps it. */
export interface SpendEntry {
  tokenId: string;
  workflowId: string;
  runId: string;
  requestId: string;
  actionDigest: string;
  spentAt: string;
}

export type SpendResult = { recorded: true } | { recorded: false; runId: string; spentAt: string };

/**
 * Where spends are recorded, outside workflow state (DESIGN §5): a reset workflow replays its state,
 * not this. One spend per workflow id — one action of one agent's task — whatever token a run holds:
 * a reset to before the mint, or a new run of the same workflow id, mints a fresh token, and that one
 * must not run the action a second time either. `recordSpend` is an atomic create-if-absent: the
 * first spend wins; a retry from the same run with the same token is the same spend; any other is refused.
 */
export interface SpendLedger {
  recordSpend(entry: SpendEntry): SpendResult;
}

/** A ledger of files created exclusively (O_EXCL) in one directory, named by a hash of the workflow id: enough for the workers of one machine. */
export function fileSpendLedger(dir: string): SpendLedger {
  return {
    recordSpend(entry) {
      privateDir(dir);
      const path = join(dir, `${nativeSha256Hex(entry.workflowId).slice(0, 32)}.json`);
      let fd: number;
      try {
        fd = openSync(path, 'wx', PRIVATE_FILE);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const first = readSpend(path);
        if (first?.runId === entry.runId && first.tokenId === entry.tokenId && first.workflowId === entry.workflowId) return { recorded: true };
        return { recorded: false, runId: first?.runId ?? 'unknown', spentAt: first?.spentAt ?? 'unknown' };
      }
      try {
        privateFd(fd);
        writeSync(fd, `${JSON.stringify(entry)}\n`);
      } finally {
        closeSync(fd);
      }
      return { recorded: true };
    },
  };
}

function readSpend(path: string): SpendEntry | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SpendEntry;
  } catch {
    return undefined; // a half-written entry still marks the token spent
  }
}
