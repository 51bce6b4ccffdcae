/**
 * The cap on an agent's open requests (server/open-requests.ts) over a stand-in for Temporal whose
 * visibility lists nothing: the front door's own count is all that holds a burst back. The same
 * against real Temporal: test/visibility-lag.test.ts and test/server.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Approvals } from '../../server/approvals';
import { maxOpenRequests } from '../../server/main';
import { OpenRequestCap } from '../../server/open-requests';
import { HttpProblem } from '../../server/problems';

/** Workflows by id with their status; visibility counts none of them (it lags behind every start). */
function lagging(workflows: Map<string, string>): Approvals {
  return {
    countOpen: async () => 0,
    listedPastEvaluation: async () => new Set<string>(),
    status: async (workflowId: string) => {
      const status = workflows.get(workflowId);
      if (status === undefined) throw new WorkflowNotFoundError('not found', workflowId, undefined);
      return { status, closed: !['evaluating', 'pending', 'escalated', 'approved'].includes(status) };
    },
  } as unknown as Approvals;
}

const refusedAtCap = (err: unknown) => err instanceof HttpProblem && err.status === 409 && err.code === 'TOO_MANY_OPEN_REQUESTS';

describe('the open-request cap', () => {
  test('a burst of 10 concurrent submissions opens exactly the 3 the cap leaves room for', async () => {
    const workflows = new Map<string, string>();
    const cap = new OpenRequestCap(lagging(workflows), 3);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, async (_, i) => {
        const done = await cap.admit('bot', `cs-bot-${i}`);
        workflows.set(`cs-bot-${i}`, 'pending'); // the start answers: waiting for a reviewer
        done('pending');
      }),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
    for (const r of results) if (r.status === 'rejected') assert.ok(refusedAtCap(r.reason), String(r.reason));
    // Another agent has room of its own; a resubmission of a running request joins it.
    await cap.admit('other-bot', 'cs-other-bot-1');
    const [open] = [...workflows.keys()];
    await cap.admit('bot', open!);
    await assert.rejects(cap.admit('bot', 'cs-bot-new'), refusedAtCap);
  });

  test('an auto-allowed request is not counted once its start answers', async () => {
    const cap = new OpenRequestCap(lagging(new Map()), 1);
    for (let i = 0; i < 5; i++) (await cap.admit('bot', `cs-bot-${i}`))('approved');
  });

  test('COUNTERSIGN_MAX_OPEN_REQUESTS is a whole number from 1 to 1,000,000, else one sentence', () => {
    assert.equal(maxOpenRequests(undefined), undefined);
    assert.equal(maxOpenRequests(''), undefined);
    assert.equal(maxOpenRequests('250'), 250);
    for (const text of ['0', '-1', '1e3', '2.5', 'ten', '2000000']) {
      assert.throws(() => maxOpenRequests(text), (err: Error) => err.name === 'ConfigError' && err.message === `Environment variable COUNTERSIGN_MAX_OPEN_REQUESTS must be a whole number from 1 to 1000000, got "${text}".`);
    }
  });
});
