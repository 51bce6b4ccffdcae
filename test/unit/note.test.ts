/**
 * C2SP signed notes and the log's checkpoints (common/tlog/note.ts, checkpoint.ts): Go's published
 * note vectors, a real signed checkpoint of the Go checksum database, and the strictness of parsing.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ed25519 } from '@noble/curves/ed25519.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { base64ToBytes, bytesToBase64 } from '../../common/base64';
import { keyId } from '../../common/signing';
import { formatCheckpoint, isLogCheckpoint, logOrigin, logVerifier, logVerifierKey, openCheckpoint, openLogCheckpoint, parseCheckpoint, signCheckpoint } from '../../common/tlog/checkpoint';
import { leafHash, type Hash } from '../../common/tlog/merkle';
import { formatVerifierKey, MAX_NOTE_BYTES, NoteError, noteKeyId, noteVerifier, openNote, parseVerifierKey, signNote, type NoteSigner } from '../../common/tlog/note';
import { newEd25519Key, signerFromKey } from '../../crypto/keys';
import { runs } from '../support/arbitraries';

/** golang.org/x/mod v0.43.0 sumdb/note/note_test.go (TestNewVerifier, TestSign, TestOpen) and example_test.go. */
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG = '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG = '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

/**
 * A signed checkpoint of the Go checksum database, as `go get` fetched it through the module proxy on
 * this machine (cached at $GOPATH/pkg/sumdb/sum.golang.org/latest), and its key as Go 1.26.8 ships it
 * (src/cmd/go/internal/modfetch/key.go). Its key name is not its origin: the origin predates C2SP.
 */
const SUMDB_VKEY = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8';
const SUMDB_CHECKPOINT = 'go.sum database tree\n72097574\nTN5X3MLGTDFnVRn7RF0+aSqn9MdPDdly11pPObF1Ti8=\n\n— sum.golang.org Az3grqWEGn3sDlsyQ9ppBk0lZ6N+PyvyN98h/w05RN0Kd0gEPt5lnWXQ0GU4cdmhWiTJp6w7TVjS+LEx1xKeKQ+9EAk=\n';

/** A note signer from a raw 32-byte Ed25519 seed, as note.NewSigner builds one from a PRIVATE+KEY string. */
function seedSigner(name: string, seed: Uint8Array): NoteSigner {
  return { name, publicKey: ed25519.getPublicKey(seed), sign: (text) => ed25519.sign(utf8ToBytes(text), seed) };
}
const peterSeed = base64ToBytes(PETER_SKEY.split('+').slice(4).join('+')).slice(1);

const refused = (fn: () => unknown, pattern?: RegExp) => assert.throws(fn, (err: unknown) => err instanceof NoteError && (!pattern || pattern.test(err.message)));

