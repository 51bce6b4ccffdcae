/**
 * countersign for OpenAI Agents JS (`@openai/agents`). A tool made with `countersignTool` asks
 * countersign's policy whether a call needs a human (`needsApproval`): allowed calls run at once,
 * denied calls answer the model with the reason code, reviewed calls interrupt the run. An
 * interruption is resolved from countersign's decision only: `persistInterrupted` keeps the
 * RunState by request id and `resumeWhenDecided` approves or rejects it from countersign's outcome
 * and runs it on. Whatever the RunState says, the tool's `execute` runs only through gatedCall, with
 * a consumed single-use token for exactly the input that runs: a client's own `state.approve()`, a
 * forged RunState or a replayed resume never makes the side effect happen.
 */
import { run, RunState, tool, type Agent, type FunctionTool, type RunContext, type RunResult, type Runner, type RunToolApprovalItem, type ToolExecuteArgument, type ToolInputParameters, type ToolOptions, type UnknownContext } from '@openai/agents';
import { ReasonCode } from '../../common/codes';
import type { Countersign } from '../sdk';
import { gatedCall, gatedRequest, refusalText, type GatedAction, type GateResult } from './gate';
import type { HeldCall, HeldRun, RunStateStore } from './openai-agents-store';

export { fileRunStateStore, memoryRunStateStore, type HeldCall, type HeldRun, type RunStateStore } from './openai-agents-store';
export { refusalText, type GatedAction, type GateResult } from './gate';
/** Per-request token keys in files: a run resumed by another process can still open its token. */
export { fileKeyStore, memoryKeyStore } from '../agent-keys';

export interface CountersignToolSettings<Context = UnknownContext> {
  /** The agent's task (a conversation, a job): the same call in the same task is one countersign request. Keep it stable across a resume. */
  taskId: string | ((context: RunContext<Context>) => string);
  onBehalfOf?: string;
}

// The SDK types agents and results over any context and output (Agent<any, any>): so do these helpers.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyAgent = Agent<any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyRunResult<TAgent extends AnyAgent = AnyAgent> = RunResult<any, TAgent>;

const OPEN = new Set(['evaluating', 'pending', 'escalated']);

/** The calls each run (by its RunContext) holds for a reviewer, as needsApproval saw them. */
const held = new WeakMap<object, Map<string, HeldCall>>();

/**
 * `tool(options)` with countersign in front: `needsApproval` is countersign's policy for the call
 * (allow → runs, deny → runs nothing and the model is told the reason code, review → the run is
 * interrupted), and `execute` runs only inside gatedCall, after the token is consumed for exactly
 * the (approved, possibly edited) input it is given. Otherwise the tool answers the model with
 * `countersign: not executed (CODE): …`.
 */
export function countersignTool<TParameters extends ToolInputParameters = undefined, Context = UnknownContext, Result = string>(
  cs: Countersign,
  options: ToolOptions<TParameters, Context>,
  gated: GatedAction<ToolExecuteArgument<TParameters>>,
  settings: CountersignToolSettings<Context>,
): FunctionTool<Context, TParameters, Result | string> {
  type Input = ToolExecuteArgument<TParameters>;
  const execute = options.execute as (input: Input, context?: RunContext<Context>, details?: unknown) => unknown;
  const taskOf = (context: RunContext<Context> | undefined) => {
    if (typeof settings.taskId === 'string') return settings.taskId;
    if (!context) throw new Error('countersignTool: taskId is a function of the run context, and the tool was called without one.');
    return settings.taskId(context);
  };
  const gate = (context: RunContext<Context> | undefined) => ({ taskId: taskOf(context), waitMs: 0, ...(settings.onBehalfOf ? { onBehalfOf: settings.onBehalfOf } : {}) });
  // The name the model calls (tool() would otherwise take it from the wrapper's function name).
  const name = options.name || execute.name;
  if (!name) throw new Error('countersignTool: give the tool a name (options.name).');

  const needsApproval = async (context: RunContext, input: Input, callId?: string): Promise<boolean> => {
    const request = await cs.submit(gatedRequest(gated, input, gate(context as RunContext<Context>)), { waitMs: 0 });
    if (!OPEN.has(request.status) || request.outcome) return false; // allowed (runs) or ended (gatedCall refuses it)
    if (callId) {
      const calls = held.get(context) ?? new Map<string, HeldCall>();
      held.set(context, calls);
      calls.set(callId, { callId, toolName: name, requestId: request.requestId, workflowId: request.workflowId });
    }
    return true;
  };

  const gatedExecute = async (input: Input, context?: RunContext<Context>, details?: unknown): Promise<unknown> => {
    const result: GateResult<unknown> = await gatedCall(cs, gated, input, (approved) => execute(approved, context, details), gate(context));
    if (result.kind === 'executed') return result.result;
    if (result.kind === 'refused') return refusalText(result);
    return `countersign: not executed (PENDING_REVIEW): request ${result.requestId} awaits a reviewer's decision; the tool runs only after countersign approves it.`;
  };

  return tool({ ...options, name, needsApproval, execute: gatedExecute } as ToolOptions<TParameters, Context>) as unknown as FunctionTool<Context, TParameters, Result | string>;
}

