/**
 * Edge allows as pure functions (issue 29): which verdicts the policy decides at the front door
 * (policy/edge.ts), and what `verifyBundle` lets an edge-signed bundle claim (common/bundle.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseActionRequest } from '../../client/sdk';
import { requestDigest, verifyBundle, type EvidenceBundle } from '../../common/bundle';
import { approvalWorkflowId, sha256Hex } from '../../common/digest';
import { EDGE_DECISION_FORMAT, edgeEvidenceBody, edgeReportedBody, type EdgeDecision } from '../../common/edge';
import { canonicalJson } from '../../common/canonical';
import { mintRequest } from '../../common/release';
import type { ExecutionReceipt } from '../../common/views';
import { mintToken, signEvidence } from '../../crypto/evidence';
import { newEd25519Key, signerFromKey } from '../../crypto/keys';
import { generateAgentKey } from '../../crypto/tokens';
import { isEdgeAllow } from '../../policy/edge';
import { evaluatePolicy } from '../../policy/evaluate';
import { compilePolicy, PolicyLoadError } from '../../policy/load';

const POLICY = `
version: 1
defaults: { decision: allow, reviewers: ops, sla: 1h }
groups:
  ops: { members: [oscar] }
actions:
  crm.lookupCustomer:
    payload: { type: object, required: [customer], properties: { customer: { type: string } }, additionalProperties: false }
rules:
  - id: lookups
    match: { action: crm.lookupCustomer }
    decision: allow
    edge: true
  - id: lookups-too
    match: { action: crm.lookupCustomer, resource: "customer:C-2*" }
    decision: allow
    edge: true
  - id: lookups-plain
    match: { action: crm.lookupCustomer, resource: "customer:C-3*" }
    decision: allow
  - id: lookups-vip
    match: { action: crm.lookupCustomer, resource: "customer:VIP-*" }
    decision: review
    reviewers: ops
  - id: lookups-broken
    match: { action: crm.lookupCustomer, resource: "customer:X-*" }
    when: "payload.nothing.here > 1"
    decision: deny
    reason: Broken on purpose.
  - id: lookups-none
    match: { action: crm.lookupCustomer, resource: "customer:N-*" }
    decision: deny
    reason: Not these.
`;
const policy = compilePolicy(POLICY, 'policy.yaml');
const lookup = (id: string) => parseActionRequest({ agentId: 'bot', taskId: 't', action: 'crm.lookupCustomer', summary: 's', resource: { type: 'customer', id }, payload: { customer: id } });
const edge = (id: string) => isEdgeAllow(policy, evaluatePolicy(policy, lookup(id)));

describe('which allows are decided at the edge', () => {
  test('only a plain allow whose every matching rule says edge: true', () => {
    assert.equal(edge('C-1'), true, 'one edge rule');
    assert.equal(edge('C-20'), true, 'two edge rules');
    assert.equal(edge('C-30'), false, 'an allow rule without edge: true among the matches');
    assert.equal(edge('VIP-1'), false, 'routed to review');
    assert.equal(edge('N-1'), false, 'denied');
    assert.equal(edge('X-1'), false, 'a condition that failed to evaluate applies its deny');
    const other = parseActionRequest({ agentId: 'bot', taskId: 't', action: 'crm.other', summary: 's', resource: { type: 'customer', id: 'C-1' }, payload: {} });
    assert.equal(isEdgeAllow(policy, evaluatePolicy(policy, other)), false, 'the policy default allows, never at the edge');
  });

  test('no verdict but allow is ever an edge allow, whatever the rule ids say', () => {
    fc.assert(
      fc.property(fc.constantFrom('allow', 'review', 'deny'), fc.subarray(['lookups', 'lookups-too', 'lookups-plain', 'defaults', 'uncatalogued', 'nope']), (decision, ruleIds) => {
        const expected = decision === 'allow' && ruleIds.length > 0 && ruleIds.every((id) => id === 'lookups' || id === 'lookups-too');
        assert.equal(isEdgeAllow(policy, { decision, ruleIds }), expected);
      }),
    );
  });

  test('a rule may not take an id the evaluator gives its own verdicts (defaults, uncatalogued): one would pass for the other', () => {
    for (const id of ['defaults', 'uncatalogued']) {
      assert.throws(() => compilePolicy(POLICY.replace('  - id: lookups-plain\n', `  - id: ${id}\n`), 'p.yaml'), (err: unknown) => err instanceof PolicyLoadError && new RegExp(`rules\\[2\\] \\(${id}\\)\\.id: is reserved: "${id}"`).test(err.message), id);
    }
  });

  test('edge: true on a rule that does not allow is a policy error naming the field', () => {
    assert.throws(() => compilePolicy(POLICY.replace('decision: review\n    reviewers: ops', 'decision: review\n    reviewers: ops\n    edge: true'), 'p.yaml'), (err: unknown) => err instanceof PolicyLoadError && /rules\[3\] \(lookups-vip\)\.edge: .*only for a rule whose decision is allow/.test(err.message));
  });
});

describe('verify holds an edge bundle to what an edge may decide', () => {
  const key = () => signerFromKey(newEd25519Key());
  const [layer, edgeKey] = [key(), key()];
  const request = { ...lookup('C-1'), agentKey: generateAgentKey().publicKey };
  const { workflowId, requestId, actionDigest } = approvalWorkflowId(request);
  const { agentKey: _k, ...shown } = request;
  const asked = mintRequest({ request, workflowId, requestId, requestDigest: requestDigest(shown), actionDigest, policy: { policyDigest: 'p'.repeat(64), ruleIds: ['lookups'] }, decidedBy: 'policy', decisions: [], expiresAt: Date.now() + 60_000 });
  const minted = mintToken(edgeKey, asked);
  const decision: EdgeDecision = { format: EDGE_DECISION_FORMAT, workflowId, requestId, request: shown, requestDigest: asked.record.requestDigest, actionDigest, policy: { ruleIds: ['lookups'], risk: 'low', reason: 'ok', policyDigest: 'p'.repeat(64) }, binding: asked.binding, tokenId: minted.grant.tokenId, tokenHash: minted.tokenHash, issuedAt: new Date().toISOString(), expiresAt: asked.expiresAt, approvalRecord: minted.approvalRecord };
  const receipt = edgeKey.sign<ExecutionReceipt>('countersign/execution-receipt/v1', { receiptId: 'rcpt_1', workflowId, requestId, tokenId: minted.grant.tokenId, approvalRecordDigest: sha256Hex(canonicalJson(minted.approvalRecord.body)), actionDigest, agentId: 'bot', taskId: 't', consumedAt: new Date().toISOString() });
  const sealed = (body: ReturnType<typeof edgeEvidenceBody>, signer = edgeKey) => JSON.parse(signEvidence(signer, body).text) as EvidenceBundle;
  const keys = { publicKey: layer.publicKey, edgeKey: edgeKey.publicKey };

  test('consumed, then reported: each verifies with the edge key and says so; never with the layer key alone', () => {
    for (const body of [edgeEvidenceBody(decision, receipt), edgeReportedBody(edgeEvidenceBody(decision, receipt), { status: 'succeeded' }, new Date().toISOString())]) {
      const ok = verifyBundle(sealed(body), keys);
      assert.ok(ok.ok, JSON.stringify(ok));
      assert.match(ok.checks.join('; '), /decided at the edge: a policy allow with no reviewer, signed by edge key/);
      const layerOnly = verifyBundle(sealed(body), { publicKey: layer.publicKey });
      assert.ok(!layerOnly.ok && layerOnly.link === 'signer');
    }
  });

  test('an edge bundle claiming a reviewer, signed by the layer key, or not saying it is an edge bundle, is refused', () => {
    const body = edgeEvidenceBody(decision, receipt);
    const cases: [string, EvidenceBundle, typeof keys | { publicKey: string; edgeKey: string }][] = [
      ['decidedAt', sealed({ ...body, outcome: { ...body.outcome, decidedBy: 'reviewers', reviewers: ['oscar'] } }), keys],
      ['decidedAt', sealed({ ...body, events: [...body.events.slice(0, 3), { ...body.events[3]!, type: 'approved', actor: 'oscar', data: { decision: 'approve' } }, ...body.events.slice(4)] }), keys],
      ['signer', sealed(body, layer), keys],
      ['signer', sealed({ ...body, decidedAt: undefined }), keys],
      ['signer', sealed(body), { publicKey: edgeKey.publicKey, edgeKey: edgeKey.publicKey }],
    ];
    for (const [link, bundle, trusted] of cases) {
      const result = verifyBundle(bundle, trusted);
      assert.ok(!result.ok, `${link}: ${JSON.stringify(result.checks)}`);
      assert.equal(result.link, link, result.reason);
    }
  });
});
