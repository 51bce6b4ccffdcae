/**
 * The edge phase of the benchmark (issue 29): allows decided at the front door, with no workflow,
 * against `countersign server` run as a process of its own (so its CPU per edge allow is its own,
 * read from /proc), on the files store under the run's home (PostgreSQL, as the edge role, under
 * --cluster). Measured: submit → token in hand,
 * sequential and with 32 concurrent agents (each its own credential), and the whole edge decision —
 * submit, consume (ledger spend, bundle sealed and logged), report — with 32 concurrent agents.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Countersign } from '../client/sdk';
import { edgeKeyPath } from '../config/home';
import { createKeyFile } from '../crypto/keys';
import { freePort } from '../test/support/ports';
import { cpuPerOperation, type CpuGroups } from './cpu';
import { concurrent, sequential, summarize, type Summary } from './stats';

export interface EdgeBench {
  /** Submit → token in hand, one agent after another. */
  sequential: Summary;
  /** The same, 32 agents at once. */
  concurrent: Summary;
  /** Submit, consume and report: the whole edge decision, its bundle sealed and logged, 32 agents at once. */
  decision: Summary;
  /** CPU ms per operation by process: `server` is countersign server alone. */
  cpuMsPerOperation: { allow: Record<string, number>; decision: Record<string, number> };
}

export interface EdgeBenchOptions {
  temporalAddress: string;
  taskQueue: string;
  /** The run's COUNTERSIGN_HOME: its dev credentials and keys; the edge key is made there. */
  home: string;
  policyText: string;
  /** API keys of the agents, one per concurrent caller. */
  agentKeys: string[];
  n: number;
  concurrentN: number;
  cpuGroups: () => CpuGroups;
  log: (line: string) => void;
  /** COUNTERSIGN_DATABASE_* of a role granted countersign_edge: the server then keeps its edge records in PostgreSQL (the cluster's); files otherwise. */
  databaseEnv?: Record<string, string>;
}

const lookup = () => ({
  taskId: `t-${randomUUID()}`,
  action: 'crm.lookupCustomer',
  summary: 'Benchmark lookup',
  resource: { type: 'customer', id: 'C-1' },
  payload: { customer: 'C-1' },
});

export async function benchEdge(o: EdgeBenchOptions): Promise<EdgeBench> {
  if (!existsSync(edgeKeyPath(o.home, {}))) createKeyFile(edgeKeyPath(o.home, {}));
  const policyFile = join(o.home, 'bench-edge-policy.yaml');
  writeFileSync(policyFile, o.policyText);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, [join(__dirname, '..', 'bin', 'countersign.js'), 'server', '--listen', `127.0.0.1:${port}`, '--policy', policyFile], {
    env: { ...process.env, COUNTERSIGN_HOME: o.home, TEMPORAL_ADDRESS: o.temporalAddress, COUNTERSIGN_TASK_QUEUE: o.taskQueue, COUNTERSIGN_SESSION_SECRET: randomBytes(32).toString('base64'), COUNTERSIGN_LOG_LEVEL: 'warn', COUNTERSIGN_EDGE_KEY_FILE: '', ...o.databaseEnv },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await answering(url, server);
    const agents = await Promise.all(o.agentKeys.map((apiKey) => Countersign.connect({ url, apiKey })));
    const groups = (): CpuGroups => ({ ...o.cpuGroups(), server: [server.pid!] });
    const allow = (agent: Countersign) => async () => {
      const request = await agent.submit(lookup());
      if (request.status !== 'approved' || !request.openToken()) throw new Error(`an edge allow answered ${request.status}`);
      return request;
    };
    const decide = (agent: Countersign) => async () => {
      const request = await allow(agent)();
      await request.consume();
      await request.report({ status: 'succeeded' });
    };
    const byCaller = <T>(make: (agent: Countersign) => () => Promise<T>) => {
      const ops = agents.map(make);
      let i = 0;
      return () => ops[i++ % ops.length]!();
    };
    await sequential(20, byCaller(decide));
    o.log(`  edge: ${o.n} sequential, ${o.concurrentN} over ${agents.length} concurrent agents (submit → token), ${o.concurrentN} whole decisions`);
    const seq = await sequential(o.n, allow(agents[0]!));
    const { result: conc, cpuMsPerOperation: allowCpu } = await cpuPerOperation(groups(), o.concurrentN, () => concurrent(o.concurrentN, agents.length, byCaller(allow)));
    const { result: whole, cpuMsPerOperation: decisionCpu } = await cpuPerOperation(groups(), o.concurrentN, () => concurrent(o.concurrentN, agents.length, byCaller(decide)));
    return { sequential: summarize(seq), concurrent: summarize(conc.samples, conc.wallMs), decision: summarize(whole.samples, whole.wallMs), cpuMsPerOperation: { allow: allowCpu, decision: decisionCpu } };
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => (server.exitCode !== null ? resolve(undefined) : server.once('exit', resolve)));
  }
}

/** Waits for the server's health check (or its early exit, which is the failure). */
async function answering(url: string, server: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (server.exitCode !== null) throw new Error(`countersign server exited (${server.exitCode}) before it answered`);
    try {
      if ((await fetch(new URL('/healthz', url))).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('countersign server did not answer within 30 s');
}
