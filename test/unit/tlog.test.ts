/**
 * The log's Merkle tree (common/tlog/merkle.ts) against published vectors, an RFC-literal reference,
 * random trees, and Go's golang.org/x/mod/sumdb/tlog and sumdb/note run on what this code produced.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { sha256 } from '@noble/hashes/sha2.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64ToBytes, bytesToBase64 } from '../../common/base64';
import { logVerifierKey, signCheckpoint } from '../../common/tlog/checkpoint';
import {
  appendLeaf,
  consistencyProof,
  consistencyRanges,
  EMPTY_FRONTIER,
  EMPTY_ROOT,
  frontierOf,
  frontierRoot,
  inclusionProof,
  inclusionRanges,
  leafHash,
  MAX_PROOF_LENGTH,
  nodeHash,
  rootHash,
  toHex,
  treeHash,
  verifyConsistency,
  verifyInclusion,
  type Hash,
} from '../../common/tlog/merkle';
import { MerkleSubtrees } from '../../common/tlog/subtrees';
import { newEd25519Key, signerFromKey } from '../../crypto/keys';
import { runs } from '../support/arbitraries';

/** Stored subtrees of these leaf hashes, appended in order. */
function subtreesOf(leaves: readonly Uint8Array[]): MerkleSubtrees {
  const tree = new MerkleSubtrees();
  for (const leaf of leaves) tree.append(leaf);
  return tree;
}

const hx = (hex: string) => hexToBytes(hex);
const hexes = (proof: Hash[]) => proof.map(toHex);

/**
 * RFC 6962 reference vectors, as transparency-dev/merkle v0.0.2 publishes them (the successor of
 * certificate-transparency-go's merkle package): testonly/constants.go (LeafInputs, RootHashes),
 * proof/verify_test.go (inclusionProofs, consistencyProofs; its leaf numbers there are 1-based) and
 * testonly/reference_test.go (TestRefInclusionProof, TestRefConsistencyProof).
 */
