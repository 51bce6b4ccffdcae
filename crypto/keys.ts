import { createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { keyId, signingMessage, type SignedDomain } from '../common/signing';
import { isLogCheckpoint } from '../common/tlog/checkpoint';
import type { Signed } from '../common/views';
import { layerKeyPath } from '../config/home';
import { privateDir, writePrivateFile } from '../config/private-files';

/** Signs with the layer's Ed25519 key; the private key never leaves this object. */
export interface Signer {
  keyId: string;
  /** Raw 32-byte Ed25519 public key, base64. */
  publicKey: string;
  sign<T>(domain: SignedDomain, body: T): Signed<T>;
  /**
   * Ed25519 over a checkpoint's note text, as Go's note.Sign does (common/tlog/checkpoint.ts). Only
   * the text of a checkpoint of this key's own log is signed: it starts with its origin line, and every
   * message `sign` makes is canonical JSON starting with `{`, so neither can pass for the other.
   */
  signCheckpoint(text: string): Uint8Array;
}

export class MissingKeyError extends Error {
  override name = 'MissingKeyError';
}

/** PKCS #8 for an Ed25519 private key (RFC 8410): this prefix, then the 32-byte seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A new Ed25519 private key from 32 bytes of the CSPRNG, never from generateKeyPair(Sync): on Node 20
 * the key-generation job that those leave for the garbage collector locks the new key's mutex when it
 * is finalised, and a collection that lands while that key is being exported (as JWK, DER or PEM,
 * which hold the same mutex) deadlocks the process. Seen once as a test file that hung for good.
 */
export function newEd25519Key(): KeyObject {
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, randomBytes(32)]), format: 'der', type: 'pkcs8' });
}

export function ed25519KeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  const privateKey = newEd25519Key();
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

export function rawPublicKey(key: KeyObject): string {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  return Buffer.from(jwk.x!, 'base64url').toString('base64');
}

export function signerFromKey(privateKey: KeyObject): Signer {
  const publicKey = rawPublicKey(privateKey);
  const id = keyId(publicKey);
  return {
    keyId: id,
    publicKey,
    sign(domain, body) {
      const signature = sign(null, Buffer.from(signingMessage(domain, body), 'utf8'), privateKey).toString('base64');
      return { body, keyId: id, signature };
    },
    signCheckpoint(text) {
      if (!isLogCheckpoint(text, publicKey)) throw new Error('The layer key signs only checkpoints of its own log as notes.');
      return new Uint8Array(sign(null, Buffer.from(text, 'utf8'), privateKey));
    },
  };
}

/** Writes a new Ed25519 key (PKCS#8 PEM, mode 0600) atomically; refuses to overwrite one. */
export function createKeyFile(path: string): Signer {
  if (existsSync(path)) throw new Error(`A key already exists at ${path}; remove it first to replace it.`);
  privateDir(dirname(path));
  const privateKey = newEd25519Key();
  const temp = `${path}.${process.pid}.tmp`;
  writePrivateFile(temp, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  renameSync(temp, path);
  const signer = signerFromKey(privateKey);
  writeFileSync(path.replace(/\.key$/, '.pub'), `${signer.publicKey}\n`);
  return signer;
}

export function loadKeyFile(path: string): Signer {
  if (!existsSync(path)) throw new MissingKeyError(`No signing key at ${path}. Create one with: countersign keys init`);
  const key = createPrivateKey(readFileSync(path));
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path} is not an Ed25519 private key.`);
  return signerFromKey(key);
}

/** The layer key for a worker: required outside dev mode; `npm run dev` creates one when absent. */
export function layerSigner(home: string, options: { createIfMissing?: boolean } = {}): Signer {
  const path = layerKeyPath(home);
  if (!existsSync(path) && options.createIfMissing) return createKeyFile(path);
  return loadKeyFile(path);
}
