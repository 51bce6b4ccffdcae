/**
 * C2SP signed notes (https://c2sp.org/signed-note, Go's golang.org/x/mod/sumdb/note) with Ed25519
 * keys: a text ending in a newline, a blank line, then lines `— <key name> <base64(key id ‖ signature)>`.
 * Pure. Opening is strict: bounded size, exact line structure, and exactly one signature by the
 * expected key, which must verify; signatures by other keys are ignored, as the spec requires.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64ToBytes, bytesToBase64 } from '../base64';
import { utf8Length } from '../canonical';

/** A note larger than this is refused unread (ours are about 200 bytes). */
export const MAX_NOTE_BYTES = 65_536;
/** As Go's note.Open: more signature lines than this are refused (the spec asks for at least 16). */
export const MAX_NOTE_SIGNATURES = 100;
/** The signature type byte of Ed25519 in a key id and a verifier key. */
export const ED25519_TYPE = 0x01;
const SIGNATURE_PREFIX = '\u2014 ';

export class NoteError extends Error {
  override name = 'NoteError';
}

/** Key names: non-empty, no Unicode space, no plus; well-formed Unicode, so they have a UTF-8 form. */
export function isKeyName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && !/[\s\u0085\p{Z}+]/u.test(name) && isWellFormed(name);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const isWellFormed = (text: string) => !LONE_SURROGATE.test(text);

/** Base64 as the spec has it (RFC 4648 §4, padded): only the one canonical spelling of each value. */
export function strictBase64(text: string): Uint8Array | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return undefined;
  const bytes = base64ToBytes(text);
  return bytesToBase64(bytes) === text ? bytes : undefined;
}

/** key id = the first 4 bytes, big-endian, of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key). */
export function noteKeyId(name: string, publicKey: Uint8Array): number {
  if (!isKeyName(name)) throw new NoteError(`${JSON.stringify(name)} is not a note key name (non-empty, no spaces, no plus)`);
  if (publicKey.length !== 32) throw new NoteError('an Ed25519 public key is 32 bytes');
  const digest = sha256(new Uint8Array([...utf8ToBytes(`${name}\n`), ED25519_TYPE, ...publicKey]));
  return ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0;
}

const keyIdBytes = (id: number) => new Uint8Array([id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff]);
const readKeyId = (bytes: Uint8Array) => ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;

/** A key that verifies notes: its name, its key id and its Ed25519 public key. */
export interface NoteVerifier {
  name: string;
  keyId: number;
  publicKey: Uint8Array;
}

export function noteVerifier(name: string, publicKey: Uint8Array): NoteVerifier {
  return { name, keyId: noteKeyId(name, publicKey), publicKey };
}

/** The verifier key as note tooling writes it: `<name>+<8 hex key id>+<base64(0x01 ‖ public key)>`. */
export function formatVerifierKey(verifier: NoteVerifier): string {
  return `${verifier.name}+${bytesToHex(keyIdBytes(verifier.keyId))}+${bytesToBase64(new Uint8Array([ED25519_TYPE, ...verifier.publicKey]))}`;
}

/** Parses a verifier key strictly: a valid name, 8 lowercase hex of the right key id, an Ed25519 key. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  const bad = (why: string) => new NoteError(`not a note verifier key (<name>+<key id>+<key>): ${why}`);
  // The key is base64, which may hold '+': only the first two split (as Go's strings.Cut does).
  const match = typeof vkey === 'string' ? /^([^+]*)\+([^+]*)\+(.*)$/s.exec(vkey) : null;
  const [, name, id, key] = match ?? [];
  if (!match || !isKeyName(name)) throw bad('expected a key name and two fields after it');
  if (!/^[0-9a-f]{8}$/.test(id!)) throw bad('the key id is 8 lowercase hex digits');
  const encoded = strictBase64(key!);
  if (!encoded || encoded.length !== 33 || encoded[0] !== ED25519_TYPE) throw bad('only Ed25519 keys (type 0x01, 32 bytes) are known here');
  const verifier = noteVerifier(name, encoded.slice(1));
  if (bytesToHex(keyIdBytes(verifier.keyId)) !== id) throw bad('the key id does not match the name and key');
  return verifier;
}

/** What a note's text may hold: UTF-8 text without control characters other than newline. */
export function assertNoteText(text: string, what: string): void {
  if (utf8Length(text) > MAX_NOTE_BYTES) throw new NoteError(`${what} is larger than ${MAX_NOTE_BYTES} bytes`);
  if (!isWellFormed(text)) throw new NoteError(`${what} is not well-formed Unicode`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new NoteError(`${what} holds a control character other than newline`);
}

/** Something that signs note text (its UTF-8 bytes) with an Ed25519 key: the layer's Signer, or a test key. */
export interface NoteSigner {
  name: string;
  publicKey: Uint8Array;
  sign(text: string): Uint8Array;
}

/** The signed note: the text, a blank line, one signature line (what note.Sign writes for one signer). */
export function signNote(text: string, signer: NoteSigner): string {
  assertNoteText(text, 'the note text');
  if (!text.endsWith('\n')) throw new NoteError('the note text must end with a newline');
  const id = noteKeyId(signer.name, signer.publicKey);
  const signature = signer.sign(text);
  if (signature.length !== 64) throw new NoteError('an Ed25519 signature is 64 bytes');
  return `${text}\n${SIGNATURE_PREFIX}${signer.name} ${bytesToBase64(new Uint8Array([...keyIdBytes(id), ...signature]))}\n`;
}

/** A signature line by a key other than the expected one: kept for the caller to see, never trusted. */
export interface OtherSignature {
  name: string;
  keyId: number;
}

/**
 * Opens a signed note: returns its text once exactly one signature line by `verifier` (same name and
 * key id) verifies over it. Throws NoteError for a malformed note, a second signature by that key,
 * a signature by it that does not verify, or none at all. Other keys' lines are returned, unverified.
 */
export function openNote(note: string, verifier: NoteVerifier): { text: string; others: OtherSignature[] } {
  if (typeof note !== 'string') throw new NoteError('a note is text');
  assertNoteText(note, 'the note');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed note: no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) throw new NoteError('malformed note: the signature lines must end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw new NoteError(`malformed note: more than ${MAX_NOTE_SIGNATURES} signatures`);
  const others: OtherSignature[] = [];
  let verified = false;
  for (const line of lines) {
    if (!line.startsWith(SIGNATURE_PREFIX)) throw new NoteError('malformed note: a signature line must start with an em dash and a space');
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = rest.slice(0, space);
    const raw = space < 0 ? undefined : strictBase64(rest.slice(space + 1));
    if (!isKeyName(name) || !raw || raw.length < 5) throw new NoteError('malformed note: a signature line is `— <key name> <base64 signature>`');
    const keyId = readKeyId(raw);
    // Same name and key id is the expected key; anything else is another key, ignored (c2sp.org/signed-note).
    if (name !== verifier.name || keyId !== verifier.keyId) {
      others.push({ name, keyId });
      continue;
    }
    if (verified) throw new NoteError(`the note carries more than one signature by ${name}`);
    const signature = raw.slice(4);
    if (signature.length !== 64 || !verifyStrict(signature, utf8ToBytes(text), verifier.publicKey)) {
      throw new NoteError(`the signature by ${name} does not verify`);
    }
    verified = true;
  }
  if (!verified) throw new NoteError(`the note is not signed by ${verifier.name} (key id ${bytesToHex(keyIdBytes(verifier.keyId))})`);
  return { text, others };
}

/** RFC 8032 verification without ZIP-215 leniency: only the signatures our signer makes pass. */
function verifyStrict(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
