/**
 * The evidence log around sealed bundles: the leaf format, the `log` proof an exported bundle carries
 * (checked by verifyBundle), and the audit over an in-memory log: an untouched log passes; a deleted
 * or replaced bundle, a truncated log and a fork are each found.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { BUNDLE_FORMAT, bundleDigest, leafFor, requestDigest, verifyBundle, type EvidenceBody, type EvidenceBundle } from '../../common/bundle';
import { appendEvent, type EvidenceEvent } from '../../common/evidence';
import { auditLog, type AuditSources } from '../../common/tlog/audit';
import { logOrigin, signCheckpoint } from '../../common/tlog/checkpoint';
import { bundleLogProof } from '../../common/tlog/inclusion';
import { LOG_LEAF_FORMAT, logLeafData, parseLogLeaf, type LogLeaf } from '../../common/tlog/leaf';
import { appendLeaf, consistencyProof, EMPTY_FRONTIER, frontierRoot, leafHash, toHex, type Frontier, type Hash } from '../../common/tlog/merkle';
import { newEd25519Key, signerFromKey, type Signer } from '../../crypto/keys';

const layer = signerFromKey(newEd25519Key());
const impostor = signerFromKey(newEd25519Key());

/** A small sealed bundle, signed as the worker signs one (activities/evidence.ts). */
function sealed(n: number, signer: Signer = layer, amount = 10 * n): EvidenceBundle {
  const request = { agentId: 'support-bot', taskId: `task-${n}`, action: 'payments.refund', summary: `refund ${n}`, resource: { type: 'customer', id: `C-${n}` }, payload: { amount } };
  const digest = requestDigest(request);
  const events: EvidenceEvent[] = [];
  appendEvent(events, { at: '2026-01-01T00:00:00.000Z', type: 'requested', detail: `refund ${n}`, actor: 'support-bot', data: { requestDigest: digest } });
  appendEvent(events, { at: '2026-01-01T00:00:01.000Z', type: 'closed', detail: 'executed' });
  const body: EvidenceBody = {
    format: BUNDLE_FORMAT,
    workflowId: `cs-support-bot-${String(n).padStart(16, '0')}`,
    requestId: String(n).padStart(16, '0'),
    request,
    requestDigest: digest,
    outcome: { status: 'executed', decidedBy: 'policy', reviewers: [] } as unknown as EvidenceBody['outcome'],
    events,
    signer: { keyId: signer.keyId, publicKey: signer.publicKey },
  };
  return { ...body, signature: signer.sign('countersign/evidence-bundle/v1', body).signature };
}

const runOf = (n: number) => `run-${n}`;
const key = (workflowId: string, runId: string) => `${workflowId}\n${runId}`;

/** The store and the log as the server would serve them, kept in memory so a test can break them. */
class MemoryLog {
  leaves: Uint8Array[] = [];
  bundles = new Map<string, EvidenceBundle>();
  checkpoints: string[] = [signCheckpoint({ size: 0, root: frontierRoot(EMPTY_FRONTIER) }, layer)];
  private frontier: Frontier = EMPTY_FRONTIER;

  append(bundle: EvidenceBundle, runId: string, signer: Signer = layer): void {
    const data = leafFor(bundle, runId);
    this.leaves.push(data);
    this.bundles.set(key(bundle.workflowId, runId), bundle);
    this.frontier = appendLeaf(this.frontier, leafHash(data));
    this.checkpoints.push(signCheckpoint({ size: this.frontier.size, root: frontierRoot(this.frontier) }, signer));
  }

  get latest(): string {
    return this.checkpoints[this.checkpoints.length - 1]!;
  }

  hashes(): Hash[] {
    return this.leaves.map(leafHash);
  }

