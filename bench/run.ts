/**
 * `npm run bench`: starts its own Temporal dev server, worker and countersign server, measures
 * Temporal's own cheapest round trip (the baseline), the agent path straight to Temporal (direct)
 * and through the server, in the same run, and writes
 * bench/results/<date>.json plus a markdown table. Sizes: BENCH_N (sequential samples, 200),
 * BENCH_CONCURRENT_N (300), BENCH_REVIEW_N (50), BENCH_PENDING (10000; 0 skips the scale run).
 *
 * `node --import tsx bench/run.ts --only edge` (or BENCH_ONLY=edge) measures the baseline, the workflow
 * path's auto-allow and the edge allows (bench/edge.ts) only, and stops there.
 *
 * `npm run bench -- --cluster` (or BENCH_CLUSTER=1) runs the same on the production-shaped cluster
 * instead (scripts/cluster-stack.ts: PostgreSQL, separate Temporal services), started in a temporary
 * folder for the run, and writes bench/results/<date>-cluster.json.
 */
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { layerKeyPath } from '../config/home';
import { createKeyFile, loadKeyFile } from '../crypto/keys';
import { evaluatePolicy } from '../policy/evaluate';
import { compilePolicy } from '../policy/load';
import { Reviewer } from '../client/reviewer';
import { Countersign, parseActionRequest, type ApprovalRequest } from '../client/sdk';
import { generateAgentKey, openToken } from '../crypto/tokens';
import { Approvals } from '../server/approvals';
import { startServer, type RunningServer } from '../server/main';
import { withDevCredentials } from '../cli/dev-credentials';
import { ALL_SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { createLogger } from '../config/logger';
import { findOrBuildTemporalCli } from '../cli/temporal-cli';
import { bundleApprovalWorkflows } from '../worker/bundle';
import { createApprovalWorker } from '../worker/worker';
import type { pingUpdateWorkflow, pingWorkflow } from './baseline-workflows';
import { pingUpdate } from './baseline-workflows';
import { startWorkerProcess } from '../test/support/worker-process';
import { HISTORY_SHARDS, startClusterStack, TEMPORAL_PROCESSES, TEMPORAL_SERVER_VERSION, type ClusterStack } from '../scripts/cluster-stack';
import { cpuPerOperation, pidsNamed, type CpuGroups } from './cpu';
import { benchAdapters, type AdapterBench } from './adapters';
import { benchSlack } from './slack';
import { benchInsights } from './insights';
import { benchStore } from './store';
import { benchEdge, type EdgeBench } from './edge';
import { adminDatabaseSettings, databaseSettings } from '../config/database';
import { connectionConfig } from '../store/connection';
import { setupDatabase } from '../store/migrate';
import pg from 'pg';
import { benchStorePaths } from './store-paths';
import { postgresStore } from '../store/postgres';
import { concurrent, sequential, summarize, type Summary } from './stats';

const N = Number(process.env.BENCH_N ?? 200);
const CONCURRENT_N = Number(process.env.BENCH_CONCURRENT_N ?? 300);
const REVIEW_N = Number(process.env.BENCH_REVIEW_N ?? 50);
const PENDING = Number(process.env.BENCH_PENDING ?? 10_000);
const AGENTS = 32;
const CLUSTER = process.argv.includes('--cluster') || process.env.BENCH_CLUSTER === '1';
/** `--only edge`: the baseline, the workflow path's auto-allow and the edge phase, then stop. */
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : process.env.BENCH_ONLY;
const EDGE_AGENTS = Array.from({ length: AGENTS }, (_, i) => `bench-edge-${i}`);
/** Worker processes the run started: stopped with it on Ctrl-C. */
const children = new Set<ChildProcess>();

const POLICY = `
version: 1
defaults: { decision: review, reviewers: finance, sla: 4h, tokenTtl: 30m }
groups:
  finance: { members: [dave, erin] }
rules:
  - id: small
    match: { action: payments.refund }
    when: "payload.amount <= 100"
    decision: allow
  - id: large
    match: { action: payments.refund }
    when: "payload.amount > 100"
    decision: review
    reviewers: finance
  - id: lookups
    match: { action: crm.lookupCustomer }
    decision: allow
    edge: true
`;

const request = (payload: Record<string, unknown>) => ({
  agentId: 'bench-agent',
  taskId: `t-${randomUUID()}`,
  action: 'payments.refund',
  summary: 'Benchmark refund',
  resource: { type: 'customer', id: 'C-1' },
  payload,
});

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const home = join(__dirname, '..', '.countersign', 'bench');
  mkdirSync(home, { recursive: true });
  const log = (line: string) => process.stderr.write(`${line}\n`);

  let cluster: ClusterStack | undefined;
  let env: TestWorkflowEnvironment;
  if (CLUSTER) {
    log('Starting the Temporal cluster (PostgreSQL; frontend, matching, worker and two history processes)...');
    cluster = await startClusterStack({ dir: mkdtempSync(join(os.tmpdir(), 'countersign-bench-cluster-')), countersign: false, log });
    const stopping = cluster;
    process.once('SIGINT', () => {
      // Not leave workers, Temporal and PostgreSQL running.
      for (const child of children) child.kill('SIGTERM');
      void stopping.stop().finally(() => process.exit(130));
    });
    env = await TestWorkflowEnvironment.createFromExistingServer({ address: cluster.temporalAddress, namespace: 'default' });
  } else {
    log('Starting the Temporal dev server and workers...');
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: findOrBuildTemporalCli() }, searchAttributes: ALL_SEARCH_ATTRIBUTES, log: { format: 'pretty', level: 'error' } },
    });
  }
  const outDir = join(__dirname, 'results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${new Date().toISOString().slice(0, 10)}${CLUSTER ? '-cluster' : ''}.json`);
  /** Written after every phase (partial until the end): a long run cut short keeps what it measured. */
  const save = (partial: boolean) => writeFileSync(file, `${JSON.stringify({ ...results, partial }, null, 2)}\n`);
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: machine(),
    temporal: CLUSTER ? `cluster: Temporal ${TEMPORAL_SERVER_VERSION} as separate frontend, matching, worker and two history processes (${HISTORY_SHARDS} shards), PostgreSQL persistence and visibility, on this machine` : 'dev server (temporal server start-dev, SQLite)',
  };
  const workers: Worker[] = [];
  let running: Promise<unknown> | undefined;
  try {
    const baselineQueue = `bench-baseline-${randomUUID()}`;
    const baselineWorker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: baselineQueue,
      workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('./baseline-workflows'), logger: new DefaultLogger('ERROR') }),
    });
    const taskQueue = `bench-${randomUUID()}`;
    const runHome = join(home, randomUUID());
    const keyPath = layerKeyPath(runHome);
    const creds = withDevCredentials(POLICY, runHome, { agents: ['bench-agent', ...EDGE_AGENTS] });
    const policy = compilePolicy(creds.policyText, 'bench-policy.yaml');
    const layerKey = createKeyFile(keyPath);
    const worker = await createApprovalWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue,
      policy,
      logger: createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, done) => done() }) }),
      signer: layerKey,
      evidenceDir: join(home, 'evidence'),
      workflowBundle: await bundleApprovalWorkflows(new DefaultLogger('ERROR')),
    });
    workers.push(baselineWorker, worker);
    running = Promise.all([baselineWorker.run(), worker.run()]);
    // direct: the SDK's former path, straight to Temporal; cs: an agent with its key, through the server.
    const direct = await Approvals.connect({ connection: env.connection, taskQueue, startSigner: loadKeyFile(creds.startKeyPath) });
    const server = await benchServer(direct, policy);
    const cs = await Countersign.connect({ url: server.url, apiKey: creds.agentKeys.get('bench-agent')! });
    const dave = await Reviewer.login({ url: server.url, name: 'dave', key: creds.reviewerKeys.get('dave')! });
    const client = env.client;
    // The Temporal processes: the cluster's five, or the dev server (one process named temporal).
    const cpuGroups = (): CpuGroups => ({
      temporal: cluster ? TEMPORAL_PROCESSES.map(([name]) => cluster!.processes.get(name)?.pid ?? 0).filter(Boolean) : pidsNamed('temporal'),
    });
    const cpu: Record<string, Record<string, number>> = {};

    // Warm both paths so the first samples do not pay for connection set-up and JIT.
    await sequential(20, () => client.workflow.execute<typeof pingWorkflow>('pingWorkflow', { taskQueue: baselineQueue, workflowId: randomUUID(), args: ['warm'] }));
    await sequential(20, () => cs.submit(request({ amount: 10 }), { waitMs: 5000 }));
    await sequential(20, () => direct.submit({ ...parseActionRequest(request({ amount: 10 })), agentKey: generateAgentKey().publicKey }, { waitMs: 5000 }));

    log(`1/6 baseline (${N} each)`);
    const startResult = summarize(
      await sequential(N, () => client.workflow.execute<typeof pingWorkflow>('pingWorkflow', { taskQueue: baselineQueue, workflowId: randomUUID(), args: ['x'] })),
    );
    const updateWithStart = summarize(
      await sequential(N, () =>
        client.workflow.executeUpdateWithStart(pingUpdate, {
          args: ['x'],
          startWorkflowOperation: new WithStartWorkflowOperation<typeof pingUpdateWorkflow>('pingUpdateWorkflow', {
            taskQueue: baselineQueue,
            workflowId: randomUUID(),
            workflowIdConflictPolicy: 'USE_EXISTING',
          }),
        }),
      ),
    );
    const { result: baselineConcurrent, cpuMsPerOperation: baselineCpu } = await cpuPerOperation(cpuGroups(), CONCURRENT_N, () =>
      concurrent(CONCURRENT_N, AGENTS, () => client.workflow.execute<typeof pingWorkflow>('pingWorkflow', { taskQueue: baselineQueue, workflowId: randomUUID(), args: ['x'] })),
    );
    cpu.baseline = baselineCpu;
    const baseline = startResult.p50 <= updateWithStart.p50 ? { kind: 'start+result', ...startResult } : { kind: 'update-with-start', ...updateWithStart };
    results.baseline = { startResult, updateWithStart, concurrent: summarize(baselineConcurrent.samples, baselineConcurrent.wallMs), chosen: baseline.kind };
    save(true);

    log(`2/6 auto-allow: ${N} sequential, ${CONCURRENT_N} over ${AGENTS} concurrent agents; direct and through the server, interleaved`);
    // Direct: what the SDK's former path did on its own — a key per request, the parse, the start, the opening.
    const directSubmit = async (input: ReturnType<typeof request>, options: { waitMs: number }) => {
      const key = generateAgentKey();
      const state = await direct.submit({ ...parseActionRequest(input), agentKey: key.publicKey }, options);
      const grant = state.outcome?.token;
      return { status: state.status, openToken: () => (grant?.sealed ? openToken(key, grant.sealed, state.workflowId, grant.tokenId) : undefined) };
    };
    type Submit = (input: ReturnType<typeof request>, options: { waitMs: number }) => Promise<{ status: string; openToken(): string | undefined }>;
    const viaServer: Submit = (input, options) => cs.submit(input, options);
    const allowVia = (submit: Submit) => async () => {
      const r = await submit(request({ amount: 10 }), { waitMs: 5000 });
      if (r.status !== 'approved' || !r.openToken()) throw new Error(`auto-allow returned ${r.status}`);
      return r;
    };
    // Alternate rounds of each so that drift in the machine's speed falls on both alike.
    const seqDirect: number[] = [];
    const seqServer: number[] = [];
    for (let round = 0; round < 4; round++) {
      seqDirect.push(...(await sequential(N / 4, allowVia(directSubmit))));
      seqServer.push(...(await sequential(N / 4, allowVia(viaServer))));
    }
    const { result: concDirect, cpuMsPerOperation: directCpu } = await cpuPerOperation(cpuGroups(), CONCURRENT_N, () => concurrent(CONCURRENT_N, AGENTS, allowVia(directSubmit)));
    const { result: concServer, cpuMsPerOperation: serverCpu } = await cpuPerOperation(cpuGroups(), CONCURRENT_N, () => concurrent(CONCURRENT_N, AGENTS, allowVia(viaServer)));
    cpu.autoAllowDirect = directCpu;
    cpu.autoAllow = serverCpu;
    // CPU milliseconds per operation while 32 agents ran: what each concurrent scenario cost, and where.
    results.cpuMsPerOperation = cpu;
    const autoAllow = summarize(seqServer);
    const autoAllowDirect = summarize(seqDirect);
    results.autoAllow = { sequential: autoAllow, concurrent: summarize(concServer.samples, concServer.wallMs) };
    results.autoAllowDirect = { sequential: autoAllowDirect, concurrent: summarize(concDirect.samples, concDirect.wallMs) };
    results.autoAllowThroughputVsBaseline = ratio((results.autoAllow as { concurrent: Summary }).concurrent.throughput!, (results.baseline as { concurrent: Summary }).concurrent.throughput!);
    save(true);

    log(`2b/6 edge allows (no workflow): ${N} sequential, ${CONCURRENT_N} over ${AGENTS} concurrent agents, against countersign server as its own process`);
    const edge = await benchEdge({ temporalAddress: env.address, taskQueue, home: runHome, policyText: creds.policyText, agentKeys: EDGE_AGENTS.map((a) => creds.agentKeys.get(a)!), n: N, concurrentN: CONCURRENT_N, cpuGroups, log, ...(cluster ? { databaseEnv: await edgeRole(cluster, runHome) } : {}) });
    results.edge = edge;
    results.edgeRatios = {
      throughputVsBaseline: ratio(edge.concurrent.throughput!, (results.baseline as { concurrent: Summary }).concurrent.throughput!),
      decisionThroughputVsBaseline: ratio(edge.decision.throughput!, (results.baseline as { concurrent: Summary }).concurrent.throughput!),
      p50VsBaseline: ratio(edge.sequential.p50, baseline.p50),
      throughputVsWorkflowAutoAllow: ratio(edge.concurrent.throughput!, (results.autoAllow as { concurrent: Summary }).concurrent.throughput!),
    };
    save(true);
    if (ONLY === 'edge') {
      await server.close();
      save(false);
      process.stdout.write(`${edgeMarkdown(results)}\n\nResults: ${file}\n`);
      return;
    }

    log(`3/6 review round trip (${REVIEW_N})`);
    const reviewSamples: number[] = [];
    const approvedForConsume: ApprovalRequest[] = [];
    for (let i = 0; i < REVIEW_N; i++) {
      const pending = await cs.submit(request({ amount: 500 }), { waitMs: 0 });
      // The reviewer looks first, outside the timing, by the exact workflow id: a lookup that never waits for visibility.
      const view = await dave.view(pending.workflowId);
      const waiting = pending.wait(60_000);
      const t0 = performance.now();
      await dave.decide(view, { decision: 'approve' });
      await waiting;
      if (!pending.openToken()) throw new Error('review round trip ended without a token');
      reviewSamples.push(performance.now() - t0);
      approvedForConsume.push(pending);
    }
    results.reviewRoundTrip = summarize(reviewSamples);
    save(true);

    log('4/6 consume + report');
    const consumeSamples: number[] = [];
    const reportSamples: number[] = [];
    for (const r of approvedForConsume) {
      let t0 = performance.now();
      await r.consume();
      consumeSamples.push(performance.now() - t0);
      t0 = performance.now();
      await r.report({ status: 'succeeded' });
      reportSamples.push(performance.now() - t0);
    }
    results.consume = summarize(consumeSamples);
    results.report = summarize(reportSamples);
    save(true);

    log(`4b/6 Slack (${REVIEW_N}): submit → message posted, click → token in hand, against the local Slack stand-in`);
    results.slack = await benchSlack(env, home, REVIEW_N);
    save(true);

    log(`4c/6 agent frameworks (${N} each): an auto-allowed tool call through AI SDK, OpenAI Agents and LangChain, with and without their countersign adapters, next to the direct SDK`);
    results.adapters = await benchAdapters(env, home, N);
    save(true);

    log(`4d/6 the store: log appends over 32 concurrent sealers (files${cluster ? ' and PostgreSQL' : ''}), the audit of a log of 10,000 bundles`);
    {
      // On the cluster, countersign's own database as the stack provisioned it, as the workers' role.
      const settings = cluster ? databaseSettings(cluster.store.workerEnv) : undefined;
      const postgres = settings ? await postgresStore(settings, { applicationName: 'countersign-bench', access: 'write' }) : undefined;
      try {
        results.store = await benchStore({ ...(postgres ? { postgres } : {}), log });
        save(true);
        log(`4e/6 insights over 10,000 recorded requests (p50 of one answer) and policy simulation throughput (files${cluster ? ' and PostgreSQL' : ''})`);
        results.insights = await benchInsights({ ...(postgres ? { postgres } : {}), log });
        if (postgres) {
          log(`4f/6 the store on the paths: auto-allow (${N}) and review (${REVIEW_N}) to the sealed outcome, PostgreSQL against files, alternating`);
          const setup = { connection: env.nativeConnection, clientConnection: env.connection, policy, signer: layerKey, startKeyPath: creds.startKeyPath, agentKey: creds.agentKeys.get('bench-agent')!, reviewerKey: creds.reviewerKeys.get('dave')!, evidenceDir: join(runHome, 'evidence-paths'), postgres, request, log };
          results.storePaths = await benchStorePaths(setup, N, REVIEW_N);
        }
      } finally {
        await postgres?.close();
      }
    }
    save(true);

    if (PENDING > 0) {
      log(`5/6 scale: ${PENDING} approvals pending at once, on a worker process of its own`);
      results.scale = await scale(env, (partial) => {
        results.scale = partial;
        save(true);
      });
      save(true);
    }

    if (!CLUSTER) {
      // Whole CLI processes against the server: the same on either Temporal, so measured on the dev server only.
      log('CLI start-up: whole processes against the running server');
      results.cliStartup = await cliStartup(server.url, runHome);
    }

    log('6/6 policy engine in process');
    results.policyEngine = Object.fromEntries([10, 100, 1000].map((size) => [`${size} rules`, policyMicros(size)]));

    results.ratios = {
      autoAllowP50: ratio(autoAllow.p50, baseline.p50),
      autoAllowP99: ratio(autoAllow.p99, baseline.p99),
      autoAllowThroughput: ratio((results.baseline as { concurrent: Summary }).concurrent.throughput!, summarize(concServer.samples, concServer.wallMs).throughput!),
      serverVsDirectP50: ratio(autoAllow.p50, autoAllowDirect.p50),
      serverVsDirectThroughput: ratio(summarize(concServer.samples, concServer.wallMs).throughput!, summarize(concDirect.samples, concDirect.wallMs).throughput!),
      reviewRoundTripP50: ratio((results.reviewRoundTrip as Summary).p50, baseline.p50),
    };
    await server.close();
  } finally {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running?.catch(() => undefined);
    // A failure in teardown must not hide the one that brought us here.
    await env.teardown().catch((err: unknown) => log(`teardown: ${(err as Error).message}`));
    if (cluster) {
      await cluster.stop();
      rmSync(cluster.dir, { recursive: true, force: true });
    }
  }

  save(false);
  process.stdout.write(`${markdown(results)}\n\nResults: ${file}\n`);
}

