/**
 * Policy simulation's pure part (policy/simulate.ts): what counts as a change, and the requests the
 * candidate refuses before its rules — its schemas and its directory — counted apart, never as changes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { RecordedRequest } from '../../common/insights/report';
import { compilePolicy } from '../../policy/load';
import { changesOf, simulate } from '../../policy/simulate';

const HASH = `sha256:${'a'.repeat(64)}`;
const candidate = compilePolicy(`
version: 1
defaults: { decision: review, reviewers: finance, sla: 1h }
groups:
  finance: { members: [dave] }
actions:
  payments.refund:
    payload: { type: object, required: [amount, currency], properties: { amount: { type: number }, currency: { enum: [EUR] } } }
rules:
  - id: small
    match: { action: payments.refund }
    when: "payload.amount <= 50"
    decision: allow
directory:
  agents:
    support-bot: { keyHash: "${HASH}" }
  server: { startKey: "${randomBytes(32).toString('base64')}" }
`);

let n = 0;
function recorded(agentId: string, payload: Record<string, unknown>, verdict?: RecordedRequest['verdict']): RecordedRequest {
  n += 1;
  const request = { agentId, taskId: `t-${n}`, action: 'payments.refund', summary: 'Refund', resource: { type: 'customer', id: 'C-1' }, payload };
  return { workflowId: `cs-${agentId}-${String(n).padStart(16, '0')}`, requestId: String(n).padStart(16, '0'), sealedAt: '2026-12-01T00:00:00.000Z', request, ...(verdict ? { verdict } : {}) };
}

describe('policy simulation', () => {
  test('a change is a new decision, or for a review another group or another number of approvals', () => {
    const route = (group: string, approvals: number) => ({ group: { name: group }, approvals });
    assert.deepEqual(changesOf({ decision: 'allow', ruleIds: ['a'] }, { decision: 'review', route: route('finance', 1) }), ['allow→review']);
    assert.deepEqual(changesOf({ decision: 'review', ruleIds: ['a'], group: 'finance', approvals: 1 }, { decision: 'review', route: route('cfo', 2) }), ['routed finance→cfo', 'approvals 1→2']);
    assert.deepEqual(changesOf({ decision: 'review', ruleIds: ['a'], group: 'finance', approvals: 1 }, { decision: 'review', route: route('finance', 1) }), []);
    assert.deepEqual(changesOf({ decision: 'deny', ruleIds: ['a'] }, { decision: 'deny' }), []);
  });

  test('schema failures and directory refusals are counted apart with examples; an older run of a workflow id is not replayed twice', () => {
    const allowed = recorded('support-bot', { amount: 10, currency: 'EUR' }, { decision: 'allow', ruleIds: ['small'] });
    const requests = [
      allowed,
      { ...allowed, sealedAt: '2026-11-30T00:00:00.000Z' }, // the same workflow, an older run
      recorded('support-bot', { amount: 80, currency: 'EUR' }, { decision: 'allow', ruleIds: ['old-rule'] }),
      recorded('support-bot', { amount: 10, currency: 'USD' }, { decision: 'allow', ruleIds: ['small'] }),
      recorded('stranger-bot', { amount: 10, currency: 'EUR' }, { decision: 'allow', ruleIds: ['small'] }),
      recorded('support-bot', { amount: 10, currency: 'EUR' }),
    ];
    const s = simulate(candidate, requests);
    assert.deepEqual([s.requests, s.changed, s.unchanged, s.notEvaluated], [5, 1, 1, 1]);
    assert.deepEqual(s.byChange, [{ change: 'allow→review', count: 1, examples: [requests[2]!.requestId] }]);
    assert.deepEqual(s.byRule.map((r) => [r.rule, r.change, r.count]), [['defaults', 'allow→review', 1]]);
    assert.equal(s.failingSchemas.count, 1);
    assert.equal(s.failingSchemas.examples[0]!.requestId, requests[3]!.requestId);
    assert.match(s.failingSchemas.examples[0]!.message, /currency/);
    assert.deepEqual(s.refusedByDirectory, { count: 1, examples: [{ requestId: requests[4]!.requestId, message: 'Field "agentId": "stranger-bot" is not an agent in the policy\'s directory.' }] });
  });
});