  sources(savedCheckpoint?: string, checkpoint = () => this.latest): AuditSources {
    return {
      publicKey: layer.publicKey,
      ...(savedCheckpoint !== undefined ? { savedCheckpoint } : {}),
      fetchCheckpoint: async () => checkpoint(),
      fetchLeaves: async (start, count) => this.leaves.slice(start, start + count),
      fetchBundle: async (leaf) => this.bundles.get(key(leaf.workflowId, leaf.runId)),
      fetchConsistency: async (from, to) => consistencyProof(from, to, this.hashes()).map(toHex),
      pageSize: 3,
    };
  }
}

function logOf(count: number): MemoryLog {
  const log = new MemoryLog();
  for (let n = 1; n <= count; n++) log.append(sealed(n), runOf(n));
  return log;
}

describe('log leaves', () => {
  test('a leaf is the canonical JSON of {format, workflowId, runId, requestId, bundleDigest}, read back strictly', () => {
    const bundle = sealed(1);
    const { signature: _s, ...body } = bundle;
    const data = leafFor(bundle, 'run-1');
    const text = new TextDecoder().decode(data);
    assert.equal(text, `{"bundleDigest":"${bundleDigest(body)}","format":"${LOG_LEAF_FORMAT}","requestId":"${bundle.requestId}","runId":"run-1","workflowId":"${bundle.workflowId}"}`);
    assert.deepEqual(parseLogLeaf(data), { format: LOG_LEAF_FORMAT, workflowId: bundle.workflowId, runId: 'run-1', requestId: bundle.requestId, bundleDigest: bundleDigest(body) } satisfies LogLeaf);
    // The log proof added on export is not part of what the leaf names.
    assert.deepEqual(leafFor({ ...bundle, log: { runId: 'x', index: 0, treeSize: 1, inclusion: [], checkpoint: '' } }, 'run-1'), data);
    for (const bad of [
      text.replace('{', '{ '),
      text.replace(LOG_LEAF_FORMAT, 'countersign/log-leaf/v2'),
      text.replace('"runId":"run-1"', '"runId":""'),
      text.replace(/"bundleDigest":"[0-9a-f]{64}"/, '"bundleDigest":"00"'),
      text.replace('}', ',"extra":1}'),
      '[]',
      'null',
    ]) {
      assert.equal(parseLogLeaf(utf8ToBytes(bad)), undefined, bad);
    }
    assert.equal(parseLogLeaf(new Uint8Array([0xff, 0xfe])), undefined);
    assert.throws(() => logLeafData({ workflowId: 'w', runId: 'r', requestId: 'q', bundleDigest: 'nope' }), TypeError);
  });
});

describe('a bundle in the log', () => {
  const log = logOf(5);
  const bundle = sealed(3);
  const proved = (): EvidenceBundle => ({ ...bundle, log: bundleLogProof({ runId: runOf(3), index: 2, treeSize: 5, checkpoint: log.latest }, log.hashes()) });

  test('verifies intact and in the log; the proof leaves the signature as it was', () => {
    const plain = verifyBundle(bundle, { publicKey: layer.publicKey });
    assert.ok(plain.ok && plain.log === undefined, JSON.stringify(plain));
    const result = verifyBundle(proved(), { publicKey: layer.publicKey });
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.log, { origin: logOrigin(layer.publicKey), index: 2, treeSize: 5 });
    assert.equal(result.checks.at(-1), `in log ${logOrigin(layer.publicKey)}: leaf 2 of 5, under a checkpoint signed by the same key`);
  });

  test('any change to the log proof, or a checkpoint by another key, breaks it at the log link', () => {
    const flip = (hex: string) => (hex[0] === 'a' ? 'b' : 'a') + hex.slice(1);
    const cases: [string, (b: EvidenceBundle) => void][] = [
      ['index', (b) => (b.log!.index = 1)],
      ['index out of the tree', (b) => (b.log!.index = 5)],
      ['tree size', (b) => (b.log!.treeSize = 6)],
      ['run id', (b) => (b.log!.runId = 'run-4')],
      ['an inclusion hash', (b) => (b.log!.inclusion[1] = flip(b.log!.inclusion[1]!))],
      ['an inclusion hash dropped', (b) => b.log!.inclusion.pop()],
      ['uppercase hex', (b) => (b.log!.inclusion[0] = b.log!.inclusion[0]!.toUpperCase())],
      ['the checkpoint', (b) => (b.log!.checkpoint = b.log!.checkpoint.replace('\n5\n', '\n6\n'))],
      ['an older checkpoint', (b) => (b.log!.checkpoint = log.checkpoints[4]!)],
      ['a checkpoint by another key', (b) => (b.log!.checkpoint = signCheckpoint({ size: 5, root: frontierRoot(log.hashes().reduce(appendLeaf, EMPTY_FRONTIER)) }, impostor))],
      ['not an object', (b) => ((b as { log: unknown }).log = 'in the log, trust me')],
      ['the bundle itself (another payload, re-signed)', (b) => Object.assign(b, sealed(3, layer, 31), { log: b.log })],
    ];
    for (const [what, change] of cases) {
      const copy = JSON.parse(JSON.stringify(proved())) as EvidenceBundle;
      change(copy);
      const result = verifyBundle(copy, { publicKey: layer.publicKey });
      assert.ok(!result.ok && result.link === 'log', `${what}: ${JSON.stringify(result)}`);
    }
  });
});

