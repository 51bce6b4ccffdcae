/**
 * The agent-framework phase of `npm run bench`: what each adapter adds to an auto-allowed tool call,
 * next to the direct SDK, in the same run. Its own task queue, worker and server (a catalogued
 * payments.refund that policy allows up to 100), so the other phases are untouched. Per call:
 *
 * - direct: `cs.guard(request, execute)` for an allowed refund (submit → token → consume → run → report);
 * - each framework on its own: one agent turn with a scripted model (no network) that calls a plain
 *   `refund` tool and then answers from its result — the framework's own cost;
 * - each framework with its countersign adapter: the same turn, model and tool, the tool gated.
 *
 * An adapter's share of a call is p50(framework with the adapter) − p50(framework on its own); set
 * against p50(direct), it shows what the adapter costs beyond the countersign round trips the direct
 * SDK makes anyway. Rounds of all seven alternate, so drift in the machine's speed falls on each alike.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { ChatResult } from '@langchain/core/outputs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { Agent as OpenAIAgent, run as runOpenAI, setTracingDisabled, tool as openaiTool, Usage, type AgentInputItem, type Model, type ModelRequest, type ModelResponse } from '@openai/agents';
import { generateText, isStepCount, tool as aiTool } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { AIMessage, createAgent, HumanMessage, ToolMessage, tool as langchainTool, type BaseMessage } from 'langchain';
import { z } from 'zod';
import { withCountersign } from '../client/adapters/ai-sdk';
import { countersignMiddleware } from '../client/adapters/langchain';
import { countersignTool } from '../client/adapters/openai-agents';
import { Countersign } from '../client/sdk';
import { withDevCredentials } from '../cli/dev-credentials';
import { createLogger } from '../config/logger';
import { createKeyFile, loadKeyFile } from '../crypto/keys';
import { compilePolicy } from '../policy/load';
import { Approvals } from '../server/approvals';
import { startServer } from '../server/main';
import { bundleApprovalWorkflows } from '../worker/bundle';
import { createApprovalWorker } from '../worker/worker';
import { sequential, summarize, type Summary } from './stats';
import { REFUND_POLICY } from '../test/support/refund-policy';


type Refund = { customer: string; amount: number; currency: 'USD' | 'EUR' | 'GBP'; order: string };
const refundSchema = z.object({ customer: z.string(), amount: z.number(), currency: z.enum(['USD', 'EUR', 'GBP']), order: z.string() });
/** An allowed refund, a new order each time: every call is a request of its own. */
const allowedRefund = (): Refund => ({ customer: 'C-42', amount: 10, currency: 'USD', order: `O-${randomUUID().slice(0, 12)}` });
/** The tool's work, the same everywhere: trivial, so what is measured is the path around it. */
const refundWork = async (input: Refund) => ({ refunded: input.amount, order: input.order });
const mapping = { action: 'payments.refund', resource: (r: Refund) => ({ type: 'customer', id: r.customer }), summary: (r: Refund) => `Refund ${r.amount} ${r.currency} on order ${r.order}` };

const quiet = () => createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, done) => done() }) });

/** One framework: a turn on its own and a turn with its countersign adapter. */
interface Framework {
  name: string;
  adapter: string;
  plain(): Promise<void>;
  gated(): Promise<void>;
}

export interface AdapterFigures {
  framework: string;
  adapter: string;
  /** The framework's turn with a plain tool. */
  plain: Summary;
  /** The same turn with the tool gated by the adapter. */
  withCountersign: Summary;
  /** p50(withCountersign) − p50(plain): what countersign adds to the framework's call, in ms. */
  adapterMs: number;
  /** adapterMs − p50(direct): what the adapter adds beyond the direct SDK's guard, in ms. */
  overDirectMs: number;
  /** adapterMs / p50(direct). */
  ratioToDirect: number;
}

export interface AdapterBench {
  direct: Summary;
  frameworks: AdapterFigures[];
}

// ---- Vercel AI SDK: generateText with the SDK's mock model, scripted to call `refund` once and then answer.

type V4Prompt = Parameters<MockLanguageModelV4['doGenerate']>[0]['prompt'];
function aiModel() {
  const usage = { inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 1, text: 1, reasoning: 0 } };
  return new MockLanguageModelV4({
    doGenerate: async (options: { prompt: V4Prompt }) =>
      options.prompt.at(-1)?.role === 'tool'
        ? { content: [{ type: 'text', text: 'done' }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] }
        : {
            content: [{ type: 'tool-call', toolCallId: `call-${randomUUID().slice(0, 8)}`, toolName: 'refund', input: JSON.stringify(allowedRefund()) }],
            finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
            usage,
            warnings: [],
          },
  });
}

