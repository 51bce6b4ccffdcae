import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Long from 'long';
import { loadConfig, ConfigError } from '../config/env';
import { cliFor } from './support/cli';
import { eventually } from './support/eventually';
import { action, startStack, useStack } from './support/stack';
import { startWorkerProcess } from './support/worker-process';
import { decideSeen } from './support/review';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: ops }
groups:
  ops: { members: [oscar] }
`;
const ctx = useStack(POLICY);
const cli = cliFor(ctx);

describe('countersign setup', () => {
  test('registers the search attributes on a fresh namespace, and running it twice is fine', async () => {
    const namespace = `setup-${randomUUID().slice(0, 8)}`;
    await ctx.env.connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: { seconds: 86400 as unknown as Long } });
    const first = await eventually(async () => {
      const run = await cli(['setup', '--json'], { TEMPORAL_NAMESPACE: namespace });
      assert.equal(run.code, 0, run.stderr);
      return JSON.parse(run.stdout);
    }, 'namespace visible to setup');
    assert.equal(first.created.length, 7);
    assert.deepEqual(first.present, []);
    const second = await eventually(async () => {
      const run = await cli(['setup'], { TEMPORAL_NAMESPACE: namespace });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /Nothing to do: every search attribute was already registered\./);
      return run;
    }, 'second setup sees the first one');
    assert.match(second.stdout, /present {2}CountersignStatus/);
  });
});

describe('countersign status', () => {
  test('reports a ready stack when a worker polls, names what is missing otherwise, and exits 4 with the server down', async () => {
    const ready = await cli(['status', '--json']);
    assert.equal(ready.code, 0, ready.stdout + ready.stderr);
    const status = JSON.parse(ready.stdout);
    assert.equal(status.reachable, true);
    assert.equal(status.namespaceExists, true);
    assert.deepEqual(status.searchAttributes.missing, []);
    assert.equal(status.workerPolling, true);
    const idle = await cli(['status'], { COUNTERSIGN_TASK_QUEUE: `nobody-${randomUUID()}` });
    assert.equal(idle.code, 1);
    assert.match(idle.stdout, /Task queue {4}nobody-[0-9a-f-]+: no worker polling/);
    assert.equal((await cli(['status', '--quiet'], { COUNTERSIGN_TASK_QUEUE: `nobody-${randomUUID()}` })).code, 0, 'the healthcheck only needs the server');
    const down = await cli(['status'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(down.code, 4);
    assert.match(down.stderr, /Cannot reach Temporal at 127\.0\.0\.1:1/);
  });
});

describe('configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-config-'));
  const toml = join(dir, 'temporal.toml');
  writeFileSync(
    toml,
    ['[profile.default]', 'address = "127.0.0.1:7233"', '', '[profile.cloud]', 'address = "acme.a1b2c.tmprl.cloud:7233"', 'namespace = "acme.a1b2c"', 'api_key = "secret-api-key"', ''].join('\n'),
  );

  test('resolves from environment variables with defaults', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: '10.1.2.3:7233', TEMPORAL_NAMESPACE: 'payments', COUNTERSIGN_TASK_QUEUE: 'cs-prod', TEMPORAL_CONFIG_FILE: join(dir, 'none.toml') });
    assert.equal(config.address, '10.1.2.3:7233');
    assert.equal(config.namespace, 'payments');
    assert.equal(config.taskQueue, 'cs-prod');
    const defaults = loadConfig({ TEMPORAL_CONFIG_FILE: join(dir, 'none.toml') });
    assert.deepEqual([defaults.address, defaults.namespace, defaults.taskQueue], ['127.0.0.1:7233', 'default', 'countersign']);
  });

  test('resolves from a profile file (API key for Temporal Cloud), and the environment still wins', () => {
    const cloud = loadConfig({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cloud' });
    assert.equal(cloud.address, 'acme.a1b2c.tmprl.cloud:7233');
    assert.equal(cloud.namespace, 'acme.a1b2c');
    assert.equal(cloud.connection.apiKey, 'secret-api-key');
    assert.ok(cloud.connection.tls, 'an API key turns TLS on');
    const overridden = loadConfig({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cloud', TEMPORAL_NAMESPACE: 'acme.other' });
    assert.equal(overridden.namespace, 'acme.other');
  });

  test('bad values are named in one sentence', () => {
    assert.throws(() => loadConfig({ TEMPORAL_ADDRESS: 'no-port' }), (err: unknown) => err instanceof ConfigError && /TEMPORAL_ADDRESS must be host:port/.test(err.message));
    assert.throws(() => loadConfig({ COUNTERSIGN_LOG_FORMAT: 'loud' }), /COUNTERSIGN_LOG_FORMAT/);
    assert.throws(() => loadConfig({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'nope' }), (err: unknown) => err instanceof ConfigError && /nope/.test(err.message));
  });

  test('the CLI connects through a profile file', async () => {
    const local = join(dir, 'local.toml');
    writeFileSync(local, `[profile.test]\naddress = "${ctx.env.address}"\nnamespace = "default"\n`);
    const run = await cli(['status', '--json'], { TEMPORAL_ADDRESS: '', TEMPORAL_CONFIG_FILE: local, TEMPORAL_PROFILE: 'test' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).address, ctx.env.address);
  });
});

describe('graceful shutdown', () => {
  let server: Server;
  const hooks: { release: () => void }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      hooks.push({ release: () => res.writeHead(204).end() });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => server.close());

  test('SIGTERM during an in-flight activity lets it finish; a second worker completes the workflow', async () => {
    const port = (server.address() as AddressInfo).port;
    const taskQueue = `shutdown-${randomUUID()}`;
    const front = await startStack(
      ctx.env,
      `version: 1\ndefaults: { decision: review, reviewers: ops }\ngroups:\n  ops:\n    members: [oscar]\n    webhook: { url: "http://127.0.0.1:${port}/slow", secretEnv: SLOW_HOOK_SECRET }\n`,
      { taskQueue, worker: false },
    );
    after(() => front.stop());
    const env = { TEMPORAL_ADDRESS: ctx.env.address, COUNTERSIGN_TASK_QUEUE: taskQueue, COUNTERSIGN_HOME: front.dir, COUNTERSIGN_POLICY: front.policyFile, SLOW_HOOK_SECRET: 'slow-secret' };
    const first = await startWorkerProcess(env);
    const cs = front.cs;
    const request = await cs.submit(action({ action: 'ops.restart', resource: { type: 'system', id: 'api' }, payload: { service: 'api' } }), { waitMs: 2000 });
    assert.equal(request.status, 'pending');
    await eventually(() => assert.equal(hooks.length, 1), 'the notification activity is in flight', 300);

    first.child.kill('SIGTERM');
    await eventually(() => assert.ok(first.lines.some((l) => l.includes('DRAINING')), first.lines.join('\n')), 'first worker draining', 300);
    hooks[0]!.release(); // the in-flight activity completes during the grace period
    assert.equal(await first.exited, 0, first.lines.join('\n'));

    const second = await startWorkerProcess(env);
    try {
      await decideSeen(cs, request.workflowId, { decision: 'approve', reviewer: 'oscar' });
      await request.wait(10_000);
      await request.consume();
      await request.report({ status: 'succeeded' });
      const outcome = await cs.outcome(request.workflowId);
      assert.equal(outcome.status, 'executed');
      const view = await cs.view(request.workflowId);
      assert.ok(view.history.some((e) => e.type === 'notified' && e.detail.includes('via log, webhook')), 'the notification finished, not lost');
      assert.ok(!view.history.some((e) => e.type === 'notification_failed'));
      assert.equal(hooks.length, 1, 'the webhook was called once: the activity was neither lost nor repeated');
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