describe('signed notes (Go sumdb/note vectors)', () => {
  test('verifier keys: Go\'s key parses, its key id is recomputed, and every mangling of it is refused', () => {
    const peter = parseVerifierKey(PETER_VKEY);
    assert.equal(peter.name, 'PeterNeumann');
    assert.equal(peter.keyId, 0xc74f20a3);
    assert.equal(noteKeyId('PeterNeumann', peter.publicKey), 0xc74f20a3);
    assert.equal(formatVerifierKey(peter), PETER_VKEY);
    assert.deepEqual(ed25519.getPublicKey(peterSeed), peter.publicKey, 'the PRIVATE+KEY vector holds the seed of this public key');
    // TestNewVerifier: every strict substring and every byte incremented by one is refused.
    for (let i = 0; i <= PETER_VKEY.length; i++) for (let j = i + 1; j <= PETER_VKEY.length; j++) if (i !== 0 || j !== PETER_VKEY.length) refused(() => parseVerifierKey(PETER_VKEY.slice(i, j)));
    for (let i = 0; i < PETER_VKEY.length; i++) refused(() => parseVerifierKey(PETER_VKEY.slice(0, i) + String.fromCharCode(PETER_VKEY.charCodeAt(i) + 1) + PETER_VKEY.slice(i + 1)));
    refused(() => parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='), /Ed25519/); // wrong key length
    refused(() => parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'), /Ed25519/); // unknown algorithm
  });

  test('signing: the exact note Go\'s TestSign expects', () => {
    assert.equal(signNote(TEXT, seedSigner('PeterNeumann', peterSeed)), `${TEXT}\n${PETER_SIG}`);
    refused(() => signNote('abc', seedSigner('PeterNeumann', peterSeed)), /newline/);
    refused(() => signNote(TEXT, seedSigner('bad name', peterSeed)), /key name/);
  });

  test('opening: Go\'s TestOpen cases, with one signature required by the expected key', () => {
    const [peter, enoch] = [parseVerifierKey(PETER_VKEY), parseVerifierKey(ENOCH_VKEY)];
    const both = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
    assert.deepEqual(openNote(both, peter), { text: TEXT, others: [{ name: 'EnochRoot', keyId: 0xaf0cfe78 }] });
    assert.deepEqual(openNote(both, enoch), { text: TEXT, others: [{ name: 'PeterNeumann', keyId: 0xc74f20a3 }] });
    refused(() => openNote(`${TEXT}\n${ENOCH_SIG}`, peter), /not signed by PeterNeumann \(key id c74f20a3\)/);
    refused(() => openNote(`${TEXT}\n${PETER_SIG.repeat(101)}`, peter), /more than 100 signatures/);
    refused(() => openNote(`${TEXT}\n${PETER_SIG.slice(0, 60)}ABCD${PETER_SIG.slice(60)}`, peter), /does not verify/);
    // Go drops a repeated signature by one key; we refuse the note (a log never writes two).
    refused(() => openNote(`${TEXT}\n${PETER_SIG}${PETER_SIG}`, peter), /more than one signature by PeterNeumann/);
    const malformed = [
      TEXT,
      `${TEXT}\n`,
      `${TEXT}\n${PETER_SIG.slice(0, -1)}`,
      `\u0001${TEXT}\n${PETER_SIG}`,
      `\ud800${TEXT}\n${PETER_SIG}`, // Go's "\xff": not UTF-8; a string's equivalent is a lone surrogate
      `${TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=`,
      `${TEXT}\n${PETER_SIG}Unexpected line.\n`,
    ];
    for (const note of malformed) refused(() => openNote(note, peter));
    // A signature under another name, or another key id, is another key's: ignored, so this note has none of Peter's.
    refused(() => openNote(`${TEXT}\n${PETER_SIG.replace('PeterNeumann', 'CarmenSandiego')}`, peter), /not signed by/);
    refused(() => openNote(`${TEXT}\n${PETER_SIG.replace('x08g', 'xxxx')}`, peter), /not signed by/);
  });

  test('a real checkpoint of the Go checksum database opens with its published key', () => {
    const sumdb = parseVerifierKey(SUMDB_VKEY);
    const checkpoint = openCheckpoint(SUMDB_CHECKPOINT, sumdb, 'go.sum database tree');
    assert.equal(checkpoint.size, 72097574);
    assert.equal(bytesToBase64(checkpoint.root), 'TN5X3MLGTDFnVRn7RF0+aSqn9MdPDdly11pPObF1Ti8=');
    assert.equal(formatCheckpoint(checkpoint), SUMDB_CHECKPOINT.slice(0, SUMDB_CHECKPOINT.indexOf('\n\n') + 1));
    refused(() => openCheckpoint(SUMDB_CHECKPOINT.replace('72097574', '72097573'), sumdb, 'go.sum database tree'), /does not verify/);
    refused(() => openCheckpoint(SUMDB_CHECKPOINT, sumdb, 'countersign/0123456789abcdef'), /of log "go.sum database tree"/);
    // Go's sumdb/tlog note_test.go TestFormatTree: the tree note of RecordHash("hello world") at 123456789012.
    assert.equal(
      formatCheckpoint({ origin: 'go.sum database tree', size: 123456789012, root: leafHash(utf8ToBytes('hello world')), extensions: [] }),
      'go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n',
    );
  });
});

describe("the log's checkpoints", () => {
  const seed = new Uint8Array(32).map((_, i) => i + 1);
  const publicKey = bytesToBase64(ed25519.getPublicKey(seed));
  // The layer's Signer over a key with a known seed (PKCS#8 wrapping of the raw seed).
  const layer = signerFromKey(createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]), format: 'der', type: 'pkcs8' }));
  const root = leafHash(utf8ToBytes('a leaf'));

  test('origin and key name are countersign/<layer key id>; the verifier key is in note form', () => {
    assert.equal(layer.publicKey, publicKey);
    assert.equal(logOrigin(publicKey), `countersign/${keyId(publicKey)}`);
    const vkey = logVerifierKey(publicKey);
    assert.match(vkey, /^countersign\/[0-9a-f]{16}\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    assert.deepEqual(parseVerifierKey(vkey), logVerifier(publicKey));
  });

  test('the layer key signs a checkpoint exactly as note.Sign does, and it opens', () => {
    const note = signCheckpoint({ size: 7, root }, layer);
    const text = `${logOrigin(publicKey)}\n7\n${bytesToBase64(root)}\n`;
    assert.equal(note, signNote(text, seedSigner(logOrigin(publicKey), seed)), 'Ed25519 is deterministic: the same bytes as a reference signer');
    const opened = openLogCheckpoint(note, publicKey);
    assert.deepEqual({ origin: opened.origin, size: opened.size, root: bytesToBase64(opened.root), extensions: opened.extensions }, { origin: logOrigin(publicKey), size: 7, root: bytesToBase64(root), extensions: [] });
  });

  test('the layer key refuses to sign as a note anything but a checkpoint of its own log', () => {
    const text = formatCheckpoint({ origin: logOrigin(publicKey), size: 1, root, extensions: [] });
    assert.equal(layer.signCheckpoint(text).length, 64);
    assert.equal(isLogCheckpoint(text, publicKey), true);
    const other = bytesToBase64(ed25519.getPublicKey(new Uint8Array(32).fill(9)));
    for (const bad of [
      '{"content":{},"domain":"countersign/evidence-bundle/v1"}',
      formatCheckpoint({ origin: logOrigin(other), size: 1, root, extensions: [] }),
      formatCheckpoint({ origin: 'go.sum database tree', size: 1, root, extensions: [] }),
      text.slice(0, -1),
      `${text}\n`,
      text.replace('\n1\n', '\n01\n'),
    ]) {
      assert.equal(isLogCheckpoint(bad, publicKey), false, JSON.stringify(bad));
      assert.throws(() => layer.signCheckpoint(bad), /only checkpoints of its own log/, JSON.stringify(bad));
    }
  });

  test('a checkpoint is refused when altered, signed by another key, of another log, or signed twice', () => {
    const note = signCheckpoint({ size: 7, root }, layer);
    refused(() => openLogCheckpoint(note.replace('\n7\n', '\n8\n'), publicKey), /does not verify/);
    refused(() => openLogCheckpoint(note.replace(bytesToBase64(root), bytesToBase64(leafHash(new Uint8Array(0)))), publicKey), /does not verify/);
    const impostor = signerFromKey(newEd25519Key());
    refused(() => openLogCheckpoint(signCheckpoint({ size: 7, root }, impostor), publicKey), /not signed by countersign\//);
    // Signed by the right key, under its key name, but naming another origin.
    const foreign = signNote(`example.com/log\n7\n${bytesToBase64(root)}\n`, seedSigner(logOrigin(publicKey), seed));
    refused(() => openLogCheckpoint(foreign, publicKey), /of log "example.com\/log", not "countersign\//);
    const signature = note.slice(note.indexOf('\n\n') + 2);
    refused(() => openLogCheckpoint(note + signature, publicKey), /more than one signature/);
    // A witness's cosignature (another key) is ignored, as the spec requires.
    const witness = `— witness.example/w ${bytesToBase64(new Uint8Array(72).fill(4))}\n`;
    assert.equal(openLogCheckpoint(note + witness, publicKey).size, 7);
    refused(() => openLogCheckpoint(note, 'not a key'), /32-byte Ed25519/);
  });

  test('checkpoint bodies are parsed strictly', () => {
    const origin = logOrigin(publicKey);
    const r = bytesToBase64(root);
    assert.deepEqual(parseCheckpoint(`${origin}\n0\n${r}\nextension one\n`).extensions, ['extension one']);
    assert.equal(parseCheckpoint(`${origin}\n9007199254740991\n${r}\n`).size, Number.MAX_SAFE_INTEGER);
    for (const bad of [
      `${origin}\n7\n${r}`, // no final newline
      `${origin}\n7\n`, // no root
      `\n7\n${r}\n`, // empty origin
      `${origin}\n07\n${r}\n`, // leading zero
      `${origin}\n+7\n${r}\n`,
      `${origin}\n 7\n${r}\n`,
      `${origin}\n-1\n${r}\n`,
      `${origin}\n9007199254740992\n${r}\n`, // 2^53: not exact
      `${origin}\n7\n${r.slice(0, -2)}==\n`, // not the base64 of 32 bytes
      `${origin}\n7\n${r.slice(0, 42)}B=\n`, // non-canonical trailing bits
      `${origin}\n7\n${r}\n\nafter a blank line\n`,
      `${origin}\t\n7\n${r}\n`,
    ]) {
      refused(() => parseCheckpoint(bad), undefined);
    }
    refused(() => openNote(`${'x'.repeat(MAX_NOTE_BYTES)}\n\n— a AAAAAAA=\n`, logVerifier(publicKey)), /larger than/);
  });

  test('any single character changed in a signed checkpoint is refused or leaves it unchanged (fast-check)', () => {
    const note = signCheckpoint({ size: 12345, root }, layer);
    const original = openLogCheckpoint(note, publicKey);
    fc.assert(
      fc.property(fc.nat(note.length - 1), fc.integer({ min: 1, max: 0xffff }), (at, code) => {
        const changed = note.slice(0, at) + String.fromCharCode((note.charCodeAt(at) + code) % 0x10000) + note.slice(at + 1);
        let opened: ReturnType<typeof openLogCheckpoint> | undefined;
        try {
          opened = openLogCheckpoint(changed, publicKey);
        } catch (err) {
          assert.ok(err instanceof NoteError, String(err));
          return;
        }
        // Only a change in the signature lines' unsigned parts could survive; the tree never changes.
        assert.equal(opened.size, original.size);
        assert.equal(bytesToBase64(opened.root as Hash), bytesToBase64(original.root));
      }),
      runs(500),
    );
  });

  test('a note signer from Go\'s vector verifies as its vkey says', () => {
    const signer = seedSigner('PeterNeumann', peterSeed);
    assert.deepEqual(noteVerifier(signer.name, signer.publicKey), parseVerifierKey(PETER_VKEY));
  });
});
