/**
 * Passkey assertions checked in pure JS (common/webauthn.ts), against an authenticator simulated
 * with node:crypto exactly as WebAuthn §6.3.3 has one sign: authenticatorData ‖ SHA-256(clientDataJSON).
 */
import assert from 'node:assert/strict';
import { cbor } from '../support/authenticator';
import { test } from 'node:test';
import fc from 'fast-check';
import { decisionChallenge } from '../../common/signing';
import { bytesToBase64Url, decodeCbor, verifyPasskeyAssertion, type PasskeyAssertion } from '../../common/webauthn';
import { simulatedAuthenticator } from '../support/authenticator';
import { decisionStatement } from '../../common/signing';

const RP_ID = 'countersign.example.com';
const ORIGIN = `https://${RP_ID}`;
const authenticator = (kind: 'p256' | 'ed25519') => simulatedAuthenticator(kind, { rpId: RP_ID, origin: ORIGIN });

const statement = decisionStatement(
  { workflowId: 'cs-support-bot-0123456789abcdef', runId: 'run-1', requestId: '0123456789abcdef', versionDigest: 'a'.repeat(64), policyDigest: 'b'.repeat(64), action: 'payments.refund', resource: { type: 'customer', id: 'C-42' } },
  { decision: 'approve', reviewer: 'dave' },
  '2026-11-26T00:00:00.000Z',
);
const challenge = decisionChallenge(statement);
const expect = { challenge, origins: [ORIGIN], rpId: RP_ID };

for (const kind of ['p256', 'ed25519'] as const) {
  test(`${kind}: a genuine assertion over the decision's challenge verifies, with its signature counter`, () => {
    const a = authenticator(kind);
    assert.deepEqual(verifyPasskeyAssertion(a.assert(challenge, { counter: 42 }), a.credential, expect), { ok: true, signCount: 42 });
  });

  test(`${kind}: each way to misuse an assertion is refused, in one sentence`, () => {
    const a = authenticator(kind);
    const other = authenticator(kind);
    const refused = (assertion: PasskeyAssertion, reason: RegExp, credential = a.credential, e = expect) => {
      const r = verifyPasskeyAssertion(assertion, credential, e);
      assert.equal(r.ok, false);
      assert.match((r as { reason: string }).reason, reason);
    };
    const otherDecision = decisionChallenge({ ...statement, decision: 'deny' });
    refused(a.assert(otherDecision), /answers another challenge/);
    refused(a.assert(challenge, { origin: 'https://evil.example' }), /another origin/);
    refused(a.assert(challenge, { rpId: 'evil.example' }), /another relying party/);
    refused(a.assert(challenge, { flags: 0x01 }), /did not verify the user/);
    refused(a.assert(challenge, { flags: 0x04 }), /user present/);
    refused(a.assert(challenge, { type: 'webauthn.create' }), /not from an assertion/);
    refused(other.assert(challenge), /another passkey/);
    // The right credential id with another key's signature: a forged assertion.
    refused({ ...other.assert(challenge), credentialId: a.credential.credentialId }, /does not verify/);
    refused({ ...a.assert(challenge), signature: 'not base64url!' }, /not base64url/);
  });

  test(`${kind}: flipping any single bit of the authenticator data, the client data or the signature breaks it`, () => {
    const a = authenticator(kind);
    const genuine = a.assert(challenge);
    fc.assert(
      fc.property(fc.constantFrom('authenticatorData', 'clientDataJSON', 'signature') as fc.Arbitrary<'authenticatorData' | 'clientDataJSON' | 'signature'>, fc.nat(), fc.integer({ min: 0, max: 7 }), (field, index, bit) => {
        const bytes = new Uint8Array(Buffer.from(genuine[field], 'base64url'));
        bytes[index % bytes.length]! ^= 1 << bit;
        assert.equal(verifyPasskeyAssertion({ ...genuine, [field]: bytesToBase64Url(bytes) }, a.credential, expect).ok, false);
      }),
      { numRuns: 300 },
    );
  });
}

test('keys with other algorithms, malformed CBOR and oversized fields are refused, never thrown', () => {
  const a = authenticator('p256');
  const genuine = a.assert(challenge);
  const rs256 = bytesToBase64Url(cbor(new Map<number, unknown>([[1, 3], [3, -257], [-1, new Uint8Array(256)], [-2, new Uint8Array([1, 0, 1])]])));
  assert.match((verifyPasskeyAssertion(genuine, { ...a.credential, publicKey: rs256 }, expect) as { reason: string }).reason, /algorithm countersign does not accept \(-257/);
  assert.match((verifyPasskeyAssertion(genuine, { ...a.credential, publicKey: bytesToBase64Url(new Uint8Array([0xa5, 0x01])) }, expect) as { reason: string }).reason, /not valid CBOR/);
  assert.match((verifyPasskeyAssertion({ ...genuine, clientDataJSON: bytesToBase64Url(new Uint8Array(5000)) }, a.credential, expect) as { reason: string }).reason, /larger than an assertion can be/);
  assert.throws(() => decodeCbor(new Uint8Array([0xa2, 0x01, 0x02, 0x01, 0x03])), /distinct integers/);
  assert.throws(() => decodeCbor(new Uint8Array([0x01, 0x02])), /trailing bytes/);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
      const r = verifyPasskeyAssertion(genuine, { ...a.credential, publicKey: bytesToBase64Url(junk) }, expect);
      assert.equal(r.ok, false);
    }),
    { numRuns: 500 },
  );
});
