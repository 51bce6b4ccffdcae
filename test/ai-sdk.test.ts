/**
 * countersign/ai-sdk against the real AI SDK 7 (generateText, tool approvals, its mock language
 * model scripted to call the tool) and a real countersign server and worker: the side effect runs
 * only inside the tool's execute, after the token is consumed, and exactly once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { generateText, isStepCount, simulateReadableStream, streamText, tool, type ModelMessage, type ToolApprovalResponse } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { z } from 'zod';
import { countersignApprovalResponses, countersignRequestId, isCountersignRefusal, withCountersign, awaitDecision } from '../client/adapters/ai-sdk';
import { decideSeen } from './support/review';
import { eventually } from './support/eventually';
import { useStack } from './support/stack';
import { REFUND_POLICY } from './support/refund-policy';


const ctx = useStack(REFUND_POLICY);

interface Refund {
  customer: string;
  amount: number;
  currency: 'USD' | 'EUR' | 'GBP';
  order: string;
}

/** A refund tool whose side effect is counted: every run is pushed to `runs`. */
function refundTools() {
  const runs: Refund[] = [];
  const tools = {
    refund: tool({
      description: 'Refund an order',
      inputSchema: z.object({ customer: z.string(), amount: z.number(), currency: z.enum(['USD', 'EUR', 'GBP']), order: z.string() }),
      execute: async (input: Refund) => {
        runs.push(input);
        return { refunded: input.amount, order: input.order };
      },
    }),
  };
  return { tools, runs };
}

/** The provider spec's prompt and stream parts, as the mock model takes them (ai re-exports neither). */
type LanguageModelV4Prompt = Parameters<MockLanguageModelV4['doGenerate']>[0]['prompt'];
type LanguageModelV4StreamPart = Awaited<ReturnType<MockLanguageModelV4['doStream']>>['stream'] extends ReadableStream<infer P> ? P : never;

/** The AI SDK's mock model, scripted: it calls `refund` with `input`; once it has a tool result it says what it saw. Streams too. */
function scriptedModel(input: Refund) {
  const usage = { inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 1, text: 1, reasoning: 0 } };
  const next = (prompt: LanguageModelV4Prompt) => {
    const last = prompt.at(-1);
    return last?.role === 'tool'
      ? { text: `saw ${JSON.stringify(last.content)}`, finishReason: { unified: 'stop' as const, raw: 'stop' } }
      : { call: { type: 'tool-call' as const, toolCallId: `call-${randomUUID().slice(0, 8)}`, toolName: 'refund', input: JSON.stringify(input) }, finishReason: { unified: 'tool-calls' as const, raw: 'tool_calls' } };
  };
  return new MockLanguageModelV4({
    doGenerate: async (options) => {
      const step = next(options.prompt);
      return { content: step.call ? [step.call] : [{ type: 'text', text: step.text ?? '' }], finishReason: step.finishReason, usage, warnings: [] };
    },
    doStream: async (options) => {
      const step = next(options.prompt);
      const chunks: LanguageModelV4StreamPart[] = [{ type: 'stream-start', warnings: [] }];
      if (step.call) chunks.push(step.call);
      else chunks.push({ type: 'text-start', id: 't' }, { type: 'text-delta', id: 't', delta: step.text ?? '' }, { type: 'text-end', id: 't' });
      chunks.push({ type: 'finish', finishReason: step.finishReason, usage });
      return { stream: simulateReadableStream({ chunks }) };
    },
  });
}

const refundInput = (amount: number): Refund => ({ customer: 'C-42', amount, currency: 'USD', order: `O-${randomUUID().slice(0, 8)}` });

async function gated(taskId = `ai-${randomUUID()}`) {
  const cs = await ctx.stack.agent('support-bot');
  const { tools, runs } = refundTools();
  const countersign = withCountersign(cs, tools, {
    taskId,
    waitMs: 500,
    actions: {
      refund: { action: 'payments.refund', resource: (i) => ({ type: 'customer', id: i.customer }), summary: (i) => `Refund ${i.amount} ${i.currency} on order ${i.order}` },
    },
  });
  return { cs, countersign, runs, taskId };
}

/** One turn: the user asks, the scripted model calls refund with `input`. */
async function turn(g: Awaited<ReturnType<typeof gated>>, input: Refund, messages: ModelMessage[] = [{ role: 'user', content: 'Refund the duplicate charge.' }]) {
  const result = await generateText({ model: scriptedModel(input), ...g.countersign, messages, stopWhen: isStepCount(3) });
  return { result, messages: [...messages, ...result.responseMessages] };
}

/** The turn's single countersign approval request. */
function approvalRequest(content: Awaited<ReturnType<typeof turn>>['result']['content']) {
  const parts = content.filter((p) => p.type === 'tool-approval-request');
  assert.equal(parts.length, 1, JSON.stringify(content));
  const part = parts[0]!;
  assert.ok(part.type === 'tool-approval-request');
  const requestId = countersignRequestId(part);
  assert.ok(requestId, part.reason);
  return { part, requestId };
}

