import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import type { SealedToken } from '../common/inputs';
import { nativeSha256Hex } from './sha256';

export const SEAL_ALG = 'X25519-HKDF-SHA256-A256GCM' as const;
export const HKDF_INFO = 'countersign token v1';

/** A fresh token: 256 bits from the CSPRNG. Only its hash ever leaves this process unsealed. */
export function generateToken(): { token: string; tokenId: string; tokenHash: string } {
  const token = `cst_${randomBytes(32).toString('base64url')}`;
  return { token, tokenId: `tok_${randomBytes(12).toString('hex')}`, tokenHash: hashToken(token) };
}

export function hashToken(token: string): string {
  return nativeSha256Hex(token);
}

export function x25519PublicKey(rawBase64: string) {
  const raw = Buffer.from(rawBase64, 'base64');
  if (raw.length !== 32) throw new Error('agentKey must be a raw 32-byte X25519 public key, base64');
  // As a JWK: OpenSSL's DER decoder costs about ten times more, on every mint and every opening.
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, format: 'jwk' });
}

export function sealKey(shared: Buffer, epk: Buffer, recipient: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([epk, recipient]), HKDF_INFO, 32));
}

/** Seals `plaintext` to the agent's X25519 key; `aad` binds the box to its workflow and token id (docs/sealing.md). */
export function sealToAgent(agentKey: string, plaintext: string, aad: string): SealedToken {
  return sealWith(agentKey, plaintext, aad, x25519KeyPair(), randomBytes(12));
}

/**
 * The seal with its randomness given: a fresh ephemeral key and IV for every box (sealToAgent), or
 * fixed ones for the published test vector (scripts/sealing-vector.ts) and nothing else.
 */
export function sealWith(agentKey: string, plaintext: string, aad: string, ephemeral: { privateKey: KeyObject; publicKey: KeyObject }, iv: Buffer): SealedToken {
  const recipient = x25519PublicKey(agentKey);
  const epk = Buffer.from(ephemeral.publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient });
  const key = sealKey(shared, epk, Buffer.from(agentKey, 'base64'));
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { alg: SEAL_ALG, epk: epk.toString('base64'), iv: iv.toString('base64'), ciphertext: ciphertext.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
}

export function sealAad(workflowId: string, tokenId: string): string {
  return `${workflowId}|${tokenId}`;
}

/** An agent's X25519 key pair for one request: the private half never leaves the agent. */
export interface AgentKey {
  privateKey: KeyObject;
  /** Raw 32-byte public key, base64: the request's agentKey. */
  publicKey: string;
}

export function generateAgentKey(): AgentKey {
  return agentKeyFromSeed(randomBytes(32));
}

/** A fresh X25519 pair from 32 bytes of the CSPRNG, never generateKeyPair(Sync) (crypto/keys.ts newEd25519Key says why). */
export function x25519KeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, randomBytes(32)]), format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** PKCS #8 for an X25519 private key (RFC 8410): this prefix, then the 32 raw bytes. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** The key pair whose private half is these 32 bytes (from a KDF, for an agent that derives its keys rather than storing them). */
export function agentKeyFromSeed(seed: Uint8Array): AgentKey {
  if (seed.length !== 32) throw new Error('An X25519 private key is 32 bytes.');
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url').toString('base64') };
}

/** Opens a token sealed to this key; throws when the box was not sealed to it or was altered. */
export function openToken(key: AgentKey, sealed: SealedToken, workflowId: string, tokenId: string): string {
  const epk = Buffer.from(sealed.epk, 'base64');
  const shared = diffieHellman({ privateKey: key.privateKey, publicKey: x25519PublicKey(sealed.epk) });
  const decipher = createDecipheriv('aes-256-gcm', sealKey(shared, epk, Buffer.from(key.publicKey, 'base64')), Buffer.from(sealed.iv, 'base64'));
  decipher.setAAD(Buffer.from(sealAad(workflowId, tokenId), 'utf8'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]).toString('utf8');
}
