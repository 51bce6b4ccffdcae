/**
 * The worker's checkpoints of the log (activities/checkpoints.ts): signed after each seal, and bounded
 * when they cannot be — a log tampered with is reported once and not retried, a transient failure is
 * retried by the seal activity a few times and then given up, never retried forever.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkpointAfterSeal, CHECKPOINT_ATTEMPTS, logCheckpoints } from '../../activities/checkpoints';
import { openLogCheckpoint, signCheckpoint } from '../../common/tlog/checkpoint';
import { logLeafData } from '../../common/tlog/leaf';
import { leafHash, rootHash, toHex } from '../../common/tlog/merkle';
import { newEd25519Key, signerFromKey } from '../../crypto/keys';
import { fileStore } from '../../store/files';
import type { Store } from '../../store/types';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const layer = signerFromKey(newEd25519Key());
const leaf = (i: number) => logLeafData({ workflowId: `cs-bot-${i}`, runId: randomUUID(), requestId: 'a'.repeat(16), bundleDigest: 'b'.repeat(64) });

function freshStore(): { store: Store; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-checkpoints-'));
  dirs.push(dir);
  return { store: fileStore(dir), dir };
}

/** Appends n leaves; their hashes. */
async function fill(store: Store, n: number): Promise<Uint8Array[]> {
  const hashes: Uint8Array[] = [];
  for (let i = 0; i < n; i++) hashes.push((await store.appendLeaf(leaf(i))).hash);
  return hashes;
}

describe('checkpoints after a seal', () => {
  test('signed by the layer key over every leaf stored, at the size the log holds', async () => {
    const { store } = freshStore();
    const hashes = await fill(store, 3);
    assert.equal(await checkpointAfterSeal(logCheckpoints(layer), store, { index: 2, hash: hashes[2]! }, 1), undefined);
    const stored = await store.latestCheckpoint();
    const opened = openLogCheckpoint(stored!.note, layer.publicKey);
    assert.deepEqual([opened.size, toHex(opened.root)], [3, toHex(rootHash(3, hashes))]);
  });

  test('a stored checkpoint of the size with another root (a conflict): the seal completes, the reason is said, nothing is replaced and nothing retried', async () => {
    const { store, dir } = freshStore();
    await fill(store, 3);
    const forged = signCheckpoint({ size: 4, root: leafHash(new TextEncoder().encode('another tree')) }, layer);
    await store.putCheckpoint({ treeSize: 4, rootHash: openLogCheckpoint(forged, layer.publicKey).root, note: forged });
    const path = join(dir, 'log', 'checkpoints', `${'4'.padStart(16, '0')}.json`);
    const before = readFileSync(path, 'utf8');
    const appended = await store.appendLeaf(leaf(3));
    const reason = await checkpointAfterSeal(logCheckpoints(layer), store, appended, 1);
    assert.match(reason ?? '', /^The log's stored checkpoint of 4 leaves has another root than its first 4 leaves hash to: the log has been tampered with\.$/);
    assert.equal(readFileSync(path, 'utf8'), before, 'the stored checkpoint stays as it was');
  });

  test('a log cut short after a checkpoint: the next seal says so and is not retried', async () => {
    const { store, dir } = freshStore();
    const hashes = await fill(store, 4);
    const checkpoints = logCheckpoints(layer);
    assert.equal(await checkpointAfterSeal(checkpoints, store, { index: 3, hash: hashes[3]! }, 1), undefined);
    rmSync(join(dir, 'log', 'leaves', '0000000000000003'));
    rmSync(join(dir, 'log', 'leaves', '0000000000000002'));
    const appended = await store.appendLeaf(leaf(9));
    assert.equal(appended.index, 2);
    assert.match((await checkpointAfterSeal(checkpoints, store, appended, 1)) ?? '', /^The log holds 3 leaves, fewer than the 4 it held before: the log has been truncated\.$/);
  });

  test('a transient failure (the store unreachable) is thrown for the activity to retry, and given up at the last attempt', async () => {
    const { store } = freshStore();
    const hashes = await fill(store, 1);
    const down: Store = { ...store, putCheckpoint: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')) };
    const checkpoints = logCheckpoints(layer);
    for (let attempt = 1; attempt < CHECKPOINT_ATTEMPTS; attempt++) {
      await assert.rejects(checkpointAfterSeal(checkpoints, down, { index: 0, hash: hashes[0]! }, attempt), /ECONNREFUSED/);
    }
    assert.equal(await checkpointAfterSeal(checkpoints, down, { index: 0, hash: hashes[0]! }, CHECKPOINT_ATTEMPTS), `connect ECONNREFUSED 127.0.0.1:5432 (gave up after ${CHECKPOINT_ATTEMPTS} attempts)`);
    assert.equal(await store.latestCheckpoint(), undefined);
    // Back up: the next seal's checkpoint covers the leaf.
    assert.equal(await checkpointAfterSeal(checkpoints, store, { index: 0, hash: hashes[0]! }, 1), undefined);
    assert.equal((await store.latestCheckpoint())?.treeSize, 1);
  });
});