/**
 * The CLI as users run it (the package's compiled dist/, built here first): median wall time of
 * whole processes — `countersign --version` and `countersign review list` (log in, list) against
 * the running server — next to `node -e 0` measured the same way in the same run.
 */
async function cliStartup(url: string, home: string): Promise<Record<string, unknown>> {
  const root = join(__dirname, '..');
  const built = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) throw new Error('npm run build failed');
  const bin = join(root, 'bin', 'countersign.js');
  const env = { ...process.env, COUNTERSIGN_FROM_DIST: '1', COUNTERSIGN_URL: url, COUNTERSIGN_HOME: home };
  const RUNS = Number(process.env.BENCH_CLI_N ?? 15);
  // Asynchronously: the server the CLI talks to runs in this very process.
  const once = (args: string[], extra: NodeJS.ProcessEnv) =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      execFile(process.execPath, args, { env: { ...env, ...extra } }, (err, _out, stderr) => (err ? reject(new Error(`${args.join(' ')} failed: ${stderr}`)) : resolve(performance.now() - started)));
    });
  const median = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const times: number[] = [];
    for (let i = 0; i < RUNS + 2; i++) {
      const ms = await once(args, extra);
      if (i >= 2) times.push(ms); // two warm-up runs: the file cache, not the CLI, is what they measure
    }
    times.sort((a, b) => a - b);
    return Math.round(times[Math.floor(times.length / 2)]! * 10) / 10;
  };
  const node = await median(['-e', '0']);
  const version = await median([bin, '--version']);
  const reviewList = await median([bin, 'review', 'list', '--as', 'dave']);
  const reviewListFromSource = await median([bin, 'review', 'list', '--as', 'dave'], { COUNTERSIGN_FROM_DIST: '0' });
  return {
    runs: RUNS,
    nodeMs: node,
    versionMs: version,
    reviewListMs: reviewList,
    reviewListFromSourceMs: reviewListFromSource,
    versionRatio: ratio(version, node),
    reviewListRatio: ratio(reviewList, node),
  };
}

