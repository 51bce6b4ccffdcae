import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { reviewerKeyPath } from '../config/home';
import { createKeyFile } from '../crypto/keys';
import { DecisionRefusedError } from '../client/sdk';
import { leafFor, verifyBundle, type EvidenceBundle } from '../common/bundle';
import { signCheckpoint } from '../common/tlog/checkpoint';
import { bundleLogProof } from '../common/tlog/inclusion';
import { leafHash, rootHash } from '../common/tlog/merkle';
import { decisionStatement, statementTarget } from '../common/signing';
import { cliFor } from './support/cli';
import { sealedBundle } from './support/evidence';
import { action, useStack } from './support/stack';
import { decideSeen } from './support/review';

const home = mkdtempSync(join(tmpdir(), 'countersign-home-'));
const kim = createKeyFile(reviewerKeyPath(home, 'kim'));
const impostor = createKeyFile(join(home, 'impostor.key'));

const POLICY = `
version: 1
defaults: { decision: review, reviewers: secure, sla: 1h }
groups:
  secure:
    members: [kim, lee]
    reviewerKeys: { kim: "${kim.publicKey}" }
rules:
  - id: transfers
    match: { action: payments.transfer }
    decision: review
    reviewers: secure
  - id: small-refunds
    match: { action: payments.refund }
    decision: allow
`;

const ctx = useStack(POLICY);

const cli = cliFor(ctx, { COUNTERSIGN_HOME: home });
const shell = cli;

