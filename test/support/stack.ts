import { randomBytes, randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { edgeKeyPath, layerKeyPath } from '../../config/home';
import { createKeyFile, loadKeyFile, type Signer } from '../../crypto/keys';
import { compilePolicy } from '../../policy/load';
import { START_VOUCHER_DOMAIN, startVoucherBody } from '../../common/start-voucher';
import { memoryKeyStore, type AgentKeyStore } from '../../client/agent-keys';
import { Reviewer } from '../../client/reviewer';
import { Countersign, type GuardResult, type ApprovalRequest } from '../../client/sdk';
import type { Payload } from '../../common/json';
import type { ActionRequestInput, ConsumeRequest, ExecutionReport, ReviewerDecision } from '../../common/inputs';
import type { DecisionReceipt, SubmitState } from '../../common/views';
import { Approvals } from '../../server/approvals';
import type { RequestRow } from '../../common/views';
import { startServer, type RunningServer } from '../../server/main';
import { withDevCredentials } from '../../cli/dev-credentials';
import { createLogger } from '../../config/logger';
import { loadSlackSettings } from '../../config/slack';
import { createApprovalWorker } from '../../worker/worker';
import { reloadPolicy } from '../../policy/watch';
import { freePort } from './ports';
import { testEnvironment, testWorkflowBundle } from './server';
import { databaseSettings } from '../../config/database';
import { fileStore } from '../../store/files';
import { postgresStore } from '../../store/postgres';
import type { Store, StoreReader } from '../../store/types';

/** Agents every test stack has a key for; a test may name more. */
export const TEST_AGENTS = ['support-bot', 'ops-bot', 'another-agent', 'bob', 'a', 'ops@acme', 'ops_acme', 'bot', 'bot-1', 'sales-bot', 'analytics-bot', 'release-bot'];
export const TEST_GATEWAYS = ['gw', 'mcp-gateway', 'http-gateway', 'test-agent'];
export const TEST_AUDITORS = ['audrey'];

export interface Stack {
  /** Agents and reviewers through the server (see TestClient). */
  cs: TestClient;
  /** The operator's direct Temporal access: what the server itself uses, and what attack tests go around the server with. */
  ops: Approvals;
  /** The countersign server's URL. */
  url: string;
  taskQueue: string;
  /** The policy as the worker and the server run it: the test's text plus the stack's directory. */
  policyFile: string;
  dir: string;
  signer: Signer;
  /** The front door's start key: `vouch` signs a raw start's input as the server would. */
  startSigner: Signer;
  /** The front door's edge key (issue 29): it decides the allows of `edge: true` rules, on the files store (the server may write there). */
  edgeSigner?: Signer;
  vouch<T extends { request: Record<string, unknown>; requestId: string; actionDigest: string }>(args: T, workflowId: string): T & { voucher: unknown };
  evidenceDir: string;
  /** Where the worker keeps spends, evidence and the log: files in evidenceDir, or PostgreSQL under npm run test:cluster (testStore). */
  store: Store;
  agentKeys: Map<string, string>;
  reviewerKeys: Map<string, string>;
  auditorKeys: Map<string, string>;
  keyStore: AgentKeyStore;
  /** An agent SDK connected through the server with that agent's key. */
  agent(name?: string): Promise<Countersign>;
  /** A reviewer logged in to the server with their key (or `key`, a PEM path, for one the test registered itself). */
  reviewer(name: string, key?: string): Promise<Reviewer>;
  /** Every JSON log line the worker and the server wrote, parsed. */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
  /** The inbox's URL (http://localhost:PORT/inbox), for a stack started with `inbox: true`. */
  inboxUrl: string;
  /** Loads policyFile again into the running server and worker, as their file watch does (true if it changed). */
  reloadPolicy(): boolean;
  /** Stops the worker and starts a fresh one on the same task queue (nothing cached survives). */
  restartWorker(): Promise<void>;
}

/** A worker and a countersign server on a fresh task queue, loaded with the given policy text plus a directory of test credentials. */
export async function startStack(
  env: TestWorkflowEnvironment,
  policyText: string,
  options: { env?: NodeJS.ProcessEnv; taskQueue?: string; agents?: string[]; dir?: string; worker?: boolean; /** Serve the web inbox for passkeys at http://localhost:PORT. */ inbox?: boolean; /** The server's cap on each agent's open requests (default 10,000: tests that are not about it never meet it). */ maxOpenRequestsPerAgent?: number; /** A Slack stand-in (test/support/slack.ts): the worker posts to it and the server takes its requests. */ slack?: { env: Record<string, string> } } = {},
): Promise<Stack> {
  // Another stack's dir: the same credentials and layer key, as a restarted deployment keeps them.
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'countersign-test-'));
  // The inbox's origin is in the directory (passkeys are bound to it), so its port is chosen first.
  const port = options.inbox ? await freePort() : 0;
  const creds = withDevCredentials(policyText, dir, {
    agents: [...TEST_AGENTS, ...(options.agents ?? [])],
    gateways: TEST_GATEWAYS,
    auditors: TEST_AUDITORS,
    ...(options.inbox ? { webauthn: { rpId: 'localhost', origins: [`http://localhost:${port}`] } } : {}),
  });
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, creds.policyText);
  const policy = compilePolicy(creds.policyText, policyFile);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const logger = createLogger({ destination: sink, level: 'debug' });
  const taskQueue = options.taskQueue ?? `test-${randomUUID()}`;
  const signer = existsSync(layerKeyPath(dir)) ? loadKeyFile(layerKeyPath(dir)) : createKeyFile(layerKeyPath(dir));
  const evidenceDir = join(dir, 'evidence');
  const { store, serverStore } = await testStore(evidenceDir);
  const bundle = await testWorkflowBundle();
  const startWorker = () =>
    createApprovalWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue,
      policy,
      logger,
      signer,
      evidenceDir,
      store,
      workflowBundle: bundle,
      env: options.slack ? { ...process.env, ...options.env, ...options.slack.env } : options.env,
    });
  // worker: false — the server alone, in front of `countersign worker` processes the test starts (COUNTERSIGN_HOME = dir).
  const inProcess = options.worker !== false;
  let worker = inProcess ? await startWorker() : undefined;
  let running = worker?.run();
  const startSigner = loadKeyFile(creds.startKeyPath);
  const ops = await Approvals.connect({ connection: env.connection, taskQueue, startSigner });
  // The edge is on wherever the server may write its records: the files store (a policy without edge rules never meets it).
  const edgeSigner = process.env.COUNTERSIGN_TEST_STORE ? undefined : existsSync(edgeKeyPath(dir, {})) ? loadKeyFile(edgeKeyPath(dir, {})) : createKeyFile(edgeKeyPath(dir, {}));
  const server: RunningServer = await startServer({ backend: ops, policy, logger, store: serverStore, ...(edgeSigner ? { edge: { signer: edgeSigner, store } } : {}), sessionSecret: randomBytes(32), listen: `127.0.0.1:${port}`, rateLimit: { perSecond: 1000, burst: 2000 }, listRateLimit: { perSecond: 1000, burst: 2000 }, maxOpenRequestsPerAgent: options.maxOpenRequestsPerAgent ?? 10_000, ...(options.slack ? { slack: loadSlackSettings(options.slack.env) } : {}) });
  const agents = new Map<string, Promise<Countersign>>();
  const keyStore = memoryKeyStore();
  const reviewers = new Map<string, Promise<Reviewer>>();
  const stack: Stack = {
    cs: undefined as unknown as TestClient,
    ops,
    url: server.url,
    inboxUrl: `http://localhost:${new URL(server.url).port}/inbox`,
    reloadPolicy: () => reloadPolicy(policy, logger),
    taskQueue,
    policyFile,
    dir,
    signer,
    startSigner,
    ...(edgeSigner ? { edgeSigner } : {}),
    vouch: (args, workflowId) => ({ ...args, voucher: startSigner.sign(START_VOUCHER_DOMAIN, startVoucherBody(args.request as never, { workflowId, requestId: args.requestId, actionDigest: args.actionDigest }, Date.now())) }),
    evidenceDir,
    store,
    agentKeys: creds.agentKeys,
    reviewerKeys: creds.reviewerKeys,
    auditorKeys: creds.auditorKeys,
    keyStore,
    logs,
    agent(name = 'support-bot') {
      const apiKey = creds.agentKeys.get(name);
      if (!apiKey) throw new Error(`The test stack has no key for agent ${name}: add it to startStack's agents.`);
      if (!agents.has(name)) agents.set(name, Countersign.connect({ url: server.url, apiKey, keyStore }));
      return agents.get(name)!;
    },
    reviewer(name, key) {
      const path = key ?? creds.reviewerKeys.get(name);
      if (!path) throw new Error(`The test stack has no key for reviewer ${name}.`);
      const cacheKey = `${name}\n${path}`;
      if (!reviewers.has(cacheKey)) reviewers.set(cacheKey, Reviewer.login({ url: server.url, name, key: path }));
      return reviewers.get(cacheKey)!;
    },
    async stop() {
      await server.close();
      if (worker?.getState() === 'RUNNING') worker.shutdown(); // a failed worker has already stopped
      await running;
      await Promise.all([...new Set([store, serverStore])].map((s) => s.close()));
    },
    async restartWorker() {
      if (!worker) throw new Error('This stack has no worker of its own.');
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      worker = await startWorker();
      running = worker.run();
    },
  };
  stack.cs = new TestClient(stack);
  return stack;
}

