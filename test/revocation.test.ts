/**
 * Issue 22 M2: a reviewer key replaced in the directory stops deciding at once, also for a party
 * that goes around the server with raw Temporal on a request routed before the change.
 */
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createKeyFile, loadKeyFile } from '../crypto/keys';
import { decideSignal, decideUpdate } from '../workflows/messages';
import { eventually } from './support/eventually';
import { signedDecision } from './support/review';
import { action, useStack } from './support/stack';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: finance, sla: 1h, tokenTtl: 5m }
groups:
  finance: { members: [dave, erin] }
rules:
  - id: refund
    match: { action: payments.refund }
    decision: review
    reviewers: finance
    reason: Refunds need finance.
`;

const ctx = useStack(POLICY);

const refusedWith = (code: string) => (err: unknown) => {
  assert.ok(err instanceof WorkflowUpdateFailedError, `expected an update failure, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
  assert.ok(err.cause instanceof ApplicationFailure);
  assert.equal(err.cause.type, code, err.cause.message);
  return true;
};

describe('M2. a replaced reviewer key stops deciding at once, also through raw Temporal', () => {
  test("dave's key is replaced after routing: his old key's raw update and signal are refused UNAUTHENTICATED, nothing changes; his new key's approval lands", async () => {
    const { stack } = ctx;
    const request = await stack.cs.submit(action());
    assert.equal(request.status, 'pending');
    const oldKey = stack.reviewerKeys.get('dave')!;
    const oldSigned = await signedDecision(stack, request.workflowId, { reviewer: 'dave', decision: 'approve' });

    // The operator replaces dave's key in the directory: the worker reloads the policy file.
    const oldPublic = loadKeyFile(oldKey).publicKey;
    const newKey = oldKey.replace(/\.key$/, '-new.key');
    const fresh = createKeyFile(newKey);
    const text = readFileSync(stack.policyFile, 'utf8');
    assert.ok(text.includes(oldPublic));
    writeFileSync(`${stack.policyFile}.tmp`, text.replace(oldPublic, fresh.publicKey));
    renameSync(`${stack.policyFile}.tmp`, stack.policyFile);
    assert.equal(stack.reloadPolicy(), true);

    const handle = stack.ops.client.workflow.getHandle(request.workflowId);
    await assert.rejects(handle.executeUpdate(decideUpdate, { args: [oldSigned] }), refusedWith('UNAUTHENTICATED'));
    const reSigned = await signedDecision(stack, request.workflowId, { reviewer: 'dave', decision: 'approve' }, oldKey);
    await handle.signal(decideSignal, reSigned);
    await eventually(async () => assert.ok((await stack.ops.view(request.workflowId)).history.some((e) => e.type === 'refused' && e.actor === 'dave')), 'the refused signal is recorded');

    const after = await stack.ops.view(request.workflowId);
    assert.equal(after.status, 'pending');
    assert.deepEqual(after.approvals, []);
    assert.ok(!after.history.some((e) => e.type === 'approved'), 'no approval in the evidence');
    const refused = after.history.filter((e) => e.type === 'refused' && e.actor === 'dave');
    assert.ok(refused.every((e) => /UNAUTHENTICATED/.test(e.detail)), JSON.stringify(refused));

    const newSigned = await signedDecision(stack, request.workflowId, { reviewer: 'dave', decision: 'approve' }, newKey);
    const receipt = await handle.executeUpdate(decideUpdate, { args: [newSigned] });
    assert.equal(receipt.status, 'approved');
    const approved = (await stack.ops.view(request.workflowId)).history.find((e) => e.type === 'approved' && e.actor === 'dave');
    assert.equal((approved?.data as { publicKey?: string } | undefined)?.publicKey, fresh.publicKey, 'the evidence names the key that signed');
  });
});
