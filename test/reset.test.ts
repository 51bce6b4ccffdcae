/**
 * Issue 22: an operator's reset of a reviewed request, to any point of its history, replays: the
 * new run does not stick on a nondeterminism error, and a spent token is never re-armed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import type { ApprovalOutcome } from '../common/views';
import { openToken } from '../client/agent-keys';
import { awaitDecisionUpdate, consumeUpdate, reviewViewQuery } from '../workflows/messages';
import { eventually } from './support/eventually';
import { FINANCE_TWICE_POLICY } from './support/refund-policy';
import { decideSeen } from './support/review';
import { action, useStack } from './support/stack';

const ctx = useStack(FINANCE_TWICE_POLICY);
const EventType = temporal.api.enums.v1.EventType;
type Event = temporal.api.history.v1.IHistoryEvent;

const isDecision = (e: Event) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED && e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'decide';
const isConsume = (e: Event) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED && e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'consume';
/** The last WorkflowTaskCompleted before the event `index` picks (or the last of all). */
const completedBefore = (events: Event[], index: number) => events.slice(0, index < 0 ? events.length : index).reverse().find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);

const POINTS: Record<string, (events: Event[]) => Event | undefined> = {
  'before the first decision': (events) => completedBefore(events, events.findIndex(isDecision)),
  'between the two decisions': (events) => completedBefore(events, events.findLastIndex(isDecision)),
  'after approval, before the consume': (events) => completedBefore(events, events.findIndex(isConsume)),
  'after the consume': (events) => completedBefore(events, -1),
};

describe('a reset of a reviewed request replays', () => {
  for (const [where, pick] of Object.entries(POINTS)) {
    test(`reset ${where}: the new run replays and ends, and the spent token is not re-armed`, async () => {
      const { stack, env } = ctx;
      const request = await stack.cs.submit(action());
      assert.equal(request.status, 'pending');
      const agentKey = stack.cs.keys.get(request.workflowId)!; // the agent's own key: it opens whatever token a run seals to it
      await decideSeen(stack.cs, request.workflowId, { reviewer: 'dave', decision: 'approve' });
      await decideSeen(stack.cs, request.workflowId, { reviewer: 'erin', decision: 'approve' });
      await request.wait(5000);
      assert.equal(request.status, 'approved');
      const token = request.openToken()!;
      const receipt = await request.consume();
      await request.report({ status: 'succeeded' });
      const first = (await stack.cs.outcome(request.workflowId)) as ApprovalOutcome;
      assert.equal(first.status, 'executed');

      const handle = env.client.workflow.getHandle(request.workflowId);
      const { events } = await handle.fetchHistory();
      const point = pick(events!);
      assert.ok(point, 'the reset point is in the history');
      const firstRunId = (await handle.describe()).runId;
      const reset = await env.client.workflowService.resetWorkflowExecution({
        namespace: 'default',
        workflowExecution: { workflowId: request.workflowId, runId: firstRunId },
        reason: `operator resets ${where}`,
        workflowTaskFinishEventId: point.eventId,
        requestId: randomUUID(),
      });
      const resetHandle = env.client.workflow.getHandle(request.workflowId, reset.runId!);
      // The new run's first task after the reset either completes (it replayed) or fails (it is stuck).
      const RESET = temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW;
      const after = await eventually(async () => {
        const { events: now } = await resetHandle.fetchHistory();
        const resetAt = now!.findIndex((e) => e.workflowTaskFailedEventAttributes?.cause === RESET);
        const later = now!.slice(resetAt + 1);
        const failed = later.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
        assert.ok(failed.length || later.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED), 'the reset run has run a task');
        return failed;
      }, 'the reset run runs a task');
      assert.deepEqual(after.map((e) => e.workflowTaskFailedEventAttributes?.failure?.message), [], 'no workflow task failed after the reset');
      const view = await resetHandle.query(reviewViewQuery);
      assert.equal(view.runId, firstRunId, 'statements name the first run of the chain, so the decisions signed before the reset still verify');
      if (view.status === 'approved') {
        // Whichever token the reset run holds (the replayed one, or a fresh one it minted), the ledger outside workflow state refuses its spend.
        const grant = (await resetHandle.executeUpdate(awaitDecisionUpdate, { args: [{ waitMs: 0 }] })).outcome?.token;
        assert.ok(grant?.sealed);
        const held = grant.tokenId === receipt.body.tokenId ? token : openToken(agentKey, grant.sealed, request.workflowId, grant.tokenId);
        const consume = { token: held, agentId: request.request.agentId, taskId: request.request.taskId, actionDigest: receipt.body.actionDigest };
        await assert.rejects(resetHandle.executeUpdate(consumeUpdate, { args: [consume] }), (err: unknown) => (err as { cause?: { type?: string } }).cause?.type === 'TOKEN_CONSUMED');
      }
      await resetHandle.terminate('test over').catch(() => undefined);
    });
  }
});
