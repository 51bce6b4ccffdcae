/**
 * countersign for the Vercel AI SDK (ai 7): a tool set whose mapped tools run only through
 * countersign. Each call is submitted as an action request (the declared mapping names the action,
 * the resource and the summary; the payload is the tool's input). Allow → the tool's own `execute`
 * runs once, after the single-use token is consumed for exactly the input it runs with. Deny,
 * expiry or a refused token → the tool result is a structured refusal the model sees, with its
 * reason code. Review → the SDK's approval flow is entered (`toolApproval` answers `user-approval`,
 * the SDK emits a `tool-approval-request`); the call is resumed only from countersign's decision:
 * a `tool-approval-response` the app sends back still goes through countersign in `execute`, so an
 * approval countersign did not give never runs the tool.
 */
import type {
  ContentPart,
  InferToolInput,
  InferToolOutput,
  SingleToolApprovalFunction,
  Tool,
  ToolApprovalRequestOutput,
  ToolApprovalResponse,
  ToolApprovalStatus,
  ToolExecutionOptions,
  ToolSet,
} from 'ai';
import { InvalidRequestError } from '../../common/refusals';
import type { SubmitState } from '../../common/views';
import type { Countersign } from '../sdk';
import { gatedCall, gatedRequest, type GatedAction, type GateOptions } from './gate';

export type { GatedAction } from './gate';

/** What the model gets as the tool result when the tool did not run. */
export interface CountersignRefusal {
  executed: false;
  /** The countersign request this call is ('' for a call refused before any request started: INVALID_REQUEST). */
  requestId: string;
  /** The request's status: denied, expired, changes_requested, pending, executed… */
  status: string;
  /** The reason code (POLICY_DENIED, REVIEWER_DENIED, TOKEN_CONSUMED…), or PENDING while a reviewer decides. */
  code: string;
  message: string;
}

/** The mapping: which tools are gated, and how each call becomes an action request. */
export type CountersignActions<TOOLS extends ToolSet> = { [K in keyof TOOLS]?: GatedAction<InferToolInput<TOOLS[K]>> };

export interface CountersignToolOptions<TOOLS extends ToolSet, ACTIONS extends CountersignActions<TOOLS>> {
  /** The agent's task (a run, a thread, a conversation): the same call in the same task is one request. Keep it across a resume. */
  taskId: string;
  actions: ACTIONS;
  /** How long a call waits for a decision before it enters the approval flow (default 0: at once). */
  waitMs?: number;
  onBehalfOf?: string;
}

/** A gated tool: the same input, and the original output or a refusal. */
export type GatedTool<T extends ToolSet[string]> = Tool<InferToolInput<T>, InferToolOutput<T> | CountersignRefusal>;

/** The tool set with every mapped tool gated; the others as they were. */
export type GatedToolSet<TOOLS extends ToolSet, ACTIONS> = { [K in keyof TOOLS]: K extends keyof ACTIONS ? GatedTool<TOOLS[K]> : TOOLS[K] };

/** The per-tool `toolApproval` entries for the gated tools: `user-approval` while a reviewer decides. */
export type CountersignToolApproval<TOOLS extends ToolSet, ACTIONS> = {
  [K in keyof TOOLS & keyof ACTIONS]: SingleToolApprovalFunction<InferToolInput<TOOLS[K]>, unknown, unknown>;
};

/** What `withCountersign` gives: spread it into generateText / streamText / ToolLoopAgent. */
export interface CountersignTools<TOOLS extends ToolSet, ACTIONS> {
  tools: GatedToolSet<TOOLS, ACTIONS>;
  toolApproval: CountersignToolApproval<TOOLS, ACTIONS>;
}

const OPEN = new Set(['evaluating', 'pending', 'escalated']);
const REASON_PREFIX = 'countersign request ';

/**
 * Gates the mapped tools of `tools` through countersign. Pass both halves to the SDK
 * (`generateText({ model, ...withCountersign(cs, tools, options), ... })`); merge `toolApproval`
 * with your own entries for other tools. Without `toolApproval` the tools are just as safe: a
 * call awaiting review answers a PENDING refusal instead of entering the approval flow.
 */
