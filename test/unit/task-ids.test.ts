/**
 * MCP task ids (client/mcp/task-ids.ts): the gateway's own authenticated handles on countersign
 * requests. One opens only under the secret, credential and upstream that made it, unaltered, and
 * within its lifetime; anything else is not a task.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, mock, test } from 'node:test';
import { TASK_ID_TTL_MS, TaskIds } from '../../client/mcp/task-ids';

const secret = randomBytes(32);
const ref = { requestId: '0123456789abcdef', createdAt: 1_780_000_000_000, tool: 'write_file' };

describe('MCP task ids', () => {
  test('an id opens to its request, this gateway credential’s workflow, its creation time and tool', async () => {
    const ids = new TaskIds(secret, 'mcp-gateway', 'filesystem');
    const id = await ids.mint(ref);
    assert.match(id, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(await ids.open(id), { ...ref, workflowId: 'cs-mcp-gateway-0123456789abcdef' });
    assert.deepEqual(await new TaskIds(Buffer.from(secret), 'mcp-gateway', 'filesystem').open(id), { ...ref, workflowId: 'cs-mcp-gateway-0123456789abcdef' }, 'another process with the same secret');
  });

  test('any byte changed, a body or MAC from another id, another credential, upstream or secret: not a task', async () => {
    const ids = new TaskIds(secret, 'mcp-gateway', 'filesystem');
    const id = await ids.mint(ref);
    const other = await ids.mint({ ...ref, requestId: 'fedcba9876543210' });
    for (let i = 0; i < id.length; i++) {
      for (const c of ['A', 'x', 'y', '-']) {
        if (id[i] === c) continue;
        assert.equal(await ids.open(`${id.slice(0, i)}${c}${id.slice(i + 1)}`), undefined, `byte ${i} as ${c}`);
      }
    }
    const [p, body, mac] = id.split('.');
    const [, otherBody, otherMac] = other.split('.');
    assert.equal(await ids.open(`${p}.${otherBody}.${mac}`), undefined);
    assert.equal(await ids.open(`${p}.${body}.${otherMac}`), undefined);
    assert.equal(await new TaskIds(secret, 'gw', 'filesystem').open(id), undefined, 'another gateway credential');
    assert.equal(await new TaskIds(secret, 'mcp-gateway', 'git').open(id), undefined, 'another upstream');
    assert.equal(await new TaskIds(randomBytes(32), 'mcp-gateway', 'filesystem').open(id), undefined, 'another secret');
    assert.equal(await ids.open(`${id}${'A'.repeat(1100)}`), undefined);
    assert.equal(await ids.open(''), undefined);
  });

  test('an id is honoured for its lifetime, and not after', async () => {
    const ids = new TaskIds(secret, 'mcp-gateway', 'filesystem');
    const id = await ids.mint(ref);
    const now = Date.now();
    mock.method(Date, 'now', () => now + TASK_ID_TTL_MS - 60_000);
    try {
      assert.ok(await ids.open(id));
      mock.method(Date, 'now', () => now + TASK_ID_TTL_MS + 2_000);
      assert.equal(await ids.open(id), undefined);
    } finally {
      mock.restoreAll();
    }
  });
});
