/**
 * Model-based property test of the token rules (workflows/consume.ts, DESIGN §5): fast-check
 * generates sequences of consume attempts (the right token or another, malformed requests, other
 * agents, tasks and digests, the clock moving past expiry, the request leaving 'approved'), drives
 * the pure rules with them exactly as the consume handler does, and checks every answer against a
 * model that knows only the order of the checks and whether the token was ever accepted.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ReasonCode, type ApprovalStatus } from '../../common/codes';
import { sha256Hex } from '../../common/digest';
import { checkConsume, checkReport, consume, EXPIRED_UNUSED, reported, spendRefusal, spent, unreceipted, type Spend, type TokenState } from '../../workflows/consume';

const TOKEN = 'cs_tok_3f9a1c0e7b5d4a2f8e6c1b0a9d7e5f3c';
const OTHER_TOKEN = 'cs_tok_0000000000000000000000000000000';
const DIGEST = 'a'.repeat(64);
const OTHER_DIGEST = 'b'.repeat(64);
const START = Date.parse('2026-11-25T12:00:00Z');
const TTL = 5 * 60_000;
const REQUEST_ID = '0123456789abcdef';

const minted = (): TokenState => ({
  tokenId: 'tok_1',
  hash: sha256Hex(TOKEN),
  binding: { agentId: 'support-bot', taskId: 't-1', actionDigest: DIGEST, workflowId: `cs-support-bot-${REQUEST_ID}` },
  expiresAt: START + TTL,
  consumed: false,
});

/** One attempt: which token, which binding fields differ, how far the clock moved, and the run's status. */
interface Try {
  shape: 'ok' | 'malformed';
  token: 'right' | 'other';
  agent: boolean;
  task: boolean;
  digest: boolean;
  /** ms the clock moves before this attempt */
  tick: number;
  status: ApprovalStatus;
}

const statuses = fc.constantFrom<ApprovalStatus>('approved', 'approved', 'approved', 'approved', 'executed', 'not_executed', 'outcome_unknown', 'cancelled');
/** Mostly the bound value, so that attempts get past the binding check often enough to be accepted. */
const differs = fc.constantFrom(false, false, false, true);
const attempt: fc.Arbitrary<Try> = fc.record({
  shape: fc.constantFrom<Try['shape']>('ok', 'ok', 'ok', 'ok', 'malformed'),
  token: fc.constantFrom<Try['token']>('right', 'right', 'right', 'other'),
  agent: differs,
  task: differs,
  digest: differs,
  tick: fc.constantFrom(0, 0, 1, 1000, 60_000, TTL / 2, TTL),
  status: statuses,
});

const raw = (t: Try): unknown =>
  t.shape === 'malformed'
    ? { token: t.token === 'right' ? TOKEN : OTHER_TOKEN, agentId: 'support-bot', taskId: 't-1', actionDigest: 'not-a-digest' }
    : {
        token: t.token === 'right' ? TOKEN : OTHER_TOKEN,
        agentId: t.agent ? 'other-bot' : 'support-bot',
        taskId: t.task ? 't-2' : 't-1',
        actionDigest: t.digest ? OTHER_DIGEST : DIGEST,
      };

/** The spec's order of checks, written from DESIGN §5 and nothing the rules keep. */
function expected(t: Try, now: number, used: boolean): { code: string; what?: string } | 'accept' {
  if (t.shape === 'malformed') return { code: ReasonCode.INVALID_REQUEST };
  if (t.token === 'other') return { code: ReasonCode.TOKEN_INVALID };
  if (now >= START + TTL) return { code: ReasonCode.TOKEN_EXPIRED };
  if (used) return { code: ReasonCode.TOKEN_CONSUMED };
  if (t.status !== 'approved') return { code: ReasonCode.TOKEN_INVALID };
  if (t.agent) return { code: ReasonCode.BINDING_MISMATCH, what: 'agent' };
  if (t.task) return { code: ReasonCode.BINDING_MISMATCH, what: 'task' };
  if (t.digest) return { code: ReasonCode.BINDING_MISMATCH, what: 'payload digest' };
  return 'accept';
}

