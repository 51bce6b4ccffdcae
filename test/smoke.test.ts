import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { testEnvironment } from './support/server';
import { action, startStack, type Stack } from './support/stack';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: support, sla: 1h }
groups:
  support: { members: [alice, bob] }
rules:
  - id: small-refunds
    match: { action: payments.refund }
    when: payload.amount <= 200
    decision: allow
`;
let env: TestWorkflowEnvironment;
let stack: Stack;
before(async () => {
  env = await testEnvironment();
  stack = await startStack(env, POLICY);
});
after(async () => {
  await stack?.stop();
  await env?.teardown();
});

test('auto allow', async () => {
  const state = await stack.cs.submit(action(), { waitMs: 5000 });
  assert.equal(state.status, 'approved');
});
