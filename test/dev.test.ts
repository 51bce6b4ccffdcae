/**
 * `countersign dev` as a newcomer runs it, on ports that are not the defaults and with a umask that
 * lets everyone read: the banner gives every export another terminal needs, the CLI with only those
 * exports reaches the stack (agents through the server, `reviewers invite` and `status` through
 * Temporal), and what the run leaves in COUNTERSIGN_HOME is its owner's alone (0700 folders, 0600
 * files), including folders an older version left looser.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { eventually } from './support/eventually';
import { freePort } from './support/ports';

const ROOT = join(__dirname, '..');
const BIN = join(ROOT, 'bin', 'countersign.js');

/** The environment of a fresh terminal: none of countersign's or Temporal's variables. */
function bareEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('COUNTERSIGN_') && !k.startsWith('TEMPORAL_')));
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Every folder and file under `dir` with its permission bits, as `relative path → mode`. */
function modes(dir: string): Map<string, number> {
  const found = new Map<string, number>([['.', statSync(dir).mode & 0o777]]);
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      // SQLite's journal comes and goes while the dev server runs: a file gone since readdir is no finding.
      const stat = statSync(path, { throwIfNoEntry: false });
      if (!stat) continue;
      found.set(relative(dir, path), stat.mode & 0o777);
      if (entry.isDirectory()) walk(path);
    }
  };
  walk(dir);
  return found;
}

