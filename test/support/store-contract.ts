/**
 * What every store promises (store/types.ts), as one suite run against each implementation: the
 * files (test/unit/file-store.test.ts, in npm test) and PostgreSQL (test/store.cluster.ts, in npm run
 * test:cluster). Each store given is empty.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { canonicalJson } from '../../common/canonical';
import { sha256Hex } from '../../common/digest';
import { logLeafData } from '../../common/tlog/leaf';
import { inclusionProof, leafHash, rootHash, verifyInclusion } from '../../common/tlog/merkle';
import { MAX_BUNDLE_BYTES, MAX_EVIDENCE_PAGE, MAX_LEAVES_PAGE, MAX_LIST_PAGE } from '../../store/bounds';
import { CheckpointConflictError, EvidenceConflictError, StoreInputError, type SealedEvidence, type SpendEntry, type Store, type StoredEvidence } from '../../store/types';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** RFC 9162's leaf hash, computed here on its own: SHA-256 of 0x00 and the data. */
const rfc9162Leaf = (data: Uint8Array) => createHash('sha256').update(Buffer.concat([Buffer.of(0), data])).digest('hex');

export function spend(overrides: Partial<SpendEntry> = {}): SpendEntry {
  return { tokenId: `tok_${randomUUID()}`, workflowId: `cs-bot-${randomUUID().slice(0, 16)}`, runId: randomUUID(), requestId: 'a'.repeat(16), actionDigest: 'd'.repeat(64), spentAt: new Date().toISOString(), ...overrides };
}