describe('token rules (workflows/consume.ts)', () => {
  test('every attempt gets the answer the order of checks gives, and a token is accepted at most once', () => {
    fc.assert(
      fc.property(fc.array(attempt, { minLength: 1, maxLength: 30 }), (tries) => {
        let token: TokenState | undefined = minted();
        let now = START;
        let used = false;
        let accepted = 0;
        for (const t of tries) {
          now += t.tick;
          const at = { now, status: t.status, requestId: REQUEST_ID };
          const want = expected(t, now, used);
          const validated = checkConsume(token, raw(t), at);
          const got = consume(token, raw(t), at);
          if (want === 'accept') {
            assert.ok(validated.ok, 'the validator lets through what the handler accepts');
            assert.ok(got.ok, `accepted: ${JSON.stringify(t)}`);
            assert.equal(got.token.consumed, true, 'the accepted state is consumed');
            assert.equal(token!.consumed, false, 'the state before is left as it was');
            token = got.token;
            used = true;
            accepted += 1;
          } else {
            assert.ok(!got.ok, `refused: ${JSON.stringify(t)}`);
            assert.equal(got.code, want.code, `${JSON.stringify(t)} at +${now - START}ms, used ${used}`);
            assert.deepEqual(validated, got, 'the validator and the handler refuse alike');
            if (want.what) assert.match(got.message, new RegExp(`bound to another ${want.what}:`));
            if (want.code === ReasonCode.TOKEN_EXPIRED) assert.equal(got.message, `The token expired at ${new Date(START + TTL).toISOString()}.`);
          }
          assert.ok(accepted <= 1, 'a token is accepted at most once');
        }
      }),
      { numRuns: 3000, includeErrorInReport: true },
    );
  });

  test('after expiry the right token is always TOKEN_EXPIRED, whatever else the attempt says', () => {
    fc.assert(
      fc.property(attempt, fc.integer({ min: 0, max: 10 * TTL }), fc.boolean(), (t, late, consumed) => {
        const token = { ...minted(), consumed };
        const got = consume(token, raw({ ...t, shape: 'ok', token: 'right' }), { now: START + TTL + late, status: t.status, requestId: REQUEST_ID });
        assert.ok(!got.ok);
        assert.equal(got.code, ReasonCode.TOKEN_EXPIRED);
      }),
      { numRuns: 1000 },
    );
  });

  test('any binding field that differs is refused with BINDING_MISMATCH, naming the first that differs', () => {
    const field = fc.record({ agent: fc.boolean(), task: fc.boolean(), digest: fc.boolean() }).filter((f) => f.agent || f.task || f.digest);
    fc.assert(
      fc.property(field, fc.integer({ min: 0, max: TTL - 1 }), (f, age) => {
        const got = consume(minted(), raw({ shape: 'ok', token: 'right', ...f, tick: 0, status: 'approved' }), { now: START + age, status: 'approved', requestId: REQUEST_ID });
        assert.ok(!got.ok);
        assert.equal(got.code, ReasonCode.BINDING_MISMATCH);
        const what = f.agent ? 'agent' : f.task ? 'task' : 'payload digest';
        assert.equal(got.message, `The token is bound to another ${what}: it approves exactly one agent, task and payload.`);
      }),
    );
  });

  test('no token released: every well-formed attempt is TOKEN_INVALID', () => {
    fc.assert(
      fc.property(attempt, (t) => {
        const got = consume(undefined, raw({ ...t, shape: 'ok' }), { now: START, status: t.status, requestId: REQUEST_ID });
        assert.ok(!got.ok);
        assert.equal(got.code, ReasonCode.TOKEN_INVALID);
      }),
    );
  });

  test('a consumed token ends the run as the ledger answered; only a receipted one waits for the report', () => {
    const spends = fc.constantFrom<Spend>('receipted', 'spent_before_reset', 'failed');
    const report = fc.option(fc.record({ status: fc.constantFrom<'succeeded' | 'failed'>('succeeded', 'failed'), message: fc.option(fc.string(), { nil: undefined }) }), { nil: undefined });
    fc.assert(
      fc.property(spends, report, (spend, rep) => {
        const token = spent({ ...minted(), consumed: true }, spend);
        assert.equal(token.consumed, true, 'a spend never re-arms the token');
        const again = consume(token, raw({ shape: 'ok', token: 'right', agent: false, task: false, digest: false, tick: 0, status: 'approved' }), { now: START, status: 'approved', requestId: REQUEST_ID });
        assert.ok(!again.ok && again.code === ReasonCode.TOKEN_CONSUMED, 'spent is used, whatever the ledger said');
        const early = unreceipted(token);
        if (spend === 'receipted') {
          assert.equal(early, undefined);
          const end = reported(rep, 'rcpt_1');
          assert.equal(end.status, rep === undefined ? 'outcome_unknown' : rep.status === 'succeeded' ? 'executed' : 'failed');
          assert.equal(end.execution.receiptId, 'rcpt_1');
        } else {
          assert.equal(early?.status, 'outcome_unknown');
          assert.equal(early?.execution.status, 'unknown');
          assert.equal(early?.execution.receiptId, undefined, 'no receipt without a recorded spend');
          assert.equal(spendRefusal(spend).code, ReasonCode.TOKEN_CONSUMED);
        }
      }),
    );
    assert.deepEqual(EXPIRED_UNUSED, { status: 'not_executed', execution: { status: 'not_executed' } });
  });

  test('a report is taken once, after a receipted consumption, while the request is approved', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), statuses, (valid, receipted, alreadyReported, status) => {
        const got = checkReport(valid ? { status: 'succeeded' } : { status: 'maybe' }, { receipted, reported: alreadyReported, status, requestId: REQUEST_ID });
        const want = !valid
          ? ReasonCode.INVALID_REQUEST
          : !receipted
            ? ReasonCode.NOT_CONSUMED
            : alreadyReported || status !== 'approved'
              ? ReasonCode.ALREADY_DECIDED
              : undefined;
        if (want === undefined) assert.ok(got.ok);
        else assert.ok(!got.ok && got.code === want, `${want}: ${JSON.stringify(got)}`);
      }),
    );
  });
});
