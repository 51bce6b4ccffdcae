import assert from 'node:assert/strict';
import { test } from 'node:test';
import { celContext, evaluatePolicy } from '../../activities/policy/evaluate';
import { compilePolicy, PolicyLoadError } from '../../activities/policy/load';
import { mcpActionName, McpContext, resourceMapping } from '../../activities/policy/mcp';
import { parseActionRequest } from '../../client/sdk';

const PINNED = 'a'.repeat(64);
const POLICY = `
version: 1
defaults: { decision: review, reviewers: ops }
groups:
  ops: { members: [oscar] }
mcp:
  servers:
    filesystem:
      trusted: true
      resource: { type: dataset, id: "fs:{path}" }
      tools:
        read_text_file: { digest: "${PINNED}" }
        move_file: { resource: { type: dataset, id: "fs:{destination}", owner: ops } }
    shady: {}
rules:
  - id: reads-are-free
    match: { action: "mcp.**" }
    when: "tool.readOnlyHint"
    decision: allow
  - id: changed-tools
    match: { action: "mcp.**" }
    when: "tool.changed"
    decision: review
    reason: The tool changed since the policy was approved.
`;
const policy = compilePolicy(POLICY, 'mcp-policy.yaml');

const call = (action: string, context: Record<string, string>) =>
  parseActionRequest({ agentId: 'gw', taskId: 't', action, summary: 's', resource: { type: 'system', id: 'x' }, payload: { path: '/tmp/a' }, context });
const claims = (tool: string, extra: Record<string, string> = {}) => ({ [McpContext.tool]: tool, [McpContext.hint('readOnlyHint')]: 'true', [McpContext.hint('destructiveHint')]: 'false', ...extra });

test('a trusted server’s hints reach CEL as the tool variable', () => {
  const tool = celContext(call('mcp.filesystem.list_directory', claims('list_directory')), policy).tool as Record<string, unknown>;
  assert.deepEqual(tool, {
    name: 'list_directory',
    server: 'filesystem',
    title: '',
    digest: '',
    trusted: true,
    pinned: false,
    changed: false,
    readOnlyHint: true,
    destructiveHint: false,
    idempotentHint: false,
    openWorldHint: true,
  });
  assert.equal(evaluatePolicy(policy, call('mcp.filesystem.list_directory', claims('list_directory'))).decision, 'allow');
});

test('an untrusted or unlisted server’s claimed hints count as worst case', () => {
  for (const action of ['mcp.shady.write_file', 'mcp.unknown.write_file']) {
    const tool = celContext(call(action, claims('write_file')), policy).tool as Record<string, unknown>;
    assert.equal(tool.trusted, false);
    assert.equal(tool.readOnlyHint, false);
    assert.equal(tool.destructiveHint, true);
    assert.equal(tool.idempotentHint, false);
    assert.equal(tool.openWorldHint, true);
    assert.equal(evaluatePolicy(policy, call(action, claims('write_file'))).decision, 'review');
  }
});

test('a trusted tool whose digest differs from the pin is changed and loses its hints', () => {
  const same = celContext(call('mcp.filesystem.read_text_file', claims('read_text_file', { [McpContext.digest]: PINNED })), policy).tool as Record<string, unknown>;
  assert.equal(same.changed, false);
  assert.equal(same.readOnlyHint, true);
  const other = call('mcp.filesystem.read_text_file', claims('read_text_file', { [McpContext.digest]: 'b'.repeat(64) }));
  const tool = celContext(other, policy).tool as Record<string, unknown>;
  assert.equal(tool.pinned, true);
  assert.equal(tool.changed, true);
  assert.equal(tool.readOnlyHint, false);
  const decision = evaluatePolicy(policy, other);
  assert.equal(decision.decision, 'review');
  assert.deepEqual(decision.ruleIds, ['changed-tools']);
  // No digest at all cannot match a pin either.
  assert.equal((celContext(call('mcp.filesystem.read_text_file', claims('read_text_file')), policy).tool as Record<string, unknown>).changed, true);
});

test('non-MCP requests see an empty tool map, and conditions on it never allow', () => {
  const request = call('payments.refund', {});
  assert.deepEqual(celContext(request, policy).tool, {});
  const strict = compilePolicy(`${POLICY}  - id: odd\n    match: { action: payments.refund }\n    when: "tool.readOnlyHint"\n    decision: allow\n`);
  assert.equal(evaluatePolicy(strict, request).decision, 'review');
});

test('resource mappings: the tool’s own, else the server’s; names are cut to the action alphabet', () => {
  assert.deepEqual(resourceMapping(policy.config.mcp, 'filesystem', 'write_file'), { type: 'dataset', id: 'fs:{path}' });
  assert.deepEqual(resourceMapping(policy.config.mcp, 'filesystem', 'move_file'), { type: 'dataset', id: 'fs:{destination}', owner: 'ops' });
  assert.equal(resourceMapping(policy.config.mcp, 'shady', 'x'), undefined);
  assert.equal(resourceMapping(policy.config.mcp, 'constructor', 'x'), undefined);
  assert.equal(mcpActionName('my server', 'files.read'), 'mcp.my_server.files_read');
});

test('a bad mcp section names the field and the line', () => {
  const bad = POLICY.replace('trusted: true', 'trusted: "yes"').replace('fs:{path}', 'fs:{pa th}').replace(`"${PINNED}"`, 'abc').replace('shady: {}', 'shady: { trusted: false, tols: {} }');
  assert.throws(
    () => compilePolicy(bad, 'mcp-policy.yaml'),
    (err: unknown) => {
      assert.ok(err instanceof PolicyLoadError);
      assert.deepEqual(
        err.errors.map((e) => `${e.line} ${e.path}`),
        ['9 mcp.servers.filesystem.trusted', '10 mcp.servers.filesystem.resource.id', '12 mcp.servers.filesystem.tools.read_text_file.digest', '14 mcp.servers.shady'],
      );
      assert.match(err.message, /mcp-policy\.yaml:14: mcp\.servers\.shady: unknown field "tols"/);
      return true;
    },
  );
});