export function evidence(overrides: Partial<SealedEvidence> = {}): SealedEvidence {
  const workflowId = overrides.workflowId ?? `cs-bot-${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const text = overrides.text ?? `${JSON.stringify({ format: 'countersign/evidence/v1', workflowId, requestId: workflowId.slice(-16), signature: randomUUID() }, null, 2)}\n`;
  return { workflowId, runId: randomUUID(), requestId: workflowId.slice(-16), bundleDigest: createHash('sha256').update(text).digest('hex'), text, ...overrides };
}

/** `open` gives an empty store of the kind under test; `concurrent` appends `n` leaves at once as that store's sealers would (processes, connections). */
export function storeContract(open: () => Promise<Store>, concurrent?: (store: Store, leaves: Uint8Array[]) => Promise<number[]>, openEdge?: () => Promise<Store>): void {
  test('edge tokens (issue 29): written once by hash, read back by hash only; the spend they meet is the ledger\'s', { skip: !openEdge && 'needs a store opened with the edge role' }, async () => {
    const store = await openEdge!();
    const workflowId = `cs-bot-${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const entry = { tokenHash: createHash('sha256').update(randomUUID()).digest('hex'), tokenId: `tok_${randomUUID()}`, workflowId, requestId: workflowId.slice(-16), expiresAt: new Date(Date.now() + 60_000).toISOString(), record: JSON.stringify({ any: 'decision' }) };
    assert.equal(await store.edgeMinted(workflowId), false);
    await store.putEdgeToken(entry);
    assert.deepEqual(await store.getEdgeToken(entry.tokenHash), entry);
    assert.equal(await store.edgeMinted(workflowId), true);
    await assert.rejects(store.putEdgeToken({ ...entry, record: '{}' }), EvidenceConflictError, 'never replaced');
    assert.equal(await store.getEdgeToken('f'.repeat(64)), undefined);
    assert.equal(await store.getEdgeToken('not a hash'), undefined);
    await assert.rejects(store.putEdgeToken({ ...entry, tokenHash: 'x' }), StoreInputError);
    assert.equal(await store.getSpend(workflowId), undefined);
    const spent = spend({ workflowId });
    await store.recordSpend(spent);
    assert.deepEqual(await store.getSpend(workflowId), spent);
  });

  test('a spend: the first wins, a retry of the same spend is the same spend, any other is refused', async () => {
    const store = await open();
    const first = spend();
    assert.deepEqual(await store.recordSpend(first), { recorded: true });
    assert.deepEqual(await store.recordSpend({ ...first, spentAt: new Date(Date.now() + 5000).toISOString() }), { recorded: true }, 'the same run, token and workflow: a retry');
    for (const other of [{ runId: randomUUID() }, { tokenId: 'tok_other' }]) {
      const refused = await store.recordSpend({ ...first, ...other });
      assert.equal(refused.recorded, false, JSON.stringify(other));
      assert.equal(!refused.recorded && refused.runId, first.runId, 'the refusal names the run that spent it');
    }
    assert.deepEqual(await store.recordSpend(spend()), { recorded: true }, 'another workflow id is another spend');
    await assert.rejects(store.recordSpend(spend({ workflowId: 'cs-\0' })), StoreInputError);
  });

  test('evidence is written once: the same text again is fine, other text for the run is refused; found by workflow, run and request', async () => {
    const store = await open();
    const first = evidence();
    assert.equal((await store.putEvidence(first)).created, true);
    assert.equal((await store.putEvidence(first)).created, false);
    await assert.rejects(store.putEvidence({ ...first, text: first.text.replace('signature', 'signatur') }), EvidenceConflictError);
    const read = await store.getEvidence(first.workflowId, first.runId);
    assert.equal(read?.text, first.text, 'byte for byte');
    assert.equal(read?.requestId, first.requestId);
    assert.equal(read?.runId, first.runId);
    await new Promise((r) => setTimeout(r, 20));
    const second = evidence({ workflowId: first.workflowId, text: first.text.replace(/"signature": "[^"]+"/, '"signature": "second run"') });
    await store.putEvidence(second);
    assert.equal((await store.getEvidence(first.workflowId))?.runId, second.runId, 'without a run id: the run sealed last');
    assert.equal((await store.getEvidence(first.workflowId, first.runId))?.text, first.text, 'the first run keeps its own bundle');
    assert.equal(await store.getEvidence(`${first.workflowId}x`), undefined);
    assert.deepEqual(await store.workflowsOfRequest(first.requestId, 2), [first.workflowId]);
    assert.deepEqual(await store.workflowsOfRequest('f'.repeat(16), 2), []);
    const big = evidence({ text: `"${'x'.repeat(MAX_BUNDLE_BYTES)}"` });
    await assert.rejects(store.putEvidence(big), StoreInputError, 'a bundle over the bound is refused');
  });

  test('sealed bundles are listed newest first, paged and within the window; a cursor it did not give and a page out of bounds are refused', async () => {
    const store = await open();
    const sealed: SealedEvidence[] = [];
    for (let i = 0; i < 5; i++) {
      const e = evidence();
      await store.putEvidence(e);
      await store.appendLeaf(logLeafData({ workflowId: e.workflowId, runId: e.runId, requestId: e.requestId, bundleDigest: e.bundleDigest })); // as sealing does
      sealed.push(e);
      await new Promise((r) => setTimeout(r, 5));
    }
    const since = new Date(Date.now() - 60_000).toISOString();
    const listed: StoredEvidence[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.listEvidence({ since, limit: 2, ...(cursor ? { cursor } : {}) });
      assert.ok(page.items.length <= 2);
      listed.push(...page.items);
      cursor = page.next;
      pages += 1;
    } while (cursor && pages < 10);
    assert.deepEqual(listed.map((e) => e.workflowId), sealed.map((e) => e.workflowId).reverse(), 'each once, newest first');
    assert.deepEqual(listed.map((e) => e.text), sealed.map((e) => e.text).reverse(), 'byte for byte');
    assert.ok(listed.every((e, i) => i === 0 || e.sealedAt <= listed[i - 1]!.sealedAt));
    assert.deepEqual((await store.listEvidence({ since: new Date(Date.now() + 3_600_000).toISOString(), limit: 10 })).items, [], 'nothing sealed after the window starts');
    await assert.rejects(store.listEvidence({ since, limit: 2, cursor: 'not-a-cursor' }), StoreInputError);
    await assert.rejects(store.listEvidence({ since, limit: 0 }), StoreInputError);
    await assert.rejects(store.listEvidence({ since, limit: MAX_LIST_PAGE + 1 }), StoreInputError);
    await assert.rejects(store.listEvidence({ since: 'yesterday', limit: 1 }), StoreInputError);
  });

  test('a bundle sealed with its leaf: both stored, the same seal again writes neither; every bundle listed, a page at a time', async () => {
    const store = await open();
    // The digest of the signed body, as a bundle's is (the file store reads it from the text).
    const signedEvidence = () => {
      const e = evidence();
      const { signature: _signature, ...body } = JSON.parse(e.text) as Record<string, unknown>;
      return { ...e, bundleDigest: sha256Hex(canonicalJson(body)) };
    };
    const sealed = [signedEvidence(), signedEvidence(), signedEvidence()];
    const leafOf = (e: SealedEvidence) => logLeafData({ workflowId: e.workflowId, runId: e.runId, requestId: e.requestId, bundleDigest: e.bundleDigest });
    for (const [i, e] of sealed.entries()) {
      const first = await store.sealEvidence(e, leafOf(e));
      assert.deepEqual([first.created, first.leaf.index, first.leaf.appended], [true, i, true]);
    }
    const again = await store.sealEvidence(sealed[1]!, leafOf(sealed[1]!));
    assert.deepEqual([again.created, again.leaf.index, again.leaf.appended], [false, 1, false]);
    assert.equal(await store.logSize(), 3);
    await assert.rejects(store.sealEvidence({ ...sealed[0]!, text: `${sealed[0]!.text} ` }, leafOf(sealed[0]!)), EvidenceConflictError);
    const unlogged = signedEvidence();
    await store.putEvidence(unlogged);
    const listed: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await store.listBundles(after, 2);
      assert.ok(page.entries.length <= 2);
      listed.push(...page.entries.map((e) => JSON.stringify([e.workflowId, e.runId, e.requestId, e.bundleDigest])));
      after = page.next;
      pages += 1;
    } while (after && pages < 10);
    const named = (e: SealedEvidence) => JSON.stringify([e.workflowId, e.runId, e.requestId, e.bundleDigest]);
    assert.deepEqual(listed.sort(), [...sealed, unlogged].map(named).sort(), 'every bundle once, the one without a leaf too');
    await assert.rejects(store.listBundles('not a cursor!', 2), StoreInputError);
    await assert.rejects(store.listBundles(Buffer.from('["only one"]').toString('base64url'), 2), StoreInputError);
    await assert.rejects(store.listBundles(undefined, MAX_EVIDENCE_PAGE + 1), StoreInputError);
  });

  test('the log: leaves at 0..n-1, RFC 9162 leaf hashes, the same leaf once, reads bounded and in range', async () => {
    const store = await open();
    assert.equal(await store.logSize(), 0);
    const leaves = Array.from({ length: 5 }, (_, i) => logLeafData({ workflowId: `cs-bot-${i}`, runId: randomUUID(), requestId: 'a'.repeat(16), bundleDigest: 'b'.repeat(64) }));
    for (const [i, data] of leaves.entries()) {
      const appended = await store.appendLeaf(data);
      assert.deepEqual([appended.index, appended.appended, hex(appended.hash)], [i, true, rfc9162Leaf(data)]);
    }
    assert.deepEqual(await store.appendLeaf(leaves[2]!), { index: 2, hash: (await store.readLeaves(2, 3))[0]!.hash, appended: false }, 'a retried append finds its leaf');
    assert.equal(await store.logSize(), 5);
    const read = await store.readLeaves(1, 4);
    assert.deepEqual(read.map((l) => [l.index, Buffer.from(l.data).toString(), hex(l.hash)]), [1, 2, 3].map((i) => [i, Buffer.from(leaves[i]!).toString(), rfc9162Leaf(leaves[i]!)]));
    assert.deepEqual(await store.readLeaves(5, 5), []);
    assert.equal(await store.leafIndex((await store.readLeaves(4, 5))[0]!.hash), 4);
    assert.equal(await store.leafIndex(new Uint8Array(32)), undefined);
    await assert.rejects(store.readLeaves(3, 6), StoreInputError, 'past the end');
    await assert.rejects(store.readLeaves(0, MAX_LEAVES_PAGE + 1), StoreInputError, 'more than a page');
    await assert.rejects(store.readLeaves(-1, 2), StoreInputError);
    await assert.rejects(store.appendLeaf(new Uint8Array(0)), StoreInputError);
    assert.equal(JSON.parse(Buffer.from(leaves[0]!).toString()).format, 'countersign/log-leaf/v1');
    assert.equal(Buffer.from(leaves[0]!).toString(), canonicalJson(JSON.parse(Buffer.from(leaves[0]!).toString())), 'leaf data is canonical JSON');
  });

  test('checkpoints: one per tree size, the same again is fine, another root for a size is refused; the latest is the largest', async () => {
    const store = await open();
    assert.equal(await store.latestCheckpoint(), undefined);
    const at = (treeSize: number, fill: number) => ({ treeSize, rootHash: new Uint8Array(32).fill(fill), note: `countersign.example/log\n${treeSize}\nroot\n\n— key sig\n` });
    await store.putCheckpoint(at(3, 1));
    await store.putCheckpoint(at(10, 2));
    await store.putCheckpoint(at(3, 1));
    await assert.rejects(store.putCheckpoint(at(3, 9)), CheckpointConflictError);
    const latest = await store.latestCheckpoint();
    assert.deepEqual([latest?.treeSize, hex(latest!.rootHash), latest?.note], [10, hex(at(10, 2).rootHash), at(10, 2).note]);
    assert.equal((await store.checkpointAt(3))?.rootHash[0], 1);
    assert.equal(await store.checkpointAt(4), undefined);
    await assert.rejects(store.putCheckpoint({ ...at(11, 1), rootHash: new Uint8Array(31) }), StoreInputError);
  });

  test('32 sealers append at once: indexes 0..31, each exactly once, every leaf readable at its index', async () => {
    const store = await open();
    const leaves = Array.from({ length: 32 }, (_, i) => logLeafData({ workflowId: `cs-sealer-${i}`, runId: randomUUID(), requestId: 'c'.repeat(16), bundleDigest: createHash('sha256').update(String(i)).digest('hex') }));
    const indexes = concurrent ? await concurrent(store, leaves) : (await Promise.all(leaves.map((l) => store.appendLeaf(l)))).map((a) => a.index);
    assert.deepEqual([...indexes].sort((a, b) => a - b), Array.from({ length: 32 }, (_, i) => i));
    assert.equal(await store.logSize(), 32);
    const read = await store.readLeaves(0, 32);
    assert.deepEqual(new Set(read.map((l) => Buffer.from(l.data).toString())), new Set(leaves.map((l) => Buffer.from(l).toString())), 'every leaf once, none lost');
    for (const leaf of read) assert.equal(await store.leafIndex(leaf.hash), leaf.index);
    // The stored hashes are the log's: the tree's root and every inclusion proof come from them alone.
    const hashes = read.map((l) => l.hash);
    const root = rootHash(32, hashes);
    for (const leaf of read) assert.ok(verifyInclusion(leafHash(leaf.data), leaf.index, 32, inclusionProof(leaf.index, 32, hashes), root), `leaf ${leaf.index} is proven in the tree`);
  });
}
