/**
 * countersign as users get it from npm (issues 13 and 25): both packages built from this clone —
 * `countersign` by `npm pack` (which runs `npm run build`), `@countersign/agent` by `npm run
 * build:agent` and `npm pack packages/agent/dist` — each tarball installed with `npm install` into
 * an empty project, and then only what the packages ship: no tsx, no TypeScript sources, nothing
 * from the clone:
 *  - a TypeScript consumer of each package and its `/mcp` subpath type-checks with
 *    `skipLibCheck: false` (CommonJS and ESM); a misspelt field in `submit` does not compile;
 *  - the installed `countersign worker` and `countersign server` (with the prebuilt workflow bundle)
 *    run against the Temporal dev server;
 *  - each compiled consumer, as CommonJS and as ESM, submits through that server and is approved;
 *  - the agent package installs no Temporal and no SWC, and few packages;
 *  - the installed CLI answers `--version`, `--help`, `review list` and `mcp-proxy --print-pins`.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/** The packed tarball of `dir` (npm pack runs its prepack), written into `work`. */
async function pack(dir: string, work: string): Promise<string> {
  const packed = await run(npm, ['pack', dir, '--pack-destination', work, '--json'], { cwd: ROOT, timeoutMs: 600_000 });
  assert.equal(packed.code, 0, packed.stderr);
  return join(work, (JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string }[])[0]!.filename);
}

/** An empty project with the tarball installed, and TypeScript to type-check a consumer of it. */
async function install(tarball: string, project: string): Promise<void> {
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }));
  const installed = await run(npm, ['install', tarball, 'typescript@~5.9', '@types/node@^20', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project, timeoutMs: 600_000 });
  assert.equal(installed.code, 0, installed.stderr);
}

/** The packages under node_modules (nested ones too) by name, and their bytes on disk. */
function installedPackages(project: string): { names: string[]; bytes: number } {
  const names: string[] = [];
  let bytes = 0;
  const walk = (dir: string, inModules: boolean, scope = ''): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isFile()) bytes += statSync(path).size;
      if (!entry.isDirectory()) continue;
      if (inModules && entry.name.startsWith('@') && !scope) walk(path, true, entry.name);
      else if (inModules && !entry.name.startsWith('.')) {
        names.push(scope ? `${scope}/${entry.name}` : entry.name);
        walk(path, false);
      } else walk(path, entry.name === 'node_modules');
    }
  };
  walk(join(project, 'node_modules'), true);
  return { names, bytes };
}

