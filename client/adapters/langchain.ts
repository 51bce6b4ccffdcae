/**
 * `countersign/langchain`: LangChain v1 / LangGraph.js agents whose tool approvals come from
 * countersign. `countersignMiddleware(cs, { interruptOn })` takes the same `interruptOn` map as
 * `humanInTheLoopMiddleware` (tool name → config, `true` or `false`), but the decision for each
 * gated tool call is countersign's, never the resume value's:
 *
 * - allow: the call runs through gatedCall — the token is consumed for exactly the arguments that
 *   then run, and the run is reported;
 * - deny (or expiry, changes requested, a spent token): the tool never runs and the model gets a
 *   ToolMessage (status "error") naming the reason code, with the structured refusal as its artifact;
 * - review: the graph interrupts (LangGraph `interrupt`, so a checkpointer is needed) with a
 *   HITLRequest-shaped value that carries the countersign request id. Any `Command({ resume })`
 *   only means "look again": the decision is read from countersign, and the resume value — approve,
 *   edit, rename or reject — is ignored. A reviewer edits in countersign, which validates the edit
 *   against the catalog schema and routes it again; the edited payload is what runs, under the same
 *   tool (a payload cannot name another tool). Still undecided: the graph interrupts again.
 *
 * A second run of the same call (same agent, task and arguments: a replayed resume, a re-run thread,
 * a restarted process) joins the same request, whose token is spent: the tool does not run again.
 */
import { createMiddleware, ToolMessage, type HITLRequest, type ToolCallRequest } from 'langchain';
import type { Resource } from '../../common/inputs';
import type { Payload } from '../../common/json';
import type { Countersign } from '../sdk';
import { gatedCall, refusalText, type GatedAction, type GateResult } from './gate';

type Args = Record<string, unknown>;
/** A tool call as the agent's tool node hands it over. */
export type ToolCall = ToolCallRequest['toolCall'];

/** How one tool's calls become countersign action requests. */
export interface CountersignToolConfig<I extends Args = Args> {
  /** The catalog action for this tool, e.g. payments.refund. */
  action: string;
  /** What the call affects (default: { type: 'tool', id: <tool name> }). */
  resource?: Resource | ((args: I) => Resource);
  /** One line for reviewers, the agent's words (default: the tool's name and arguments). */
  summary?: string | ((args: I) => string);
  /** The payload reviewers see and the token binds; by default the tool's arguments. */
  toPayload?: (args: I) => Payload;
  /** The arguments that run for an approved payload (edited or not); by default the payload itself. */
  fromPayload?: (payload: Payload) => I;
  /** Shown in the interrupt's action request, as humanInTheLoopMiddleware's `description`. */
  description?: string;
}

/**
 * Tool name → how its calls are gated, as humanInTheLoopMiddleware's `interruptOn`: a config,
 * `true` (action `tool.<name>`, resource { type: 'tool', id: <name> }), or `false`. A tool that is
 * not named, or named `false`, runs without countersign, as it would without the middleware.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each tool has its own argument type
export type CountersignInterruptOn = Record<string, boolean | CountersignToolConfig<any>>;

export interface CountersignMiddlewareOptions {
  interruptOn: CountersignInterruptOn;
  /**
   * The countersign task a call belongs to: the same call (tool, arguments) in the same task is one
   * request, run at most once. Default: the LangGraph thread id (configurable.thread_id).
   */
  taskId?: string | ((call: { toolCall: ToolCall; threadId?: string }) => string);
  /** How long a call waits for countersign's decision before the graph interrupts (default 0). */
  waitMs?: number;
  onBehalfOf?: string;
}

/** What a countersign interrupt carries: a HITLRequest (for UIs that show one) plus the request to decide. */
export interface CountersignInterrupt extends HITLRequest {
  countersign: { requestId: string; workflowId: string; status: string; deadline?: string; toolCallId?: string; action: string };
}

/** A tool call's refusal as the model and the application see it. */
export interface CountersignRefusal {
  countersign: 'refused';
  requestId: string;
  status: string;
  code: string;
  message: string;
}