describe('countersign dev on other ports', () => {
  const home = join(mkdtempSync(join(tmpdir(), 'countersign-dev-')), 'home');
  let child: ReturnType<typeof spawn> | undefined;
  let exited: Promise<unknown> = Promise.resolve();
  after(async () => {
    child?.kill('SIGINT');
    await exited;
  });

  test('the banner exports what the CLI needs, status reports the server first, and the state it leaves is private', async () => {
    // Left by an older version or another tool: readable by everyone.
    for (const dir of [home, join(home, 'evidence'), join(home, 'keys')]) {
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o755);
    }
    writeFileSync(join(home, 'session.secret'), 'an-older-session-secret-of-enough-length-0123456789');
    chmodSync(join(home, 'session.secret'), 0o644);

    const [temporalPort, uiPort, serverPort, closedPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...bareEnv(),
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      COUNTERSIGN_UI_PORT: String(uiPort),
      COUNTERSIGN_LISTEN: `127.0.0.1:${serverPort}`,
      COUNTERSIGN_HOME: home,
      COUNTERSIGN_LOG_LEVEL: 'warn',
      ...(process.env.COUNTERSIGN_TEST_BUNDLE ? { COUNTERSIGN_WORKFLOW_BUNDLE: process.env.COUNTERSIGN_TEST_BUNDLE } : {}),
    };
    // umask 000: whatever is private is so because countersign set it, not by the umask's grace.
    child = spawn('/bin/sh', ['-c', 'umask 000; exec "$0" "$@"', process.execPath, BIN, 'dev'], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += String(chunk)));
    child.stderr!.on('data', (chunk) => (output += String(chunk)));
    exited = new Promise((resolve) => child!.once('exit', resolve));
    await eventually(() => assert.match(output, /Ctrl-C stops everything/), `the dev stack starts:\n${output}`, 600, 500);

    const exports = Object.fromEntries([...output.matchAll(/^ {2}export ([A-Z_]+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
    assert.deepEqual(exports, { COUNTERSIGN_HOME: home, COUNTERSIGN_URL: `http://127.0.0.1:${serverPort}`, TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}` }, output);
    assert.match(output, new RegExp(`Temporal UI {7}http://127\\.0\\.0\\.1:${uiPort}/`));
    assert.match(output, /COUNTERSIGN_UI_PORT/, 'the banner names the UI port setting');

    // Another terminal: only what the banner said to export.
    const terminal = { ...bareEnv(), ...exports };
    const invite = await cli(['reviewers', 'invite', 'alice', '--json'], terminal);
    assert.equal(invite.code, 0, invite.stderr);
    assert.match(JSON.parse(invite.stdout).link, new RegExp(`^http://localhost:${serverPort}/inbox/enroll#reviewer=alice&token=`));

    const status = await eventually(async () => {
      const run = await cli(['status'], terminal);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      return run;
    }, 'status: ready once the worker polls', 60, 1000);
    const lines = status.stdout.trim().split('\n');
    assert.equal(lines[0], `Server        http://127.0.0.1:${serverPort}: answering`);
    // The dev stack makes an edge key: the server counts its edge allows, which Temporal cannot show.
    assert.match(lines[1]!, /^Edge allows {3}\d+ decided, \d+ consumed, \d+ reported, \d+ consumes refused \(this server instance, since it started; not in the Temporal UI\)$/);
    assert.equal(lines[2], `Temporal      127.0.0.1:${temporalPort}: reachable`);

    // A terminal with the server's URL but not Temporal's: the server is reported, Temporal's line says so, exit 4.
    const { TEMPORAL_ADDRESS: _unused, ...agentOnly } = terminal;
    const wrong = await cli(['status'], { ...agentOnly, TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}` });
    assert.equal(wrong.code, 4, wrong.stdout + wrong.stderr);
    assert.deepEqual(wrong.stdout.trim().split('\n').filter((l) => !l.startsWith('Edge allows')), [`Server        http://127.0.0.1:${serverPort}: answering`, `Temporal      127.0.0.1:${closedPort}: not reachable`]);
    assert.match(wrong.stderr, new RegExp(`^countersign: Cannot reach Temporal at 127\\.0\\.0\\.1:${closedPort} \\(connection refused\\)`));

    // The agent's story end to end, so that evidence and a spend are written.
    const action = join(ROOT, 'examples', 'actions', 'refund-small.json');
    const submitted = await cli(['submit', '--file', action, '--wait', '30s', '--json'], terminal);
    assert.equal(submitted.code, 0, submitted.stdout + submitted.stderr);
    const { requestId, token } = JSON.parse(submitted.stdout) as { requestId: string; token: string };
    const consumed = await cli(['consume', requestId, '--token', token, '--action', action], terminal);
    assert.equal(consumed.code, 0, consumed.stderr);
    const reported = await cli(['report', requestId, '--agent', 'support-bot', '--status', 'succeeded'], terminal);
    assert.equal(reported.code, 0, reported.stderr);
    await eventually(() => assert.ok(readdirSync(join(home, 'evidence')).some((f) => f.endsWith('.json')), 'an evidence file'), 'the evidence is sealed', 120, 500);
    // With the auditor key the dev stack made, the walkthrough's sealed request shows in insights.
    const auditor = { ...terminal, COUNTERSIGN_API_KEY: readFileSync(join(home, 'agents', 'auditor-auditor.key'), 'utf8').trim() };
    const insights = await eventually(async () => {
      const run = await cli(['insights', '--json'], auditor);
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(run.stdout) as { outcomes: { requests: number; auto_allowed: number; executed: number } };
      assert.ok(report.outcomes.requests >= 1, run.stdout);
      return report;
    }, 'insights count the sealed request', 60, 500);
    assert.deepEqual([insights.outcomes.auto_allowed, insights.outcomes.executed], [1, 1]);

    const left = modes(home);
    for (const expected of ['evidence', join('evidence', 'spent'), 'keys', join('keys', 'layer.key'), 'session.secret', 'temporal.db', 'agents', 'agent-keys']) {
      assert.ok(left.has(expected), `the run left ${expected}: ${[...left.keys()].join(', ')}`);
    }
    assert.ok([...left.keys()].some((p) => p.startsWith(join('evidence', 'spent') + '/')), 'a spend was recorded');
    const loose = [...left].filter(([path, mode]) => {
      const stat = statSync(join(home, path), { throwIfNoEntry: false }); // a journal gone since the walk
      return stat !== undefined && !path.endsWith('.pub') && mode !== (stat.isDirectory() ? 0o700 : 0o600);
    });
    assert.deepEqual(loose.map(([path, mode]) => `${path} ${mode.toString(8)}`), [], 'every folder 0700 and every file 0600 (public keys aside)');
  });
});
