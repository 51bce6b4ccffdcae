import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { eventually } from './eventually';

export interface WorkerProcess {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

/** Starts `countersign worker` as its own process and waits until it polls. */
export async function startWorkerProcess(env: NodeJS.ProcessEnv): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [join(__dirname, '..', '..', 'bin', 'countersign.js'), 'worker'], {
    env: {
      ...process.env,
      COUNTERSIGN_LOG_LEVEL: 'info',
      ...(process.env.COUNTERSIGN_TEST_BUNDLE ? { COUNTERSIGN_WORKFLOW_BUNDLE: process.env.COUNTERSIGN_TEST_BUNDLE } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (chunk) => lines.push(...String(chunk).split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  await eventually(() => assert(lines.some((l) => l.includes('countersign worker started')), lines.join('\n')), 'worker process up', 300);
  return { child, lines, exited };
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