/**
 * What the end-to-end suites call: agents' operations go through the server, each with the key of
 * the agent the request names (a request's agent is the credential's: there is no other way); a
 * decision is signed by its reviewer's key and sent through the server. `view` and `listPending`
 * are the operator's (Temporal) view, for assertions.
 */
export class TestClient {
  constructor(private readonly stack: Stack) {}

  private agentFor(input: unknown): Promise<Countersign> {
    const named = (input as { agentId?: unknown } | null)?.agentId;
    return this.stack.agent(typeof named === 'string' && this.stack.agentKeys.has(named) ? named : 'support-bot');
  }

  /** The workflow id, and through it the agent whose request it is. */
  private async owner(id: string): Promise<{ workflowId: string; agent: Countersign }> {
    const workflowId = await this.stack.ops.resolve(id);
    const name = /^cs-(.+)-[0-9a-f]{16}$/.exec(workflowId)?.[1] ?? 'support-bot';
    return { workflowId, agent: await this.stack.agent(this.stack.agentKeys.has(name) ? name : 'support-bot') };
  }

  /** Every agent's per-request X25519 keys (one store for the stack's agents). */
  get keys(): AgentKeyStore {
    return this.stack.keyStore;
  }

  // The suites send whatever an agent could, valid or not: the SDK's own parse judges it.
  async submit(input: unknown, options: { waitMs?: number } = {}): Promise<ApprovalRequest> {
    return (await this.agentFor(input)).submit(input as ActionRequestInput, options);
  }
  async guard<T>(input: unknown, execute: (payload: Payload) => Promise<T>, options: { waitMs?: number } = {}): Promise<GuardResult<T>> {
    return (await this.agentFor(input)).guard(input as ActionRequestInput, execute, options);
  }
  async wait(id: string, waitMs: number): Promise<SubmitState> {
    const { workflowId, agent } = await this.owner(id);
    return agent.wait(workflowId, waitMs);
  }
  async consume(id: string, consume: ConsumeRequest) {
    const { workflowId, agent } = await this.owner(id);
    return agent.consume(workflowId, consume);
  }
  async report(id: string, report: ExecutionReport): Promise<void> {
    const { workflowId, agent } = await this.owner(id);
    return agent.report(workflowId, report);
  }
  async outcome(id: string) {
    const { workflowId, agent } = await this.owner(id);
    return agent.outcome(workflowId);
  }
  async evidence(id: string) {
    const { workflowId, agent } = await this.owner(id);
    return agent.evidence(workflowId);
  }
  /** The sealed bundle's text of the request's current run, as the worker's store keeps it (a file, or a row). */
  async sealedText(id: string): Promise<string> {
    const workflowId = await this.stack.ops.resolve(id);
    const { runId } = await this.stack.ops.client.workflow.getHandle(workflowId).describe();
    const stored = await this.stack.store.getEvidence(workflowId, runId);
    if (!stored) throw new Error(`No sealed evidence of run ${runId} of ${workflowId} in ${this.stack.store.description}.`);
    return stored.text;
  }
  view(id: string) {
    return this.stack.ops.view(id);
  }
  listPending(options: { group?: string; limit?: number } = {}): Promise<RequestRow[]> {
    return this.stack.ops.listPending(options);
  }
  resolve(id: string) {
    return this.stack.ops.resolve(id);
  }
  /**
   * A reviewer's decision through the server, signed by their key over the version `decision.versionDigest`
   * names (default: the current one). A decision that carries its own signature is sent as it is.
   */
  async decide(id: string, decision: ReviewerDecision, options: { key?: string } = {}): Promise<DecisionReceipt> {
    const reviewer = await this.stack.reviewer(decision.reviewer, options.key);
    const view = await this.stack.ops.view(id);
    if (decision.signature) return reviewer.send(view.workflowId, decision);
    return reviewer.decide(view, decision, { versionDigest: decision.versionDigest ?? view.currentDigest, policyDigest: view.policy?.policyDigest ?? '' });
  }
}

