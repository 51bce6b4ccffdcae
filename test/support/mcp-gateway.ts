/**
 * What the MCP gateway suites share: where the CLI and the real filesystem server are, a folder of
 * files for it to serve, the example policy's pins, and the environment a gateway process gets.
 */
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Stack } from './stack';

export const ROOT = join(__dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'countersign.js');
export const FILESYSTEM = join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');
export const EXAMPLE_POLICY = join(ROOT, 'examples', 'mcp-filesystem-policy.yaml');

/** A fresh folder for a suite (`work`) and the files folder in it the filesystem server serves. */
export function workFolders(name: string): { work: string; files: string } {
  const work = mkdtempSync(join(tmpdir(), `countersign-${name}-`));
  const files = join(work, 'files');
  mkdirSync(files);
  return { work, files };
}

/** A tool's digest as the example policy pins it (checked against the real server by test/mcp.test.ts): hints count only for pinned tools. */
export function examplePin(tool: string): string {
  return new RegExp(`${tool}: \\{ digest: "([0-9a-f]{64})"`).exec(readFileSync(EXAMPLE_POLICY, 'utf8'))![1]!;
}

/**
 * The start of a policy for the filesystem server: reviewers olivia and oscar (ops), the server
 * trusted, each call's resource its path (move_file's, its destination). More of its tools follow,
 * indented by 8; then any other server, and the rules.
 */
export const FILESYSTEM_POLICY_HEAD = `
version: 1
defaults: { decision: review, reviewers: ops, sla: 1h }
groups:
  ops: { members: [olivia, oscar] }
mcp:
  servers:
    filesystem:
      trusted: true
      resource: { type: dataset, id: "fs:{path}" }
      tools:
        move_file: { resource: { type: dataset, id: "fs:{destination}" } }
        read_text_file: { digest: "${examplePin('read_text_file')}" }`;

/** The rule every suite's policy starts with: a tool the (trusted, pinned) server calls read-only is allowed. */
export const READ_ONLY_RULE = `
  - id: mcp-read-only
    match: { action: "mcp.**" }
    when: "tool.readOnlyHint"
    decision: allow`;

/** A gateway process's environment: the server's URL and the stack's home (its gateway keys and secret); no Temporal setting at all. */
export function gatewayEnv(stack: Pick<Stack, 'url' | 'dir'>): Record<string, string> {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => typeof e[1] === 'string' && !e[0].startsWith('TEMPORAL_')));
  return { ...env, COUNTERSIGN_URL: stack.url, COUNTERSIGN_HOME: stack.dir, COUNTERSIGN_POLICY: '' };
}