function resolve(name: string, config: boolean | CountersignToolConfig): (GatedAction<Args> & { description?: string }) | undefined {
  if (config === false) return undefined;
  const c: CountersignToolConfig = config === true ? { action: `tool.${name}` } : config;
  const { resource, summary } = c;
  return {
    action: c.action,
    resource: typeof resource === 'function' ? resource : () => resource ?? { type: 'tool', id: name },
    summary: typeof summary === 'function' ? summary : (args) => summary ?? `${name} ${JSON.stringify(args)}`.slice(0, 500),
    ...(c.toPayload ? { toPayload: c.toPayload } : {}),
    ...(c.fromPayload ? { fromPayload: c.fromPayload } : {}),
    ...(c.description !== undefined ? { description: c.description } : {}),
  };
}

/** The ToolMessage a model gets for a call that did not run: the reason code in its text, the refusal as its artifact. */
export function refusalMessage(toolCall: ToolCall, r: Extract<GateResult<unknown>, { kind: 'refused' }>): ToolMessage {
  const artifact: CountersignRefusal = { countersign: 'refused', requestId: r.requestId, status: r.status, code: r.code, message: r.message };
  return new ToolMessage({ content: refusalText(r), name: toolCall.name, tool_call_id: toolCall.id ?? '', status: 'error', artifact });
}

/** A LangChain agent middleware whose tool approvals are countersign's decisions (see the module's comment). */
export function countersignMiddleware(cs: Countersign, options: CountersignMiddlewareOptions) {
  const gates = new Map<string, GatedAction<Args> & { description?: string }>();
  for (const [name, config] of Object.entries(options.interruptOn)) {
    const gated = resolve(name, config);
    if (gated) gates.set(name, gated);
  }
  return createMiddleware({
    name: 'CountersignMiddleware',
    wrapToolCall: async (request, handler) => {
      const { toolCall } = request;
      const gated = gates.get(toolCall.name);
      if (!gated) return handler(request);
      const threadId = (request.runtime.configurable as { thread_id?: unknown } | undefined)?.thread_id;
      const taskId = typeof options.taskId === 'function' ? options.taskId({ toolCall, ...(typeof threadId === 'string' ? { threadId } : {}) }) : (options.taskId ?? (typeof threadId === 'string' || typeof threadId === 'number' ? String(threadId) : undefined));
      if (!taskId) throw new Error('countersignMiddleware needs a task: run the agent with a thread id (configurable.thread_id) or give options.taskId.');
      const args = toolCall.args as Args;
      // The tool runs only here, inside gatedCall's execute: after the token is consumed, with the approved arguments, under its own name.
      const execute = (approved: Args) => handler({ ...request, toolCall: { ...toolCall, name: toolCall.name, args: approved } });
      for (;;) {
        const r = await gatedCall(cs, gated, args, execute, { taskId, waitMs: options.waitMs ?? 0, ...(options.onBehalfOf ? { onBehalfOf: options.onBehalfOf } : {}) });
        if (r.kind === 'executed') return r.result;
        if (r.kind === 'refused') return refusalMessage(toolCall, r);
        const value: CountersignInterrupt = {
          actionRequests: [{ name: toolCall.name, args, description: gated.description ?? `Awaiting countersign request ${r.requestId} (${gated.action}); decide it in countersign.` }],
          // Nothing a resume says is a decision: the reviewers decide in countersign.
          reviewConfigs: [{ actionName: toolCall.name, allowedDecisions: [] }],
          countersign: { requestId: r.requestId, workflowId: r.workflowId, status: r.status, action: gated.action, ...(r.deadline ? { deadline: r.deadline } : {}), ...(toolCall.id ? { toolCallId: toolCall.id } : {}) },
        };
        if (typeof request.runtime.interrupt !== 'function') throw new Error('countersignMiddleware needs a LangGraph run to interrupt in (createAgent with a checkpointer).');
        // First time: throws, and the graph pauses. On a resume: returns the resume value, which is ignored; countersign is asked again.
        request.runtime.interrupt(value);
      }
    },
  });
}