/**
 * The stores a test stack runs on: files in the stack's folder, or — under npm run test:cluster,
 * which sets COUNTERSIGN_TEST_STORE to the cluster's database settings — PostgreSQL, the workers'
 * role for the worker and the server's read-only role for the server.
 */
export async function testStore(evidenceDir: string): Promise<{ store: Store; serverStore: StoreReader }> {
  const configured = process.env.COUNTERSIGN_TEST_STORE;
  if (!configured) {
    const store = fileStore(evidenceDir);
    return { store, serverStore: store };
  }
  const { workerEnv, serverEnv } = JSON.parse(configured) as { workerEnv: NodeJS.ProcessEnv; serverEnv: NodeJS.ProcessEnv };
  const store = await postgresStore(databaseSettings(workerEnv)!, { applicationName: 'countersign-test-worker', access: 'write' });
  const serverStore = await postgresStore(databaseSettings(serverEnv)!, { applicationName: 'countersign-test-server', access: 'read' });
  return { store, serverStore };
}

let counter = 0;
/** A valid action request as an agent writes it for the SDK (its agent is the key's), with a unique task id. */
export function agentAction(overrides: Partial<ActionRequestInput> = {}): ActionRequestInput {
  counter += 1;
  return {
    taskId: `task-${process.pid}-${counter}-${randomUUID().slice(0, 8)}`,
    action: 'payments.refund',
    summary: 'Refund order #1234: the customer was charged twice.',
    resource: { type: 'customer', id: 'C-42' },
    payload: { amount: 120, currency: 'USD', order: '1234' },
    onBehalfOf: 'mallory',
    ...overrides,
  };
}

/** The same from support-bot, with any field overridden, valid or not: what the suites send through TestClient. */
export function action(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { agentId: 'support-bot', ...agentAction(), ...overrides };
}

export interface StackContext {
  env: TestWorkflowEnvironment;
  stack: Stack;
}

/** Registers before/after hooks that start a stack for this test file and tear it down. */
export function useStack(policy: string | (() => string), options: { env?: NodeJS.ProcessEnv; agents?: string[] } = {}): StackContext {
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