/** The model's id for one tool call in a run. */
const callIdOf = (item: RunToolApprovalItem): string | undefined => {
  const raw = item.rawItem as { callId?: unknown };
  return typeof raw.callId === 'string' ? raw.callId : undefined;
};

/** The calls of an interrupted run that wait for countersign (interruptions of other tools are not countersign's). */
export function heldCalls(result: AnyRunResult): HeldCall[] {
  const calls = held.get(result.runContext);
  return result.interruptions.flatMap((item) => {
    const callId = callIdOf(item);
    const call = callId ? calls?.get(callId) : undefined;
    return call ? [call] : [];
  });
}

/** Stores an interrupted run under the request id of each call it holds for countersign; answers those request ids. */
export async function persistInterrupted(store: RunStateStore, result: AnyRunResult): Promise<string[]> {
  const calls = heldCalls(result);
  if (!calls.length) return [];
  const heldRun: HeldRun = { state: result.state.toString(), calls };
  for (const call of calls) await store.put(call.requestId, heldRun);
  return calls.map((c) => c.requestId);
}

export type ResumeResult<TAgent extends AnyAgent> =
  /** No run is stored under this request id: unknown, or resumed already (a replay). Nothing ran. */
  | { kind: 'unknown'; requestId: string }
  /** A reviewer has not decided every call yet: the run stays stored; call again (or on the next webhook). */
  | { kind: 'pending'; requestIds: string[] }
  /** The run went on from countersign's decisions; `requestIds` are the calls it is held for again, if interrupted. */
  | { kind: 'resumed'; result: AnyRunResult<TAgent>; requestIds: string[] };

export interface ResumeOptions {
  /** How long to wait for the decision (0: look once). */
  waitMs?: number;
  /** The Runner to resume with (default: the SDK's `run`). */
  runner?: Runner;
}

/**
 * Waits for countersign's decision on the run stored under `requestId`, then approves each held
 * call countersign approved and rejects the others (the model is told the reason code), runs the
 * restored RunState on and stores it again if it is interrupted again. The approval in the RunState
 * only lets the SDK call `execute`; the tool still runs only with a consumed token. A webhook calls
 * this with the request id of its payload (waitMs 0).
 */
export async function resumeWhenDecided<TAgent extends AnyAgent>(cs: Countersign, store: RunStateStore, requestId: string, agent: TAgent, options: ResumeOptions = {}): Promise<ResumeResult<TAgent>> {
  const stored = await store.get(requestId);
  if (!stored) return { kind: 'unknown', requestId };
  const decisions = await Promise.all(stored.calls.map(async (call) => ({ call, state: await cs.wait(call.workflowId, options.waitMs ?? 0) })));
  if (decisions.some((d) => OPEN.has(d.state.status) && !d.state.outcome)) return { kind: 'pending', requestIds: stored.calls.map((c) => c.requestId) };

  // Claim the run: of two resumes (a wait and a webhook, a replay), one goes on.
  const claimed = await store.take(requestId);
  if (!claimed) return { kind: 'unknown', requestId };
  for (const call of claimed.calls) if (call.requestId !== requestId) await store.delete(call.requestId);

  let result: AnyRunResult<TAgent>;
  try {
    const state = await RunState.fromString<unknown, TAgent>(agent, claimed.state);
    const byCall = new Map(decisions.map((d) => [d.call.callId, d]));
    for (const item of state.getInterruptions()) {
      const decided = byCall.get(callIdOf(item) ?? '');
      if (!decided) continue; // another tool's approval: left to its owner
      const { state: s } = decided;
      if (s.status === 'approved' && s.outcome?.status === 'approved') state.approve(item);
      else {
        const code = s.outcome?.code ?? (s.status === 'executed' || s.status === 'failed' ? ReasonCode.TOKEN_CONSUMED : ReasonCode.NOT_CONSUMED);
        const message = s.outcome?.message ?? `Request ${s.requestId} is ${s.status}: the tool does not run.`;
        state.reject(item, { message: refusalText({ kind: 'refused', requestId: s.requestId, status: s.status, code, message }) });
      }
    }
    result = (options.runner ? await options.runner.run(agent, state) : await run(agent, state)) as AnyRunResult<TAgent>;
  } catch (err) {
    // Put the run back so it can be tried again: the token still guards the tool.
    for (const call of claimed.calls) await store.put(call.requestId, claimed);
    throw err;
  }
  const requestIds = result.interruptions.length ? await persistInterrupted(store, result as AnyRunResult) : [];
  return { kind: 'resumed', result, requestIds };
}
