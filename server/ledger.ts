/**
 * What the front door must remember across all its instances: answered login challenges and
 * passkey sign-ins (single use), and ended sessions (logout). The shared one keeps each record as
 * a Temporal workflow id — Temporal starts an id at most once, atomically, on every frontend — so
 * it needs no database and no worker: the record is a run that no worker polls for (a task queue
 * of its own) and that times out when the record lapses. Its id is a digest, never the secret.
 */
import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';

export interface DoorLedger {
  /** Records `key` for `ttlSeconds`; false when it is recorded already (a second answer, a replay). */
  spend(key: string, ttlSeconds: number): Promise<boolean>;
  /** Whether `key` is recorded and has not lapsed. */
  has(key: string): Promise<boolean>;
}

/** Records kept at most by the per-instance ledger; beyond this it refuses rather than forgets. */
export const MAX_MEMORY_RECORDS = 100_000;

export class LedgerFullError extends Error {
  override name = 'LedgerFullError';
}

/** One instance's memory: correct for a single server (and for tests); not shared. */
export function memoryLedger(max = MAX_MEMORY_RECORDS): DoorLedger {
  const records = new Map<string, number>();
  const live = (key: string) => (records.get(key) ?? 0) >= Date.now();
  return {
    async spend(key, ttlSeconds) {
      if (live(key)) return false;
      if (records.size >= max) for (const [k, until] of records) if (until < Date.now()) records.delete(k);
      if (records.size >= max) throw new LedgerFullError('Too many sign-ins are in progress on this server: try again in a minute.');
      records.set(key, Date.now() + ttlSeconds * 1000);
      return true;
    },
    async has(key) {
      return live(key);
    },
  };
}

export const DOOR_RECORD_WORKFLOW_TYPE = 'countersign.doorRecord';
/** Clocks between instances and Temporal may differ a little: a record outlives what it guards by this much. */
const SKEW_S = 60;

/** Shared by every server instance on the same Temporal namespace and task queue. */
export function temporalLedger(client: Client, taskQueue: string): DoorLedger {
  const id = (key: string) => `cs-door-${createHash('sha256').update(`countersign/door:${taskQueue}:${key}`, 'utf8').digest('hex').slice(0, 40)}`;
  return {
    async spend(key, ttlSeconds) {
      try {
        await client.workflow.start(DOOR_RECORD_WORKFLOW_TYPE, {
          workflowId: id(key),
          taskQueue: `${taskQueue}-door-records`,
          args: [],
          workflowIdConflictPolicy: 'FAIL',
          // Never again while Temporal keeps the closed run (its retention, at least a day): longer than any record is needed.
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          workflowExecutionTimeout: `${ttlSeconds + SKEW_S}s`,
          staticSummary: 'A countersign front-door record (a spent challenge or an ended session); no worker runs it.',
        });
        return true;
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
        throw err;
      }
    },
    async has(key) {
      try {
        const d = await client.workflow.getHandle(id(key)).describe();
        return d.status.name === 'RUNNING';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
  };
}