export function withCountersign<TOOLS extends ToolSet, const ACTIONS extends CountersignActions<TOOLS>>(
  cs: Countersign,
  tools: TOOLS,
  options: CountersignToolOptions<TOOLS, ACTIONS>,
): CountersignTools<TOOLS, ACTIONS> {
  const gateOptions: GateOptions = { taskId: options.taskId, waitMs: options.waitMs ?? 0, ...(options.onBehalfOf ? { onBehalfOf: options.onBehalfOf } : {}) };
  const gatedTools: Record<string, ToolSet[string]> = { ...tools };
  const approvals: Record<string, SingleToolApprovalFunction<unknown, unknown, unknown>> = {};
  for (const [name, mapping] of Object.entries(options.actions) as [string, GatedAction<unknown> | undefined][]) {
    const original = tools[name];
    if (!mapping) continue;
    if (!original) throw new Error(`countersign: no tool named ${name} to gate.`);
    const execute = original.execute as ((input: unknown, o: ToolExecutionOptions<unknown>) => unknown) | undefined;
    if (!execute) throw new Error(`countersign: tool ${name} has no execute function; only tools the SDK runs can be gated.`);
    gatedTools[name] = {
      ...original,
      execute: async (input: unknown, executionOptions: ToolExecutionOptions<unknown>): Promise<unknown> => {
        let result;
        try {
          result = await gatedCall(cs, mapping, input, (approved) => settle(execute(approved, executionOptions)), gateOptions);
        } catch (err) {
          // Refused at the front door (the catalog's schema or resource): nothing started, nothing ran.
          if (err instanceof InvalidRequestError) return refusal({ requestId: '', status: 'invalid', code: err.code, message: err.message });
          throw err;
        }
        if (result.kind === 'executed') return result.result;
        if (result.kind === 'pending') {
          return refusal({ requestId: result.requestId, status: result.status, code: 'PENDING', message: `Request ${result.requestId} awaits a reviewer in countersign: the tool has not run.` });
        }
        return refusal(result);
      },
    } as ToolSet[string];
    approvals[name] = async (input: unknown): Promise<ToolApprovalStatus> => {
      let state;
      try {
        state = await cs.submit(gatedRequest(mapping, input, gateOptions), { waitMs: gateOptions.waitMs ?? 0 });
      } catch {
        // execute decides (and fails closed): it submits again, and runs nothing without a consumed token.
        return 'not-applicable';
      }
      if (OPEN.has(state.status) && !state.outcome) {
        return { type: 'user-approval', reason: `${REASON_PREFIX}${state.requestId} awaits a reviewer (${state.status}); it runs only on countersign's approval.` };
      }
      // Decided: execute goes through countersign (consume or structured refusal).
      return 'not-applicable';
    };
  }
  return { tools: gatedTools as GatedToolSet<TOOLS, ACTIONS>, toolApproval: approvals as CountersignToolApproval<TOOLS, ACTIONS> };
}

/** What the model is told when the tool did not run: the reason code, and the request it belongs to. */
function refusal(r: { requestId: string; status: string; code: string; message: string }): CountersignRefusal {
  return { executed: false, requestId: r.requestId, status: r.status, code: r.code, message: r.message };
}

/** A tool's result: awaited, or for a streaming tool (an async iterable) its last value. */
async function settle(value: unknown): Promise<unknown> {
  const awaited = await value;
  if (awaited !== null && typeof awaited === 'object' && Symbol.asyncIterator in awaited) {
    let last: unknown;
    for await (const chunk of awaited as AsyncIterable<unknown>) last = chunk;
    return last;
  }
  return awaited;
}

/** True for a result the model got when a gated tool did not run. */
export function isCountersignRefusal(value: unknown): value is CountersignRefusal {
  return value !== null && typeof value === 'object' && (value as { executed?: unknown }).executed === false && typeof (value as { code?: unknown }).code === 'string';
}

/** The countersign request a `tool-approval-request` part waits on, or undefined for another approval. */
export function countersignRequestId(part: Pick<ToolApprovalRequestOutput<ToolSet>, 'reason'>): string | undefined {
  const reason = part.reason ?? '';
  if (!reason.startsWith(REASON_PREFIX)) return undefined;
  return reason.slice(REASON_PREFIX.length).split(' ')[0] || undefined;
}

/** Countersign's decision on a request, as far as it has come. */
export interface CountersignDecision {
  requestId: string;
  status: SubmitState['status'];
  /** A decision has been made (approved, denied, expired…); false while a reviewer decides. */
  decided: boolean;
  /** Countersign approved: a resumed call consumes the token and runs. */
  approved: boolean;
  code?: string;
  message?: string;
}

/** Waits up to `waitMs` for countersign's decision on a request (0: its state now). */
export async function awaitDecision(cs: Countersign, requestId: string, waitMs: number): Promise<CountersignDecision> {
  const state = waitMs > 0 ? await cs.wait(requestId, waitMs) : await cs.state(requestId);
  const decided = Boolean(state.outcome) || !OPEN.has(state.status);
  return {
    requestId: state.requestId,
    status: state.status,
    decided,
    approved: state.status === 'approved',
    ...(state.outcome?.code ? { code: state.outcome.code } : {}),
    ...(state.outcome?.message ? { message: state.outcome.message } : {}),
  };
}

/**
 * For each countersign approval request in a result's content, waits up to `waitMs` for
 * countersign's decision and answers the SDK's approval response to send back (`{ role: 'tool',
 * content: responses }`); requests still undecided are listed in `pending`. The response only
 * resumes the call: the tool runs if countersign approved it, whatever the response says.
 */
export async function countersignApprovalResponses<TOOLS extends ToolSet>(
  cs: Countersign,
  content: ReadonlyArray<ContentPart<TOOLS>>,
  waitMs: number,
): Promise<{ responses: ToolApprovalResponse[]; pending: string[] }> {
  const responses: ToolApprovalResponse[] = [];
  const pending: string[] = [];
  const requests = content.filter((part): part is ToolApprovalRequestOutput<TOOLS> => part.type === 'tool-approval-request' && !part.isAutomatic);
  await Promise.all(
    requests.map(async (part) => {
      const requestId = countersignRequestId(part);
      if (!requestId) return;
      const decision = await awaitDecision(cs, requestId, waitMs);
      if (!decision.decided) {
        pending.push(requestId);
        return;
      }
      responses.push({
        type: 'tool-approval-response',
        approvalId: part.approvalId,
        approved: decision.approved,
        reason: decision.approved ? `approved in countersign (${requestId})` : `countersign: ${decision.code ?? decision.status}: ${decision.message ?? `request ${requestId} is ${decision.status}`}`,
      });
    }),
  );
  return { responses, pending };
}

/** Per-request agent keys: a resume in another process (after a restart, in a worker) needs a fileKeyStore. */
export { fileKeyStore, memoryKeyStore, type AgentKeyStore } from '../agent-keys';
