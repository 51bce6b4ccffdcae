/**
 * What every framework adapter stands on: one tool call through countersign. The call becomes an
 * action request (the tool's declared mapping names the action, the resource and the summary; the
 * payload is the tool's input unless mapped); on approval the single-use token is consumed for
 * exactly the input that then executes — the approved one, edited or not — and the run is reported,
 * so the evidence closes. Nothing else ever runs a tool: not a client's "approve", not a resumed
 * state, not a replay. A second run of the same call (same agent, task and input) joins the same
 * request, whose token is spent: it never runs the side effect twice.
 */
import { ReasonCode } from '../../common/codes';
import type { Resource } from '../../common/inputs';
import type { Payload } from '../../common/json';
import { ConsumeRefusedError } from '../../common/refusals';
import type { Countersign } from '../sdk';

/** How one tool's calls become action requests. */
export interface GatedAction<I> {
  /** The catalog action for this tool, e.g. payments.refund. */
  action: string;
  /** What the call affects. */
  resource: (input: I) => Resource;
  /** One line for reviewers; the agent's words. */
  summary: (input: I) => string;
  /** The payload reviewers see and the token binds; by default the tool's input itself (a JSON object). */
  toPayload?: (input: I) => Payload;
  /** The input that runs for an approved payload (edited or not); by default the payload itself. */
  fromPayload?: (payload: Payload) => I;
}

/** What one gated call came to. */
export type GateResult<T> =
  /** The token was consumed for `input` and the tool ran with it; the run was reported. */
  | { kind: 'executed'; requestId: string; result: T; input: unknown }
  /** Never ran: denied, expired, changes requested, or the token was refused (spent already, expired). */
  | { kind: 'refused'; requestId: string; status: string; code: string; message: string }
  /** Waiting for a reviewer: nothing ran; call again (the same call joins the same request) to resume. */
  | { kind: 'pending'; requestId: string; workflowId: string; status: string; deadline?: string };

export interface GateOptions {
  /** The agent's task (a run, a thread, a conversation): the same call in the same task is one request. */
  taskId: string;
  /** How long to wait for a decision before answering `pending`; 0 answers at once. */
  waitMs?: number;
  onBehalfOf?: string;
}

const OPEN = new Set(['evaluating', 'pending', 'escalated']);

/**
 * The action request for one call: what gatedCall submits, and what an adapter that asks countersign
 * earlier (an approval hook) must submit too, so both join the same request.
 */
export function gatedRequest<I>(gated: GatedAction<I>, input: I, options: Pick<GateOptions, 'taskId' | 'onBehalfOf'>) {
  return {
    taskId: options.taskId,
    action: gated.action,
    summary: gated.summary(input),
    resource: gated.resource(input),
    payload: gated.toPayload ? gated.toPayload(input) : (input as unknown as Payload),
    ...(options.onBehalfOf ? { onBehalfOf: options.onBehalfOf } : {}),
  };
}

/** One tool call through countersign; `execute` runs only with a consumed token, for exactly the input it is given. */
export async function gatedCall<I, T>(cs: Countersign, gated: GatedAction<I>, input: I, execute: (input: I) => Promise<T> | T, options: GateOptions): Promise<GateResult<T>> {
  const request = await cs.submit(gatedRequest(gated, input, options), { waitMs: options.waitMs ?? 0 });
  const outcome = request.outcome;
  if (OPEN.has(request.status) && !outcome) {
    return { kind: 'pending', requestId: request.requestId, workflowId: request.workflowId, status: request.status, ...(request.deadline ? { deadline: request.deadline } : {}) };
  }
  if (request.status !== 'approved' || outcome?.status !== 'approved') {
    const code = outcome?.code ?? (request.status === 'executed' || request.status === 'failed' ? ReasonCode.TOKEN_CONSUMED : ReasonCode.NOT_CONSUMED);
    const message = outcome?.message ?? `Request ${request.requestId} is ${request.status}: the tool does not run.`;
    return { kind: 'refused', requestId: request.requestId, status: request.status, code, message };
  }
  const approved = gated.fromPayload ? gated.fromPayload(outcome.payload) : (outcome.payload as unknown as I);
  try {
    await request.consume(outcome.payload);
  } catch (err) {
    if (err instanceof ConsumeRefusedError) return { kind: 'refused', requestId: request.requestId, status: request.status, code: err.code, message: err.message };
    throw err;
  }
  let result: T;
  try {
    result = await execute(approved);
  } catch (err) {
    await request.report({ status: 'failed', message: String((err as Error)?.message ?? err).slice(0, 2000) });
    throw err;
  }
  await request.report({ status: 'succeeded' });
  return { kind: 'executed', requestId: request.requestId, result, input: approved };
}

/** The sentence a model is told when its tool call did not run. */
export function refusalText(r: Extract<GateResult<unknown>, { kind: 'refused' }>): string {
  return `countersign: not executed (${r.code}): ${r.message}`;
}
