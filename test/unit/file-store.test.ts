/**
 * The store as files (store/files.ts, store/file-log.ts), the dev default: the store contract, with
 * its 32 concurrent sealers as four processes of eight appends each; and what only files can suffer —
 * a sealer killed between its two links, a leaf removed from the folder, the modes of what is written.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { logLeafData } from '../../common/tlog/leaf';
import { evidencePath, fileStore } from '../../store/files';
import { LogDamagedError, StoreInputError } from '../../store/types';
import { evidence, storeContract } from '../support/store-contract';

const dirs: string[] = [];
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-file-store-'));
  dirs.push(dir);
  return dir;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const stores = new WeakMap<object, string>();
const run = promisify(execFile);

describe('the file store keeps the store contract', () => {
  storeContract(
    async () => {
      const dir = freshDir();
      const store = fileStore(dir);
      stores.set(store, dir);
      return store;
    },
    // Four sealer processes at once, each with eight appends in flight: as the workers of one machine seal.
    async (store, leaves) => {
      const script = join(__dirname, '..', 'support', 'append-leaves.ts');
      const batches = [0, 1, 2, 3].map((p) => leaves.slice(p * 8, p * 8 + 8).map((l) => Buffer.from(l).toString('hex')));
      const outputs = await Promise.all(batches.map((batch) => run(process.execPath, ['--import', 'tsx', script, stores.get(store)!, ...batch])));
      return outputs.flatMap((o) => JSON.parse(o.stdout) as number[]);
    },
    // The server writes its edge tokens to the same files.
    async () => fileStore(freshDir()),
  );
});

describe('the file store on its own', () => {
  const leaf = (i: number) => logLeafData({ workflowId: `cs-bot-${i}`, runId: randomUUID(), requestId: 'a'.repeat(16), bundleDigest: 'b'.repeat(64) });

  test('a sealer killed between its leaf and its hashes/ entry: the retry finds its leaf and appends nothing', async () => {
    const dir = freshDir();
    const store = fileStore(dir);
    const data = leaf(0);
    const first = await store.appendLeaf(data);
    await store.appendLeaf(leaf(1));
    rmSync(join(dir, 'log', 'hashes', Buffer.from(first.hash).toString('hex'))); // as if the sealer died right after the leaf's link
    assert.deepEqual(await store.appendLeaf(data), { index: 0, hash: first.hash, appended: false });
    assert.equal(await store.logSize(), 2);
    assert.equal(await fileStore(dir).leafIndex(first.hash), 0, 'and its entry is back');
  });

  test('a leaf removed from the folder is never skipped: a read through it fails, and the log reads as cut short there', async () => {
    const dir = freshDir();
    const store = fileStore(dir);
    for (let i = 0; i < 3; i++) await store.appendLeaf(leaf(i));
    rmSync(join(dir, 'log', 'leaves', '0000000000000001'));
    await assert.rejects(store.readLeaves(0, 3), /Leaf 1 of the log .* is missing/);
    // A process that starts now sees a log of one leaf: smaller than any checkpoint an auditor kept, which is what the audit reports.
    assert.equal(await fileStore(dir).logSize(), 1);
  });

  test('a log cut short under a running store: its size is what is left, not what it saw before; a read across a hole is LogDamagedError', async () => {
    const dir = freshDir();
    const store = fileStore(dir);
    for (let i = 0; i < 6; i++) await store.appendLeaf(leaf(i));
    assert.equal(await store.logSize(), 6);
    for (const i of [4, 5]) rmSync(join(dir, 'log', 'leaves', String(i).padStart(16, '0')));
    assert.equal(await store.logSize(), 4, 'the size this store knew is checked, not trusted');
    assert.equal((await store.readLeaves(0, 4)).length, 4);
    await assert.rejects(store.readLeaves(0, 5), StoreInputError, 'no leaf past the size');
    rmSync(join(dir, 'log', 'leaves', '0000000000000001'));
    await assert.rejects(store.readLeaves(0, 3), LogDamagedError);
    // The next append takes the first free index after what it finds, and the hole stays for the audit to report.
    const next = await store.appendLeaf(leaf(9));
    assert.deepEqual([next.index, next.appended], [4, true]);
  });

  test('bundles keep the name they always had, and everything written is its owner\'s alone (files 0600, folders 0700)', async () => {
    const dir = freshDir();
    const store = fileStore(dir);
    const e = evidence();
    const { location } = await store.putEvidence(e);
    assert.equal(location, evidencePath(dir, e.workflowId, e.runId));
    await store.appendLeaf(leaf(0));
    await store.recordSpend({ tokenId: 't', workflowId: e.workflowId, runId: e.runId, requestId: e.requestId, actionDigest: 'd', spentAt: new Date().toISOString() });
    await store.putCheckpoint({ treeSize: 1, rootHash: new Uint8Array(32), note: 'n\n' });
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((f) => (f.isDirectory() ? [join(d, f.name), ...walk(join(d, f.name))] : [join(d, f.name)]));
    for (const path of walk(dir)) {
      const mode = statSync(path).mode & 0o777;
      assert.equal(mode, statSync(path).isDirectory() ? 0o700 : 0o600, path);
    }
    assert.ok(!walk(dir).some((p) => p.endsWith('.tmp')), 'no temporary file is left behind');
  });
});