describe('log audit', () => {
  test('an untouched log passes, and its new checkpoint extends the saved one', async () => {
    const log = logOf(4);
    const saved = log.latest;
    for (let n = 5; n <= 11; n++) log.append(sealed(n), runOf(n));
    const report = await auditLog(log.sources(saved));
    assert.deepEqual(report.findings, []);
    assert.equal(report.ok, true);
    assert.equal(report.leaves, 11);
    assert.equal(report.keep, log.latest);
    assert.equal(report.checkpoint?.size, 11);
    // First audit, nothing saved: trust on first use.
    const first = await auditLog(log.sources());
    assert.equal(first.ok, true);
    assert.equal(first.keep, log.latest);
    // The empty log, and the same checkpoint saved and served.
    assert.equal((await auditLog(new MemoryLog().sources())).ok, true);
    assert.equal((await auditLog(log.sources(log.latest))).ok, true);
  });

  test('a bundle deleted from the store is found, naming its request', async () => {
    const log = logOf(6);
    const gone = sealed(4);
    log.bundles.delete(key(gone.workflowId, runOf(4)));
    const report = await auditLog(log.sources(log.checkpoints[3]));
    assert.equal(report.ok, false);
    assert.deepEqual(report.findings.map((f) => [f.kind, f.index, f.request?.requestId]), [['missing-bundle', 3, gone.requestId]]);
    assert.match(report.findings[0]!.message, new RegExp(`request ${gone.requestId} \\(workflow ${gone.workflowId}, run run-4, leaf 3\\): its evidence bundle is missing from the store`));
    assert.equal(report.keep, log.latest, 'the log itself is consistent: its checkpoint can be kept');
  });

  test('a bundle replaced in the store is found, naming its request, whether or not it was re-signed', async () => {
    const log = logOf(6);
    const forged = sealed(2);
    (forged.request.payload as { amount: number }).amount = 1_000_000; // edited without the key
    log.bundles.set(key(forged.workflowId, runOf(2)), forged);
    const resigned = sealed(5, layer, 999); // another bundle for the same request, signed by the layer key
    log.bundles.set(key(resigned.workflowId, runOf(5)), resigned);
    const report = await auditLog(log.sources(log.checkpoints[2]));
    assert.equal(report.ok, false);
    assert.deepEqual(report.findings.map((f) => [f.kind, f.index, f.request?.requestId]), [['altered-bundle', 1, forged.requestId], ['altered-bundle', 4, resigned.requestId]]);
    assert.match(report.findings[0]!.message, /request 0000000000000002 .*: its evidence bundle does not verify \(at request: the request does not match its digest\)/);
    assert.match(report.findings[1]!.message, /request 0000000000000005 .*: the store holds another bundle than the one the log recorded/);
  });

  test('a truncated log is found against the saved checkpoint, and the saved one is kept', async () => {
    const log = logOf(9);
    const saved = log.latest;
    // Leaves 7 and 8 removed, and the log rolled back to its checkpoint of 7: validly signed, but older.
    log.leaves.splice(7);
    const report = await auditLog(log.sources(saved, () => log.checkpoints[7]!));
    assert.deepEqual(report.findings.map((f) => f.kind), ['truncated']);
    assert.match(report.findings[0]!.message, /the log was truncated: it now signs 7 leaves, the checkpoint you saved signs 9 \(leaves 7\.\.8 are gone\)/);
    assert.equal(report.keep, saved);
    // The leaves removed but the latest checkpoint still served: the leaves no longer make its tree.
    const cut = await auditLog(log.sources(saved));
    assert.deepEqual(cut.findings.map((f) => f.kind), ['leaves']);
    assert.match(cut.findings[0]!.message, /serves 7 leaves, its checkpoint signs 9: leaves 7\.\.8 are missing/);
    assert.equal(cut.keep, saved);
  });

  test('a fork is found: two signed checkpoints of one size with different roots, or a tree that does not extend the saved one', async () => {
    const honest = logOf(6);
    const saved = honest.latest;
    // The operator rebuilds the log without request 3 and with another in its place, and signs it.
    const rebuilt = new MemoryLog();
    for (const n of [1, 2, 4, 5, 6, 7]) rebuilt.append(sealed(n), runOf(n));
    const sameSize = await auditLog(rebuilt.sources(saved));
    assert.deepEqual(sameSize.findings.map((f) => f.kind), ['fork']);
    assert.match(sameSize.findings[0]!.message, /the log forked: two checkpoints of 6 leaves signed by this key have different roots/);
    assert.equal(sameSize.keep, saved);
    // Grown past the saved size, but not from it: the consistency proof cannot verify.
    rebuilt.append(sealed(8), runOf(8));
    const grown = await auditLog(rebuilt.sources(honest.checkpoints[3]));
    assert.deepEqual(grown.findings.map((f) => f.kind), ['fork']);
    assert.match(grown.findings[0]!.message, /its tree of 7 leaves is not an extension of the tree of 3 leaves you saved/);
  });

  test('a leaf rewritten to match a replaced bundle no longer hashes to the signed root', async () => {
    const log = logOf(5);
    const replaced = sealed(3, layer, 7);
    log.bundles.set(key(replaced.workflowId, runOf(3)), replaced);
    log.leaves[2] = leafFor(replaced, runOf(3));
    const report = await auditLog(log.sources());
    assert.deepEqual(report.findings.map((f) => f.kind), ['leaves']);
    assert.equal(report.keep, undefined, 'nothing verified to keep on a first audit of a broken log');
  });

  test("a checkpoint that is not the key's is refused before anything else", async () => {
    const log = logOf(3);
    const foreign = new MemoryLog();
    foreign.append(sealed(1, impostor), runOf(1), impostor);
    const served = await auditLog(log.sources(undefined, () => foreign.latest));
    assert.deepEqual(served.findings.map((f) => f.kind), ['bad-checkpoint']);
    assert.match(served.findings[0]!.message, /not signed by countersign\//);
    const savedForeign = await auditLog(log.sources(foreign.latest));
    assert.deepEqual(savedForeign.findings.map((f) => f.kind), ['bad-saved-checkpoint']);
    const junkLeaf = logOf(2);
    junkLeaf.leaves[1] = utf8ToBytes('not a leaf');
    assert.deepEqual((await auditLog(junkLeaf.sources())).findings.map((f) => f.kind), ['bad-leaf', 'leaves']);
  });
});
