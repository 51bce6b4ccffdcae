/**
 * countersign as users get it from npm (issue 13): `npm pack` (which runs `npm run build`), the
 * tarball installed with `npm install` into an empty project, and then only what the package ships —
 * no tsx, no TypeScript sources, nothing from the clone:
 *  - a TypeScript consumer of `countersign` and `countersign/mcp` type-checks (CommonJS and ESM);
 *  - the installed `countersign worker` and `countersign server` (with the prebuilt workflow bundle)
 *    run against the Temporal dev server;
 *  - the compiled consumer, as CommonJS and as ESM, submits through that server and is approved;
 *  - the installed CLI answers `--version`, `--help`, `review list` and `mcp-proxy --print-pins`.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Countersign } from '../client/sdk';
import { withDevCredentials } from '../cli/dev-credentials';
import { eventually } from './support/eventually';
import { freePort } from './support/ports';
import { testEnvironment } from './support/server';

const ROOT = join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const POLICY = `
version: 1
defaults: { decision: review, reviewers: finance, sla: 1h, tokenTtl: 5m }
groups:
  finance: { members: [dave, erin] }
rules:
  - id: refund-small
    match: { action: payments.refund }
    when: "payload.amount <= 100"
    decision: allow
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** A long-running command of the installed package, with its output kept for assertions. */
function start(cwd: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; lines: string[] } {
  // Nothing of the test runner's own settings: the installed package must find its bundle by itself.
  const { COUNTERSIGN_WORKFLOW_BUNDLE: _bundle, ...inherited } = process.env;
  const child = spawn(process.execPath, [join(cwd, 'node_modules', '.bin', 'countersign'), ...args], { cwd, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (chunk) => lines.push(...String(chunk).split('\n').filter(Boolean)));
  return { child, lines };
}

const CONSUMER_CJS = `
import { Countersign, InvalidRequestError, type ApprovalOutcome } from 'countersign';
import { McpGateway, type GatewayOptions } from 'countersign/mcp';

// Types from the package's declarations: a wrong shape here fails the type-check.
const gatewayType: typeof McpGateway | undefined = McpGateway;
const options: Partial<GatewayOptions> = { server: 'fs' };

async function main(): Promise<void> {
  const cs = await Countersign.connect({ url: process.env.COUNTERSIGN_URL!, apiKey: process.env.COUNTERSIGN_API_KEY! });
  try {
    await cs.submit(JSON.parse('{"action":"payments.refund"}')); // as JavaScript could: judged at run time
  } catch (err) {
    if (!(err instanceof InvalidRequestError)) throw err;
  }
  const request = await cs.submit(
    { taskId: process.argv[2]!, action: 'payments.refund', summary: 'Refund 40', resource: { type: 'customer', id: 'C-1' }, payload: { amount: 40, currency: 'USD' } },
    { waitMs: 10_000 },
  );
  const outcome: ApprovalOutcome | undefined = request.outcome;
  console.log(JSON.stringify({ status: request.status, rules: outcome?.ruleIds, gateway: typeof gatewayType, options }));
  await cs.close();
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

describe('the npm package, installed from its tarball', () => {
  let env: TestWorkflowEnvironment;
  let project: string;
  let home: string;
  let url: string;
  const processes: ChildProcess[] = [];
  let apiKey: string;

  before(async () => {
    const work = mkdtempSync(join(tmpdir(), 'countersign-package-'));
    // npm pack runs prepack, which is npm run build: tsc, the inbox files and the workflow bundle.
    const packed = await run(npm, ['pack', '--pack-destination', work, '--json'], { cwd: ROOT, timeoutMs: 600_000 });
    assert.equal(packed.code, 0, packed.stderr);
    const tarball = join(work, (JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string }[])[0]!.filename);
    project = join(work, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }));
    const installed = await run(npm, ['install', tarball, 'typescript@~5.9', '@types/node@^20', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project, timeoutMs: 600_000 });
    assert.equal(installed.code, 0, installed.stderr);

    env = await testEnvironment();
    home = join(work, 'home');
    const creds = withDevCredentials(POLICY, home, { agents: ['support-bot'] });
    apiKey = creds.agentKeys.get('support-bot')!;
    const policyFile = join(home, 'policy.yaml');
    writeFileSync(policyFile, creds.policyText);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const stackEnv = {
      TEMPORAL_ADDRESS: env.address,
      COUNTERSIGN_TASK_QUEUE: `package-${randomUUID()}`,
      COUNTERSIGN_POLICY: policyFile,
      COUNTERSIGN_HOME: home,
      COUNTERSIGN_SESSION_SECRET: randomBytes(32).toString('base64'),
      COUNTERSIGN_LISTEN: `127.0.0.1:${port}`,
      COUNTERSIGN_LOG_LEVEL: 'info',
    };
    const keys = await run(process.execPath, [join(project, 'node_modules', '.bin', 'countersign'), 'keys', 'init'], { cwd: project, env: stackEnv });
    assert.equal(keys.code, 0, keys.stderr);
    const worker = start(project, ['worker'], stackEnv);
    const server = start(project, ['server'], stackEnv);
    processes.push(worker.child, server.child);
    await eventually(() => assert.ok(worker.lines.some((l) => l.includes('countersign worker started')), worker.lines.join('\n')), 'the installed worker starts', 300, 200);
    await eventually(() => assert.ok(server.lines.some((l) => l.includes('countersign server listening')), server.lines.join('\n')), 'the installed server starts', 300, 200);
    const started = worker.lines.find((l) => l.includes('countersign worker started'))!;
    assert.match(started, /workflow-bundle\.js/, 'the worker starts from the prebuilt bundle, not by bundling sources');
  });

  after(async () => {
    for (const child of processes) child.kill('SIGTERM');
    await Promise.all(processes.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await env?.teardown();
  });

  test('ships compiled JavaScript and declarations only: no TypeScript sources, no tsx', () => {
    const pkg = join(project, 'node_modules', 'countersign');
    assert.ok(existsSync(join(pkg, 'dist', 'client', 'index.js')));
    assert.ok(existsSync(join(pkg, 'dist', 'client', 'index.d.ts')));
    assert.ok(existsSync(join(pkg, 'dist', 'workflow-bundle.js')));
    assert.ok(existsSync(join(pkg, 'dist', 'server', 'inbox', 'inbox.js')), 'the web inbox ships with the server');
    assert.ok(!existsSync(join(pkg, 'client')), 'no TypeScript sources');
    assert.ok(!existsSync(join(project, 'node_modules', 'tsx')), 'tsx is not installed for users');
    const sources = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : []));
    assert.deepEqual(sources(pkg), []);
  });

  test('a TypeScript consumer type-checks against the declarations, as CommonJS and as ESM, and runs against the installed server', async () => {
    writeFileSync(join(project, 'consumer.ts'), CONSUMER_CJS);
    writeFileSync(join(project, 'consumer.mts'), CONSUMER_CJS);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, outDir: 'out', skipLibCheck: true, types: ['node'] }, files: ['consumer.ts', 'consumer.mts'] }),
    );
    const tsc = await run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], { cwd: project });
    assert.equal(tsc.code, 0, `${tsc.stdout}${tsc.stderr}`);
    for (const compiled of ['consumer.js', 'consumer.mjs']) {
      const ran = await run(process.execPath, [join('out', compiled), `task-${compiled}-${randomUUID().slice(0, 8)}`], { cwd: project, env: { COUNTERSIGN_URL: url, COUNTERSIGN_API_KEY: apiKey } });
      assert.equal(ran.code, 0, ran.stderr);
      assert.deepEqual(JSON.parse(ran.stdout.trim()), { status: 'approved', rules: ['refund-small'], gateway: 'function', options: { server: 'fs' } }, compiled);
    }
    // A type error in a consumer is caught by the shipped declarations.
    writeFileSync(join(project, 'wrong.ts'), `import { Countersign } from 'countersign';\nconst n: number = Countersign.connect;\nexport { n };\n`);
    const wrong = await run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--module', 'nodenext', '--types', 'node', 'wrong.ts'], { cwd: project });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stdout, /wrong\.ts\(2,7\): error TS2322/);
  });

  test('the installed CLI answers --version, --help, review list and mcp-proxy', async () => {
    const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      run(process.execPath, [join(project, 'node_modules', '.bin', 'countersign'), ...args], { cwd: project, env: { COUNTERSIGN_HOME: home, COUNTERSIGN_URL: url, ...extra } });
    const version = await cli(['--version']);
    assert.deepEqual([version.code, version.stdout.trim()], [0, VERSION]);
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /countersign reviewers invite NAME/);
    const list = await cli(['review', 'list', '--as', 'dave']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /No open requests for dave\.|ID +ACTION/);
    const stranger = await cli(['review', 'list', '--as', 'mallory']);
    assert.equal(stranger.code, 2);
    assert.match(stranger.stderr, /There is no signing key for reviewer mallory/);
    // A large answer through a pipe whose reader is slow: all of it arrives before the CLI exits.
    const big = await Countersign.connect({ url, apiKey });
    const request = await big.submit(
      { taskId: `big-${randomUUID().slice(0, 8)}`, action: 'payments.refund', summary: 'Refund 50', resource: { type: 'customer', id: 'C-1' }, payload: { amount: 50, currency: 'USD', note: 'x'.repeat(200_000) } },
      { waitMs: 10_000 },
    );
    assert.equal(request.status, 'approved');
    const expected = Buffer.byteLength(`${JSON.stringify((await big.evidence(request.workflowId)).bundle, null, 2)}\n`);
    assert.ok(expected > 200_000);
    const bin = join(project, 'node_modules', '.bin', 'countersign');
    const piped = await run('sh', ['-c', `"${process.execPath}" "${bin}" evidence ${request.workflowId} --agent support-bot | (sleep 1; wc -c)`], { cwd: project, env: { COUNTERSIGN_HOME: home, COUNTERSIGN_URL: url } });
    assert.equal(Number(piped.stdout.trim()), expected, `the whole evidence bundle went through the pipe (${piped.stderr})`);
    await big.close();
    // The MCP gateway from the package: it lists an upstream server's tools and prints their pins.
    const upstream = join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');
    const pins = await cli(['mcp-proxy', '--print-pins', '--', process.execPath, upstream, project], { COUNTERSIGN_API_KEY: apiKey });
    assert.equal(pins.code, 0, pins.stderr);
    assert.match(pins.stdout, /read_text_file|read_file/);
  });
});