async function refused(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof DecisionRefusedError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

const transfer = () => action({ action: 'payments.transfer', resource: { type: 'ledger', id: 'L-7' }, payload: { amount: 5000, to: 'ACME-GmbH' } });

describe('reviewer signatures', () => {
  test('a reviewer with a key: unsigned and forged decisions are refused, a signed one is accepted and verifiable', async () => {
    const request = await ctx.stack.cs.submit(transfer(), { waitMs: 1000 });
    assert.equal(request.status, 'pending');
    const view = await ctx.stack.cs.view(request.workflowId);
    // kim's session is kim's (her key is in her own home); what she sends must still carry her signature.
    const asKim = await ctx.stack.reviewer('kim', reviewerKeyPath(home, 'kim'));
    const versionDigest = view.currentDigest;
    await refused(asKim.send(request.workflowId, { decision: 'approve', reviewer: 'kim', versionDigest }), 'UNAUTHENTICATED', /signature/);
    const signedAt = new Date().toISOString();
    const target = statementTarget(view);
    const statement = decisionStatement(target, { decision: 'approve', reviewer: 'kim' }, signedAt);
    const forged = impostor.sign('countersign/reviewer-decision/v2', statement).signature;
    await refused(asKim.send(request.workflowId, { decision: 'approve', reviewer: 'kim', versionDigest, signature: { signedAt, value: forged } }), 'UNAUTHENTICATED', /does not verify/);
    const forDeny = kim.sign('countersign/reviewer-decision/v2', decisionStatement(target, { decision: 'deny', reviewer: 'kim', reasonCode: 'NO' }, signedAt)).signature;
    await refused(asKim.send(request.workflowId, { decision: 'approve', reviewer: 'kim', versionDigest, signature: { signedAt, value: forDeny } }), 'UNAUTHENTICATED', /does not verify/);
    // Around the server, the workflow refuses the same.
    await refused(ctx.stack.ops.decide(request.workflowId, { decision: 'approve', reviewer: 'kim', versionDigest, signature: { signedAt, value: forged } }), 'UNAUTHENTICATED', /does not verify/);
    assert.equal((await ctx.stack.cs.view(request.workflowId)).status, 'pending');

    const shown = await cli(['review', 'show', request.requestId, '--as', 'kim']);
    assert.equal(shown.code, 0, shown.stderr);
    const run = await cli(['review', 'approve', request.requestId, '--as', 'kim']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /status approved/);
    await request.wait(5000);
    await request.consume();
    await request.report({ status: 'succeeded' });
    const bundle = await sealedBundle(ctx.stack.cs, request.workflowId);
    const approved = bundle.events.find((e) => e.type === 'approved')!;
    assert.equal(approved.actor, 'kim');
    assert.equal(approved.data?.signed, true);
    assert.equal(approved.data?.publicKey, kim.publicKey);
    const verification = verifyBundle(bundle, { publicKey: ctx.stack.signer.publicKey });
    assert.ok(verification.ok && verification.checks.some((c) => c.startsWith('reviewer signature of kim')), JSON.stringify(verification));
  });

  test('every decision is signed: a reviewer with no registered key cannot decide, and a denial carries its signature', async () => {
    const request = await ctx.stack.cs.submit(transfer(), { waitMs: 1000 });
    const view = await ctx.stack.cs.view(request.workflowId);
    // Straight to Temporal, an unsigned decision from a name the directory has no key for: refused.
    await refused(ctx.stack.ops.decide(request.workflowId, { decision: 'approve', reviewer: 'nobody', versionDigest: view.currentDigest }), 'NOT_ELIGIBLE', /not in an eligible group/);
    await refused(ctx.stack.ops.decide(request.workflowId, { decision: 'approve', reviewer: 'lee', versionDigest: view.currentDigest }), 'UNAUTHENTICATED', /must be signed/);
    await decideSeen(ctx.stack.cs, request.workflowId, { decision: 'deny', reviewer: 'lee', reasonCode: 'UNKNOWN_PAYEE', message: 'Payee not on the vendor list.' });
    const bundle = await sealedBundle(ctx.stack.cs, request.workflowId);
    assert.equal(bundle.outcome.status, 'denied');
    const denied = bundle.events.find((e) => e.type === 'denied');
    assert.equal(denied?.data?.signed, true);
    assert.equal(typeof denied?.data?.directoryDigest, 'string');
    assert.equal(bundle.approvalRecord, undefined);
    const verification = verifyBundle(bundle, { publicKey: ctx.stack.signer.publicKey });
    assert.ok(verification.ok && verification.checks.some((c) => c.startsWith('reviewer signature of lee')), JSON.stringify(verification));
  });
});

describe('verify', () => {
  let file: string;
  let bundle: EvidenceBundle;
  before(async () => {
    const request = await ctx.stack.cs.submit(action({ payload: { amount: 75, currency: 'EUR', note: 'Grüße 😀' } }), { waitMs: 5000 });
    await request.consume();
    await request.report({ status: 'succeeded' });
    const outcome = await ctx.stack.cs.outcome(request.workflowId);
    file = join(home, 'bundle.json');
    const exported = await cli(['evidence', request.requestId, '--out', file], { COUNTERSIGN_API_KEY: ctx.stack.agentKeys.get('support-bot')! });
    assert.equal(exported.code, 0, exported.stderr);
    bundle = JSON.parse(readFileSync(file, 'utf8'));
    const { log, ...signed } = bundle;
    assert.deepEqual(signed, JSON.parse(readFileSync(outcome.evidence!.path, 'utf8')), 'the export is the sealed file, with its log proof beside the signed body');
    assert.ok(log && log.treeSize > log.index, 'the export carries its log proof');
  });

  test('a real bundle verifies, offline, against the layer key', async () => {
    writeFileSync(join(home, 'layer.pub'), ctx.stack.signer.publicKey);
    const run = await cli(['verify', file, '--key', join(home, 'layer.pub')]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /OK — hash chain of \d+ events; request digest; approval record signature and digests; execution receipt signature; bundle signature; in log countersign\/[0-9a-f]{16}: leaf \d+ of \d+, under a checkpoint signed by the same key\n/);
    assert.doesNotMatch(run.stdout, /not proven/);
    const { log: _log, ...unlogged } = bundle;
    const bare = join(home, 'bare.json');
    writeFileSync(bare, JSON.stringify(unlogged));
    const without = await cli(['verify', bare, '--key', join(home, 'layer.pub')]);
    assert.equal(without.code, 0, without.stderr);
    assert.match(without.stdout, /bare\.json: not proven to be in a log: it carries no inclusion proof/);
    const wrongKey = await cli(['verify', file, '--key', impostor.publicKey]);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /NOT TRUSTED at signer: signed by key [0-9a-f]{16}, not by the trusted key/);
  });

  test('flipping any single character of an event, a signature or the payload breaks it, naming the link', async () => {
    const mutate = (path: string, change: (b: EvidenceBundle) => void) => {
      const copy = JSON.parse(JSON.stringify(bundle)) as EvidenceBundle;
      change(copy);
      return { path, result: verifyBundle(copy, { publicKey: ctx.stack.signer.publicKey }) };
    };
    const flip = (s: string, at = Math.floor(s.length / 2)) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
    const named = [
      mutate('events[1]', (b) => (b.events[1]!.detail = flip(b.events[1]!.detail))),
      mutate('events[2]', (b) => (b.events[2]!.hash = flip(b.events[2]!.hash, 10))),
      mutate('approvalRecord', (b) => (b.approvalRecord!.signature = flip(b.approvalRecord!.signature, 5))),
      mutate('receipt', (b) => (b.receipt!.signature = flip(b.receipt!.signature, 5))),
      mutate('signature', (b) => (b.signature = flip(b.signature, 5))),
      mutate('outcome.payload', (b) => ((b.outcome.payload as { amount: number }).amount = 76)),
      mutate('request', (b) => ((b.request.payload as { amount: number }).amount = 76)),
    ];
    for (const { path, result } of named) {
      assert.equal(result.ok, false, `${path} mutation went unnoticed`);
      if (!result.ok) assert.equal(result.link, path);
    }
    // And every other leaf of the bundle: one changed character anywhere is caught.
    const leaves: (string | number)[][] = [];
    const walk = (value: unknown, path: (string | number)[]) => {
      if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, [...path, Array.isArray(value) ? Number(k) : k]);
      else if (typeof value === 'string' || typeof value === 'number') leaves.push(path);
    };
    walk(bundle, []);
    assert.ok(leaves.length > 50);
    assert.equal(verifyBundle(bundle, { publicKey: ctx.stack.signer.publicKey }).ok, true, 'the unchanged bundle verifies');
    for (const path of leaves) {
      const copy = JSON.parse(JSON.stringify(bundle));
      const parent = path.slice(0, -1).reduce((o, k) => o[k], copy);
      const key = path[path.length - 1]!;
      const value = parent[key];
      parent[key] = typeof value === 'number' ? value + 1 : value.length ? flip(value) : 'x';
      assert.equal(verifyBundle(copy, { publicKey: ctx.stack.signer.publicKey }).ok, false, `changing ${path.join('.')} went unnoticed`);
    }
    const broken = join(home, 'broken.json');
    writeFileSync(broken, JSON.stringify(named.length && mutateFile(bundle)));
    const run = await cli(['verify', broken]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /BROKEN at events\[3\]: event 3 \(\w+\) was altered/);
  });

  test('a bundle carrying its log proof is proven intact and in the log; a broken proof or a foreign checkpoint fails at the log', async () => {
    // The log as the store keeps it: this bundle's leaf among others, a checkpoint signed by the layer key.
    const runId = 'run-of-the-sealing-activity';
    const others = [0, 1, 2, 3, 4].map((i) => leafHash(utf8ToBytes(`another leaf ${i}`)));
    const leaves = [...others.slice(0, 2), leafHash(leafFor(bundle, runId)), ...others.slice(2)];
    const root = rootHash(leaves.length, leaves);
    const logged = (signer = ctx.stack.signer): EvidenceBundle => ({
      ...bundle,
      log: bundleLogProof({ runId, index: 2, treeSize: leaves.length, checkpoint: signCheckpoint({ size: leaves.length, root }, signer) }, leaves),
    });
    const pub = join(home, 'layer.pub');
    writeFileSync(pub, ctx.stack.signer.publicKey);
    const inLog = join(home, 'in-log.json');
    writeFileSync(inLog, JSON.stringify(logged(), null, 2));
    const run = await cli(['verify', inLog, '--key', pub]);
    assert.equal(run.code, 0, run.stderr);
    const origin = `countersign/${ctx.stack.signer.keyId}`;
    assert.match(run.stdout, new RegExp(`in-log\\.json: OK — hash chain of \\d+ events; .*; bundle signature; in log ${origin}: leaf 2 of 6, under a checkpoint signed by the same key\\n$`));
    assert.doesNotMatch(run.stdout, /not proven/);
    const json = await cli(['verify', inLog, '--key', pub, '--json']);
    assert.deepEqual(JSON.parse(json.stdout).log, { origin, index: 2, treeSize: 6 });

    const broken = logged();
    broken.log!.inclusion[0] = broken.log!.inclusion[1]!;
    writeFileSync(inLog, JSON.stringify(broken));
    const bad = await cli(['verify', inLog, '--key', pub]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /in-log\.json: BROKEN at log: the inclusion proof does not lead from this bundle's leaf at index 2 to the root of the checkpoint/);

    writeFileSync(inLog, JSON.stringify(logged(impostor)));
    const foreign = await cli(['verify', inLog, '--key', pub]);
    assert.equal(foreign.code, 1);
    assert.match(foreign.stderr, new RegExp(`BROKEN at log: checkpoint: the note is not signed by ${origin}`));
  });
});

