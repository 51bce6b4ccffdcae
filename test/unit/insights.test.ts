/**
 * Insights' figures (common/insights/), exactly, on the scripted mix of test/support/recorded.ts:
 * sealed bundles with known outcomes and decision times, read back as the server reads them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readRecordedBundle, requestFacts, type RequestFacts } from '../../common/insights/facts';
import { figures, percentile, rubberStampFlag, share } from '../../common/insights/figures';
import { newEd25519Key, signerFromKey } from '../../crypto/keys';
import { recordedBundle, SCRIPTED_MIX } from '../support/recorded';

const signer = signerFromKey(newEd25519Key());
const facts = SCRIPTED_MIX.map((spec) => requestFacts(readRecordedBundle(recordedBundle(signer, spec).text)!)!);

describe('percentiles and shares', () => {
  test('nearest rank: p50 and p90 of known lists, 0 for none', () => {
    assert.equal(percentile([], 50), 0);
    assert.equal(percentile([7], 90), 7);
    assert.equal(percentile([8, 2, 5, 3, 4], 50), 4);
    assert.equal(percentile([8, 2, 5, 3, 4], 90), 8);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9);
    assert.equal(percentile([60, 120], 50), 60);
    assert.equal(share(1, 3), 0.3333);
    assert.equal(share(1, 0), 0);
  });

  test('rubber-stamping is flagged only with enough decisions, a high approval rate and mostly fast decisions, and says its numbers', () => {
    assert.equal(rubberStampFlag(4, 1, 1, 1000), undefined, 'too few decisions to judge');
    assert.equal(rubberStampFlag(20, 0.85, 1, 1000), undefined, 'denies often enough');
    assert.equal(rubberStampFlag(20, 1, 0.45, 30_000), undefined, 'mostly takes their time');
    assert.equal(rubberStampFlag(20, 0.95, 0.5, 9_500), 'approved 95 % of 20 decisions, 50 % of them within 10 s of being shown (median 9.5 s)');
  });
});

describe('the facts of a bundle', () => {
  test('a bundle that is not a countersign bundle, or not JSON, gives nothing', () => {
    assert.equal(readRecordedBundle('{"format":"other"}'), undefined);
    assert.equal(readRecordedBundle('not json'), undefined);
  });

  test('each decision with the time its version was put up for review and the time it was decided', () => {
    const f = facts[3]!;
    assert.equal(f.outcome, 'approved');
    assert.equal(f.execution, 'executed');
    assert.deepEqual(
      f.decisions.map((d) => [d.reviewer, d.decision, d.decidedAt - d.shownAt]),
      [['dave', 'approve', 4000], ['erin', 'approve', 60000]],
    );
    assert.deepEqual(f.verdict, { decision: 'review', ruleIds: ['large-refunds'], risk: 'high', group: 'finance', approvals: 2 });
    assert.deepEqual(facts.map((x: RequestFacts) => x.outcome), ['auto_allowed', 'auto_allowed', 'policy_denied', 'approved', 'denied', 'changes_requested', 'expired', 'approved', 'approved', 'approved']);
  });
});

describe('the figures of the scripted mix', () => {
  const f = figures(facts);

  test('outcomes, the share automated, by action and by agent', () => {
    assert.deepEqual(f.outcomes, { requests: 10, auto_allowed: 2, edge_allowed: 0, policy_denied: 1, invalid: 0, reviewed: 7, approved: 4, denied: 1, changes_requested: 1, expired: 1, cancelled: 0, executed: 2, failed: 1 });
    assert.equal(f.automatedShare, 0.3);
    assert.deepEqual(f.byAction.map((r) => [r.action, r.requests, r.auto_allowed, r.approved, r.denied, r.executed, r.failed]), [
      ['payments.refund', 7, 2, 4, 1, 2, 1],
      ['account.email.change', 2, 0, 0, 0, 0, 0],
      ['db.drop', 1, 0, 0, 0, 0, 0],
    ]);
    assert.deepEqual(f.byAgent.map((r) => [r.agent, r.requests, r.reviewed]), [['support-bot', 6, 4], ['ops-bot', 4, 3]]);
    assert.deepEqual(f.byRule.map((r) => [r.rule, r.requests]), [['large-refunds', 5], ['email-change', 2], ['small-refunds', 2], ['no-prod-drops', 1]]);
  });

  test('time to decide per group, SLA breaches and escalations', () => {
    assert.deepEqual(f.timeToDecideByGroup, [
      { group: 'finance', count: 5, p50Ms: 8000, p90Ms: 120000, slaBreaches: 0, escalations: 0 },
      { group: 'support', count: 1, p50Ms: 300000, p90Ms: 300000, slaBreaches: 1, escalations: 1 },
    ]);
    assert.deepEqual([f.slaBreaches, f.escalatedRequests, f.escalations], [1, 1, 1]);
  });

  test('per reviewer: approval rate, median time from shown to decided, the share decided fast; dave is flagged with the numbers', () => {
    assert.deepEqual(f.reviewers, [
      { reviewer: 'dave', count: 5, p50Ms: 4000, p90Ms: 8000, approved: 5, approvalRate: 1, medianMs: 4000, fastShare: 1, flag: 'approved 100 % of 5 decisions, 100 % of them within 10 s of being shown (median 4 s)' },
      { reviewer: 'erin', count: 2, p50Ms: 60000, p90Ms: 120000, approved: 1, approvalRate: 0.5, medianMs: 60000, fastShare: 0 },
      { reviewer: 'alice', count: 1, p50Ms: 300000, p90Ms: 300000, approved: 0, approvalRate: 0, medianMs: 300000, fastShare: 0 },
    ]);
  });
});
