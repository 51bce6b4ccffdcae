import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { StackContext } from './stack';

const BIN = join(__dirname, '..', '..', 'bin', 'countersign.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI as its own process against the stack (async, so this process's worker keeps serving). */
export function cliFor(ctx: StackContext, baseEnv: Record<string, string> = {}) {
  return (args: string[], extraEnv: Record<string, string> = {}): Promise<CliRun> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        { env: { ...process.env, TEMPORAL_ADDRESS: ctx.env.address, COUNTERSIGN_TASK_QUEUE: ctx.stack.taskQueue, ...baseEnv, ...extraEnv }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    });
}
