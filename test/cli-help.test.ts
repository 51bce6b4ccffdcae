/**
 * The CLI's help, run as a user runs it (a real process, no server needed): every command in the
 * table main.ts dispatches by answers --help and `countersign help <command>` with its usage, every
 * flag it accepts and an example, exit 0; an unknown flag is one sentence naming it, exit 2.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { COMMANDS, type CommandName } from '../cli/help';

const BIN = join(__dirname, '..', 'bin', 'countersign.js');
const home = mkdtempSync(join(tmpdir(), 'countersign-help-'));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Nothing to reach: a command that ran instead of printing its help fails fast and visibly.
    const env = { ...process.env, COUNTERSIGN_HOME: home, COUNTERSIGN_URL: 'http://127.0.0.1:1', TEMPORAL_ADDRESS: '127.0.0.1:1' };
    execFile(process.execPath, [BIN, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** A few at a time: each is a Node process starting tsx. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: limit }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  }));
}

const names = Object.keys(COMMANDS) as CommandName[];

describe('countersign --help', () => {
  test('every command in the table prints its usage, each flag it takes and an example, and exits 0', async () => {
    assert.ok(names.length >= 25 && names.includes('review approve') && names.includes('submit'), 'the table holds the commands');
    await eachLimited(names, 3, async (name) => {
      // Where a user types it: after the command and a positional or a flag or two.
      const typed = [...name.split(' '), ...(name === 'mcp-proxy' ? ['--hold', '5s', '--help', '--', 'upstream', '-h'] : ['0123456789abcdef', '--help'])];
      const run = await cli(name === 'help' || name === 'version' ? [name, '--help'] : typed);
      const what = `countersign ${typed.join(' ')}`;
      assert.equal(run.code, 0, `${what} exits 0: ${run.stderr}`);
      assert.equal(run.stderr, '', `${what} writes nothing to stderr`);
      assert.ok(run.stdout.startsWith(`Usage: countersign ${name}`), `${what} starts with its usage:\n${run.stdout}`);
      const flags = COMMANDS[name].flags as Record<string, { short?: string }>;
      for (const [flag, spec] of Object.entries(flags)) {
        assert.match(run.stdout, new RegExp(`^ {2}${spec.short ? `-${spec.short}, ` : ''}--${flag}\\b`, 'm'), `${what} lists --${flag}`);
      }
      assert.match(run.stdout, /^Examples?:\n {2}([A-Z_]+=\S+ )*countersign /m, `${what} gives an example`);
      const viaHelp = await cli(['help', ...name.split(' ')]);
      assert.deepEqual([viaHelp.code, viaHelp.stdout], [0, run.stdout], `countersign help ${name} prints the same`);
    });
  });

  test('-h works as --help, and a group lists its commands', async () => {
    const short = await cli(['review', 'deny', '-h']);
    assert.equal(short.code, 0, short.stderr);
    assert.match(short.stdout, /^Usage: countersign review deny <id> --reason CODE --message/);
    assert.match(short.stdout, /^ {2}--reason CODE +why, as an upper-case code/m);
    for (const group of ['review', 'policy', 'keys', 'reviewers']) {
      const run = await cli([group, '--help']);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(run.stdout.startsWith(`Usage: countersign ${group} <command>`), run.stdout);
      for (const name of names.filter((n) => n.startsWith(`${group} `))) assert.ok(run.stdout.includes(`countersign ${COMMANDS[name].usage}`), `${group} --help lists ${name}`);
    }
  });

  test('the overview names every command and points to per-command help', async () => {
    const run = await cli(['--help']);
    assert.equal(run.code, 0);
    for (const name of names) assert.ok(run.stdout.includes(`countersign ${COMMANDS[name].usage}`), `--help lists ${name}`);
    assert.match(run.stdout, /Run countersign COMMAND --help \(or countersign help COMMAND\)/);
    const bare = await cli([]);
    assert.deepEqual([bare.code, bare.stdout], [2, run.stdout], 'no command at all is a usage error with the same page');
  });

  test('an unknown flag, a missing value or an unknown command is one sentence naming it, exit 2', async () => {
    const bogus = await cli(['review', 'approve', '0123456789abcdef', '--bogus']);
    assert.deepEqual([bogus.code, bogus.stdout, bogus.stderr], [2, '', 'countersign: review approve has no flag --bogus (see countersign review approve --help).\n']);
    const elsewhere = await cli(['review', 'deny', '0123456789abcdef', '--edit', 'x.json']);
    assert.equal(elsewhere.stderr, 'countersign: review deny has no flag --edit (see countersign review deny --help).\n');
    const missing = await cli(['submit', '--file']);
    assert.deepEqual([missing.code, missing.stderr], [2, 'countersign: --file needs a value (see countersign submit --help).\n']);
    const valued = await cli(['status', '--json=yes']);
    assert.deepEqual([valued.code, valued.stderr], [2, 'countersign: --json takes no value (see countersign status --help).\n']);
    const nothing = await cli(['help', 'frobnicate']);
    assert.deepEqual([nothing.code, nothing.stderr], [2, 'countersign: There is no command "frobnicate". Run "countersign help".\n']);
    const unknown = await cli(['frobnicate', '--help']);
    assert.deepEqual([unknown.code, unknown.stderr], [2, 'countersign: Unknown command "frobnicate". Run "countersign help".\n']);
  });
});
