import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { celContext, evaluatePolicy } from '../../policy/evaluate';
import { compilePolicy, loadPolicyFile, PolicyLoadError } from '../../policy/load';
import { mcpActionName, McpContext, resourceMapping } from '../../policy/mcp';
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

test('a trusted server’s hints for a pinned tool reach CEL as the tool variable', () => {
  const read = call('mcp.filesystem.read_text_file', claims('read_text_file', { [McpContext.digest]: PINNED }));
  const tool = celContext(read, policy).tool as Record<string, unknown>;
  assert.deepEqual(tool, {
    name: 'read_text_file',
    server: 'filesystem',
    title: '',
    digest: PINNED,
    trusted: true,
    pinned: true,
    changed: false,
    readOnlyHint: true,
    destructiveHint: false,
    idempotentHint: false,
    openWorldHint: true,
  });
  assert.equal(evaluatePolicy(policy, read).decision, 'allow');
});

test('an unpinned tool on a trusted server is not believed: delete_file claiming readOnlyHint is reviewed (issue 22 M5)', () => {
  const attack = call('mcp.filesystem.delete_file', claims('delete_file', { [McpContext.digest]: 'c'.repeat(64) }));
  const tool = celContext(attack, policy).tool as Record<string, unknown>;
  assert.equal(tool.trusted, true);
  assert.equal(tool.pinned, false);
  assert.equal(tool.readOnlyHint, false);
  assert.equal(tool.destructiveHint, true);
  const decision = evaluatePolicy(policy, attack);
  assert.equal(decision.decision, 'review');
  assert.deepEqual(decision.ruleIds, ['defaults']);
  // The same with the example policy a user copies.
  const example = loadPolicyFile(join(__dirname, '..', '..', 'examples', 'mcp-filesystem-policy.yaml'));
  assert.equal(evaluatePolicy(example, attack).decision, 'review');
});

describe('the example filesystem policy denies changes to dotfiles however the path is written (issue 22 L11)', () => {
  const example = loadPolicyFile(join(__dirname, '..', '..', 'examples', 'mcp-filesystem-policy.yaml'));
  const change = (tool: string, args: Record<string, unknown>) =>
    evaluatePolicy(example, parseActionRequest({ agentId: 'gw', taskId: 't', action: `mcp.filesystem.${tool}`, summary: 's', resource: { type: 'dataset', id: `fs:${String(args.path ?? args.destination)}`.slice(0, 256) }, payload: args, context: claims(tool) }));
  const long = `${'deep/'.repeat(60)}.env`;
  test('a relative .env, .env.local, .ENV, .ssh and .git, and a path longer than the resource id keeps', () => {
    assert.ok(long.length > 256);
    for (const path of ['.env', './.env', 'app/.env.local', 'app/.ENV', '.ssh/authorized_keys', 'repo/.git/hooks/pre-commit', 'a\\.env', long]) {
      const d = change('write_file', { path, content: 'x' });
      assert.equal(d.decision, 'deny', path);
      assert.deepEqual(d.ruleIds.includes('fs-no-dotfiles'), true, path);
    }
    assert.equal(change('edit_file', { path: long, edits: [] }).decision, 'deny');
    assert.equal(change('move_file', { source: '.env', destination: 'notes.txt' }).decision, 'deny', 'moving one away is a change too');
    assert.equal(change('move_file', { source: 'notes.txt', destination: long }).decision, 'deny');
  });
  test('ordinary files, and names that only start like one, are reviewed as writes', () => {
    for (const path of ['notes.txt', 'app/environment.md', 'app/.envelope-ideas.txt', 'docs/git.md']) assert.equal(change('write_file', { path, content: 'x' }).decision, 'review', path);
  });
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
