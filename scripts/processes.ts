/** Running and waiting for the processes of the cluster and of the store's tests (scripts/cluster-stack.ts, scripts/postgres.ts). */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

/** Runs a command to its end (as `user`, through runuser, when given); its stdout, or an error with the end of its output. */
export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; user?: string } = {}): string {
  const [cmd, argv] = options.user ? ['runuser', ['-u', options.user, '--', command, ...args]] : [command, args];
  const r = spawnSync(cmd, argv, { env: { ...process.env, ...options.env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout || '').slice(-2000)}`);
  return r.stdout;
}

/** Whether something accepts connections on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Polls `ready` until it holds; fails at once, with the reason, when the process it waits for has exited. */
export async function waitFor(what: string, ready: () => boolean | Promise<boolean>, seconds = 60, child?: ChildProcess): Promise<void> {
  const until = Date.now() + seconds * 1000;
  let last: unknown;
  while (Date.now() < until) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`${what}: its process exited (${child.exitCode ?? child.signalCode}) before it was ready; its log is in the cluster folder's logs/.`);
    try {
      if (await ready()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} did not come up within ${seconds} s${last ? `: ${(last as Error).message}` : ''}.`);
}
