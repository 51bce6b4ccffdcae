import { ed25519 } from '@noble/curves/ed25519.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { base64ToBytes } from './base64';

/** Pure-JS Ed25519 verification (synchronous, deterministic); false on any malformed input. */
export function verifyEd25519(publicKeyBase64: string, message: string, signatureBase64: string): boolean {
  try {
    const publicKey = base64ToBytes(publicKeyBase64);
    const signature = base64ToBytes(signatureBase64);
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    return ed25519.verify(signature, utf8ToBytes(message), publicKey);
  } catch {
    return false;
  }
}