function mutateFile(bundle: EvidenceBundle): EvidenceBundle {
  const copy = JSON.parse(JSON.stringify(bundle)) as EvidenceBundle;
  copy.events[3]!.at = '2000-01-01T00:00:00.000Z';
  return copy;
}

describe('keys and the token from the shell', () => {
  test('keys init creates the layer key once; the worker refuses to start without one', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'countersign-keys-'));
    const missing = await cli(['worker', '--policy', ctx.stack.policyFile], { COUNTERSIGN_HOME: fresh });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /No signing key at .*layer\.key\. Create one with: countersign keys init/);
    const init = await cli(['keys', 'init', '--json'], { COUNTERSIGN_HOME: fresh });
    assert.equal(init.code, 0, init.stderr);
    assert.match(JSON.parse(init.stdout).publicKey, /^[A-Za-z0-9+/]{43}=$/);
    const again = await cli(['keys', 'init'], { COUNTERSIGN_HOME: fresh });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists/);
    const reviewer = await cli(['keys', 'reviewer', 'nina'], { COUNTERSIGN_HOME: fresh });
    assert.match(reviewer.stdout, /directory:\n {2}reviewers:\n {4}nina: \{ key: "[A-Za-z0-9+/]{43}=" \}/);
    // An agent's key is printed once; the directory keeps only its hash, and a policy with it checks.
    const agent = await cli(['keys', 'agent', 'billing-bot', '--json'], { COUNTERSIGN_HOME: fresh });
    assert.equal(agent.code, 0, agent.stderr);
    const made = JSON.parse(agent.stdout) as { key: string; keyHash: string };
    assert.match(made.key, /^cs_agent_[A-Za-z0-9_-]{43}$/);
    assert.equal(made.keyHash, `sha256:${createHash('sha256').update(made.key).digest('hex')}`);
    const gateway = await cli(['keys', 'agent', 'mcp-gw', '--gateway'], { COUNTERSIGN_HOME: fresh });
    assert.match(gateway.stdout, /cs_gateway_[A-Za-z0-9_-]{43}\n/);
    assert.match(gateway.stdout, /mcp-gw: \{ keyHash: "sha256:[0-9a-f]{64}", kind: gateway \}/);
    const policy = join(fresh, 'policy.yaml');
    writeFileSync(policy, `version: 1\ndefaults: { reviewers: ops }\ngroups:\n  ops: { members: [oscar] }\ndirectory:\n  agents:\n    billing-bot: { keyHash: "${made.keyHash}" }\n    copycat: { keyHash: "${made.keyHash}" }\n`);
    const checked = await cli(['policy', 'check', policy]);
    assert.equal(checked.code, 2);
    assert.match(checked.stderr, /directory\.agents\.copycat\.keyHash: is the same credential as agents\.billing-bot/);
  });

  test('keys server makes the start key once and prints its directory entry; the server will not start without it, or with a key the directory does not name', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'countersign-start-key-'));
    const serve = (env: Record<string, string>) => cli(['server', '--policy', ctx.stack.policyFile, '--listen', '127.0.0.1:0'], { COUNTERSIGN_HOME: fresh, ...env });
    const missing = await serve({});
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /No server start key at .*server-start\.key: create it with countersign keys server/);
    const made = await cli(['keys', 'server', '--json'], { COUNTERSIGN_HOME: fresh });
    assert.equal(made.code, 0, made.stderr);
    const { directory, path } = JSON.parse(made.stdout) as { directory: { server: { startKey: string } }; path: string };
    assert.match(directory.server.startKey, /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(path, join(fresh, 'keys', 'server-start.key'));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const again = await cli(['keys', 'server'], { COUNTERSIGN_HOME: fresh });
    assert.equal(again.code, 2);
    assert.match(again.stderr, new RegExp(`already exists .*public key ${directory.server.startKey.replace(/[+/]/g, '\\$&')}`));
    const other = await serve({});
    assert.equal(other.code, 2, 'the stack\'s policy names the stack\'s start key, not this one');
    assert.match(other.stderr, /The start key at .* is not the one the policy registers as directory\.server\.startKey/);
  });

  test('submit prints the opened token once; consume and report finish the story', async () => {
    const asAgent = { COUNTERSIGN_API_KEY: ctx.stack.agentKeys.get('support-bot')! };
    const cli = (args: string[]) => shell(args, asAgent);
    const actionFile = join(home, 'refund.json');
    writeFileSync(actionFile, JSON.stringify(action({ payload: { amount: 12, currency: 'USD' } })));
    const first = await cli(['submit', '--file', actionFile, '--wait', '5s']);
    assert.equal(first.code, 0, first.stderr);
    const token = /token: (cst_[A-Za-z0-9_-]+)/.exec(first.stdout)?.[1];
    assert.ok(token, first.stdout);
    const requestId = /request ([0-9a-f]{16})/.exec(first.stdout)![1]!;
    const second = await cli(['submit', '--file', actionFile]);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stdout, /cst_/);
    assert.match(second.stdout, /already shown once/);
    const tampered = join(home, 'tampered.json');
    writeFileSync(tampered, JSON.stringify({ ...JSON.parse(readFileSync(actionFile, 'utf8')), payload: { amount: 1200, currency: 'USD' } }));
    const wrong = await cli(['consume', requestId, '--token', token, '--action', tampered]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /Refused \(BINDING_MISMATCH\)/);
    const consumed = await cli(['consume', requestId, '--token', token, '--action', actionFile, '--json']);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.equal(JSON.parse(consumed.stdout).body.requestId, requestId);
    const reused = await cli(['consume', requestId, '--token', token, '--action', actionFile]);
    assert.equal(reused.code, 1);
    assert.match(reused.stderr, /TOKEN_CONSUMED/);
    const reported = await cli(['report', requestId, '--status', 'succeeded', '--message', 'refunded']);
    assert.equal(reported.code, 0, reported.stderr);
    const outcome = await ctx.stack.cs.outcome(requestId);
    assert.equal(outcome.status, 'executed');
  });
});