function aiSdk(cs: Countersign): Framework {
  const tools = { refund: aiTool({ description: 'Refund an order', inputSchema: refundSchema, execute: refundWork }) };
  // As documented: both halves spread into generateText (the approval hook asks first, execute joins the same request).
  const gated = withCountersign(cs, tools, { taskId: `bench-ai-${randomUUID()}`, actions: { refund: mapping } });
  const turn = async (set: Pick<Parameters<typeof generateText>[0], 'tools' | 'toolApproval'>) => {
    const result = await generateText({ model: aiModel(), ...set, prompt: 'Refund the duplicate charge.', stopWhen: isStepCount(3) } as Parameters<typeof generateText>[0]);
    const output = result.steps.flatMap((s) => s.content).find((p) => p.type === 'tool-result')?.output as { refunded?: number } | undefined;
    if (output?.refunded !== 10) throw new Error(`AI SDK turn: the tool did not run (${JSON.stringify(output)})`);
  };
  return { name: 'Vercel AI SDK (generateText)', adapter: 'withCountersign', plain: () => turn({ tools }), gated: () => turn(gated) };
}

// ---- OpenAI Agents JS: run() with a Model that calls `refund` once and then answers.

class ScriptedOpenAIModel implements Model {
  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    const items: AgentInputItem[] = Array.isArray(request.input) ? request.input : [];
    const done = items.some((i) => i.type === 'function_call_result');
    const output: ModelResponse['output'] = done
      ? [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'done' }] }]
      : [{ type: 'function_call', name: 'refund', callId: `call_${randomUUID().slice(0, 8)}`, status: 'completed', arguments: JSON.stringify(allowedRefund()) }];
    return { usage: new Usage(), output };
  }
  // eslint-disable-next-line require-yield
  async *getStreamedResponse(): AsyncIterable<never> {
    throw new Error('not streamed in the bench');
  }
}

function openaiAgents(cs: Countersign): Framework {
  setTracingDisabled(true);
  const options = { name: 'refund', description: 'Refund an order.', parameters: refundSchema, execute: async (input: Refund) => JSON.stringify(await refundWork(input)) };
  const plainAgent = new OpenAIAgent({ name: 'refunds', instructions: 'Refund what the customer asks.', model: new ScriptedOpenAIModel(), tools: [openaiTool(options)] });
  const gatedAgent = new OpenAIAgent({ name: 'refunds', instructions: 'Refund what the customer asks.', model: new ScriptedOpenAIModel(), tools: [countersignTool(cs, options, mapping, { taskId: `bench-oa-${randomUUID()}` })] });
  const turn = async (agent: typeof plainAgent) => {
    const result = await runOpenAI(agent, 'Refund the duplicate charge.');
    const output = result.newItems.find((i) => i.type === 'tool_call_output_item')?.output;
    if (typeof output !== 'string' || !output.includes('"refunded":10')) throw new Error(`OpenAI Agents turn: the tool did not run (${JSON.stringify(output)})`);
  };
  return { name: 'OpenAI Agents JS (run)', adapter: 'countersignTool', plain: () => turn(plainAgent), gated: () => turn(gatedAgent) };
}

// ---- LangChain v1: createAgent with a chat model that calls `refund` once and then answers.

class ScriptedChatModel extends BaseChatModel {
  constructor() {
    super({});
  }
  _llmType(): string {
    return 'scripted';
  }
  override bindTools(): this {
    return this;
  }
  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    const message = ToolMessage.isInstance(messages.at(-1))
      ? new AIMessage('done')
      : new AIMessage({ content: '', tool_calls: [{ type: 'tool_call', id: `call-${randomUUID().slice(0, 8)}`, name: 'refund', args: allowedRefund() }] });
    return { generations: [{ text: typeof message.content === 'string' ? message.content : '', message }] };
  }
}

