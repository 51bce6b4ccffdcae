/**
 * The transparency log, wired (issue 27): the worker signs a checkpoint after each sealed bundle,
 * the front door serves the log and exported bundles carry their proof, and `countersign log audit`
 * finds what was done to the store behind its back. On the stack's store (files, or PostgreSQL
 * under npm run test:cluster).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { signEvidence } from '../activities/evidence';
import { signCheckpoint } from '../common/tlog/checkpoint';
import { evidencePath } from '../store/files';
import { cliFor } from './support/cli';
import { leafFor, type EvidenceBundle } from '../common/bundle';
import { openLogCheckpoint } from '../common/tlog/checkpoint';
import { fromHex, leafHash, rootHash, toHex, verifyConsistency, verifyInclusion, type Hash } from '../common/tlog/merkle';
import { logLeafData, parseLogLeaf } from '../common/tlog/leaf';
import { randomUUID } from 'node:crypto';
import type { EvidenceView } from '../common/bundle';
import { action, useStack } from './support/stack';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: ops, sla: 1h }
groups:
  ops: { members: [olga] }
rules:
  - id: small-refunds
    match: { action: payments.refund }
    decision: allow
`;

const ctx = useStack(POLICY);

/** A request allowed by policy, consumed and reported: its bundle sealed and its leaf appended. */
async function sealedRequest(amount: number): Promise<{ workflowId: string; requestId: string }> {
  const request = await ctx.stack.cs.submit(action({ payload: { amount, currency: 'EUR' } }), { waitMs: 5000 });
  await request.consume();
  await request.report({ status: 'succeeded' });
  await ctx.stack.cs.outcome(request.workflowId);
  return { workflowId: request.workflowId, requestId: request.requestId };
}

/** Every leaf hash of the store's log. */
async function storedLeafHashes(): Promise<Uint8Array[]> {
  const { store } = ctx.stack;
  const size = await store.logSize();
  const hashes: Uint8Array[] = [];
  for (let start = 0; start < size; start += 1000) hashes.push(...(await store.readLeaves(start, Math.min(size, start + 1000))).map((l) => l.hash));
  return hashes;
}

describe('checkpoints', () => {
  test('after sealed requests, the latest checkpoint opens with the layer key and signs the root of every stored leaf', async () => {
    const before = await ctx.stack.store.logSize();
    await Promise.all([1, 2, 3].map((i) => sealedRequest(10 + i)));
    const leaves = await storedLeafHashes();
    assert.ok(leaves.length >= before + 3, `${leaves.length} leaves after 3 sealed requests`);
    const latest = await ctx.stack.store.latestCheckpoint();
    assert.ok(latest, 'a checkpoint is stored');
    const opened = openLogCheckpoint(latest.note, ctx.stack.signer.publicKey);
    assert.equal(opened.origin, `countersign/${ctx.stack.signer.keyId}`);
    assert.equal(opened.size, leaves.length);
    assert.equal(latest.treeSize, leaves.length);
    assert.equal(toHex(opened.root), toHex(rootHash(leaves.length, leaves)));
    // Every checkpoint stored on the way is of the first N leaves, whichever sealer signed it.
    for (let size = 1; size <= leaves.length; size++) {
      const at = await ctx.stack.store.checkpointAt(size);
      if (at) assert.equal(toHex(openLogCheckpoint(at.note, ctx.stack.signer.publicKey).root), toHex(rootHash(size, leaves)), `checkpoint of ${size}`);
    }
  });
});