/**
 * 10,000 approvals waiting on one `countersign worker` process: its RSS, the queue listing, the drain.
 * `progress` gets what is measured before the drain, so a drain cut short keeps the listing.
 */
async function scale(env: TestWorkflowEnvironment, progress: (partial: Record<string, unknown>) => void): Promise<Record<string, unknown>> {
  const bundlePath = join(__dirname, '..', '.countersign', 'bench', 'workflow-bundle.js');
  writeFileSync(bundlePath, (await bundleApprovalWorkflows(new DefaultLogger('ERROR'))).code);
  const home = join(__dirname, '..', '.countersign', 'bench', randomUUID());
  const creds = withDevCredentials(POLICY, home, { agents: ['bench-agent'] });
  createKeyFile(layerKeyPath(home));
  const policyFile = join(home, 'policy.yaml');
  writeFileSync(policyFile, creds.policyText);
  const taskQueue = `bench-scale-${randomUUID()}`;
  const worker = await startWorkerProcess({
    TEMPORAL_ADDRESS: env.address,
    COUNTERSIGN_TASK_QUEUE: taskQueue,
    COUNTERSIGN_HOME: home,
    COUNTERSIGN_POLICY: policyFile,
    COUNTERSIGN_WORKFLOW_BUNDLE: bundlePath,
    // As in the Dockerfile: a bounded heap makes V8 collect instead of growing into the machine's memory.
    NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS ?? '--max-old-space-size=768',
  });
  children.add(worker.child);
  const backend = await Approvals.connect({ connection: env.connection, taskQueue, startSigner: loadKeyFile(creds.startKeyPath) });
  const server = await benchServer(backend, compilePolicy(creds.policyText, policyFile));
  try {
    const cs = await Countersign.connect({ url: server.url, apiKey: creds.agentKeys.get('bench-agent')! });
    const erin = await Reviewer.login({ url: server.url, name: 'erin', key: creds.reviewerKeys.get('erin')! });
    const rssBefore = rssMb(worker.child.pid!);
    const startT = performance.now();
    const pending: string[] = [];
    await concurrent(PENDING, 64, async () => pending.push((await cs.submit(request({ amount: 700 }), { waitMs: 0 })).workflowId));
    const startMs = performance.now() - startT;
    const rssPending = rssMb(worker.child.pid!);
    // "At 10,000 pending" means visibility shows them all: its writes trail the starts, and listing
    // while PostgreSQL still catches up measures the catching up. Then the first page of the group's
    // queue, as `review list` and the inbox ask for it (100 rows, newest first).
    /** How many of this run's requests visibility (PostgreSQL) shows in `status`, once it shows `target` or after 10 minutes. */
    const visibleWhen = async (status: string, target: number): Promise<number> => {
      const count = async () => (await env.client.workflow.count(`TaskQueue = "${taskQueue}" AND CountersignStatus = "${status}"`)).count;
      const until = Date.now() + 10 * 60_000;
      let seen = await count();
      while (seen < target && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 1000));
        seen = await count();
      }
      return seen;
    };
    const visibleT = performance.now();
    await visibleWhen('pending', PENDING);
    const visibleAfterMs = performance.now() - visibleT;
    const listSamples = await sequential(50, () => erin.queue({ group: 'finance' }));
    const beforeDrain = {
      pending: PENDING,
      startSeconds: Math.round(startMs / 100) / 10,
      startPerSecond: Math.round((PENDING / startMs) * 1000),
      workerRssMbIdle: rssBefore,
      workerRssMbPending: rssPending,
      visibleSecondsAfterStart: Math.round(visibleAfterMs / 100) / 10,
      listGroupQueue: summarize(listSamples),
    };
    progress(beforeDrain);
    const drainT = performance.now();
    await concurrent(pending.length, 64, async (i) => erin.decide(await erin.view(pending[i]!), { decision: 'approve' }));
    // Drained when visibility shows every one approved, token minted; at most 10 minutes more.
    const approvedCount = await visibleWhen('approved', pending.length);
    const drainMs = performance.now() - drainT;
    // Nothing lost: every request approved. Nothing twice: one approval and one token in the evidence
    // of every 50th request, read as an operator does (reading all 10,000 would be a benchmark of its own).
    const notApproved = pending.length - approvedCount;
    let duplicated = 0;
    const audited = pending.filter((_, i) => i % 50 === 0);
    for (const id of audited) {
      const history = (await backend.view(id)).history;
      if (history.filter((e) => e.type === 'approved').length !== 1 || history.filter((e) => e.type === 'token_minted').length !== 1) duplicated++;
    }
    return {
      ...beforeDrain,
      workerRssMbAfterDrain: rssMb(worker.child.pid!),
      drainSeconds: Math.round(drainMs / 100) / 10,
      drainPerSecond: Math.round((PENDING / drainMs) * 1000),
      notApproved,
      audited: audited.length,
      auditedNotExactlyOnce: duplicated,
    };
  } finally {
    await server.close();
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
}