/** A consumer of `pkg` and `pkg/mcp`: the declarations decide whether it compiles, the server whether it is approved. */
const consumer = (pkg: string) => `
import { Countersign, InvalidRequestError, type ActionRequestInput, type ApprovalOutcome } from '${pkg}';
import { McpGateway, type GatewayOptions } from '${pkg}/mcp';

// Types from the package's declarations: a wrong shape here fails the type-check.
const gatewayType: typeof McpGateway | undefined = McpGateway;
const options: Partial<GatewayOptions> = { server: 'fs' };

async function main(): Promise<void> {
  const cs = await Countersign.connect({ url: process.env.COUNTERSIGN_URL!, apiKey: process.env.COUNTERSIGN_API_KEY! });
  const refund: ActionRequestInput = { taskId: process.argv[2]!, action: 'payments.refund', summary: 'Refund 40', resource: { type: 'customer', id: 'C-1' }, payload: { amount: 40, currency: 'USD' } };
  let refused = '';
  try {
    await cs.submit(JSON.parse(JSON.stringify({ ...refund, amout: 40 }))); // as JavaScript could send it: judged at run time
  } catch (err) {
    if (!(err instanceof InvalidRequestError)) throw err;
    refused = err.message;
  }
  const request = await cs.submit(refund, { waitMs: 10_000 });
  const outcome: ApprovalOutcome | undefined = request.outcome;
  const amount = outcome?.status === 'approved' ? outcome.payload.amount : undefined; // approved: the payload is there, no \`!\`
  console.log(JSON.stringify({ status: request.status, rules: outcome?.ruleIds, amount, refused, gateway: typeof gatewayType, options }));
  await cs.close();
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

/** Type-checks the consumer with skipLibCheck off (CommonJS and ESM), runs both against the server, and shows a misspelt field is a compile error. */
async function typeCheckAndRun(project: string, pkg: string, server: { url: string; apiKey: string }): Promise<void> {
  const tsc = (args: string[]) => run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), ...args], { cwd: project });
  writeFileSync(join(project, 'consumer.ts'), consumer(pkg));
  writeFileSync(join(project, 'consumer.mts'), consumer(pkg));
  const compilerOptions = { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, outDir: 'out', skipLibCheck: false, types: ['node'] };
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts', 'consumer.mts'] }));
  const compiled = await tsc(['-p', '.']);
  assert.equal(compiled.code, 0, `${compiled.stdout}${compiled.stderr}`);
  for (const file of ['consumer.js', 'consumer.mjs']) {
    const ran = await run(process.execPath, [join('out', file), `task-${file}-${randomUUID().slice(0, 8)}`], { cwd: project, env: { COUNTERSIGN_URL: server.url, COUNTERSIGN_API_KEY: server.apiKey } });
    assert.equal(ran.code, 0, ran.stderr);
    assert.deepEqual(
      JSON.parse(ran.stdout.trim()),
      { status: 'approved', rules: ['refund-small'], amount: 40, refused: 'The request has unknown field "amout".', gateway: 'function', options: { server: 'fs' } },
      `${pkg}: ${file}`,
    );
  }
  // A misspelt field of the request, or a wrong type, is caught by the shipped declarations.
  const submit = (fields: string) => `import { Countersign } from '${pkg}';\nexport const go = (cs: Countersign) =>\n  cs.submit({ taskId: 't-1', action: 'payments.refund', resource: { type: 'customer', id: 'C-1' }, payload: { amount: 40 }, ${fields} });\n`;
  writeFileSync(join(project, 'wrong.ts'), submit(`sumary: 'Refund 40'`));
  writeFileSync(join(project, 'right.ts'), submit(`summary: 'Refund 40'`));
  const check = (file: string) => tsc(['--noEmit', '--strict', '--skipLibCheck', 'false', '--module', 'nodenext', '--types', 'node', file]);
  const wrong = await check('wrong.ts');
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stdout, /wrong\.ts\(3,\d+\): error TS\d+: .*'sumary' does not exist in type 'ActionRequestInput'/);
  const right = await check('right.ts');
  assert.equal(right.code, 0, right.stdout);
}

describe('the npm packages, installed from their tarballs', () => {
  let env: TestWorkflowEnvironment;
  let work: string;
  let project: string;
  let agentProject: string;
  let home: string;
  let url: string;
  const processes: ChildProcess[] = [];
  let apiKey: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'countersign-package-'));
    // npm pack runs prepack, which is npm run build: tsc, the inbox files and the workflow bundle.
    project = join(work, 'consumer');
    await install(await pack(ROOT, work), project);
    // The agent package: compiled from the agent's entry points, its manifest derived from what was emitted.
    const built = await run(npm, ['run', 'build:agent'], { cwd: ROOT, timeoutMs: 600_000 });
    assert.equal(built.code, 0, `${built.stdout}${built.stderr}`);
    agentProject = join(work, 'agent');
    await install(await pack(join(ROOT, 'packages', 'agent', 'dist'), work), agentProject);

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
    if (work) rmSync(work, { recursive: true, force: true }); // two installed projects: a few hundred MB
  });

  test('ships compiled JavaScript and declarations only: no TypeScript sources, no tsx', () => {
    const sources = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : []));
    const pkg = join(project, 'node_modules', 'countersign');
    assert.ok(existsSync(join(pkg, 'dist', 'client', 'index.js')));
    assert.ok(existsSync(join(pkg, 'dist', 'client', 'index.d.ts')));
    assert.ok(existsSync(join(pkg, 'dist', 'workflow-bundle.js')));
    assert.ok(existsSync(join(pkg, 'dist', 'server', 'inbox', 'inbox.js')), 'the web inbox ships with the server');
    assert.ok(existsSync(join(pkg, 'dist', 'store', 'migrations', '0001_store.sql')), 'the store\'s migrations ship with countersign setup');
    assert.ok(!existsSync(join(pkg, 'client')), 'no TypeScript sources');
    assert.ok(!existsSync(join(pkg, 'packages')), 'not the agent package inside the full one');
    assert.ok(!existsSync(join(project, 'node_modules', 'tsx')), 'tsx is not installed for users');
    assert.deepEqual(sources(pkg), []);
    const agent = join(agentProject, 'node_modules', '@countersign', 'agent');
    assert.ok(existsSync(join(agent, 'client', 'index.js')));
    assert.ok(existsSync(join(agent, 'client', 'mcp', 'index.d.ts')));
    assert.ok(!existsSync(join(agent, 'server')) && !existsSync(join(agent, 'worker')) && !existsSync(join(agent, 'workflows')), 'none of the operator side');
    assert.deepEqual(sources(agent), []);
    const manifest = JSON.parse(readFileSync(join(agent, 'package.json'), 'utf8')) as { version: string; bin?: unknown; peerDependenciesMeta: Record<string, { optional: boolean }> };
    assert.equal(manifest.version, VERSION);
    assert.equal(manifest.bin, undefined, 'the CLI is the full package\'s');
    assert.deepEqual(Object.keys(manifest.peerDependenciesMeta).sort(), ['@langchain/core', '@langchain/langgraph', '@openai/agents', 'ai', 'langchain']);
  });

  test('the agent package installs no Temporal, no native bridge, no SWC, and few packages', (t) => {
    const agent = installedPackages(agentProject);
    const full = installedPackages(project);
    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
    t.diagnostic(`@countersign/agent: ${agent.names.length} packages, ${mb(agent.bytes)}; countersign: ${full.names.length} packages, ${mb(full.bytes)} (each with typescript and @types/node)`);
    assert.deepEqual(agent.names.filter((n) => /^@temporalio\/|^@swc\//.test(n)), []);
    assert.ok(full.names.includes('@temporalio/worker'), 'the full package still brings the worker');
    // Measured: 24 (50.9 MB, most of it typescript and @types/node, which are included) since the MCP
    // gateway moved to the v2 SDK; 104 with @modelcontextprotocol/sdk v1. The full package: 241 (292 MB).
    assert.ok(agent.names.length < 40, `${agent.names.length} packages: ${agent.names.join(', ')}`);
  });

  test('a TypeScript consumer of each package type-checks with skipLibCheck off, as CommonJS and as ESM, and runs against the installed server', async () => {
    await typeCheckAndRun(project, 'countersign', { url, apiKey });
    await typeCheckAndRun(agentProject, '@countersign/agent', { url, apiKey });
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
