/**
 * A passkey authenticator simulated with node:crypto, signing exactly as WebAuthn §6.3.3 has one
 * sign: authenticatorData ‖ SHA-256(clientDataJSON). For unit tests and for attacks that need an
 * assertion made outside a browser (the browser tests use Chromium's virtual authenticator).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { bytesToBase64Url, type PasskeyAssertion, type PasskeyCredential } from '../../common/webauthn';
import { ed25519KeyPair } from '../../crypto/keys';

const sha = (b: Uint8Array | string) => new Uint8Array(createHash('sha256').update(b).digest());

/** The CBOR a COSE key needs (int keys, ints, byte strings), written out by hand. */
export function cbor(value: unknown): Uint8Array {
  const head = (major: number, n: number) => (n < 24 ? [(major << 5) | n] : n < 256 ? [(major << 5) | 24, n] : [(major << 5) | 25, n >> 8, n & 255]);
  if (typeof value === 'number') return new Uint8Array(value >= 0 ? head(0, value) : head(1, -1 - value));
  if (value instanceof Uint8Array) return new Uint8Array([...head(2, value.length), ...value]);
  if (value instanceof Map) return new Uint8Array([...head(5, value.size), ...[...value].flatMap(([k, v]) => [...cbor(k), ...cbor(v)])]);
  throw new TypeError('unsupported');
}

function coseKeyOf(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  const b = (s: string) => new Uint8Array(Buffer.from(s, 'base64url'));
  if (jwk.crv === 'P-256') return cbor(new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, b(jwk.x!)], [-3, b(jwk.y!)]]));
  return cbor(new Map<number, unknown>([[1, 1], [3, -8], [-1, 6], [-2, b(jwk.x!)]]));
}

export interface SimulatedAuthenticator {
  credential: PasskeyCredential;
  assert(challenge: Uint8Array, o?: { origin?: string; rpId?: string; flags?: number; type?: string; counter?: number }): PasskeyAssertion;
}

/**
 * A P-256 pair whose KeyObjects share nothing with the generation job (the job hands back DER, read
 * into new keys): on Node 20 a job finalised while its own key is exported deadlocks (crypto/keys.ts).
 */
function p256KeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  // eslint-disable-next-line no-restricted-syntax -- encoded output: no KeyObject of the job's outlives it
  const { privateKey: der } = generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'der' }, publicKeyEncoding: { type: 'spki', format: 'der' } });
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

export function simulatedAuthenticator(kind: 'p256' | 'ed25519', where: { rpId: string; origin: string }): SimulatedAuthenticator {
  const { privateKey, publicKey } = kind === 'p256' ? p256KeyPair() : ed25519KeyPair();
  const credentialId = bytesToBase64Url(sha(`${kind}-${Math.random()}`).subarray(0, 16));
  return {
    credential: { credentialId, publicKey: bytesToBase64Url(coseKeyOf(publicKey)) },
    assert(challenge, o = {}) {
      const clientDataJSON = new TextEncoder().encode(JSON.stringify({ type: o.type ?? 'webauthn.get', challenge: bytesToBase64Url(challenge), origin: o.origin ?? where.origin, crossOrigin: false }));
      const counter = o.counter ?? 7;
      const authData = new Uint8Array([...sha(o.rpId ?? where.rpId), o.flags ?? 0x05, counter >>> 24, (counter >> 16) & 255, (counter >> 8) & 255, counter & 255]);
      const signed = Buffer.concat([authData, sha(clientDataJSON)]);
      const signature = kind === 'p256' ? sign('sha256', signed, privateKey) : sign(null, signed, privateKey);
      return { credentialId, authenticatorData: bytesToBase64Url(authData), clientDataJSON: bytesToBase64Url(clientDataJSON), signature: bytesToBase64Url(new Uint8Array(signature)) };
    },
  };
}