/** The front door as deployed, with a rate limit high enough not to be what is measured. */
function benchServer(backend: Approvals, policy: ReturnType<typeof compilePolicy>): Promise<RunningServer> {
  return startServer({ backend, policy, logger: createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, done) => done() }) }), sessionSecret: Buffer.alloc(32, 7), listen: '127.0.0.1:0', rateLimit: { perSecond: 100_000, burst: 100_000 }, maxOpenRequestsPerAgent: 1_000_000 });
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

/** A login role granted countersign_edge in the cluster's database (as `countersign setup --edge` grants it): the edge server's settings. */
async function edgeRole(cluster: ClusterStack, home: string): Promise<Record<string, string>> {
  const role = 'countersign_edge_bench';
  const passwordFile = join(home, 'edge-db.password');
  writeFileSync(passwordFile, randomUUID(), { mode: 0o600 });
  const admin = adminDatabaseSettings(cluster.store.adminEnv)!;
  const client = new pg.Client({ ...connectionConfig(admin), database: admin.connection.database });
  await client.connect();
  try {
    if (!(await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount) await client.query(`CREATE ROLE ${role} LOGIN`);
    await client.query(`ALTER ROLE ${role} PASSWORD ${client.escapeLiteral(readFileSync(passwordFile, 'utf8'))}`);
  } finally {
    await client.end();
  }
  await setupDatabase(admin, { edges: [role] });
  return { ...cluster.store.serverEnv, COUNTERSIGN_DATABASE_USER: role, COUNTERSIGN_DATABASE_PASSWORD_FILE: passwordFile };
}

/** The edge phase beside the baseline and the workflow path's auto-allow: what `--only edge` prints, and a part of the full table. */
function edgeMarkdown(r: Record<string, unknown>): string {
  const b = r.baseline as { startResult: Summary; concurrent: Summary };
  const a = r.autoAllow as { sequential: Summary; concurrent: Summary };
  const e = r.edge as EdgeBench;
  const q = r.edgeRatios as Record<string, number>;
  const row = (name: string, s: Summary, target = '') => `| ${name} | ${s.n} | ${s.p50} | ${s.p95} | ${s.p99} | ${s.throughput ?? ''} | ${target} |`;
  const split = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `countersign benchmark, edge phase, ${r.date} (${JSON.stringify(r.machine)}); Temporal: ${r.temporal}`,
    '',
    '| scenario | n | p50 ms | p95 ms | p99 ms | ops/s | target |',
    '|---|---|---|---|---|---|---|',
    row('baseline: start + result', b.startResult),
    row(`baseline: start + result, ${AGENTS} concurrent clients`, b.concurrent),
    row('auto-allow as a workflow, through the server, sequential', a.sequential),
    row(`auto-allow as a workflow, through the server, ${AGENTS} concurrent agents`, a.concurrent),
    row('edge allow, sequential (submit → token in hand)', e.sequential, 'p50 ≤ 0.2× baseline'),
    row(`edge allow, ${AGENTS} concurrent agents (submit → token in hand)`, e.concurrent, 'throughput ≥ 5× baseline'),
    row(`edge decision, ${AGENTS} concurrent agents (submit, consume: spend + bundle sealed and logged, report)`, e.decision),
    '',
    `Edge vs baseline: p50 ${q.p50VsBaseline}× (target ≤ 0.2), throughput ${q.throughputVsBaseline}× (target ≥ 5), whole decisions ${q.decisionThroughputVsBaseline}×; vs the workflow auto-allow's throughput ${q.throughputVsWorkflowAutoAllow}×.`,
    `CPU ms per operation (server = countersign server alone): edge allow ${split(e.cpuMsPerOperation.allow)}; whole edge decision ${split(e.cpuMsPerOperation.decision)}.`,
  ].join('\n');
}