/** A raw GET of the front door with a bearer credential: status, content type and body (JSON when it is). */
async function get(path: string, bearer: string): Promise<{ status: number; type: string; text: string; json: Record<string, unknown> }> {
  const res = await fetch(new URL(path, ctx.stack.url), { headers: { authorization: `Bearer ${bearer}` } });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, text, json: /json/.test(type) ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const auditor = () => ctx.stack.auditorKeys.get('audrey')!;
const agent = () => ctx.stack.agentKeys.get('support-bot')!;
const hashes = (hex: unknown) => (hex as string[]).map((h) => fromHex(h)!) as Hash[];

describe('the log at the front door', () => {
  test('checkpoint, leaves and proofs line up: an inclusion proof verifies against the checkpoint root, a consistency proof between two checkpoints', async () => {
    const first = await sealedRequest(21);
    const checkpoint = await get('/v1/log/checkpoint', agent());
    assert.equal(checkpoint.status, 200, checkpoint.text);
    assert.match(checkpoint.type, /^text\/plain/);
    const older = openLogCheckpoint(checkpoint.text, ctx.stack.signer.publicKey);
    await sealedRequest(22);
    const newer = openLogCheckpoint((await get('/v1/log/checkpoint', auditor())).text, ctx.stack.signer.publicKey);
    assert.ok(newer.size > older.size);

    // Every leaf, paged: each one's data hashes into the root the checkpoint signs.
    const data: Uint8Array[] = [];
    for (let start = 0; start < newer.size; ) {
      const page = await get(`/v1/log/leaves?start=${start}&count=2`, auditor());
      assert.equal(page.status, 200, page.text);
      const leaves = page.json.leaves as { index: number; data: string }[];
      assert.ok(leaves.length > 0 && leaves.length <= 2);
      leaves.forEach((l, i) => assert.equal(l.index, start + i));
      data.push(...leaves.map((l) => new Uint8Array(Buffer.from(l.data, 'base64'))));
      start += leaves.length;
    }
    assert.equal(toHex(rootHash(newer.size, data.map(leafHash))), toHex(newer.root));
    const past = await get(`/v1/log/leaves?start=${newer.size + 5}`, auditor());
    assert.deepEqual(past.json.leaves, []);

    // The first request's leaf, proven in the newer tree.
    const index = data.findIndex((d) => parseLogLeaf(d)?.workflowId === first.workflowId);
    assert.ok(index >= 0, 'the first request has a leaf');
    const inclusion = await get(`/v1/log/proof/inclusion?index=${index}&size=${newer.size}`, agent());
    assert.equal(inclusion.status, 200, inclusion.text);
    assert.equal(verifyInclusion(leafHash(data[index]!), index, newer.size, hashes(inclusion.json.inclusion), newer.root), true);
    assert.equal(verifyInclusion(leafHash(data[index]!), index, newer.size, hashes(inclusion.json.inclusion), older.root), false);
    const consistency = await get(`/v1/log/proof/consistency?from=${older.size}&to=${newer.size}`, agent());
    assert.equal(consistency.status, 200, consistency.text);
    assert.equal(verifyConsistency(older.size, newer.size, hashes(consistency.json.consistency), older.root, newer.root), true);

    // The stored bundle the leaf names, exactly as sealed.
    const leaf = parseLogLeaf(data[index]!)!;
    const stored = await get(`/v1/log/bundle?workflowId=${encodeURIComponent(leaf.workflowId)}&runId=${encodeURIComponent(leaf.runId)}`, auditor());
    assert.equal(stored.status, 200, stored.text);
    assert.equal(stored.text, await ctx.stack.cs.sealedText(first.workflowId));
    assert.deepEqual(leafFor(stored.json as unknown as EvidenceBundle, leaf.runId), data[index]);
  });

  test('an exported bundle carries its log proof, which verify checks', async () => {
    const { workflowId } = await sealedRequest(23);
    const view = (await get(`/v1/requests/${workflowId}/evidence`, agent())).json as unknown as EvidenceView;
    assert.equal(view.sealed, true);
    const log = view.bundle.log!;
    assert.ok(log, 'the sealed bundle carries log');
    const signed = openLogCheckpoint(log.checkpoint, ctx.stack.signer.publicKey);
    assert.equal(signed.size, log.treeSize);
    assert.equal(verifyInclusion(leafHash(leafFor(view.bundle as EvidenceBundle, log.runId)), log.index, log.treeSize, hashes(log.inclusion), signed.root), true);
  });

  test('bad parameters are refused naming the field; a reviewer may read none of it, an agent no leaves and no bundle', async () => {
    const refused = async (path: string, bearer: string, status: number, detail: RegExp) => {
      const res = await get(path, bearer);
      assert.equal(res.status, status, `${path}: ${res.text}`);
      assert.match(res.type, /^application\/problem\+json/);
      assert.match(String(res.json.detail), detail);
    };
    const size = await ctx.stack.store.logSize();
    await refused('/v1/log/leaves?start=-1', auditor(), 422, /^Query parameter "start" must be a whole number from 0, got "-1"\.$/);
    await refused('/v1/log/leaves?count=1001', auditor(), 422, /^Query parameter "count" must be at most 1000, got 1001\.$/);
    await refused('/v1/log/leaves?count=0', auditor(), 422, /"count" must be a whole number from 1/);
    await refused('/v1/log/proof/inclusion?size=1', agent(), 422, /^Query parameter "index" is required/);
    await refused('/v1/log/proof/inclusion?index=1e3&size=1', agent(), 422, /"index" must be a whole number from 0, got "1e3"/);
    await refused(`/v1/log/proof/inclusion?index=${size}&size=${size}`, agent(), 422, new RegExp(`"index" must be below "size" \\(${size}\\)`));
    await refused(`/v1/log/proof/inclusion?index=0&size=${size + 1}`, agent(), 422, new RegExp(`"size" must be at most the log's size, ${size}, got ${size + 1}`));
    await refused(`/v1/log/proof/consistency?from=2&to=1`, agent(), 422, /"from" must be at most "to" \(1\)/);
    await refused(`/v1/log/proof/consistency?from=0&to=99999999999999999`, agent(), 422, /"to" must be a whole number/);
    await refused('/v1/log/bundle?workflowId=x', auditor(), 422, /^Query parameter "runId" is required/);
    await refused('/v1/log/bundles?count=1001', auditor(), 422, /^Query parameter "count" must be at most 1000, got 1001\.$/);
    await refused('/v1/log/bundles?after=!!', auditor(), 422, /^Query parameter "after" must be the "next" of an earlier page/);
    await refused(`/v1/log/bundles?after=${Buffer.from('["one"]').toString('base64url')}`, auditor(), 422, /"after" must be the "next" of an earlier page/);

    const olga = await ((await ctx.stack.reviewer('olga')) as unknown as { bearer(): Promise<string> }).bearer();
    for (const path of ['/v1/log/checkpoint', '/v1/log/leaves', '/v1/log/proof/inclusion?index=0&size=1', '/v1/log/proof/consistency?from=0&to=1', '/v1/log/bundle?workflowId=x&runId=y', '/v1/log/bundles']) {
      await refused(path, olga, 403, /; you are signed in as reviewer olga\.$/);
    }
    await refused('/v1/log/leaves', agent(), 403, /^This endpoint is for auditors; you are signed in as agent support-bot\.$/);
    await refused('/v1/log/bundle?workflowId=x&runId=y', agent(), 403, /for auditors/);
    await refused('/v1/log/bundles', agent(), 403, /^This endpoint is for auditors; you are signed in as agent support-bot\.$/);
    await refused('/v1/log/bundle?workflowId=x&runId=y', auditor(), 404, /no bundle of run y of x/);
    assert.equal((await get('/v1/log/checkpoint', 'cs_agent_' + 'A'.repeat(43))).status, 401);
  });
});

describe('countersign log audit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-audit-'));
  const kept = join(dir, 'kept.checkpoint');
  const pub = join(dir, 'layer.pub');
  const cli = cliFor(ctx);
  const audit = (extra: string[] = []) => cli(['log', 'audit', '--key', pub, '--checkpoint', kept, ...extra], { COUNTERSIGN_API_KEY: auditor() });
  /** These tamper with the file store's files; under npm run test:cluster the store is PostgreSQL (COUNTERSIGN_TEST_STORE). */
  const onFiles = !process.env.COUNTERSIGN_TEST_STORE;
  const logDir = () => join(ctx.stack.evidenceDir, 'log');

  /** The leaf of a request's sealed bundle: which run sealed it, at which index. */
  async function leafOf(workflowId: string): Promise<{ runId: string; index: number }> {
    const size = await ctx.stack.store.logSize();
    for (const leaf of await ctx.stack.store.readLeaves(0, size)) {
      const parsed = parseLogLeaf(leaf.data);
      if (parsed?.workflowId === workflowId) return { runId: parsed.runId, index: leaf.index };
    }
    throw new Error(`no leaf for ${workflowId}`);
  }

  test('an untouched log passes, and the checkpoint is kept; after more bundles it passes again against the kept one', async () => {
    writeFileSync(pub, `${ctx.stack.signer.publicKey}\n`);
    await sealedRequest(31);
    const first = await audit();
    assert.equal(first.code, 0, first.stderr + first.stdout);
    assert.match(first.stdout, /^OK — \d+ leaves, every bundle in the store, verified and the one logged; the log's checkpoint of \d+ leaves \(root [0-9a-f]{64}\) is the first you keep\.$/m);
    const note = readFileSync(kept, 'utf8');
    assert.equal(openLogCheckpoint(note, ctx.stack.signer.publicKey).size, await ctx.stack.store.logSize());
    await sealedRequest(32);
    const second = await audit(['--json']);
    assert.equal(second.code, 0, second.stderr + second.stdout);
    const report = JSON.parse(second.stdout) as { ok: boolean; findings: unknown[]; leaves: number; checkpointFile: string };
    assert.deepEqual([report.ok, report.findings, report.leaves, report.checkpointFile], [true, [], await ctx.stack.store.logSize(), kept]);
    assert.ok(openLogCheckpoint(readFileSync(kept, 'utf8'), ctx.stack.signer.publicKey).size > openLogCheckpoint(note, ctx.stack.signer.publicKey).size, 'the newer checkpoint is kept');
    // Not an auditor: refused before anything is read.
    const asAgent = await cli(['log', 'audit', '--key', pub, '--checkpoint', kept], { COUNTERSIGN_API_KEY: agent() });
    assert.equal(asAgent.code, 2);
    assert.match(asAgent.stderr, /log audit needs an auditor's API key/);
  });

  test('a bundle deleted from the store is found, naming its request', { skip: !onFiles && 'tampers with the file store' }, async () => {
    const { workflowId, requestId } = await sealedRequest(33);
    assert.equal((await audit()).code, 0);
    const { runId, index } = await leafOf(workflowId);
    const path = evidencePath(ctx.stack.evidenceDir, workflowId, runId);
    const text = readFileSync(path, 'utf8');
    unlinkSync(path);
    try {
      const run = await audit();
      assert.equal(run.code, 1, run.stdout);
      assert.match(run.stdout, new RegExp(`^FINDING missing-bundle: request ${requestId} \\(workflow ${workflowId}, run ${runId}, leaf ${index}\\): its evidence bundle is missing from the store$`, 'm'));
      assert.match(run.stderr, /log audit: 1 finding\./);
    } finally {
      writeFileSync(path, text);
    }
    assert.equal((await audit()).code, 0, 'restored, it passes');
  });

  test('a bundle replaced in the store is found, whether it no longer verifies or is another bundle signed by the layer key', { skip: !onFiles && 'tampers with the file store' }, async () => {
    const { workflowId, requestId } = await sealedRequest(34);
    const { runId, index } = await leafOf(workflowId);
    const path = evidencePath(ctx.stack.evidenceDir, workflowId, runId);
    const text = readFileSync(path, 'utf8');
    const original = JSON.parse(text) as EvidenceBundle;
    const { signature: _signature, signer: _signer, log: _log, ...body } = original;
    const edited = JSON.parse(JSON.stringify(body)) as typeof body;
    edited.events[edited.events.length - 1]!.detail += ' (edited)';
    const resigned = { ...body, outcome: { ...body.outcome, message: 'A different story.' } };
    const who = new RegExp(`^FINDING altered-bundle: request ${requestId} \\(workflow ${workflowId}, run ${runId}, leaf ${index}\\): `, 'm');
    try {
      writeFileSync(path, JSON.stringify({ ...edited, signer: original.signer, signature: original.signature }, null, 2));
      const broken = await audit();
      assert.equal(broken.code, 1, broken.stdout);
      assert.match(broken.stdout, who);
      assert.match(broken.stdout, /its evidence bundle does not verify/);
      writeFileSync(path, signEvidence(ctx.stack.signer, resigned as typeof body).text);
      const other = await audit();
      assert.equal(other.code, 1, other.stdout);
      assert.match(other.stdout, who);
    } finally {
      writeFileSync(path, text);
    }
    assert.equal((await audit()).code, 0, 'restored, it passes');
  });

  test('a fork is found: a second checkpoint of the same size signed by the layer key, kept by the auditor or served by the log', { skip: !onFiles && 'tampers with the file store' }, async () => {
    await sealedRequest(35);
    assert.equal((await audit()).code, 0);
    const honest = readFileSync(kept, 'utf8');
    const { size } = openLogCheckpoint(honest, ctx.stack.signer.publicKey);
    const forged = signCheckpoint({ size, root: leafHash(new TextEncoder().encode('another tree')) }, ctx.stack.signer);
    // The auditor was shown the other tree before.
    writeFileSync(kept, forged);
    const shown = await audit();
    assert.equal(shown.code, 1, shown.stdout);
    assert.match(shown.stdout, new RegExp(`^FINDING fork: the log forked: two checkpoints of ${size} leaves signed by this key have different roots`, 'm'));
    assert.equal(readFileSync(kept, 'utf8'), forged, 'the kept checkpoint stays, so the next audit finds it again');
    // The log now serves the other tree.
    writeFileSync(kept, honest);
    const stored = join(logDir(), 'checkpoints', `${String(size).padStart(16, '0')}.json`);
    const storedText = readFileSync(stored, 'utf8');
    writeFileSync(stored, JSON.stringify({ treeSize: size, rootHash: toHex(openLogCheckpoint(forged, ctx.stack.signer.publicKey).root), note: forged }));
    try {
      const served = await audit();
      assert.equal(served.code, 1, served.stdout);
      assert.match(served.stdout, /^FINDING fork: /m);
      assert.match(served.stdout, new RegExp(`^FINDING leaves: the ${size} leaves the log serves do not hash to its checkpoint's root`, 'm'));
      assert.equal(readFileSync(kept, 'utf8'), honest);
    } finally {
      writeFileSync(stored, storedText);
    }
    assert.equal((await audit()).code, 0, 'restored, it passes');
  });

  test('a leaf removed under the running server: the leaves end before it (no 500), and log audit names the missing leaves', { skip: !onFiles && 'tampers with the file store' }, async () => {
    const cut = [await sealedRequest(37), await sealedRequest(38)];
    assert.equal((await audit()).code, 0);
    const size = openLogCheckpoint(readFileSync(kept, 'utf8'), ctx.stack.signer.publicKey).size;
    const gone = size - 2;
    const path = join(logDir(), 'leaves', String(gone).padStart(16, '0'));
    const aside = join(mkdtempSync(join(tmpdir(), 'countersign-hole-')), 'leaf');
    renameSync(path, aside);
    try {
      const page = await get(`/v1/log/leaves?start=0&count=1000`, auditor());
      assert.equal(page.status, 200, page.text);
      assert.equal((page.json.leaves as unknown[]).length, gone, 'the page ends before the missing leaf');
      const run = await audit();
      assert.equal(run.code, 1, run.stdout);
      assert.match(run.stdout, new RegExp(`^FINDING leaves: the log serves ${gone} leaves, its checkpoint signs ${size}: leaves ${gone}\\.\\.${size - 1} are missing$`, 'm'));
      // The bundles of the leaves from the hole on are in the store, and the log serves no leaf for them.
      for (const { workflowId } of cut) assert.match(run.stdout, new RegExp(`^FINDING unlogged-bundle: request [0-9a-f]{16} \\(workflow ${workflowId}, run [^)]+\\): its evidence bundle is in the store, but the log has no leaf for it$`, 'm'));
      assert.match(run.stderr, /log audit: 3 findings\./);
    } finally {
      renameSync(aside, path);
    }
    assert.equal((await audit()).code, 0, 'restored, it passes');
  });

  test('a bundle in the store with no leaf in the log (a seal that died between the two) is named; the seal retried completes it, and the audit passes', async () => {
    const { workflowId, requestId } = await sealedRequest(39);
    assert.equal((await audit()).code, 0);
    const { signature: _signature, signer: _signer, log: _log, ...body } = JSON.parse(await ctx.stack.cs.sealedText(workflowId)) as EvidenceBundle;
    const sealed = signEvidence(ctx.stack.signer, body);
    const orphan = { workflowId, runId: randomUUID(), requestId, bundleDigest: sealed.digest, text: sealed.text };
    await ctx.stack.store.putEvidence(orphan); // the bundle, and the seal dies before its leaf
    const run = await audit();
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stdout, new RegExp(`^FINDING unlogged-bundle: request ${requestId} \\(workflow ${workflowId}, run ${orphan.runId}\\): its evidence bundle is in the store, but the log has no leaf for it$`, 'm'));
    assert.match(run.stderr, /log audit: 1 finding\./);
    const retried = await ctx.stack.store.sealEvidence(orphan, logLeafData(orphan));
    assert.deepEqual([retried.created, retried.leaf.appended], [false, true]);
    const after = await audit();
    assert.equal(after.code, 0, after.stdout);
  });

  test('a truncated log is found against the kept checkpoint', { skip: !onFiles && 'tampers with the file store' }, async () => {
    await sealedRequest(36);
    assert.equal((await audit()).code, 0);
    const size = openLogCheckpoint(readFileSync(kept, 'utf8'), ctx.stack.signer.publicKey).size;
    const cut = size - 2;
    // The last two leaves and every checkpoint above what is left, moved away as an operator would remove them.
    const aside = mkdtempSync(join(tmpdir(), 'countersign-truncated-'));
    const moved: [string, string][] = [];
    for (const [folder, keepIt] of [['leaves', (n: number) => n < cut], ['checkpoints', (n: number) => n <= cut]] as const) {
      mkdirSync(join(aside, folder));
      for (const name of readdirSync(join(logDir(), folder))) {
        if (keepIt(Number(name.replace(/\.json$/, '')))) continue;
        moved.push([join(logDir(), folder, name), join(aside, folder, name)]);
        renameSync(join(logDir(), folder, name), join(aside, folder, name));
      }
    }
    try {
      const run = await audit();
      assert.equal(run.code, 1, run.stdout);
      assert.match(run.stdout, new RegExp(`^FINDING truncated: the log was truncated: it now signs \\d+ leaves, the checkpoint you saved signs ${size}`, 'm'), run.stdout + run.stderr);
    } finally {
      for (const [from, to] of moved) if (existsSync(to)) renameSync(to, from);
    }
    assert.equal((await audit()).code, 0, 'restored, it passes');
  });
});
