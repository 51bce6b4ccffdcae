import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { StackContext } from './stack';

const BIN = join(__dirname, '..', '..', 'bin', 'countersign.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Operator commands: the only ones that are given Temporal's address. */
const OPERATOR_COMMANDS = ['setup', 'status', 'worker', 'server', 'dev', 'reviewers'];

/**
 * Runs the real CLI as its own process against the stack (async, so this process's worker keeps
 * serving). Agent and reviewer commands reach the stack's server (COUNTERSIGN_URL) with keys from
 * COUNTERSIGN_HOME, and get no TEMPORAL_* variable at all; operator commands get Temporal's address.
 */
export function cliFor(ctx: StackContext, baseEnv: Record<string, string> = {}) {
  return (args: string[], extraEnv: Record<string, string> = {}): Promise<CliRun> =>
    new Promise((resolve) => {
      const operator = OPERATOR_COMMANDS.includes(args[0] ?? '');
      const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => operator || !k.startsWith('TEMPORAL_')));
      execFile(
        process.execPath,
        [BIN, ...args],
        {
          env: { ...inherited, ...(operator ? { TEMPORAL_ADDRESS: ctx.env.address } : {}), COUNTERSIGN_URL: ctx.stack.url, COUNTERSIGN_TASK_QUEUE: ctx.stack.taskQueue, COUNTERSIGN_HOME: ctx.stack.dir, ...baseEnv, ...extraEnv },
          timeout: 60_000,
        },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    });
}

/**
 * A reviewer decision from the CLI as a reviewer makes it: `review show <id> --as NAME` first, then
 * the decision, which the CLI binds to the version shown. `args` is the decision, e.g. ['approve', id, '--as', 'bob'].
 */
export async function lookThenDecide(cli: ReturnType<typeof cliFor>, args: string[], extraEnv: Record<string, string> = {}): Promise<CliRun> {
  const [, id] = args;
  const as = args.indexOf('--as');
  const who = as >= 0 ? ['--as', args[as + 1]!] : [];
  const shown = await cli(['review', 'show', id!, ...who], extraEnv);
  if (shown.code !== 0) return shown;
  return cli(['review', ...args], extraEnv);
}