function ratio(a: number, b: number): number {
  return Math.round((a / b) * 100) / 100;
}

function machine() {
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version };
}

/** µs per evaluation for a policy of `size` rules, compiled once, indexed by action. */
function policyMicros(size: number): { microsPerEvaluation: number; evaluations: number } {
  const rules = Array.from({ length: size }, (_, i) => {
    const action = i === size - 1 ? 'payments.refund' : `service${i % 50}.op${i}`;
    return `  - id: rule-${i}\n    match: { action: ${i % 7 === 0 ? `"service${i % 50}.*"` : action} }\n    when: "payload.amount > ${i}"\n    decision: review\n    reviewers: finance\n`;
  });
  const policy = compilePolicy(`version: 1\ndefaults: { decision: review, reviewers: finance }\ngroups:\n  finance: { members: [dave] }\nrules:\n${rules.join('')}`);
  const req = parseActionRequest(request({ amount: 250 }));
  for (let i = 0; i < 2000; i++) evaluatePolicy(policy, req);
  const evaluations = 20_000;
  const t0 = performance.now();
  for (let i = 0; i < evaluations; i++) evaluatePolicy(policy, req);
  return { microsPerEvaluation: Math.round(((performance.now() - t0) * 1000) / evaluations * 100) / 100, evaluations };
}

