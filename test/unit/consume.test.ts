/** The consume call's schema (common/inputs.ts): junk around a real binding is refused in one sentence naming the field. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { describeIssues } from '../../common/errors';
import { ConsumeRequest } from '../../common/inputs';
import { assertOneSentence, identifier, runs, wire } from '../support/arbitraries';
import { consumeJunk } from '../support/junk-inputs';

describe('consume calls refused by the schema (pure)', () => {
  test('junk consume calls that must be invalid are refused by the schema, in one sentence naming the field', () => {
    const binding = fc.record({ token: fc.stringMatching(/^cst_[A-Za-z0-9_-]{43}$/), agentId: identifier, taskId: identifier, actionDigest: fc.stringMatching(/^[0-9a-f]{64}$/) });
    fc.assert(
      fc.property(binding.chain((real) => consumeJunk(real).map((junk) => ({ real, junk }))), ({ real, junk }) => {
        const parsed = ConsumeRequest.safeParse(wire(junk.value));
        if (junk.mustBeInvalid) assert.ok(!parsed.success, `the schema accepts a consume call that must be invalid: ${JSON.stringify(junk.value)?.slice(0, 300)}`);
        if (!parsed.success) assertOneSentence(describeIssues(parsed.error, 'consume request'), 'consume request', Object.keys(real));
      }),
      runs(1000),
    );
  });
});