const LEAF_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(hx);
const LEAVES = LEAF_INPUTS.map(leafHash);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION: { index: number; size: number; proof: string[] }[] = [
  { index: 0, size: 1, proof: [] },
  { index: 0, size: 2, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7'] },
  { index: 1, size: 2, proof: ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'] },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  { index: 1, size: 5, proof: ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
  { index: 0, size: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { index: 5, size: 8, proof: ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
];
const CONSISTENCY: { from: number; to: number; proof: string[] }[] = [
  { from: 1, to: 1, proof: [] },
  { from: 1, to: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { from: 6, to: 8, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
  { from: 2, to: 5, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
  { from: 6, to: 7, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
];

/** RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 written out as the RFC defines them: recursive, on lists. */
const reference = {
  mth(leaves: readonly Hash[]): Hash {
    if (leaves.length === 0) return EMPTY_ROOT;
    if (leaves.length === 1) return leaves[0]!;
    const k = 2 ** Math.ceil(Math.log2(leaves.length) - 1);
    return nodeHash(reference.mth(leaves.slice(0, k)), reference.mth(leaves.slice(k)));
  },
  path(m: number, leaves: readonly Hash[]): Hash[] {
    if (leaves.length <= 1) return [];
    const k = 2 ** Math.ceil(Math.log2(leaves.length) - 1);
    return m < k ? [...reference.path(m, leaves.slice(0, k)), reference.mth(leaves.slice(k))] : [...reference.path(m - k, leaves.slice(k)), reference.mth(leaves.slice(0, k))];
  },
  subproof(m: number, leaves: readonly Hash[], b: boolean): Hash[] {
    const n = leaves.length;
    if (m === n) return b ? [] : [reference.mth(leaves)];
    const k = 2 ** Math.ceil(Math.log2(n) - 1);
    return m <= k ? [...reference.subproof(m, leaves.slice(0, k), b), reference.mth(leaves.slice(k))] : [...reference.subproof(m - k, leaves.slice(k), false), reference.mth(leaves.slice(0, k))];
  },
};

const leavesOf = (n: number) => Array.from({ length: n }, (_, i) => leafHash(utf8ToBytes(`leaf ${i}`)));
const flipped = (hash: Hash, byte: number, bit = 1) => {
  const copy = new Uint8Array(hash);
  copy[byte] = copy[byte]! ^ bit;
  return copy;
};

describe('published vectors', () => {
  test('leaf and tree hashes: the RFC 6962 reference leaves (transparency-dev/merkle testonly/constants.go)', () => {
    for (let n = 0; n <= 8; n++) assert.equal(toHex(rootHash(n, LEAVES)), ROOTS[n], `root of ${n} leaves`);
    // Go's sumdb/tlog tlog_test.go TestEmptyTree: the empty tree's hash is SHA-256 of nothing.
    assert.equal(toHex(EMPTY_ROOT), toHex(sha256(new Uint8Array(0))));
    // Go's sumdb/tlog note_test.go TestFormatTree: RecordHash("hello world").
    assert.equal(bytesToBase64(leafHash(utf8ToBytes('hello world'))), 'TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=');
  });

  test('inclusion proofs: generated equal to, and verified against, the published ones', () => {
    for (const v of INCLUSION) {
      assert.deepEqual(hexes(inclusionProof(v.index, v.size, LEAVES)), v.proof, `leaf ${v.index} of ${v.size}`);
      assert.deepEqual(hexes(inclusionProof(v.index, v.size, subtreesOf(LEAVES.slice(0, v.size)))), v.proof, `leaf ${v.index} of ${v.size}, from stored subtrees`);
      assert.equal(verifyInclusion(LEAVES[v.index]!, v.index, v.size, v.proof.map(hx), hx(ROOTS[v.size]!)), true, `leaf ${v.index} of ${v.size}`);
    }
  });

  test('consistency proofs: generated equal to, and verified against, the published ones', () => {
    for (const v of CONSISTENCY) {
      assert.deepEqual(hexes(consistencyProof(v.from, v.to, LEAVES)), v.proof, `${v.from} -> ${v.to}`);
      assert.deepEqual(hexes(consistencyProof(v.from, v.to, subtreesOf(LEAVES.slice(0, v.to)))), v.proof, `${v.from} -> ${v.to}, from stored subtrees`);
      assert.equal(verifyConsistency(v.from, v.to, v.proof.map(hx), hx(ROOTS[v.from]!), hx(ROOTS[v.to]!)), true, `${v.from} -> ${v.to}`);
    }
  });

  test('a real Certificate Transparency log: Argon 2020 at 961,984,013 leaves (Go sumdb/tlog ct_test.go)', () => {
    const ct = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'ct-argon2020.json'), 'utf8')) as {
      treeSize: number; root: string; leafIndex: number; leafInput: string; auditPath: string[]; consistencyFrom: number; consistencyFromRoot: string; consistency: string[];
    };
    const root = base64ToBytes(ct.root);
    const leaf = leafHash(base64ToBytes(ct.leafInput));
    const path = ct.auditPath.map(base64ToBytes);
    assert.equal(verifyInclusion(leaf, ct.leafIndex, ct.treeSize, path, root), true);
    assert.equal(verifyConsistency(ct.consistencyFrom, ct.treeSize, ct.consistency.map(base64ToBytes), base64ToBytes(ct.consistencyFromRoot), root), true);
    // And not for a neighbouring leaf, size or root.
    assert.equal(verifyInclusion(leaf, ct.leafIndex + 1, ct.treeSize, path, root), false);
    assert.equal(verifyInclusion(leaf, ct.leafIndex, ct.treeSize * 2, path, root), false);
    assert.equal(verifyConsistency(ct.consistencyFrom + 1, ct.treeSize, ct.consistency.map(base64ToBytes), base64ToBytes(ct.consistencyFromRoot), root), false);
    assert.equal(verifyConsistency(ct.consistencyFrom, ct.treeSize, ct.consistency.map(base64ToBytes), base64ToBytes(ct.consistencyFromRoot), flipped(root, 31)), false);
  });

  test('the mutations transparency-dev/merkle proof/verify_test.go tries are all refused', () => {
    const v = INCLUSION[6]!;
    const [proof, root, leaf] = [v.proof.map(hx), hx(ROOTS[v.size]!), LEAVES[v.index]!];
    const probes: [string, boolean][] = [
      ['index - 1', verifyInclusion(leaf, v.index - 1, v.size, proof, root)],
      ['index + 1', verifyInclusion(leaf, v.index + 1, v.size, proof, root)],
      ['index ^ 2', verifyInclusion(leaf, v.index ^ 2, v.size, proof, root)],
      ['size * 2', verifyInclusion(leaf, v.index, v.size * 2, proof, root)],
      ['size / 2', verifyInclusion(leaf, v.index, v.size / 2, proof, root)],
      ['wrong leaf', verifyInclusion(leafHash(utf8ToBytes('WrongLeaf')), v.index, v.size, proof, root)],
      ['empty root', verifyInclusion(leaf, v.index, v.size, proof, EMPTY_ROOT)],
      ['trailing root', verifyInclusion(leaf, v.index, v.size, [...proof, root], root)],
      ['preceding root', verifyInclusion(leaf, v.index, v.size, [root, ...proof], root)],
      ['removed component', verifyInclusion(leaf, v.index, v.size, proof.slice(0, -1), root)],
      ['trailing garbage', verifyInclusion(leaf, v.index, v.size, [...proof, new Uint8Array(0)], root)],
    ];
    for (const [what, ok] of probes) assert.equal(ok, false, what);
    const c = CONSISTENCY[2]!;
    const [cp, r1, r2] = [c.proof.map(hx), hx(ROOTS[c.from]!), hx(ROOTS[c.to]!)];
    const consistency: [string, boolean][] = [
      ['size1 - 1', verifyConsistency(c.from - 1, c.to, cp, r1, r2)],
      ['size1 + 1', verifyConsistency(c.from + 1, c.to, cp, r1, r2)],
      ['size1 ^ 2', verifyConsistency(c.from ^ 2, c.to, cp, r1, r2)],
      ['size2 * 2', verifyConsistency(c.from, c.to * 2, cp, r1, r2)],
      ['size2 / 2', verifyConsistency(c.from, c.to / 2, cp, r1, r2)],
      ['swapped roots', verifyConsistency(c.from, c.to, cp, r2, r1)],
      ['empty proof', verifyConsistency(c.from, c.to, [], r1, r2)],
      ['trailing root1', verifyConsistency(c.from, c.to, [...cp, r1], r1, r2)],
      ['preceding root2', verifyConsistency(c.from, c.to, [r2, ...cp], r1, r2)],
      ['removed component', verifyConsistency(c.from, c.to, cp.slice(1), r1, r2)],
    ];
    for (const [what, ok] of consistency) assert.equal(ok, false, what);
  });
});

describe('bounds', () => {
  test('sizes and indexes are non-negative safe integers, indexes below the size, proofs at most 64 hashes', () => {
    const root = hx(ROOTS[8]!);
    for (const [index, size] of [[-1, 8], [8, 8], [0, 0], [0.5, 8], [0, 8.5], [0, Number.MAX_SAFE_INTEGER + 1], [Number.NaN, 8], [0, Infinity]]) {
      assert.equal(verifyInclusion(LEAVES[0]!, index!, size!, inclusionProof(0, 8, LEAVES), root), false, `${index} of ${size}`);
    }
    for (const [index, size] of [[-1, 8], [8, 8], [0, 0], [0.5, 8], [1, 2 ** 60]]) assert.throws(() => inclusionRanges(index!, size!), RangeError);
    for (const [from, to] of [[3, 2], [-1, 3], [1, 1.5], [2 ** 54, 2 ** 55]]) assert.throws(() => consistencyRanges(from!, to!), RangeError);
    assert.equal(verifyInclusion(LEAVES[0]!, 0, 2 ** 53 - 1, Array.from({ length: MAX_PROOF_LENGTH + 1 }, () => root), root), false);
    assert.equal(verifyConsistency(1, 2 ** 53 - 1, Array.from({ length: MAX_PROOF_LENGTH + 1 }, () => root), root, root), false);
    assert.equal(verifyInclusion(LEAVES[0]!, 0, 8, [new Uint8Array(31), ...inclusionProof(0, 8, LEAVES).slice(1)], root), false);
    assert.throws(() => rootHash(9, LEAVES), RangeError, 'a reader must give as many hashes as asked');
    assert.throws(() => rootHash(2, () => [LEAVES[0]!, new Uint8Array(31)]), RangeError);
    assert.throws(() => appendLeaf({ size: 3, hashes: [LEAVES[0]!] }, LEAVES[1]!), RangeError, 'a frontier of 3 leaves has two subtrees');
  });

  test('the largest trees keep exact sizes, and a proof reads each leaf at most once', () => {
    const size = Number.MAX_SAFE_INTEGER;
    const disjoint = (ranges: { start: number; end: number }[]) => {
      const sorted = [...ranges].sort((a, b) => a.start - b.start);
      return sorted.every((r, i) => Number.isSafeInteger(r.start) && r.start < r.end && r.end <= size && (i === 0 || sorted[i - 1]!.end <= r.start));
    };
    const width = (ranges: { start: number; end: number }[]) => ranges.reduce((sum, r) => sum + (r.end - r.start), 0);
    for (const index of [0, 1, 2 ** 52, size - 2, size - 1]) {
      const path = inclusionRanges(index, size);
      assert.ok(path.length <= 53 && disjoint(path), `leaf ${index}`);
      // The siblings on the path cover every leaf but the one proven, exactly once.
      assert.equal(width(path), size - 1, `leaf ${index}`);
      assert.ok(!path.some((r) => r.start <= index && index < r.end));
    }
    for (const from of [1, 2 ** 52, 2 ** 52 + 1, size - 1]) {
      const path = consistencyRanges(from, size);
      assert.ok(path.length <= 2 * 53 && disjoint(path), `from ${from}`);
    }
  });
});

describe('random trees (fast-check)', () => {
  const MAX = 130;
  const all = leavesOf(MAX);

  test('the frontier, the tree hash and the RFC-literal MTH agree at every size', () => {
    let frontier = EMPTY_FRONTIER;
    for (let n = 0; n <= MAX; n++) {
      const want = reference.mth(all.slice(0, n));
      assert.equal(toHex(frontierRoot(frontier)), toHex(want), `frontier of ${n}`);
      assert.equal(toHex(treeHash(all.slice(0, n))), toHex(want), `tree hash of ${n}`);
      assert.deepEqual(frontierOf(all.slice(0, n)), frontier, `frontier rebuilt from ${n} leaves`);
      if (n < MAX) frontier = appendLeaf(frontier, all[n]!);
    }
  });

  test('stored subtrees, appended one leaf at a time, give every root and every proof the leaves give, at every size', () => {
    const tree = new MerkleSubtrees();
    for (let n = 1; n <= MAX; n++) {
      tree.append(all[n - 1]!);
      assert.equal(toHex(tree.rangeHash(0, n)), toHex(reference.mth(all.slice(0, n))), `root of ${n}`);
      for (let index = 0; index < n; index++) assert.deepEqual(hexes(inclusionProof(index, n, tree)), hexes(inclusionProof(index, n, all)), `leaf ${index} of ${n}`);
      for (let from = 0; from <= n; from++) assert.deepEqual(hexes(consistencyProof(from, n, tree)), hexes(consistencyProof(from, n, all)), `${from} -> ${n}`);
    }
    assert.throws(() => tree.rangeHash(0, MAX + 1), RangeError, 'no subtree past what is appended');
    assert.throws(() => inclusionProof(0, MAX + 1, tree), RangeError);
  });

  test('every inclusion proof equals PATH, verifies, and fails with any one bit flipped or a wrong index', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX }).chain((size) => fc.tuple(fc.constant(size), fc.nat(size - 1))), ([size, index]) => {
        const proof = inclusionProof(index, size, (start, end) => all.slice(start, end));
        const root = rootHash(size, all);
        assert.deepEqual(hexes(proof), hexes(reference.path(index, all.slice(0, size))));
        assert.equal(verifyInclusion(all[index]!, index, size, proof, root), true);
        for (let p = 0; p < proof.length; p++) for (let byte = 0; byte < 32; byte += 7) {
          assert.equal(verifyInclusion(all[index]!, index, size, proof.map((h, i) => (i === p ? flipped(h, byte) : h)), root), false);
        }
        for (let byte = 0; byte < 32; byte += 5) {
          assert.equal(verifyInclusion(flipped(all[index]!, byte, 0x80), index, size, proof, root), false);
          assert.equal(verifyInclusion(all[index]!, index, size, proof, flipped(root, byte, 0x80)), false);
        }
        for (const other of [index - 1, index + 1, size - 1 - index]) if (other >= 0 && other < size && other !== index) assert.equal(verifyInclusion(all[index]!, other, size, proof, root), false);
      }),
      runs(300),
    );
  });

  test('every consistency proof equals SUBPROOF, verifies, and fails with any one bit flipped or the wrong sizes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX }).chain((to) => fc.tuple(fc.integer({ min: 1, max: to }), fc.constant(to))), ([from, to]) => {
        const proof = consistencyProof(from, to, all);
        const [r1, r2] = [rootHash(from, all), rootHash(to, all)];
        assert.deepEqual(hexes(proof), from === to ? [] : hexes(reference.subproof(from, all.slice(0, to), true)));
        assert.equal(verifyConsistency(from, to, proof, r1, r2), true);
        for (let p = 0; p < proof.length; p++) for (let byte = 0; byte < 32; byte += 7) {
          assert.equal(verifyConsistency(from, to, proof.map((h, i) => (i === p ? flipped(h, byte) : h)), r1, r2), false);
        }
        for (let byte = 0; byte < 32; byte += 5) {
          assert.equal(verifyConsistency(from, to, proof, flipped(r1, byte, 0x80), r2), false);
          assert.equal(verifyConsistency(from, to, proof, r1, flipped(r2, byte, 0x80)), false);
        }
        if (from < to) {
          assert.equal(verifyConsistency(from, to, proof, r2, r1), false);
          if (from > 1) assert.equal(verifyConsistency(from - 1, to, proof, rootHash(from - 1, all), r2), false);
        }
      }),
      runs(300),
    );
  });

  test('the empty tree is a prefix of every tree; a tree is a prefix of itself only', () => {
    assert.equal(verifyConsistency(0, 5, [], EMPTY_ROOT, rootHash(5, all)), true);
    assert.equal(verifyConsistency(0, 5, [], rootHash(1, all), rootHash(5, all)), false, 'a size-0 checkpoint must carry the empty root');
    assert.equal(verifyConsistency(0, 5, [all[0]!], EMPTY_ROOT, rootHash(5, all)), false);
    assert.equal(verifyConsistency(5, 5, [], rootHash(5, all), rootHash(5, all)), true);
    assert.equal(verifyConsistency(5, 5, [], rootHash(5, all), rootHash(5, leavesOf(6).reverse())), false, 'same size, other root: a fork');
  });
});