function cliMarkdown(c: Record<string, number> | undefined): string {
  if (!c) return '';
  return [
    '',
    `CLI start-up (median of ${c.runs} whole processes, compiled dist/): node -e 0 ${c.nodeMs} ms; countersign --version ${c.versionMs} ms (${c.versionRatio}×);`,
    `countersign review list ${c.reviewListMs} ms (${c.reviewListRatio}× node -e 0; goal ≤ 250 ms); from source through tsx ${c.reviewListFromSourceMs} ms.`,
  ].join('\n');
}

/** The agent-framework phase's rows: the direct SDK, then each framework on its own and with its adapter. */
function adapterRows(a: AdapterBench | undefined, row: (name: string, s: Summary) => string): string[] {
  if (!a) return [];
  return [
    row('auto-allowed tool call, direct SDK (cs.guard: submit → consume → run → report)', a.direct),
    ...a.frameworks.flatMap((f) => [row(`${f.framework}, scripted model, plain tool (no countersign)`, f.plain), row(`${f.framework} + ${f.adapter}, same turn`, f.withCountersign)]),
  ];
}

/** What each adapter adds to an auto-allowed call: p50(with) − p50(plain), against p50(direct SDK). */
function adapterMarkdown(a: AdapterBench | undefined): string {
  if (!a) return '';
  const each = a.frameworks.map((f) => `${f.adapter} ${f.adapterMs} ms (${f.ratioToDirect}× direct, ${f.overDirectMs >= 0 ? '+' : ''}${f.overDirectMs} ms)`);
  return `\nAdapters, auto-allowed call (p50 with the adapter − p50 of the same framework turn without it; against the direct SDK's p50 ${a.direct.p50} ms): ${each.join('; ')}.`;
}

