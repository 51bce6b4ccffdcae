/**
 * Junk reviewer decisions and consume calls for property tests, tagged with whether the schema must
 * refuse them (test/unit/review-rules.test.ts, test/unit/consume.test.ts, and against the workflow
 * in test/tokens.test.ts, whose policy's support group is MEMBERS).
 */
import fc from 'fast-check';
import { MAX_PAYLOAD_BYTES } from '../../common/json';
import { FORBIDDEN, identifier, json, nested, notAString, unicode, withForbiddenKey } from './arbitraries';

/** The reviewers of the test policy's support group. */
export const MEMBERS = ['alice', 'bob'];

export type Tagged<T> = { value: T; mustBeInvalid: boolean };
export const invalid = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<Tagged<T>> => arb.map((value) => ({ value, mustBeInvalid: true }));
export const unknownShape = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<Tagged<T>> => arb.map((value) => ({ value, mustBeInvalid: false }));

/** Keys a refusal has to name: the worst of them (a lone surrogate) once took the worker down. */
export const oddKey = fc.oneof(unicode({ maxLength: 8 }), fc.constantFrom('\ud800', 'k\udfff', '\n', '"', '__proto__'));
export const notMember = identifier.filter((r) => !MEMBERS.includes(r));
export const anyReviewer = fc.oneof(fc.constantFrom(...MEMBERS), notMember);
export const badPayload = fc.oneof(
  fc.array(json(1), { maxLength: 3 }),
  fc.string(),
  fc.integer(),
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: 33, max: 40 }).map((levels) => ({ d: nested(levels - 1, false) })),
  // As deep as the client's JSON.stringify can send (thousands more overflow it before anything is sent).
  fc.constantFrom(2000).map((levels) => ({ d: nested(levels - 1, true) })),
  fc.constant({ blob: 'x'.repeat(MAX_PAYLOAD_BYTES) }),
  fc.tuple(fc.constantFrom(...FORBIDDEN), fc.integer({ min: 0, max: 5 })).map(([key, depth]) => withForbiddenKey(key, depth, { amount: 120 })),
);
export const badReasonCode = fc.oneof(fc.constantFrom('', 'A', 'lower_case', 'SPACE CODE', '1ABC', `A${'B'.repeat(64)}`, 'DUP\n'), fc.string({ maxLength: 10 }).filter((s) => !/^[A-Z][A-Z0-9_]{1,63}$/.test(s)));
export const validSignature = fc.record({ signedAt: fc.constant('2030-01-01T00:00:00Z'), value: fc.stringMatching(/^[A-Za-z0-9+/]{86}==$/) });