const go = spawnSync('go', ['version'], { encoding: 'utf8' });

describe("Go's golang.org/x/mod/sumdb (test/go/tlogcheck)", () => {
  test('Go opens our signed checkpoint and agrees on every tree hash and proof', { skip: go.status === 0 ? false : 'go is not installed' }, () => {
    const SIZE = 48;
    const data = Array.from({ length: SIZE }, (_, i) => utf8ToBytes(`leaf ${i}`));
    const leaves = data.map(leafHash);
    const signer = signerFromKey(newEd25519Key());
    const checkpoint = signCheckpoint({ size: SIZE, root: rootHash(SIZE, leaves) }, signer);
    const b64 = (proof: Hash[]) => proof.map(bytesToBase64);
    const inclusion = [];
    const consistency = [];
    for (let size = 1; size <= SIZE; size++) {
      for (let index = 0; index < size; index++) inclusion.push({ index, size, proof: b64(inclusionProof(index, size, leaves)) });
      for (let from = 1; from <= size; from++) consistency.push({ from, to: size, proof: b64(consistencyProof(from, size, leaves)) });
    }
    const input = {
      vkey: logVerifierKey(signer.publicKey),
      checkpoint,
      leaves: data.map(bytesToBase64),
      roots: Array.from({ length: SIZE + 1 }, (_, n) => bytesToBase64(rootHash(n, leaves))),
      inclusion,
      consistency,
    };
    const run = spawnSync('go', ['run', '-buildvcs=false', '.'], { cwd: join(__dirname, '..', 'go', 'tlogcheck'), input: JSON.stringify(input), encoding: 'utf8', timeout: 300_000 });
    assert.equal(run.status, 0, `go run exited ${run.status}: ${run.stderr}`);
    assert.match(run.stdout, new RegExp(`note.Open: checkpoint signed by countersign/[0-9a-f]{16}\\+[0-9a-f]{8}: origin countersign/[0-9a-f]{16}, size ${SIZE}`));
    assert.match(run.stdout, new RegExp(`tlog.TreeHash: ${SIZE + 1} tree sizes`));
    assert.match(run.stdout, new RegExp(`tlog.CheckRecord: ${inclusion.length} inclusion proofs verify`));
    assert.match(run.stdout, new RegExp(`tlog.CheckTree: ${consistency.length} consistency proofs verify`));
  });
});
