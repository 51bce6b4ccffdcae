import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createKeyFile, layerKeyPath, type Signer } from '../../activities/keys';
import { compilePolicy } from '../../activities/policy/load';
import { Countersign } from '../../client/sdk';
import { createLogger } from '../../worker/logger';
import { createApprovalWorker } from '../../worker/worker';
import { testEnvironment, testWorkflowBundle } from './server';

export interface Stack {
  cs: Countersign;
  taskQueue: string;
  policyFile: string;
  dir: string;
  signer: Signer;
  evidenceDir: string;
  /** Every JSON log line the worker wrote, parsed. */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
  /** Stops the worker and starts a fresh one on the same task queue (nothing cached survives). */
  restartWorker(): Promise<void>;
}

/** A worker on a fresh task queue, loaded with the given policy text, plus an SDK client for it. */
export async function startStack(env: TestWorkflowEnvironment, policyText: string, options: { env?: NodeJS.ProcessEnv; taskQueue?: string } = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-test-'));
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, policyText);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const logger = createLogger({ destination: sink, level: 'debug' });
  const taskQueue = options.taskQueue ?? `test-${randomUUID()}`;
  const signer = createKeyFile(layerKeyPath(dir));
  const evidenceDir = join(dir, 'evidence');
  const bundle = await testWorkflowBundle();
  const startWorker = () =>
    createApprovalWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue,
      policy: compilePolicy(policyText, policyFile),
      logger,
      signer,
      evidenceDir,
      workflowBundle: bundle,
      env: options.env,
    });
  let worker = await startWorker();
  let running = worker.run();
  const cs = await Countersign.connect({ connection: env.connection, taskQueue });
  return {
    cs,
    taskQueue,
    policyFile,
    dir,
    signer,
    evidenceDir,
    logs,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown(); // a failed worker has already stopped
      await running;
    },
    async restartWorker() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      worker = await startWorker();
      running = worker.run();
    },
  };
}

let counter = 0;
/** A valid action request with a unique task id; override any field. */
export function action(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    agentId: 'support-bot',
    taskId: `task-${process.pid}-${counter}-${randomUUID().slice(0, 8)}`,
    action: 'payments.refund',
    summary: 'Refund order #1234: the customer was charged twice.',
    resource: { type: 'customer', id: 'C-42' },
    payload: { amount: 120, currency: 'USD', order: '1234' },
    onBehalfOf: 'mallory',
    ...overrides,
  };
}

export interface StackContext {
  env: TestWorkflowEnvironment;
  stack: Stack;
}

/** Registers before/after hooks that start a stack for this test file and tear it down. */
export function useStack(policy: string | (() => string), options: { env?: NodeJS.ProcessEnv } = {}): StackContext {
  const ctx = {} as StackContext;
  before(async () => {
    ctx.env = await testEnvironment();
    ctx.stack = await startStack(ctx.env, typeof policy === 'string' ? policy : policy(), options);
  });
  after(async () => {
    await ctx.stack?.stop();
    await ctx.env?.teardown();
  });
  return ctx;
}
