/**
 * The MCP gateway on the 2026-07-28 revision with the tasks extension, all real processes: the SDK's
 * Client pinned to 2026-07-28 with the extension's own requester session (test/support/mcp-modern.ts)
 * spawning `countersign mcp-proxy` as a host does, in front of the real
 * @modelcontextprotocol/server-filesystem; reviewers decide with signed decisions through the server.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Client, type CallToolResult } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { TaskEnabledSession, TaskFailedError, TaskOutcome } from '@modelcontextprotocol/ext-tasks/client' with { 'resolution-mode': 'import' };
import { CALL_REFUSED } from '../client/mcp/tasks';
import { eventually } from './support/eventually';
import { BIN, FILESYSTEM, FILESYSTEM_POLICY_HEAD, gatewayEnv as gatewayEnvFor, READ_ONLY_RULE, workFolders } from './support/mcp-gateway';
import { killHard, modernHttpAgent, modernStdioAgent, REVISION, type ModernAgent } from './support/mcp-modern';
import { decideSeen } from './support/review';
import { useStack } from './support/stack';

const { files } = workFolders('mcp-tasks');

const POLICY = `${FILESYSTEM_POLICY_HEAD}
rules:${READ_ONLY_RULE}
  - id: fs-writes
    match: { action: [mcp.filesystem.write_file, mcp.filesystem.move_file, mcp.filesystem.create_directory] }
    decision: review
    reviewers: ops
    reason: Changes to files need a person.
  - id: fs-move-quickly
    match: { action: mcp.filesystem.move_file }
    decision: review
    sla: 4s
  - id: no-env-files
    match: { action: mcp.filesystem.write_file }
    when: "payload.path.endsWith('.env')"
    decision: deny
    reason: No .env files.
`;

const ctx = useStack(POLICY);

const agents: ModernAgent[] = [];
after(async () => {
  for (const agent of agents) await agent.close();
  for (const agent of agents) assert.deepEqual(agent.errors.map(String), [], `the agent saw protocol errors; gateway stderr:\n${agent.stderr()}`);
});

const gatewayEnv = () => gatewayEnvFor(ctx.stack);
const gatewayArgs = (agentId = 'mcp-gateway') => [BIN, 'mcp-proxy', '--policy', ctx.stack.policyFile, '--agent-id', agentId, '--hold', '3s', '--', process.execPath, FILESYSTEM, files];

/** A 2026-07-28 agent spawning its gateway (the gateway credential `agentId`, no --task-id). */
async function modernAgent(agentId = 'mcp-gateway'): Promise<ModernAgent> {
  const agent = await modernStdioAgent(process.execPath, gatewayArgs(agentId), gatewayEnv());
  agents.push(agent);
  return agent;
}
let shared: Promise<ModernAgent> | undefined;
const agentOnce = () => (shared ??= modernAgent());