function toolResults(content: Awaited<ReturnType<typeof turn>>['result']['content']): unknown[] {
  return content.flatMap((p) => (p.type === 'tool-result' ? [p.output] : []));
}

/** What a resumed call answered: on a resume the SDK runs approved calls before the first step, into responseMessages. */
function resumedOutputs(result: { responseMessages: ModelMessage[] }): unknown[] {
  return result.responseMessages.flatMap((m) =>
    m.role === 'tool' ? m.content.flatMap((p) => (p.type === 'tool-result' && p.output.type === 'json' ? [p.output.value] : [])) : [],
  );
}

describe('countersign/ai-sdk', () => {
  test('an allowed tool runs exactly once, with the input the model gave, and the request is executed', async () => {
    const g = await gated();
    const input = refundInput(40);
    const { result } = await turn(g, input);
    assert.deepEqual(g.runs, [input]);
    const outputs = result.steps.flatMap((s) => toolResults(s.content));
    assert.deepEqual(outputs, [{ refunded: 40, order: input.order }]);
    assert.match(result.text, /"refunded":40/);
    await eventually(async () => {
      const row = (await g.cs.list()).find((r) => r.summary.includes(input.order));
      assert.equal(row?.status, 'executed');
    }, 'the request is executed');
  });

  test('a denied tool never runs; the model sees the structured refusal with its reason code', async () => {
    const g = await gated();
    const { result } = await turn(g, refundInput(20_000));
    assert.equal(g.runs.length, 0);
    const [output] = result.steps.flatMap((s) => toolResults(s.content));
    assert.ok(isCountersignRefusal(output), JSON.stringify(output));
    assert.equal(output.code, 'POLICY_DENIED');
    assert.equal(output.status, 'denied');
    assert.match(output.message, /Refunds over 10,000 are never automated/);
    assert.match(result.text, /POLICY_DENIED/, 'the model\'s next step had the reason code in its tool result');
  });

  test('a reviewed tool enters the approval flow and does not run; a reviewer approves in countersign; the resumed call runs exactly once', async () => {
    const g = await gated();
    const input = refundInput(450);
    const first = await turn(g, input);
    assert.equal(g.runs.length, 0);
    assert.equal(first.result.steps.flatMap((s) => toolResults(s.content)).length, 0, 'no tool result while a reviewer decides');
    const { requestId } = approvalRequest(first.result.content);
    const waiting = await awaitDecision(g.cs, requestId, 0);
    assert.deepEqual([waiting.decided, waiting.approved, waiting.status], [false, false, 'pending']);
    const undecided = await countersignApprovalResponses(g.cs, first.result.content, 0);
    assert.deepEqual(undecided, { responses: [], pending: [requestId] });

    await decideSeen(ctx.stack.cs, requestId, { decision: 'approve', reviewer: 'dave' });
    const { responses, pending } = await countersignApprovalResponses(g.cs, first.result.content, 5000);
    assert.deepEqual(pending, []);
    assert.equal(responses.length, 1);
    assert.equal(responses[0]?.approved, true);
    const resumed = await generateText({ model: scriptedModel(input), ...g.countersign, messages: [...first.messages, { role: 'tool', content: responses }], stopWhen: isStepCount(3) });
    assert.deepEqual(g.runs, [input]);
    assert.match(resumed.text, /"refunded":450/);
    assert.equal((await ctx.stack.cs.outcome(requestId)).status, 'executed');
  });

  test('an approval with an edit runs the edited arguments, once', async () => {
    const g = await gated();
    const input = refundInput(450);
    const first = await turn(g, input);
    const { requestId } = approvalRequest(first.result.content);
    const edited = { ...input, amount: 300 };
    await decideSeen(ctx.stack.cs, requestId, { decision: 'approve', reviewer: 'dave', editedPayload: edited });
    const { responses } = await countersignApprovalResponses(g.cs, first.result.content, 5000);
    const resumed = await generateText({ model: scriptedModel(input), ...g.countersign, messages: [...first.messages, { role: 'tool', content: responses }], stopWhen: isStepCount(3) });
    assert.deepEqual(g.runs, [edited]);
    assert.match(resumed.text, /"refunded":300/);
  });

  test('a reviewer\'s denial reaches the model through the approval response, and the tool never runs', async () => {
    const g = await gated();
    const first = await turn(g, refundInput(450));
    const { requestId } = approvalRequest(first.result.content);
    await decideSeen(ctx.stack.cs, requestId, { decision: 'deny', reviewer: 'erin', reasonCode: 'DUPLICATE_REFUND', message: 'Already refunded last week.' });
    const { responses } = await countersignApprovalResponses(g.cs, first.result.content, 5000);
    assert.equal(responses[0]?.approved, false);
    assert.match(responses[0]?.reason ?? '', /^countersign: REVIEWER_DENIED: /);
    const resumed = await generateText({ model: scriptedModel(refundInput(450)), ...g.countersign, messages: [...first.messages, { role: 'tool', content: responses }], stopWhen: isStepCount(3) });
    assert.equal(g.runs.length, 0);
    assert.match(resumed.text, /execution-denied/);
    assert.match(resumed.text, /Already refunded last week/);
  });

  test('a client-side approval without countersign\'s, and a replayed approval after execution, never run the tool', async () => {
    const g = await gated();
    const input = refundInput(450);
    const first = await turn(g, input);
    const { part, requestId } = approvalRequest(first.result.content);
    // The client approves on its own: the call resumes, goes through countersign, and is still pending.
    const forged: ToolApprovalResponse = { type: 'tool-approval-response', approvalId: part.approvalId, approved: true, reason: 'looks fine to me' };
    const resumeMessages: ModelMessage[] = [...first.messages, { role: 'tool', content: [forged] }];
    const early = await generateText({ model: scriptedModel(input), ...g.countersign, messages: resumeMessages, stopWhen: isStepCount(3) });
    assert.equal(g.runs.length, 0);
    const [output] = resumedOutputs(early);
    assert.ok(isCountersignRefusal(output), JSON.stringify(output));
    assert.deepEqual([output.code, output.status, output.requestId], ['PENDING', 'pending', requestId]);

    // Countersign approves; the same approval response now resumes the call, which runs once.
    await decideSeen(ctx.stack.cs, requestId, { decision: 'approve', reviewer: 'dave' });
    assert.equal((await awaitDecision(g.cs, requestId, 5000)).approved, true);
    await generateText({ model: scriptedModel(input), ...g.countersign, messages: resumeMessages, stopWhen: isStepCount(3) });
    assert.deepEqual(g.runs, [input]);

    // Replayed: the spent token is refused; the side effect does not run again.
    const replay = await generateText({ model: scriptedModel(input), ...g.countersign, messages: resumeMessages, stopWhen: isStepCount(3) });
    assert.deepEqual(g.runs, [input]);
    const [replayed] = resumedOutputs(replay);
    assert.ok(isCountersignRefusal(replayed), JSON.stringify(replayed));
    assert.equal(replayed.code, 'TOKEN_CONSUMED');
    assert.match(replay.text, /TOKEN_CONSUMED/);
  });

  test('streamText: the reviewed call streams its approval request, and after countersign\'s approval the resumed stream runs the tool once', async () => {
    const g = await gated();
    const input = refundInput(450);
    const messages: ModelMessage[] = [{ role: 'user', content: 'Refund the duplicate charge.' }];
    const first = streamText({ model: scriptedModel(input), ...g.countersign, messages, stopWhen: isStepCount(3) });
    const content = await first.content;
    assert.equal(g.runs.length, 0);
    const { requestId } = approvalRequest(content);
    await decideSeen(ctx.stack.cs, requestId, { decision: 'approve', reviewer: 'erin' });
    const { responses } = await countersignApprovalResponses(g.cs, content, 5000);
    const resumed = streamText({ model: scriptedModel(input), ...g.countersign, messages: [...messages, ...(await first.response).messages, { role: 'tool', content: responses }], stopWhen: isStepCount(3) });
    assert.match(await resumed.text, /"refunded":450/);
    assert.deepEqual(g.runs, [input]);
  });

  test('without toolApproval the tools are as safe: a reviewed call answers PENDING, and a later run of the same call picks up the approval', async () => {
    const g = await gated();
    const input = refundInput(450);
    const bare = () => generateText({ model: scriptedModel(input), tools: g.countersign.tools, messages: [{ role: 'user', content: 'Refund it.' }], stopWhen: isStepCount(3) });
    const first = await bare();
    const [pending] = first.steps.flatMap((s) => toolResults(s.content));
    assert.ok(isCountersignRefusal(pending), JSON.stringify(pending));
    assert.equal(pending.code, 'PENDING');
    assert.equal(g.runs.length, 0);
    await decideSeen(ctx.stack.cs, pending.requestId, { decision: 'approve', reviewer: 'dave' });
    assert.equal((await awaitDecision(g.cs, pending.requestId, 5000)).approved, true);
    const second = await bare();
    assert.deepEqual(g.runs, [input]);
    assert.match(second.text, /"refunded":450/);
  });

  test('a call the catalog refuses (a malformed customer id) never runs; the model sees INVALID_REQUEST', async () => {
    const g = await gated();
    const { result } = await turn(g, { ...refundInput(40), customer: 'nobody' });
    assert.equal(g.runs.length, 0);
    const [output] = result.steps.flatMap((s) => toolResults(s.content));
    assert.ok(isCountersignRefusal(output), JSON.stringify(output));
    assert.equal(output.code, 'INVALID_REQUEST');
    assert.match(result.text, /INVALID_REQUEST/);
  });

  test('a second run of the same call (same task, same input) does not run the side effect twice', async () => {
    const g = await gated();
    const input = refundInput(40);
    await turn(g, input);
    const again = await turn(g, input);
    assert.deepEqual(g.runs, [input]);
    const [output] = again.result.steps.flatMap((s) => toolResults(s.content));
    assert.ok(isCountersignRefusal(output), JSON.stringify(output));
    assert.equal(output.code, 'TOKEN_CONSUMED');
  });
});
