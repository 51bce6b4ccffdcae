import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

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
 * Where spent tokens are recorded, outside workflow state (DESIGN §5): a reset workflow replays its
 * state, not this. `recordSpend` is an atomic create-if-absent: the first spend of a token id wins;
 * a retry from the same run is the same spend; any other run's spend is refused.
 */
export interface SpendLedger {
  recordSpend(entry: SpendEntry): SpendResult;
}

const TOKEN_ID = /^tok_[0-9a-f]{24}$/;

/** A ledger of files created exclusively (O_EXCL) in one directory: enough for the workers of one machine. */
export function fileSpendLedger(dir: string): SpendLedger {
  return {
    recordSpend(entry) {
      if (!TOKEN_ID.test(entry.tokenId)) throw new Error(`not a token id: ${JSON.stringify(entry.tokenId.slice(0, 40))}`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const path = join(dir, `${entry.tokenId}.json`);
      let fd: number;
      try {
        fd = openSync(path, 'wx', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const first = readSpend(path);
        if (first?.runId === entry.runId && first.workflowId === entry.workflowId) return { recorded: true };
        return { recorded: false, runId: first?.runId ?? 'unknown', spentAt: first?.spentAt ?? 'unknown' };
      }
      try {
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