const text = (result: { content?: { type: string; text?: string }[] }) => (result.content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');

/** A reviewed call answered with a task: its id, and the countersign request its status names. */
async function taskFor(tasks: TaskEnabledSession, name: string, args: Record<string, unknown>) {
  const execution = await tasks.callTool(name, args as never);
  assert.equal(execution.kind, 'task', 'a call that waits for a human is a task');
  if (execution.kind !== 'task') throw new Error('unreachable');
  const view = await tasks.task(execution.handle.taskId).snapshot();
  assert.equal(view.status, 'working');
  const requestId = /^Awaiting human approval: countersign request ([0-9a-f]{16}) for (\S+) is waiting for a reviewer, and nothing has run yet\./.exec(view.statusMessage ?? '')?.[1];
  assert.ok(requestId, view.statusMessage);
  return { execution, taskId: execution.handle.taskId, requestId };
}

describe('MCP tasks (2026-07-28): a reviewed call is a task', () => {
  test('the gateway is 2026-07-28 and offers the tasks extension; tools/list passes through and an allowed call is answered at once', async () => {
    const { client, tasks } = await agentOnce();
    assert.equal(client.getProtocolEra(), 'modern');
    assert.equal(client.getNegotiatedProtocolVersion(), REVISION);
    assert.deepEqual(client.getServerCapabilities()?.extensions, { 'io.modelcontextprotocol/tasks': {} });
    const listed = await client.listTools();
    assert.ok(listed.tools.some((t) => t.name === 'write_file'));
    writeFileSync(join(files, 'hello.txt'), 'hello, world\n');
    const read = await tasks.callTool('read_text_file', { path: join(files, 'hello.txt') });
    assert.equal(read.kind, 'immediate', 'allowed by policy: a direct result, no task');
    const { outcome } = await read.settle();
    assert.equal(outcome.status, 'completed');
    assert.deepEqual((outcome as Extract<TaskOutcome<CallToolResult>, { status: 'completed' }>).result.content, [{ type: 'text', text: 'hello, world\n' }]);
  });

  test('tasks/get says working while a human decides; after a signed approval polling reaches the tool’s result, and the file is written once', async () => {
    const { tasks } = await agentOnce();
    const path = join(files, 'report.md');
    const args = { path, content: '# Q3 report\nRevenue up 12%.\n' };
    const { execution, taskId, requestId } = await taskFor(tasks, 'write_file', args);
    assert.equal(existsSync(path), false);
    assert.equal((await ctx.stack.ops.view(requestId)).status, 'pending');
    assert.equal((await tasks.task(taskId).snapshot()).status, 'working', 'still working on the next poll');

    await decideSeen(ctx.stack.cs, requestId, { decision: 'approve', reviewer: 'olivia' });
    const seen: string[] = [];
    const { outcome } = await execution.settle({ onEvent: (e) => void (e.type === 'task' && seen.push(e.task.status)) });
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
    const result = (outcome as Extract<TaskOutcome<CallToolResult>, { status: 'completed' }>).result;
    assert.equal(result.isError, undefined, text(result));
    assert.match(text(result), /^Successfully wrote to .*report\.md$/);
    assert.equal(readFileSync(path, 'utf8'), args.content);
    assert.ok(seen.every((s) => s === 'working' || s === 'completed'), seen.join());

    // Someone changes the file; the task is asked again, and the same call is made again: nothing runs twice.
    writeFileSync(path, 'edited by a person\n');
    const again = await tasks.task(taskId).snapshot();
    assert.equal(again.status, 'completed');
    const retry = await tasks.callTool('write_file', args);
    assert.equal(retry.kind, 'immediate', 'the call already ran here: its recorded result');
    const replayed = (await retry.settle()).outcome as Extract<TaskOutcome<CallToolResult>, { status: 'completed' }>;
    assert.match(text(replayed.result), new RegExp(`this exact call already ran at .* \\(countersign request ${requestId}\\); this is its recorded result, and it did not run again`));
    assert.equal(readFileSync(path, 'utf8'), 'edited by a person\n');

    const final = await ctx.stack.cs.outcome(requestId);
    assert.equal(final.status, 'executed');
    assert.equal(final.execution?.status, 'succeeded');
    const consumed = (await ctx.stack.cs.evidence(requestId)).bundle.events.filter((e) => e.type === 'consumed');
    assert.equal(consumed.length, 1, 'one token, spent once');
  });

  test('a denied call: tasks/get reports failed, with the reason code; a policy deny is answered at once', async () => {
    const { tasks } = await agentOnce();
    const path = join(files, 'secrets.txt');
    const { execution, requestId } = await taskFor(tasks, 'write_file', { path, content: 'TOKEN=abc\n' });
    await decideSeen(ctx.stack.cs, requestId, { decision: 'deny', reviewer: 'oscar', reasonCode: 'NO_SECRETS', message: 'Secrets do not go in files.' });
    const { outcome } = await execution.settle();
    assert.equal(outcome.status, 'failed');
    const error = (outcome as { error: TaskFailedError }).error;
    assert.equal(error.code, CALL_REFUSED);
    assert.deepEqual(error.data, { 'countersign/request': { id: requestId, status: 'denied', code: 'REVIEWER_DENIED/NO_SECRETS' } });
    assert.equal(error.message, `Denied by oscar (REVIEWER_DENIED/NO_SECRETS): Secrets do not go in files. — countersign request ${requestId}. write_file did not run. Calling it again with the same arguments gets the same answer.`);
    assert.equal(existsSync(path), false);

    const byPolicy = await tasks.callTool('write_file', { path: join(files, 'prod.env'), content: 'X=1' });
    assert.equal(byPolicy.kind, 'immediate', 'decided at once: no task');
    const refused = (await byPolicy.settle()).outcome as Extract<TaskOutcome<CallToolResult>, { status: 'completed' }>;
    assert.equal(refused.result.isError, true);
    assert.match(text(refused.result), /^Denied by policy \(POLICY_DENIED\): No \.env files\./);
  });

  test('changes requested and an expired request fail too, each with its code', async () => {
    const { tasks } = await agentOnce();
    const changes = await taskFor(tasks, 'write_file', { path: join(files, 'todo.txt'), content: 'buy milk' });
    await decideSeen(ctx.stack.cs, changes.requestId, { decision: 'request_changes', reviewer: 'olivia', comment: 'Oat milk, please.' });
    const asked = (await changes.execution.settle()).outcome as { status: string; error: TaskFailedError };
    assert.equal(asked.status, 'failed');
    assert.deepEqual(asked.error.data, { 'countersign/request': { id: changes.requestId, status: 'changes_requested', code: 'CHANGES_REQUESTED' } });
    assert.match(asked.error.message, /^Changes requested \(CHANGES_REQUESTED\) by olivia: Oat milk, please\./);

    writeFileSync(join(files, 'draft.txt'), 'draft');
    const move = await taskFor(tasks, 'move_file', { source: join(files, 'draft.txt'), destination: join(files, 'final.txt') });
    const expired = (await move.execution.settle()).outcome as { status: string; error: TaskFailedError };
    assert.equal(expired.status, 'failed');
    assert.deepEqual(expired.error.data, { 'countersign/request': { id: move.requestId, status: 'expired', code: 'SLA_EXPIRED' } });
    assert.equal(existsSync(join(files, 'final.txt')), false);
  });

  test('tasks/cancel withdraws the request: the task is cancelled, and so is the countersign request, its evidence sealed', async () => {
    const { tasks } = await agentOnce();
    const path = join(files, 'cancelled-dir');
    const { execution, taskId, requestId } = await taskFor(tasks, 'create_directory', { path });
    await execution.cancel();
    const view = await tasks.task(taskId).snapshot();
    assert.equal(view.status, 'cancelled');
    assert.equal(view.statusMessage, `Withdrawn: countersign request ${requestId} was cancelled, and create_directory did not run.`);
    const outcome = await ctx.stack.cs.outcome(requestId);
    assert.equal(outcome.status, 'cancelled');
    assert.equal(outcome.decidedBy, 'cancellation');
    const evidence = await ctx.stack.cs.evidence(requestId);
    assert.equal(evidence.sealed, true);
    assert.ok(evidence.bundle.events.some((e) => e.type === 'cancelled'));
    assert.equal(existsSync(path), false);
    await tasks.task(taskId).cancel(); // cancelling again is acknowledged, and changes nothing
    assert.equal((await tasks.task(taskId).snapshot()).status, 'cancelled');

    // Cancelled once approved: countersign has decided, so the gateway honours it by not running the call.
    const lateDir = join(files, 'late-dir');
    const late = await taskFor(tasks, 'create_directory', { path: lateDir });
    await decideSeen(ctx.stack.cs, late.requestId, { decision: 'approve', reviewer: 'oscar' });
    await tasks.task(late.taskId).cancel();
    const lateView = await tasks.task(late.taskId).snapshot();
    assert.equal(lateView.status, 'cancelled');
    assert.match(lateView.statusMessage ?? '', /^Cancelled after the approval: the gateway did not run it/);
    assert.equal(existsSync(lateDir), false);
    assert.equal((await ctx.stack.ops.view(late.requestId)).status, 'approved', 'its token is left to lapse unused');
  });
});

describe('MCP tasks: task ids are the gateway’s own', () => {
  test('an altered task id (one byte flipped, another request’s id spliced in) is refused, and reveals nothing; another agent’s gateway cannot read or cancel it', async () => {
    const { tasks } = await agentOnce();
    const a = await taskFor(tasks, 'write_file', { path: join(files, 'a.txt'), content: 'a' });
    const b = await taskFor(tasks, 'write_file', { path: join(files, 'b.txt'), content: 'b' });
    const [prefix, bodyA, macA] = a.taskId.split('.') as [string, string, string];
    const [, bodyB, macB] = b.taskId.split('.') as [string, string, string];
    const flip = (s: string, i: number) => `${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
    const claims = JSON.parse(Buffer.from(bodyA, 'base64url').toString('utf8')) as { p: { r: string } };
    assert.equal(claims.p.r, a.requestId, 'the id carries its request (signed, not secret)');
    const spliced = Buffer.from(JSON.stringify({ ...claims, p: { ...claims.p, r: b.requestId } })).toString('base64url');
    const altered = [
      `${prefix}.${flip(bodyA, 20)}.${macA}`,
      `${prefix}.${bodyA}.${flip(macA, 5)}`,
      `${prefix}.${spliced}.${macA}`,
      `${prefix}.${bodyB}.${macA}`,
      `${prefix}.${bodyA}.${macB}`,
      'not-a-task',
    ];
    for (const id of altered) {
      await assert.rejects(tasks.task(id as never).snapshot(), (err: { code?: number; message?: string }) => {
        assert.equal(err.code, -32602, id);
        assert.equal(err.message, 'Failed to retrieve task: Task not found');
        return true;
      });
      await assert.rejects(tasks.task(id as never).cancel(), (err: { code?: number; message?: string }) => err.code === -32602 && err.message === 'Failed to cancel task: Task not found');
    }

    // Another gateway credential, with the same home (so the same secret file): its ids are not these.
    const other = await modernAgent('gw');
    await assert.rejects(other.tasks.task(a.taskId as never).snapshot(), (err: { code?: number; message?: string }) => err.code === -32602 && err.message === 'Failed to retrieve task: Task not found');
    await assert.rejects(other.tasks.task(a.taskId as never).cancel(), (err: { code?: number; message?: string }) => err.code === -32602 && err.message === 'Failed to cancel task: Task not found');

    for (const r of [a, b]) assert.equal((await ctx.stack.ops.view(r.requestId)).status, 'pending', 'nothing was read or withdrawn');
    for (const r of [a, b]) await tasks.task(r.taskId).cancel();
  });
});

describe('MCP tasks: a held call survives a gateway restart', () => {
  test('the gateway is killed while a task waits; a new gateway process (same credential, no --task-id) answers tasks/get for the old id and, after approval, runs the call once', async () => {
    const first = await modernAgent();
    const path = join(files, 'restart.md');
    const args = { path, content: 'written after a restart\n' };
    const { taskId, requestId } = await taskFor(first.tasks, 'write_file', args);
    await killHard(first.pid!);

    const second = await modernAgent();
    assert.doesNotMatch(gatewayArgs().join(' '), /--task-id/);
    const waiting = await second.tasks.task(taskId).snapshot();
    assert.equal(waiting.status, 'working');
    assert.match(waiting.statusMessage ?? '', new RegExp(`^Awaiting human approval: countersign request ${requestId} for write_file is waiting for a reviewer`));
    assert.equal(existsSync(path), false);

    await decideSeen(ctx.stack.cs, requestId, { decision: 'approve', reviewer: 'oscar' });
    const outcome = await second.tasks.task(taskId).result<CallToolResult>();
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
    assert.match(text((outcome as Extract<TaskOutcome<CallToolResult>, { status: 'completed' }>).result), /^Successfully wrote to .*restart\.md$/);
    assert.equal(readFileSync(path, 'utf8'), args.content);
    assert.equal((await second.tasks.task(taskId).snapshot()).status, 'completed');
    const final = await ctx.stack.cs.outcome(requestId);
    assert.equal(final.status, 'executed');
    assert.equal((await ctx.stack.cs.evidence(requestId)).bundle.events.filter((e) => e.type === 'consumed').length, 1);
  });
});

describe('MCP tasks: other clients', () => {
  test('a client on the previous revision, and a 2026-07-28 client that does not declare tasks, get today’s held call and pending notice', async () => {
    const legacy = new Client({ name: 'old-agent', version: '1.0.0' });
    await legacy.connect(new StdioClientTransport({ command: process.execPath, args: gatewayArgs(), env: gatewayEnv(), stderr: 'ignore' }));
    try {
      assert.equal(legacy.getProtocolEra(), 'legacy');
      assert.equal(legacy.getServerCapabilities()?.extensions, undefined, 'no extension offered to a 2025 client');
      const held = (await legacy.callTool({ name: 'write_file', arguments: { path: join(files, 'old.txt'), content: 'x' } })) as CallToolResult;
      assert.equal((held._meta?.['countersign/request'] as { status?: string }).status, 'pending', text(held));
      assert.match(text(held), /^Awaiting human approval: countersign request [0-9a-f]{16} for write_file is waiting for a reviewer, and nothing has run yet\./);
    } finally {
      await legacy.close();
    }
    const { client } = await agentOnce();
    const plain = (await client.callTool({ name: 'write_file', arguments: { path: join(files, 'plain.txt'), content: 'x' } })) as CallToolResult;
    assert.match(text(plain), /^Awaiting human approval: countersign request [0-9a-f]{16} for write_file is waiting for a reviewer/);
  });

  test('over Streamable HTTP (--listen), a 2026-07-28 request is served on its own: a task, polled to the result after approval', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp-proxy', '--listen', '0', '--policy', ctx.stack.policyFile, '--agent-id', 'http-gateway', '--hold', '3s', '--', process.execPath, FILESYSTEM, files], { env: gatewayEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const url = await eventually(() => /MCP gateway listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(stderr)?.[1] ?? assert.fail(stderr), 'the gateway listens', 300);
      const agent = await modernHttpAgent(url);
      try {
        assert.equal(agent.client.getNegotiatedProtocolVersion(), REVISION);
        const path = join(files, 'over-http.txt');
        const { execution, requestId } = await taskFor(agent.tasks, 'write_file', { path, content: 'over http\n' });
        await decideSeen(ctx.stack.cs, requestId, { decision: 'approve', reviewer: 'olivia' });
        assert.equal((await execution.settle()).outcome.status, 'completed');
        assert.equal(readFileSync(path, 'utf8'), 'over http\n');

        // tasks/get from a request that does not declare the extension: -32021, naming what is missing.
        const envelope = { 'io.modelcontextprotocol/protocolVersion': REVISION, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} };
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': REVISION, 'mcp-method': 'tasks/get', 'mcp-name': 'x' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tasks/get', params: { taskId: 'x', _meta: envelope } }),
        });
        const answer = (await res.json()) as { error?: { code: number; data?: unknown } };
        assert.equal(answer.error?.code, -32021, JSON.stringify(answer));
        assert.deepEqual(answer.error?.data, { requiredCapabilities: { extensions: { 'io.modelcontextprotocol/tasks': {} } } });
      } finally {
        await agent.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
  });
});
