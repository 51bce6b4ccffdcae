/**
 * WebAuthn assertions (passkeys) verified in pure JS, so that the workflow itself can check that a
 * reviewer's authenticator signed a decision (DESIGN §4, issue 12): the assertion's challenge is the
 * SHA-256 of the decision statement, so the signature *is* the signed approval record, checkable
 * offline for as long as the credential's public key is kept. No Node built-ins: bundled into workflows.
 *
 * Supported credential keys (COSE, RFC 9053): ES256 (P-256, alg -7) and EdDSA (Ed25519, alg -8).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64ToBytes, bytesToBase64 } from './base64';

/** Inputs are bounded before anything is parsed. */
export const MAX_CLIENT_DATA_BYTES = 4096;
export const MAX_AUTHENTICATOR_DATA_BYTES = 1024;
export const MAX_SIGNATURE_BYTES = 256;
export const MAX_COSE_KEY_BYTES = 512;

/** What the browser returns from navigator.credentials.get, each field base64url. */
export interface PasskeyAssertion {
  credentialId: string;
  authenticatorData: string;
  clientDataJSON: string;
  signature: string;
}

/** A reviewer's registered passkey: its credential id and COSE public key, base64url. */
export interface PasskeyCredential {
  credentialId: string;
  publicKey: string;
}

export interface AssertionExpectation {
  /** The challenge the assertion must answer: for a decision, decisionChallenge(statement). */
  challenge: Uint8Array;
  /** Origins the inbox is served from, e.g. https://countersign.example.com. */
  origins: readonly string[];
  /** The relying party id the credential is scoped to, e.g. countersign.example.com. */
  rpId: string;
}

export type AssertionCheck = { ok: true; signCount: number } | { ok: false; reason: string };

/**
 * A short fingerprint of a registered passkey, shown to the reviewer when it is created and
 * required by `countersign reviewers confirm --fingerprint`: the operator confirms the passkey the
 * reviewer actually made, not one an intercepted invite registered. 64 bits, as XXXX-XXXX-XXXX-XXXX.
 */
export function passkeyFingerprint(credentialId: string, publicKey: string): string {
  const hex = bytesToHex(sha256(utf8ToBytes(`countersign/passkey:${credentialId}.${publicKey}`))).slice(0, 16).toUpperCase();
  return hex.match(/.{4}/g)!.join('-');
}


export function base64UrlToBytes(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new TypeError('not base64url');
  return base64ToBytes(text.replace(/-/g, '+').replace(/_/g, '/'));
}

export function bytesToBase64Url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const FLAG_USER_PRESENT = 0x01;
const FLAG_USER_VERIFIED = 0x04;

/**
 * Checks a passkey assertion against the registered credential and what it must answer, in the
 * order WebAuthn §7.2 gives: credential, client data (type, challenge, origin), authenticator data
 * (relying party, user present and verified), then the signature over authenticatorData ‖ SHA-256(clientDataJSON).
 */
export function verifyPasskeyAssertion(assertion: PasskeyAssertion, credential: PasskeyCredential, expected: AssertionExpectation): AssertionCheck {
  const refuse = (reason: string): AssertionCheck => ({ ok: false, reason });
  if (assertion.credentialId !== credential.credentialId) return refuse('the assertion is from another passkey than the one registered');
  let clientDataBytes: Uint8Array, authData: Uint8Array, signature: Uint8Array, coseKey: Uint8Array;
  try {
    clientDataBytes = base64UrlToBytes(assertion.clientDataJSON);
    authData = base64UrlToBytes(assertion.authenticatorData);
    signature = base64UrlToBytes(assertion.signature);
    coseKey = base64UrlToBytes(credential.publicKey);
  } catch {
    return refuse('a field is not base64url');
  }
  if (clientDataBytes.length > MAX_CLIENT_DATA_BYTES || authData.length > MAX_AUTHENTICATOR_DATA_BYTES || signature.length > MAX_SIGNATURE_BYTES || coseKey.length > MAX_COSE_KEY_BYTES) {
    return refuse('a field is larger than an assertion can be');
  }

  let clientData: { type?: unknown; challenge?: unknown; origin?: unknown; crossOrigin?: unknown };
  try {
    clientData = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(clientDataBytes)) as typeof clientData;
  } catch {
    return refuse('the client data is not JSON');
  }
  if (clientData === null || typeof clientData !== 'object') return refuse('the client data is not a JSON object');
  if (clientData.type !== 'webauthn.get') return refuse('the client data is not from an assertion (type webauthn.get)');
  if (clientData.challenge !== bytesToBase64Url(expected.challenge)) return refuse('the assertion answers another challenge: it was made for another decision');
  if (typeof clientData.origin !== 'string' || !expected.origins.includes(clientData.origin)) return refuse(`the assertion was made on another origin (${String(clientData.origin).slice(0, 100)})`);
  if (clientData.crossOrigin === true) return refuse('the assertion was made in a cross-origin frame');

  if (authData.length < 37) return refuse('the authenticator data is too short');
  if (!equalBytes(authData.subarray(0, 32), sha256(utf8ToBytes(expected.rpId)))) return refuse('the authenticator data is for another relying party');
  const flags = authData[32]!;
  if (!(flags & FLAG_USER_PRESENT)) return refuse('the authenticator did not see the user present');
  if (!(flags & FLAG_USER_VERIFIED)) return refuse('the authenticator did not verify the user (user verification is required)');
  const signCount = ((authData[33]! << 24) >>> 0) + (authData[34]! << 16) + (authData[35]! << 8) + authData[36]!;

  const signed = new Uint8Array(authData.length + 32);
  signed.set(authData, 0);
  signed.set(sha256(clientDataBytes), authData.length);

  let key: Map<number, unknown>;
  try {
    const decoded = decodeCbor(coseKey);
    if (!(decoded instanceof Map)) return refuse('the registered public key is not a COSE key');
    key = decoded;
  } catch {
    return refuse('the registered public key is not valid CBOR');
  }
  const alg = key.get(3);
  try {
    if (alg === -7 && key.get(1) === 2 && key.get(-1) === 1) {
      const x = key.get(-2);
      const y = key.get(-3);
      if (!(x instanceof Uint8Array) || !(y instanceof Uint8Array) || x.length !== 32 || y.length !== 32) return refuse('the registered P-256 key is malformed');
      const publicKey = new Uint8Array(65);
      publicKey[0] = 0x04;
      publicKey.set(x, 1);
      publicKey.set(y, 33);
      // Authenticators do not normalise s: a high-s signature is as valid as a low-s one here.
      if (!p256.verify(signature, signed, publicKey, { format: 'der', prehash: true, lowS: false })) return refuse('the signature does not verify against the registered passkey');
    } else if (alg === -8 && key.get(1) === 1 && key.get(-1) === 6) {
      const x = key.get(-2);
      if (!(x instanceof Uint8Array) || x.length !== 32) return refuse('the registered Ed25519 key is malformed');
      if (signature.length !== 64 || !ed25519.verify(signature, signed, x)) return refuse('the signature does not verify against the registered passkey');
    } else {
      return refuse(`the registered passkey uses an algorithm countersign does not accept (${String(alg)}; ES256 and EdDSA are)`);
    }
  } catch {
    return refuse('the signature does not verify against the registered passkey');
  }
  return { ok: true, signCount };
}