export const junkDecision: fc.Arbitrary<Tagged<unknown>> = fc.oneof(
  unknownShape(fc.anything({ maxDepth: 2 })),
  invalid(fc.record({ decision: fc.oneof(fc.constantFrom('APPROVE', 'accept', 'reject', '', 'approve ', 'request-changes'), fc.integer(), fc.constant(null)), reviewer: anyReviewer })),
  invalid(fc.record({ decision: fc.constant('deny'), reviewer: anyReviewer, reasonCode: badReasonCode, message: fc.constant('Not this one.') })),
  invalid(fc.record({ decision: fc.constant('deny'), reviewer: anyReviewer, reasonCode: fc.constant('DUPLICATE'), message: fc.oneof(fc.constantFrom('', '   ', '\n'), fc.constant('m'.repeat(2001))) })),
  invalid(fc.record({ decision: fc.constant('deny'), reviewer: anyReviewer, message: fc.constant('No reason code.') })),
  invalid(fc.record({ decision: fc.constant('approve'), reviewer: anyReviewer, comment: fc.integer({ min: 2001, max: 100_000 }).map((n) => 'c'.repeat(n)) })),
  invalid(fc.record({ decision: fc.constant('approve'), reviewer: anyReviewer, editedPayload: badPayload })),
  invalid(fc.record({ decision: fc.constant('request_changes'), reviewer: anyReviewer, comment: fc.constantFrom('', '  ', 'c'.repeat(2001)) })),
  invalid(fc.record({ decision: fc.constant('request_changes'), reviewer: anyReviewer, comment: fc.constant('Smaller, please.'), proposedPayload: badPayload })),
  invalid(fc.record({ decision: fc.constant('approve'), reviewer: anyReviewer, signature: fc.oneof(fc.string(), fc.record({ signedAt: fc.string(), value: fc.string() }), fc.constant({ signedAt: '2030-01-01T00:00:00Z', value: 'short' })) })),
  invalid(fc.record({ decision: fc.constant('approve'), reviewer: fc.oneof(fc.constantFrom('', ' alice', 'alice\n', 'x'.repeat(129)), unicode({ maxLength: 6 }).map((s) => `-${s}`)) })),
  {
    arbitrary: invalid(fc.tuple(anyReviewer, oddKey).filter(([, k]) => !['decision', 'reviewer', 'comment', 'editedPayload', 'signature'].includes(k)).map(([reviewer, key]) => JSON.parse(JSON.stringify({ decision: 'approve', reviewer, [key]: 1 })) as unknown)),
    weight: 3,
  },
  // Well-formed decisions from reviewers outside the group: refused as not eligible.
  unknownShape(
    fc.oneof(
      fc.record({ decision: fc.constant('approve'), reviewer: notMember, comment: fc.string({ maxLength: 50 }) }, { requiredKeys: ['decision', 'reviewer'] }),
      fc.record({ decision: fc.constant('approve'), reviewer: notMember, editedPayload: fc.constant({ amount: 5000 }), signature: validSignature }, { requiredKeys: ['decision', 'reviewer'] }),
      fc.record({ decision: fc.constant('deny'), reviewer: notMember, reasonCode: fc.constant('NOPE'), message: fc.constant('No.') }),
      fc.record({ decision: fc.constant('request_changes'), reviewer: fc.constantFrom('support-bot', 'mallory', 'MALLORY', ...MEMBERS.map((m) => m.toUpperCase())), comment: fc.constant('Halve it.') }),
    ),
  ),
);

export type Binding = { token: string; agentId: string; taskId: string; actionDigest: string };

/** Junk consume calls around a real binding: forged tokens, the real token bound elsewhere, and shapes the schema must refuse. */
export function consumeJunk(real: Binding): fc.Arbitrary<Tagged<unknown>> {
  return fc.oneof(
    unknownShape(fc.anything({ maxDepth: 2 })),
    // Forged tokens with the right binding.
    unknownShape(
      fc.oneof(fc.string({ minLength: 1, maxLength: 200 }), fc.stringMatching(/^cst_[A-Za-z0-9_-]{43}$/), fc.constant(`${real.token} `), fc.constant(real.token.slice(0, -1))).map((t) => ({ ...real, token: t })),
    ),
    // The real token, presented for another agent, task or payload.
    unknownShape(
      fc.oneof(
        fc.string({ minLength: 1, maxLength: 128 }).map((agentId) => ({ ...real, agentId })),
        fc.string({ minLength: 1, maxLength: 128 }).map((taskId) => ({ ...real, taskId })),
        fc.stringMatching(/^[0-9a-f]{64}$/).map((digest) => ({ ...real, actionDigest: digest })),
      ),
    ),
    // Shapes the schema must refuse.
    invalid(
      fc.oneof(
        fc.constantFrom(...Object.keys(real)).map((k) => Object.fromEntries(Object.entries(real).filter(([key]) => key !== k))),
        fc.constantFrom({ ...real, token: '' }, { ...real, token: 't'.repeat(201) }, { ...real, agentId: '' }, { ...real, taskId: 'x'.repeat(129) }),
        fc.constantFrom(`A${real.actionDigest.slice(1)}`, real.actionDigest.slice(1), `${real.actionDigest}0`, '').map((d) => ({ ...real, actionDigest: d })),
        fc.tuple(fc.constantFrom(...Object.keys(real)), notAString).map(([k, v]) => ({ ...real, [k]: v })),
        oddKey.filter((k) => !(k in real)).map((k) => JSON.parse(JSON.stringify({ ...real, [k]: 'extra' })) as unknown),
      ),
    ),
  );
}

export const DECISION_FIELDS = ['decision', 'reviewer', 'comment', 'editedPayload', 'proposedPayload', 'reasonCode', 'message', 'signature'];
