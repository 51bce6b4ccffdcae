/**
 * Checkpoints of countersign's log in the C2SP tlog-checkpoint format (https://c2sp.org/tlog-checkpoint):
 * the note text `<origin>\n<tree size>\n<base64 root hash>\n`, signed as a C2SP signed note by the
 * layer key. The origin, which is also the key name, is `countersign/<layer key id>`: a verifier
 * that trusts a layer key knows which log it names without being told, two deployments' logs never
 * share one, and a new layer key starts a new log.
 */
import { base64ToBytes, bytesToBase64 } from '../base64';
import { keyId } from '../signing';
import { isHash, type Hash } from './merkle';
import { assertNoteText, formatVerifierKey, NoteError, noteVerifier, openNote, signNote, strictBase64, type NoteVerifier } from './note';

export interface Checkpoint {
  origin: string;
  size: number;
  root: Hash;
  /** Opaque extension lines after the root (the spec allows them; this log writes none). */
  extensions: string[];
}

/** The origin (and note key name) of the log the layer key with this public key (base64) signs. */
export function logOrigin(publicKey: string): string {
  return `countersign/${keyId(publicKey)}`;
}

function ed25519Key(publicKey: string): Uint8Array {
  let bytes: Uint8Array | undefined;
  try {
    bytes = base64ToBytes(publicKey);
  } catch {
    bytes = undefined;
  }
  if (bytes?.length !== 32) throw new NoteError('the layer key must be a 32-byte Ed25519 public key, base64');
  return bytes;
}

/** The note verifier of the layer key's log. */
export function logVerifier(publicKey: string): NoteVerifier {
  return noteVerifier(logOrigin(publicKey), ed25519Key(publicKey));
}

/** The layer key as note tooling takes it (`<name>+<key id>+<key>`), for Go's note.NewVerifier and the like. */
export function logVerifierKey(publicKey: string): string {
  return formatVerifierKey(logVerifier(publicKey));
}

export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, root, extensions } = checkpoint;
  if (!Number.isSafeInteger(size) || size < 0) throw new NoteError('a tree size is a non-negative safe integer');
  if (!isHash(root)) throw new NoteError('a root hash is 32 bytes');
  if ([origin, ...extensions].some((line) => line === '' || line.includes('\n'))) throw new NoteError('checkpoint lines are non-empty single lines');
  const text = [origin, String(size), bytesToBase64(root), ...extensions].map((line) => `${line}\n`).join('');
  assertNoteText(text, 'the checkpoint');
  return text;
}

/** Parses a checkpoint's note text strictly: three or more non-empty lines, a canonical size and root. */
export function parseCheckpoint(text: string): Checkpoint {
  assertNoteText(text, 'the checkpoint');
  const bad = (why: string) => new NoteError(`malformed checkpoint: ${why}`);
  if (!text.endsWith('\n')) throw bad('the text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3 || lines.some((line) => line === '')) throw bad('expected an origin, a tree size and a root hash, each on a non-empty line');
  const [origin, size, root, ...extensions] = lines as [string, string, string, ...string[]];
  // No leading zeroes, no sign, no spaces; and small enough to count leaves exactly.
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) throw bad(`tree size ${JSON.stringify(size.slice(0, 20))} is not a decimal number up to 2^53-1 without leading zeroes`);
  const hash = root.length === 44 ? strictBase64(root) : undefined;
  if (!hash || !isHash(hash)) throw bad('the root hash is not the base64 of 32 bytes');
  return { origin, size: Number(size), root: hash, extensions };
}

/** Whether `text` is a checkpoint of this layer key's own log (what the layer key agrees to sign as a note). */
export function isLogCheckpoint(text: string, publicKey: string): boolean {
  try {
    return parseCheckpoint(text).origin === logOrigin(publicKey);
  } catch {
    return false;
  }
}

/** What signs a checkpoint: the layer key's Signer (crypto/keys.ts) is one. */
export interface CheckpointSigner {
  /** Raw 32-byte Ed25519 public key, base64. */
  publicKey: string;
  /** Ed25519 over the checkpoint's note text; refuses text that is not a checkpoint of its own log. */
  signCheckpoint(text: string): Uint8Array;
}

/** The signed checkpoint note of the tree with `size` leaves and `root`, in the signer's log. */
export function signCheckpoint(tree: { size: number; root: Hash }, signer: CheckpointSigner): string {
  const verifier = logVerifier(signer.publicKey);
  const text = formatCheckpoint({ origin: verifier.name, size: tree.size, root: tree.root, extensions: [] });
  return signNote(text, { name: verifier.name, publicKey: verifier.publicKey, sign: (t) => signer.signCheckpoint(t) });
}

/** Opens a signed checkpoint of any log: signed once by `verifier`, and naming `origin`. Throws NoteError. */
export function openCheckpoint(note: string, verifier: NoteVerifier, origin: string): Checkpoint {
  const { text } = openNote(note, verifier);
  const checkpoint = parseCheckpoint(text);
  if (checkpoint.origin !== origin) throw new NoteError(`the checkpoint is of log ${JSON.stringify(checkpoint.origin)}, not ${JSON.stringify(origin)}`);
  return checkpoint;
}

/** Opens a checkpoint of the log of the layer key `publicKey` (base64). Throws NoteError. */
export function openLogCheckpoint(note: string, publicKey: string): Checkpoint {
  const verifier = logVerifier(publicKey);
  return openCheckpoint(note, verifier, verifier.name);
}
