import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { before, describe, test } from 'node:test';
import { Agent, run, RunState, setTracingDisabled, Usage, type AgentInputItem, type Model, type ModelRequest, type ModelResponse } from '@openai/agents';
import ts from 'typescript';
import { z } from 'zod';
import { countersignTool, fileRunStateStore, memoryRunStateStore, persistInterrupted, resumeWhenDecided, type RunStateStore } from '../client/adapters/openai-agents';
import type { Countersign } from '../client/sdk';
import { approvalWorkflowId } from '../common/digest';
import { useStack } from './support/stack';
import { decideSeen } from './support/review';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: finance, sla: 1h, tokenTtl: 5m }
groups:
  finance: { members: [dave] }
rules:
  - id: refund-small
    match: { action: payments.refund }
    when: "payload.amount <= 100"
    decision: allow
  - id: refund-review
    match: { action: payments.refund }
    when: "payload.amount > 100"
    decision: review
    reviewers: finance
  - id: refund-huge
    match: { action: payments.refund }
    when: "payload.amount > 10000"
    decision: deny
    reason: Refunds over 10,000 are never automated.
`;

const ctx = useStack(POLICY);

type Refund = { amount: number; currency: string; order: string };

/**
 * A model with no network: it calls `refund` with each of its scripted arguments in turn (one call
 * per turn), then answers with every tool output it was shown. It reads the conversation it is
 * given, so a restored RunState carries on where it stopped.
 */
class ScriptedRefundModel implements Model {
  readonly seen: string[][] = [];
  constructor(private readonly calls: Refund[]) {}

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    const items: AgentInputItem[] = Array.isArray(request.input) ? request.input : [];
    const outputs = items.filter((i) => i.type === 'function_call_result').map((i) => outputText((i as { output: unknown }).output));
    const callsMade = items.filter((i) => i.type === 'function_call').length;
    this.seen.push(outputs);
    const next = this.calls[callsMade];
    const output: ModelResponse['output'] = next
      ? [{ type: 'function_call', name: 'refund', callId: `call_${callsMade}_${randomUUID().slice(0, 8)}`, status: 'completed', arguments: JSON.stringify(next) }]
      : [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: `done: ${outputs.join(' | ')}` }] }];
    return { usage: new Usage(), output };
  }

  // eslint-disable-next-line require-yield
  async *getStreamedResponse(): AsyncIterable<never> {
    throw new Error('not streamed in these tests');
  }
}

function outputText(output: unknown): string {
  if (typeof output === 'string') return output;
  const text = (output as { text?: unknown })?.text;
  return typeof text === 'string' ? text : JSON.stringify(output);
}

/** A refund agent on countersign; `ran` is the side effect: every refund that really happened. */
function refundAgent(cs: Countersign, taskId: string, calls: Refund[]) {
  const ran: Refund[] = [];
  const model = new ScriptedRefundModel(calls);
  const refund = countersignTool(
    cs,
    {
      name: 'refund',
      description: 'Refund an order.',
      parameters: z.object({ amount: z.number(), currency: z.string(), order: z.string() }),
      execute: async (input) => {
        ran.push(input);
        return `refunded ${input.amount} ${input.currency} on order ${input.order}`;
      },
    },
    { action: 'payments.refund', resource: (r) => ({ type: 'order', id: r.order }), summary: (r) => `Refund ${r.amount} ${r.currency} on order ${r.order}.` },
    { taskId },
  );
  const agent = new Agent({ name: 'refunds', instructions: 'Refund what the customer asks.', model, tools: [refund] });
  return { agent, ran, model };
}

const task = () => `oa-${randomUUID().slice(0, 12)}`;
const big = (amount = 450): Refund => ({ amount, currency: 'USD', order: `O-${randomUUID().slice(0, 6)}` });

async function interrupted(cs: Countersign, calls: Refund[], store: RunStateStore, taskId = task()) {
  const setup = refundAgent(cs, taskId, calls);
  const result = await run(setup.agent, 'Refund the customer.');
  assert.equal(result.interruptions.length, 1, 'a reviewed call interrupts the run');
  assert.equal(setup.ran.length, 0);
  const [requestId] = await persistInterrupted(store, result);
  assert.ok(requestId);
  return { ...setup, result, requestId, taskId };
}

describe('OpenAI Agents adapter', () => {
  let cs: Countersign;
  before(async () => {
    setTracingDisabled(true);
    cs = await ctx.stack.agent('support-bot');
  });

  test('an allowed tool runs exactly once, and the evidence closes', async () => {
    const taskId = task();
    const { agent, ran } = refundAgent(cs, taskId, [{ amount: 40, currency: 'USD', order: 'O-1' }]);
    const result = await run(agent, 'Refund order O-1.');
    assert.deepEqual(ran, [{ amount: 40, currency: 'USD', order: 'O-1' }]);
    assert.equal(result.interruptions.length, 0);
    assert.match(String(result.finalOutput), /refunded 40 USD on order O-1/);
    const { workflowId } = approvalWorkflowId({ agentId: 'support-bot', taskId, action: 'payments.refund', resource: { type: 'order', id: 'O-1' }, payload: ran[0]! });
    const outcome = await ctx.stack.cs.outcome(workflowId);
    assert.equal(outcome.status, 'executed');
    assert.equal(outcome.execution?.status, 'succeeded');
  });

  test('a denied tool never runs, and the model sees the reason code', async () => {
    const { agent, ran, model } = refundAgent(cs, task(), [big(20_000)]);
    const result = await run(agent, 'Refund it all.');
    assert.equal(ran.length, 0);
    assert.equal(result.interruptions.length, 0, 'a deny is no interruption: there is nothing for a human to decide');
    assert.match(model.seen.at(-1)?.[0] ?? '', /countersign: not executed \(POLICY_DENIED\)/);
    assert.match(String(result.finalOutput), /POLICY_DENIED/);
  });

  test('a reviewed tool interrupts; the RunState is kept by request id; after a signed approval the resume runs it once (another process, a file store)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'countersign-oa-'));
    const store = fileRunStateStore(dir);
    const call = big(450);
    const first = await interrupted(cs, [call], store);
    assert.deepEqual((await store.get(first.requestId))?.calls.map((c) => c.toolName), ['refund']);
    assert.deepEqual(await resumeWhenDecided(cs, fileRunStateStore(dir), first.requestId, first.agent), { kind: 'pending', requestIds: [first.requestId] });
    assert.equal(first.ran.length, 0);

    await decideSeen(ctx.stack.cs, first.requestId, { decision: 'approve', reviewer: 'dave' });
    // Resumed elsewhere: a fresh agent (same definition), the store's files, the decision by wait.
    const elsewhere = refundAgent(cs, first.taskId, [call]);
    const resumed = await resumeWhenDecided(cs, fileRunStateStore(dir), first.requestId, elsewhere.agent, { waitMs: 5000 });
    assert.equal(resumed.kind, 'resumed');
    assert.deepEqual(elsewhere.ran, [call]);
    assert.equal(first.ran.length, 0);
    assert.match(String(resumed.kind === 'resumed' && resumed.result.finalOutput), /refunded 450 USD/);
    const outcome = await ctx.stack.cs.outcome(first.requestId);
    assert.equal(outcome.status, 'executed');
    assert.equal(outcome.execution?.status, 'succeeded');
    assert.equal(await store.get(first.requestId), undefined, 'a resumed run leaves the store');
  });

  test('an edited approval runs the edited arguments', async () => {
    const store = memoryRunStateStore();
    const call = big(450);
    const { agent, ran, requestId } = await interrupted(cs, [call], store);
    await decideSeen(ctx.stack.cs, requestId, { decision: 'approve', reviewer: 'dave', editedPayload: { ...call, amount: 300 } });
    const resumed = await resumeWhenDecided(cs, store, requestId, agent, { waitMs: 5000 });
    assert.equal(resumed.kind, 'resumed');
    assert.deepEqual(ran, [{ ...call, amount: 300 }]);
    assert.match(String(resumed.kind === 'resumed' && resumed.result.finalOutput), /refunded 300 USD/);
  });

  test('a reviewer\'s deny resumes the run with the tool rejected: the model sees the reason code', async () => {
    const store = memoryRunStateStore();
    const { agent, ran, model, requestId } = await interrupted(cs, [big(450)], store);
    await decideSeen(ctx.stack.cs, requestId, { decision: 'deny', reviewer: 'dave', reasonCode: 'NOT_JUSTIFIED', message: 'Not a duplicate charge.' });
    const resumed = await resumeWhenDecided(cs, store, requestId, agent, { waitMs: 5000 });
    assert.equal(resumed.kind, 'resumed');
    assert.equal(ran.length, 0);
    assert.match(model.seen.at(-1)?.[0] ?? '', /countersign: not executed \(REVIEWER_DENIED\)/);
  });

  test('a client-side state.approve() without countersign\'s approval never runs the tool', async () => {
    const store = memoryRunStateStore();
    const { agent, ran, model, result, requestId } = await interrupted(cs, [big(450)], store);
    result.state.approve(result.interruptions[0]!);
    const after = await run(agent, result.state);
    assert.equal(ran.length, 0);
    assert.match(model.seen.at(-1)?.[0] ?? '', /not executed \(PENDING_REVIEW\)/);
    assert.match(String(after.finalOutput), /PENDING_REVIEW/);
    // The same through a restored RunState.
    const restored = await RunState.fromString(agent, (await store.get(requestId))!.state);
    restored.approve(restored.getInterruptions()[0]!);
    await run(agent, restored);
    assert.equal(ran.length, 0);
    assert.equal((await ctx.stack.cs.view(requestId)).status, 'pending', 'the request still waits for its reviewer');
  });

  test('a forged RunState (other arguments, approved by the client) never runs the tool', async () => {
    const store = memoryRunStateStore();
    const call = big(450);
    const { agent, ran, requestId } = await interrupted(cs, [call], store);
    const held = (await store.get(requestId))!;
    const forged = held.state.replaceAll(`\\"amount\\":450`, `\\"amount\\":9000`);
    assert.notEqual(forged, held.state, 'the forgery changed the call\'s arguments');
    const state = await RunState.fromString(agent, forged);
    state.approve(state.getInterruptions()[0]!);
    await run(agent, state);
    assert.equal(ran.length, 0);

    // A forged resume: countersign approved the 450 refund; the stored state now asks for 9000.
    await decideSeen(ctx.stack.cs, requestId, { decision: 'approve', reviewer: 'dave' });
    await store.put(requestId, { ...held, state: forged });
    const resumed = await resumeWhenDecided(cs, store, requestId, agent, { waitMs: 5000 });
    assert.equal(resumed.kind, 'resumed');
    assert.equal(ran.length, 0, 'the approval binds the 450 refund: the 9000 one is a new request, waiting for review');
    assert.match(String(resumed.kind === 'resumed' && resumed.result.finalOutput), /PENDING_REVIEW/);
    assert.equal((await ctx.stack.cs.view(requestId)).status, 'approved', 'the approved token was not spent on the forgery');
  });

  test('a replayed resume after execution never runs the tool again', async () => {
    const store = memoryRunStateStore();
    const { agent, ran, model, requestId } = await interrupted(cs, [big(450)], store);
    const held = (await store.get(requestId))!;
    await decideSeen(ctx.stack.cs, requestId, { decision: 'approve', reviewer: 'dave' });
    const resumes = await Promise.all([1, 2, 3].map(() => resumeWhenDecided(cs, store, requestId, agent, { waitMs: 5000 })));
    assert.deepEqual(resumes.map((r) => r.kind).sort(), ['resumed', 'unknown', 'unknown'], 'concurrent resumes: one goes on');
    assert.equal(ran.length, 1);
    assert.deepEqual(await resumeWhenDecided(cs, store, requestId, agent), { kind: 'unknown', requestId });
    // The stored state put back (a crash before cleanup, a copy): countersign says executed, the call is rejected.
    await store.put(requestId, held);
    const replay = await resumeWhenDecided(cs, store, requestId, agent);
    assert.equal(replay.kind, 'resumed');
    assert.equal(ran.length, 1);
    assert.match(model.seen.at(-1)?.[0] ?? '', /not executed \(TOKEN_CONSUMED\)/);
    // Approved by the client on the old state: the token is spent, gatedCall refuses.
    const state = await RunState.fromString(agent, held.state);
    state.approve(state.getInterruptions()[0]!);
    await run(agent, state);
    assert.equal(ran.length, 1);
    assert.match(model.seen.at(-1)?.[0] ?? '', /not executed \(TOKEN_CONSUMED\)/);
  });

  test('a second run of the same call never runs the side effect twice', async () => {
    const taskId = task();
    const small = { amount: 25, currency: 'USD', order: 'O-7' };
    const one = refundAgent(cs, taskId, [small]);
    await run(one.agent, 'Refund O-7.');
    const two = refundAgent(cs, taskId, [small]);
    const again = await run(two.agent, 'Refund O-7.');
    assert.equal(one.ran.length + two.ran.length, 1);
    assert.match(String(again.finalOutput), /not executed \(TOKEN_CONSUMED\)/);

    // The same for a reviewed call, after it ran.
    const store = memoryRunStateStore();
    const call = big(450);
    const first = await interrupted(cs, [call], store);
    await decideSeen(ctx.stack.cs, first.requestId, { decision: 'approve', reviewer: 'dave' });
    await resumeWhenDecided(cs, store, first.requestId, first.agent, { waitMs: 5000 });
    const rerun = refundAgent(cs, first.taskId, [call]);
    const result = await run(rerun.agent, 'Refund the customer.');
    assert.equal(result.interruptions.length, 0, 'an ended request is no interruption');
    assert.equal(first.ran.length + rerun.ran.length, 1);
    assert.match(String(result.finalOutput), /not executed \(TOKEN_CONSUMED\)/);
  });
});

describe('examples/frameworks/openai-agents.ts', () => {
  test('type-checks as a user writes it (@countersign/agent and @countersign/agent/openai-agents as the package exports them)', () => {
    const root = join(__dirname, '..');
    const config = ts.parseJsonConfigFileContent(ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile).config, ts.sys, root);
    const file = join(root, 'examples', 'frameworks', 'openai-agents.ts');
    // The package's subpath exports point at its build; tsconfig.json's paths point them at the sources they are built from.
    const program = ts.createProgram([file], config.options);
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => `${d.file ? relative(root, d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    assert.deepEqual(diagnostics, []);
  });
});
