/**
 * The published sealing and digest vector (docs/sealing.md, docs/vectors/sealed-token.json), checked
 * with the project's own code: the file is exactly what scripts/sealing-vector.ts makes, the agent's
 * key opens the sealed token, canonical JSON and digests give the vector's values, and what the SDK
 * sends to consume is the vector's body. The Python client checks the same file.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { memoryKeyStore, openToken } from '../../client/agent-keys';
import { ApprovalRequest } from '../../client/approval-request';
import { ConsumeBody } from '../../common/api';
import { canonicalJson } from '../../common/canonical';
import { actionDigest, approvalWorkflowId, sha256Hex } from '../../common/digest';
import { ActionRequest, SealedToken } from '../../common/inputs';
import type { ApprovalOutcome, ExecutionReceipt, Signed } from '../../common/views';
import { hashToken } from '../../crypto/tokens';
import { sealingVector, VECTOR_PATH, vectorText, x25519Private } from '../../scripts/sealing-vector';

type Vector = ReturnType<typeof sealingVector>;
const text = readFileSync(VECTOR_PATH, 'utf8');
const vector = JSON.parse(text) as Vector;
const agentKey = { privateKey: x25519Private(Buffer.from(vector.agentKey.privateKey, 'base64')), publicKey: vector.agentKey.publicKey };

describe('the sealing vector', () => {
  test('the committed file is what scripts/sealing-vector.ts makes (regenerate it after a deliberate change)', () => {
    assert.equal(text, vectorText());
  });

  test("the agent's private key opens the sealed token as the server sends it", () => {
    const sealed = SealedToken.parse(vector.grant.sealed);
    assert.equal(openToken(agentKey, sealed, vector.workflowId, vector.grant.tokenId), vector.token);
    assert.equal(vector.steps.aad, `${vector.workflowId}|${vector.grant.tokenId}`);
    assert.equal(hashToken(vector.token), vector.tokenHash);
    assert.match(vector.token, /^cst_[A-Za-z0-9_-]{43}$/);
  });

  test('the box opens only for its workflow and token id, and only unaltered', () => {
    const sealed = SealedToken.parse(vector.grant.sealed);
    assert.throws(() => openToken(agentKey, sealed, vector.workflowId, 'tok_000000000000000000000000'));
    assert.throws(() => openToken(agentKey, sealed, 'cs-support-bot-0000000000000000', vector.grant.tokenId));
    const flipped = Buffer.from(sealed.ciphertext, 'base64');
    flipped[0]! ^= 1;
    assert.throws(() => openToken(agentKey, { ...sealed, ciphertext: flipped.toString('base64') }, vector.workflowId, vector.grant.tokenId));
  });

  test('canonical JSON and SHA-256 of each case', () => {
    assert.ok(vector.canonicalJson.length >= 5);
    for (const c of vector.canonicalJson) {
      assert.equal(canonicalJson(JSON.parse(c.json)), c.canonical, c.json);
      assert.equal(sha256Hex(c.canonical), c.sha256, c.json);
    }
  });

  test('the action digest, the request id and the workflow id of the submitted request', () => {
    const { consume } = vector;
    const request = ActionRequest.parse({ ...consume.request, agentId: consume.agentId });
    assert.equal(canonicalJson({ action: request.action, resource: request.resource, payload: request.payload }), consume.canonicalJson);
    assert.equal(sha256Hex(consume.canonicalJson), consume.actionDigest);
    assert.equal(actionDigest(request), consume.actionDigest);
    assert.deepEqual(approvalWorkflowId(request), { workflowId: vector.workflowId, requestId: consume.requestId, actionDigest: consume.actionDigest });
  });

  test("the SDK opens the grant and sends the vector's consume body", async () => {
    const { consume } = vector;
    const request = ActionRequest.parse({ ...consume.request, agentId: consume.agentId });
    const keys = memoryKeyStore();
    keys.put(vector.workflowId, agentKey);
    const sent: unknown[] = [];
    const outcome = { status: 'approved', payload: request.payload, token: vector.grant } as ApprovalOutcome;
    const approval = new ApprovalRequest(
      {
        keys,
        wait: () => Promise.reject(new Error('not called')),
        consume: (_id, body) => (sent.push(body), Promise.resolve({} as Signed<ExecutionReceipt>)),
        report: () => Promise.resolve(),
      },
      request,
      { requestId: consume.requestId, workflowId: vector.workflowId, status: 'approved', outcome },
    );
    assert.equal(approval.openToken(), vector.token);
    await approval.consume();
    assert.deepEqual(sent, [consume.body]);
    assert.deepEqual(ConsumeBody.parse(consume.body), consume.body);
  });
});
