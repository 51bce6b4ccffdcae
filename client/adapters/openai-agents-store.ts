/**
 * Where an interrupted OpenAI Agents run waits for countersign: its serialized RunState, keyed by
 * the countersign request id of each tool call it holds, so a decision (by wait or by webhook)
 * finds the run it resumes. In memory, or one file per request id (mode 0600: a RunState carries the
 * conversation) so another process can resume it.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One tool call of the run that waits for a countersign decision. */
export interface HeldCall {
  /** The model's call id (the interruption's). */
  callId: string;
  toolName: string;
  /** countersign's request id (the key the run is stored under) and its workflow id. */
  requestId: string;
  workflowId: string;
}

/** An interrupted run: its RunState (`state.toString()`) and the calls it holds for countersign. */
export interface HeldRun {
  state: string;
  calls: HeldCall[];
}

/** Interrupted runs by countersign request id. A run that holds several calls is stored under each. */
export interface RunStateStore {
  get(requestId: string): Promise<HeldRun | undefined>;
  put(requestId: string, run: HeldRun): Promise<void>;
  /** Removes and returns the run stored under `requestId`, or undefined when it is gone (resumed already): at most one caller gets it. */
  take(requestId: string): Promise<HeldRun | undefined>;
  delete(requestId: string): Promise<void>;
}

export function memoryRunStateStore(): RunStateStore {
  const runs = new Map<string, string>();
  const read = (text: string | undefined) => (text === undefined ? undefined : (JSON.parse(text) as HeldRun));
  return {
    get: async (id) => read(runs.get(id)),
    put: async (id, run) => void runs.set(id, JSON.stringify(run)),
    take: async (id) => {
      const text = runs.get(id);
      runs.delete(id);
      return read(text);
    },
    delete: async (id) => void runs.delete(id),
  };
}

/** One JSON file per request id under `dir` (mode 0600); `take` claims a file by renaming it, so two resumes never both get it. */
export function fileRunStateStore(dir: string): RunStateStore {
  const path = (id: string) => join(dir, `${id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
  const readIf = (file: string): HeldRun | undefined => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as HeldRun;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  return {
    get: async (id) => readIf(path(id)),
    async put(id, run) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const tmp = `${path(id)}.${randomUUID()}.tmp`;
      writeFileSync(tmp, JSON.stringify(run), { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, path(id));
    },
    async take(id) {
      const claimed = `${path(id)}.${randomUUID()}.taken`;
      try {
        renameSync(path(id), claimed);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      const run = readIf(claimed);
      rmSync(claimed, { force: true });
      return run;
    },
    delete: async (id) => rmSync(path(id), { force: true }),
  };
}
