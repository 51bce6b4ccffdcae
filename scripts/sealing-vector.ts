/**
 * The test vector of docs/sealing.md, made with the project's own sealing, canonical JSON and
 * digests from fixed inputs (every "random" byte is a SHA-256 of a label), so the same code always
 * writes the same file. Regenerate docs/vectors/sealed-token.json after a deliberate change:
 *
 *   node --import tsx scripts/sealing-vector.ts
 *
 * test/unit/sealing.test.ts fails when the committed file and this output differ.
 */
import { createHash, createPrivateKey, createPublicKey, diffieHellman, hkdfSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../common/canonical';
import { actionDigest, approvalWorkflowId, sha256Hex } from '../common/digest';
import type { ActionRequest } from '../common/inputs';
import type { TokenGrant } from '../common/views';
import { hashToken, HKDF_INFO, sealAad, sealWith, x25519PublicKey } from '../crypto/tokens';

export const VECTOR_PATH = join(__dirname, '..', 'docs', 'vectors', 'sealed-token.json');

const bytes = (label: string) => createHash('sha256').update(`countersign sealing vector v1: ${label}`).digest();
/** An X25519 private key from its raw 32 bytes (RFC 8410 PKCS #8 wrapping). */
export const x25519Private = (raw: Buffer) => createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), raw]), format: 'der', type: 'pkcs8' });
const rawPublic = (privateKey: ReturnType<typeof createPrivateKey>) => Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url');

/** JSON texts an agent may hold, each with its canonical form (RFC 8785) and that form's SHA-256. */
const CANONICAL_CASES = [
  '{"b":2,"a":1,"c":{"z":true,"y":null,"x":[3,2,1]}}',
  '{"～":1,"😀":2,"a":3,"Z":4,"aa":5,"":6}',
  '[1.0,100,1e21,1e-7,0.1,-0,-0.0,12.50,9007199254740991,1E2,5e-324,123456789.125]',
  '"\\u0001\\n\\t\\"\\\\/\\u007f\\u00e9\\u2028😀"',
  '[true,false,null,{},[],""]',
];

export function sealingVector() {
  const agentPrivate = bytes('agent key');
  const agentKey = x25519Private(agentPrivate);
  const agentPublic = rawPublic(agentKey).toString('base64');
  const ephemeralKey = x25519Private(bytes('ephemeral key'));
  const ephemeral = { privateKey: ephemeralKey, publicKey: createPublicKey(ephemeralKey) };
  const iv = bytes('iv').subarray(0, 12);

  /** The body the agent submits (its agentId comes from its credential). */
  const request: Omit<ActionRequest, 'agentId'> = {
    taskId: 'ticket-1',
    action: 'payments.refund',
    summary: 'Refund a duplicate charge',
    resource: { type: 'customer', id: 'C-42' },
    payload: { customer: 'C-42', amount: 40.5, currency: 'USD', order: 'A-1', note: 'Café – “dup” 😀' },
    agentKey: agentPublic,
  };
  const agentId = 'support-bot';
  const { workflowId, requestId, actionDigest: digest } = approvalWorkflowId({ ...request, agentId });
  const token = `cst_${bytes('token').toString('base64url')}`;
  const tokenId = `tok_${bytes('token id').subarray(0, 12).toString('hex')}`;
  const aad = sealAad(workflowId, tokenId);
  const sealed = sealWith(agentPublic, token, aad, ephemeral, iv);
  const grant: TokenGrant = { tokenId, expiresAt: '2026-01-01T00:10:00.000Z', sealed };

  // What the agent computes on its side, spelled out for implementers who need to find a wrong step.
  const shared = diffieHellman({ privateKey: agentKey, publicKey: x25519PublicKey(sealed.epk) });
  const salt = Buffer.concat([Buffer.from(sealed.epk, 'base64'), Buffer.from(agentPublic, 'base64')]);
  const aesKey = Buffer.from(hkdfSync('sha256', shared, salt, HKDF_INFO, 32));
  const action = { action: request.action, resource: request.resource, payload: request.payload };

  return {
    about: 'countersign sealed-token and digest test vector (docs/sealing.md). Made by scripts/sealing-vector.ts; do not edit by hand.',
    regenerate: 'node --import tsx scripts/sealing-vector.ts',
    agentKey: { privateKey: agentPrivate.toString('base64'), publicKey: agentPublic },
    workflowId,
    grant,
    steps: {
      sharedSecret: shared.toString('hex'),
      hkdfSalt: salt.toString('hex'),
      hkdfInfo: HKDF_INFO,
      aesKey: aesKey.toString('hex'),
      aad,
    },
    token,
    tokenHash: hashToken(token),
    consume: {
      agentId,
      request,
      canonicalJson: canonicalJson(action),
      actionDigest: actionDigest(action),
      requestId,
      body: { token, agentId, taskId: request.taskId, actionDigest: digest },
    },
    canonicalJson: CANONICAL_CASES.map((json) => {
      const canonical = canonicalJson(JSON.parse(json));
      return { json, canonical, sha256: sha256Hex(canonical) };
    }),
  };
}

/** The file's exact text: two-space JSON and a final newline. */
export const vectorText = () => `${JSON.stringify(sealingVector(), null, 2)}\n`;

if (require.main === module) {
  writeFileSync(VECTOR_PATH, vectorText());
  process.stdout.write(`wrote ${VECTOR_PATH}\n`);
}