function markdown(r: Record<string, unknown>): string {
  const b = r.baseline as { startResult: Summary; updateWithStart: Summary; concurrent: Summary; chosen: string };
  const a = r.autoAllow as { sequential: Summary; concurrent: Summary };
  const row = (name: string, s: Summary, target = '') =>
    `| ${name} | ${s.n} | ${s.p50} | ${s.p95} | ${s.p99} | ${s.throughput ?? ''} | ${target} |`;
  const lines = [
    `countersign benchmark, ${r.date} (${JSON.stringify(r.machine)}); Temporal: ${r.temporal}`,
    '',
    '| scenario | n | p50 ms | p95 ms | p99 ms | ops/s | target |',
    '|---|---|---|---|---|---|---|',
    row(`baseline: start + result${b.chosen === 'start+result' ? ' (baseline)' : ''}`, b.startResult),
    row(`baseline: update-with-start${b.chosen === 'update-with-start' ? ' (baseline)' : ''}`, b.updateWithStart),
    row(`baseline: start + result, ${AGENTS} concurrent clients`, b.concurrent),
    row('auto-allow direct to Temporal, sequential', (r.autoAllowDirect as { sequential: Summary }).sequential),
    row('auto-allow through the server, sequential (submit → token in hand)', a.sequential, 'p50 ≤ 1.1× direct'),
    row(`auto-allow direct to Temporal, ${AGENTS} concurrent agents`, (r.autoAllowDirect as { concurrent: Summary }).concurrent),
    row(`auto-allow through the server, ${AGENTS} concurrent agents`, a.concurrent, 'throughput ≥ 0.9× direct'),
    row('review round trip (approve → token in hand)', r.reviewRoundTrip as Summary, 'p50 ≤ 30, p99 ≤ 100'),
    row('consume', r.consume as Summary),
    row('report', r.report as Summary),
    ...(r.slack ? [row('Slack: submit → review message posted (local stand-in)', (r.slack as { submitToPosted: Summary }).submitToPosted), row('Slack: Approve click → token in hand', (r.slack as { clickToToken: Summary }).clickToToken)] : []),
    ...adapterRows(r.adapters as AdapterBench | undefined, row),
  ];
  const ratios = r.ratios as Record<string, number>;
  if (r.adapters) lines.push(adapterMarkdown(r.adapters as AdapterBench));
  lines.push(
    '',
    `Through the server vs direct: auto-allow p50 ${ratios.serverVsDirectP50}× (target ≤ 1.1), concurrent throughput ${ratios.serverVsDirectThroughput}× (target ≥ 0.9).`,
    `Ratio to baseline: auto-allow p50 ${ratios.autoAllowP50}×, p99 ${ratios.autoAllowP99}×; concurrent throughput baseline/countersign ${ratios.autoAllowThroughput}×; review round trip p50 ${ratios.reviewRoundTripP50}×.`,
  );
  const cpu = r.cpuMsPerOperation as Record<string, Record<string, number>> | undefined;
  if (cpu) {
    const split = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push('', `CPU ms per operation, ${AGENTS} concurrent (bench is this process: agents, server and worker): baseline ${split(cpu.baseline!)}; auto-allow through the server ${split(cpu.autoAllow!)}; direct ${split(cpu.autoAllowDirect!)}.`);
  }
  const scale = r.scale as Record<string, unknown> | undefined;
  if (scale) {
    const list = scale.listGroupQueue as Summary;
    lines.push(
      '',
      `Scale: ${scale.pending} pending at once — started in ${scale.startSeconds} s (${scale.startPerSecond}/s); worker RSS ${scale.workerRssMbIdle} MiB idle, ${scale.workerRssMbPending} MiB with all pending (target ≤ 1024), ${scale.workerRssMbAfterDrain} MiB after the drain; ` +
        `listing the group's queue (first page of 100, once visibility showed all ${scale.pending}, ${scale.visibleSecondsAfterStart} s after the last start) p50 ${list.p50} ms, p99 ${list.p99} ms (target ≤ ${CLUSTER ? 150 : 300}); approving all drained in ${scale.drainSeconds} s (${scale.drainPerSecond}/s); ` +
        `${scale.notApproved} not approved, ${scale.auditedNotExactlyOnce} of ${scale.audited} audited with other than one approval and one token (target 0).`,
    );
  }
  if (CLUSTER) {
    lines.push('', `On the cluster (${r.temporal}): auto-allow with ${AGENTS} concurrent agents ${a.concurrent.throughput}/s against bare Temporal's ${b.concurrent.throughput}/s (start + result of an empty workflow, same cluster, same run): ${r.autoAllowThroughputVsBaseline}× (target ≥ 1.0).`);
  }
  const engine = r.policyEngine as Record<string, { microsPerEvaluation: number }>;
  lines.push('', `Policy engine: ${Object.entries(engine).map(([k, v]) => `${k} ${v.microsPerEvaluation} µs`).join(', ')} per evaluation (target ≤ 20 µs at 1,000 rules).`);
  lines.push(cliMarkdown(r.cliStartup as Record<string, number> | undefined));
  if (r.edge) lines.push('', edgeMarkdown(r));
  return lines.join('\n');
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