/** The algorithm of a registered COSE public key (base64url), if countersign accepts it: ES256 (P-256) or EdDSA (Ed25519). */
export function coseKeyAlgorithm(publicKey: string): 'ES256' | 'EdDSA' | undefined {
  try {
    const bytes = base64UrlToBytes(publicKey);
    if (bytes.length > MAX_COSE_KEY_BYTES) return undefined;
    const key = decodeCbor(bytes);
    if (!(key instanceof Map)) return undefined;
    const x = key.get(-2);
    if (key.get(3) === -7 && key.get(1) === 2 && key.get(-1) === 1) {
      const y = key.get(-3);
      if (!(x instanceof Uint8Array) || !(y instanceof Uint8Array) || x.length !== 32 || y.length !== 32) return undefined;
      const point = new Uint8Array(65);
      point[0] = 0x04;
      point.set(x, 1);
      point.set(y, 33);
      p256.Point.fromBytes(point).assertValidity(); // on the curve
      return 'ES256';
    }
    if (key.get(3) === -8 && key.get(1) === 1 && key.get(-1) === 6) return x instanceof Uint8Array && x.length === 32 ? 'EdDSA' : undefined;
    return undefined;
  } catch {
    return undefined;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * The CBOR (RFC 8949) a COSE key needs: unsigned and negative integers, byte and text strings,
 * arrays and maps, definite lengths only, at most 8 levels deep. Anything else throws.
 */
export function decodeCbor(bytes: Uint8Array): unknown {
  let at = 0;
  const take = (n: number) => {
    if (at + n > bytes.length) throw new TypeError('truncated CBOR');
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  };
  const length = (info: number): number => {
    if (info < 24) return info;
    if (info === 24) return take(1)[0]!;
    if (info === 25) {
      const b = take(2);
      return (b[0]! << 8) | b[1]!;
    }
    if (info === 26) {
      const b = take(4);
      return ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
    }
    throw new TypeError('unsupported CBOR length');
  };
  const item = (depth: number): unknown => {
    if (depth > 8) throw new TypeError('CBOR nested too deep');
    const head = take(1)[0]!;
    const major = head >> 5;
    const n = length(head & 31);
    switch (major) {
      case 0:
        return n;
      case 1:
        return -1 - n;
      case 2:
        return new Uint8Array(take(n));
      case 3:
        return new TextDecoder('utf-8', { fatal: true }).decode(take(n));
      case 4: {
        if (n > 64) throw new TypeError('CBOR array too long');
        return Array.from({ length: n }, () => item(depth + 1));
      }
      case 5: {
        if (n > 64) throw new TypeError('CBOR map too long');
        const map = new Map<number, unknown>();
        for (let i = 0; i < n; i++) {
          const k = item(depth + 1);
          if (typeof k !== 'number' || map.has(k)) throw new TypeError('COSE map keys are distinct integers');
          map.set(k, item(depth + 1));
        }
        return map;
      }
      default:
        throw new TypeError('unsupported CBOR type');
    }
  };
  const value = item(0);
  if (at !== bytes.length) throw new TypeError('trailing bytes after CBOR');
  return value;
}
