/**
 * Issue 22 L9: an agent resubmitting and waiting cannot use up Temporal's Updates per workflow on
 * its own request. Its own dev server, with Temporal's limit lowered just above the agent's budget.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { findOrBuildTemporalCli } from '../cli/temporal-cli';
import { MAX_AGENT_WAITS } from '../workflows/approval';
import { awaitDecisionUpdate, WAIT_BUDGET_SPENT } from '../workflows/messages';
import { decideSeen } from './support/review';
import { action, startStack, type Stack } from './support/stack';

/** Temporal's limit of Updates per workflow: the agent's budget, the reviewer's deny, and a little room. */
const SERVER_LIMIT = MAX_AGENT_WAITS + 5;

const POLICY = `
version: 1
defaults: { decision: review, reviewers: finance, sla: 1h, tokenTtl: 5m }
groups:
  finance: { members: [dave] }
rules:
  - id: refund
    match: { action: payments.refund }
    decision: review
    reviewers: finance
    reason: Refunds need finance.
`;

let env: TestWorkflowEnvironment;
let stack: Stack;
before(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: findOrBuildTemporalCli() },
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
      extraArgs: ['--dynamic-config-value', `history.maxTotalUpdates=${SERVER_LIMIT}`],
    },
  });
  stack = await startStack(env, POLICY);
});
after(async () => {
  await stack?.stop();
  await env?.teardown();
});

describe('L9. the agent has a budget of waits per request; reviewers do not share it', () => {
  test('an agent spends its budget with raw updates, then more are refused without counting against Temporal, the agent is still answered, and dave\'s deny lands', async () => {
    const input = action();
    const request = await stack.cs.submit(input);
    assert.equal(request.status, 'pending');
    const handle = stack.ops.client.workflow.getHandle(request.workflowId);
    for (let i = 1; i < MAX_AGENT_WAITS; i++) await handle.executeUpdate(awaitDecisionUpdate, { args: [{ waitMs: 0 }] });
    // Past the budget: refused by the validator, never written to history, so never counted by Temporal.
    for (let i = 0; i < 3 * (SERVER_LIMIT - MAX_AGENT_WAITS); i++) {
      await assert.rejects(handle.executeUpdate(awaitDecisionUpdate, { args: [{ waitMs: 0 }] }), (err: unknown) => err instanceof WorkflowUpdateFailedError && (err.cause as { type?: string }).type === WAIT_BUDGET_SPENT);
    }
    // The agent through the server is still answered (from a query): a wait and a resubmit.
    assert.equal((await stack.cs.wait(request.workflowId, 1000)).status, 'pending');
    assert.equal((await stack.cs.submit(input)).status, 'pending');

    const receipt = await decideSeen(stack.cs, request.workflowId, { reviewer: 'dave', decision: 'deny', reasonCode: 'NOT_NEEDED', message: 'No refund is due.' });
    assert.equal(receipt.status, 'denied');
    const outcome = await stack.cs.outcome(request.workflowId);
    assert.equal(outcome.status, 'denied');
    assert.equal(outcome.code, 'REVIEWER_DENIED');
  });
});
