/**
 * The transparency log, wired (issue 27): the worker signs a checkpoint after each sealed bundle,
 * the front door serves the log and exported bundles carry their proof, and `countersign log audit`
 * finds what was done to the store behind its back. On the stack's store (files, or PostgreSQL
 * under npm run test:cluster).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openLogCheckpoint } from '../common/tlog/checkpoint';
import { rootHash, toHex } from '../common/tlog/merkle';
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