function langchain(cs: Countersign): Framework {
  const refund = langchainTool(async (input: Refund) => JSON.stringify(await refundWork(input)), { name: 'refund', description: 'Refund an order to the customer.', schema: refundSchema });
  const plainAgent = createAgent({ model: new ScriptedChatModel(), tools: [refund] });
  // No checkpointer in either: an allowed call never interrupts, and a checkpointer would be the framework's cost, not the adapter's.
  const gatedAgent = createAgent({ model: new ScriptedChatModel(), tools: [refund], middleware: [countersignMiddleware(cs, { interruptOn: { refund: mapping }, taskId: `bench-lc-${randomUUID()}` })] });
  const turn = async (agent: { invoke(input: { messages: BaseMessage[] }): Promise<{ messages: BaseMessage[] }> }) => {
    const result = await agent.invoke({ messages: [new HumanMessage('Refund the duplicate charge.')] });
    const output = result.messages.find((m) => ToolMessage.isInstance(m));
    if (!output || !String(output.content).includes('"refunded":10')) throw new Error(`LangChain turn: the tool did not run (${String(output?.content)})`);
  };
  return { name: 'LangChain v1 (createAgent)', adapter: 'countersignMiddleware', plain: () => turn(plainAgent), gated: () => turn(gatedAgent) };
}

export async function benchAdapters(env: TestWorkflowEnvironment, home: string, n: number): Promise<AdapterBench> {
  const runHome = join(home, randomUUID());
  const creds = withDevCredentials(REFUND_POLICY, runHome, { agents: ['bench-agent'] });
  const policy = compilePolicy(creds.policyText, 'bench-adapters-policy.yaml');
  const taskQueue = `bench-adapters-${randomUUID()}`;
  const worker = await createApprovalWorker({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    policy,
    logger: quiet(),
    signer: createKeyFile(join(runHome, 'keys', 'layer.key')),
    evidenceDir: join(runHome, 'evidence'),
    workflowBundle: await bundleApprovalWorkflows(new DefaultLogger('ERROR')),
  });
  const running = worker.run();
  const backend = await Approvals.connect({ connection: env.connection, taskQueue, startSigner: loadKeyFile(creds.startKeyPath) });
  const server = await startServer({ backend, policy, logger: quiet(), sessionSecret: randomBytes(32), listen: '127.0.0.1:0', rateLimit: { perSecond: 100_000, burst: 100_000 }, maxOpenRequestsPerAgent: 1_000_000 });
  try {
    const cs = await Countersign.connect({ url: server.url, apiKey: creds.agentKeys.get('bench-agent')! });
    const direct = async () => {
      const input = allowedRefund();
      const r = await cs.guard({ taskId: `bench-direct-${randomUUID()}`, action: 'payments.refund', summary: mapping.summary(input), resource: mapping.resource(input), payload: input }, (payload) => refundWork(payload as unknown as Refund), { waitMs: 5000 });
      if (!r.executed) throw new Error(`direct guard did not execute: ${r.status} ${r.code ?? ''}`);
    };
    const frameworks = [aiSdk(cs), openaiAgents(cs), langchain(cs)];
    const ops: [string, () => Promise<void>][] = [['direct', direct], ...frameworks.flatMap((f): [string, () => Promise<void>][] => [[`${f.name}:plain`, f.plain], [`${f.name}:gated`, f.gated]])];
    const samples = new Map<string, number[]>(ops.map(([k]) => [k, []]));
    // Warm every path (JIT, connections, the frameworks' first-call set-up) outside the timing.
    for (const [, op] of ops) await sequential(Math.min(20, n), op);
    const ROUNDS = 4;
    for (let round = 0; round < ROUNDS; round++) {
      const size = Math.floor(n / ROUNDS) + (round < n % ROUNDS ? 1 : 0);
      for (const [k, op] of ops) samples.get(k)!.push(...(await sequential(size, op)));
    }
    const directSummary = summarize(samples.get('direct')!);
    const round2 = (v: number) => Math.round(v * 100) / 100;
    return {
      direct: directSummary,
      frameworks: frameworks.map((f) => {
        const plain = summarize(samples.get(`${f.name}:plain`)!);
        const withCountersign = summarize(samples.get(`${f.name}:gated`)!);
        const adapterMs = round2(withCountersign.p50 - plain.p50);
        return { framework: f.name, adapter: f.adapter, plain, withCountersign, adapterMs, overDirectMs: round2(adapterMs - directSummary.p50), ratioToDirect: round2(adapterMs / directSummary.p50) };
      }),
    };
  } finally {
    await server.close();
    await backend.close();
    worker.shutdown();
    await running;
  }
}
