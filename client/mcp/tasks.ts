/**
 * The tasks extension (io.modelcontextprotocol/tasks) of MCP 2026-07-28 on the gateway. A gated call
 * that waits for a human becomes a task whose id names its countersign request (task-ids.ts);
 * tasks/get answers from countersign and from this process's run of the approved call, tasks/cancel
 * withdraws the request. What this process keeps is bounded and may be forgotten: the id carries the
 * request, so any gateway process with the same secret and credential answers for it.
 */
import type { DetailedTaskV2 } from '@modelcontextprotocol/ext-tasks/core/v2' with { 'resolution-mode': 'import' };
import { MissingRequiredClientCapabilityError, ProtocolError, ProtocolErrorCode, type CallToolResult, type Server, type ServerContext } from '@modelcontextprotocol/server';
import type { GatewayLogger } from './logger';
import { ReasonCode } from '../../common/codes';
import { RequestNotFoundError } from '../../common/refusals';
import type { SubmitState } from '../../common/views';
import { mcpActionName, McpContext } from '../../policy/mcp';
import { DecisionRefusedError, type ApprovalRequest, type Countersign } from '../sdk';
import type { Execution, Executions } from './execution';
import { changesRequestedResult, deniedResult, expiredResult, notRunResult, ranElsewhereResult, resultText } from './results';
import { TASK_ID_TTL_MS, type TaskIds, type TaskRef } from './task-ids';

type TaskWire = typeof import('@modelcontextprotocol/ext-tasks/core/v2', { with: { 'resolution-mode': 'import' } });
/**
 * A created task and a task as tasks/get shows it, as JSON objects: the extension's generated schemas
 * check their shape at run time. Our declarations name no type of the extension's package, whose own
 * declarations need `exactOptionalPropertyTypes` and so would fail a user's type-check.
 */
export interface TaskCreated {
  resultType: 'task';
  [field: string]: unknown;
}
export interface TaskShown {
  taskId: string;
  status: string;
  [field: string]: unknown;
}
/** A task's status and what comes with it; the id, times and poll interval are added when it is answered. */
type TaskState = DetailedTaskV2 extends infer T ? (T extends unknown ? Omit<T, 'taskId' | 'createdAt' | 'lastUpdatedAt' | 'ttlMs' | 'pollIntervalMs'> : never) : never;

/** How often a client is asked to poll. */
const POLL_MS = 2000;
/** Tasks this process keeps a record of; past it, the oldest that are not running are forgotten. */
const MAX_RECORDS = 1024;
/** And at most this much of their ended states (results), counted as JSON text. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;
/** An ended task's record is forgotten this long after it ended (tasks/get then asks countersign again). */
const RETENTION_MS = 60 * 60_000;
/**
 * The JSON-RPC error of a failed task: countersign refused the call (denied, changes requested,
 * expired, token refused). Its data is the same `countersign/request` object ({id, status, code})
 * a 2025-era client finds in the result's _meta.
 */
export const CALL_REFUSED = -32090;
const META = 'countersign/request';

let wire: TaskWire | undefined;
/** The extension's generated wire schemas (an ES module, so loaded once before serving). */
export async function loadTaskWire(): Promise<void> {
  wire ??= await import('@modelcontextprotocol/ext-tasks/core/v2');
}
function taskWire(): TaskWire {
  if (!wire) throw new Error('The tasks extension is not loaded: await loadTaskWire() before serving.');
  return wire;
}
export const tasksExtension = () => ({ [taskWire().TASKS_EXTENSION_ID_V2]: {} });

interface TaskRecord {
  ref: TaskRef;
  /** The run of the approved call this process started for it. */
  execution?: Execution;
  /** Its final state, once known: answered from here until forgotten. */
  ended?: { state: TaskState; at: number; bytes: number };
  /** tasks/cancel came once the request was approved: this process does not spend its token. */
  withdrawn?: boolean;
  /** A poll is fetching the approval to run it: the polls meanwhile answer working. */
  starting?: boolean;
  /** The token was spent by another process: the call ran there. */
  ranElsewhere?: boolean;
  /** Lets the next identical call ask again, as after a lapsed approval (in the process that made the task). */
  again?: () => void;
}

export interface TaskOptions {
  ids: TaskIds;
  cs: Countersign;
  /** The upstream's name: a task runs only a call of this upstream. */
  server: string;
  executions: Executions;
  logger: GatewayLogger;
}

export class GatewayTasks {
  /** By workflow id, least recently used first. */
  private readonly records = new Map<string, TaskRecord>();

  constructor(private readonly o: TaskOptions) {}

  /** Whether a tools/call may be answered with a task: a 2026-07-28 request whose client declares the extension. */
  wanted(ctx: ServerContext): boolean {
    // The SDK lifts the per-request envelope (clientCapabilities among it) out of the request's _meta.
    return ctx.mcpReq.envelope !== undefined && taskWire().hasTaskClientCapabilityV2({ _meta: ctx.mcpReq.envelope });
  }

  /** tasks/get and tasks/cancel on a server for 2026-07-28 clients. */
  register(server: Server): void {
    const w = taskWire();
    server.setRequestHandler('tasks/get', { params: w.GetTaskRequestV2Schema.shape.params }, async ({ taskId }, ctx) => {
      this.requireExtension(ctx);
      return this.get(taskId);
    });
    server.setRequestHandler('tasks/cancel', { params: w.CancelTaskRequestV2Schema.shape.params }, async ({ taskId }, ctx) => {
      this.requireExtension(ctx);
      await this.cancel(taskId);
      return {};
    });
  }

  /** The task for a call that waits for a human, returned at once; countersign already holds the request, so tasks/get answers for it. */
  async create(submitted: ApprovalRequest, call: { name: string; again: () => void }): Promise<TaskCreated> {
    const ref: TaskRef = { requestId: submitted.requestId, workflowId: submitted.workflowId, createdAt: Date.now(), tool: call.name };
    const taskId = await this.o.ids.mint(ref);
    this.record(ref).again = call.again;
    return taskWire().CreateTaskResultV2Schema.parse({ resultType: 'task', ...this.frame(taskId, ref), ...working(awaiting(submitted.state, ref.tool)) });
  }

  async get(taskId: string): Promise<TaskShown> {
    const record = this.record(await this.open(taskId, 'retrieve'));
    const state = await this.current(record);
    return taskWire().DetailedTaskV2Schema.parse({ ...this.frame(taskId, record.ref, record.ended?.at), ...state });
  }

  /**
   * Withdraws the request while it is not decided yet. Once approved, this process does not run the
   * call (its approval lapses unused); once ended, nothing changes. Acknowledged either way, as the
   * extension has it: the task shows what happened.
   */
  async cancel(taskId: string): Promise<void> {
    const record = this.record(await this.open(taskId, 'cancel'));
    if (record.ended) return;
    try {
      await this.o.cs.withdraw(record.ref.workflowId);
      this.o.logger.info({ requestId: record.ref.requestId }, 'the client cancelled its task: request withdrawn');
    } catch (err) {
      if (err instanceof RequestNotFoundError) throw notFound('cancel');
      if (!(err instanceof DecisionRefusedError)) throw unavailable(err);
      if (!record.execution) record.withdrawn = true;
      this.o.logger.info({ requestId: record.ref.requestId }, 'the client cancelled its task after the decision: the gateway will not run it');
    }
  }

  /** What the task is now: from what this process holds, else from countersign. */
  private async current(r: TaskRecord): Promise<TaskState> {
    if (r.ended) return r.ended.state;
    const { tool, requestId, workflowId } = r.ref;
    const run = r.execution ?? this.o.executions.get(workflowId);
    if (run?.result) {
      if (run.ranAt) return this.end(r, completed(run.result));
      if (run.refused === ReasonCode.TOKEN_CONSUMED) r.ranElsewhere = true;
      else if (run.refused) return this.end(r, failed(run.result));
      r.execution = undefined; // countersign was unreachable: nothing ran, and the next poll tries again
    } else if (run) {
      return working(`Approved: ${tool} is running on the upstream (countersign request ${requestId}).`);
    }
    let state: SubmitState;
    try {
      state = await this.o.cs.state(workflowId);
    } catch (err) {
      if (err instanceof RequestNotFoundError) throw notFound('retrieve');
      throw unavailable(err);
    }
    const outcome = state.outcome;
    if (state.status === 'evaluating' || state.status === 'pending' || state.status === 'escalated') return working(awaiting(state, tool));
    if (state.status === 'approved') return this.approved(r);
    if (!outcome) return working(`Countersign request ${requestId} is ${state.status}; its outcome follows in a moment.`);
    switch (outcome.status) {
      case 'cancelled':
        return this.end(r, { status: 'cancelled', statusMessage: `Withdrawn: countersign request ${requestId} was cancelled, and ${tool} did not run.` });
      case 'denied':
        return this.end(r, failed(deniedResult(tool, outcome)));
      case 'changes_requested':
        return this.end(r, failed(changesRequestedResult(tool, outcome)));
      case 'expired':
        r.again?.();
        return this.end(r, failed(expiredResult(tool, outcome)));
      case 'not_executed':
        r.again?.();
        return this.end(r, failed(notRunResult(tool, requestId, outcome.status, ReasonCode.TOKEN_EXPIRED, 'Approved, but the approval lapsed before the call was made')));
      default:
        return this.end(r, completed(ranElsewhereResult(tool, outcome)));
    }
  }

  /** Approved: this process spends the token and runs the call once (unless the client cancelled, or it ran elsewhere). */
  private async approved(r: TaskRecord): Promise<TaskState> {
    const { requestId, workflowId } = r.ref;
    if (r.withdrawn) return this.end(r, { status: 'cancelled', statusMessage: `Cancelled after the approval: the gateway did not run it, and countersign request ${requestId}'s approval lapses unused.` });
    if (r.ranElsewhere) return working(`Countersign request ${requestId}'s token was spent by another gateway process: the call runs there.`);
    const runs = working(`Approved: ${r.ref.tool} is running on the upstream (countersign request ${requestId}).`);
    if (r.starting) return runs;
    r.starting = true;
    let approved: ApprovalRequest;
    try {
      approved = await this.o.cs.resume(workflowId);
    } catch (err) {
      throw err instanceof RequestNotFoundError ? notFound('retrieve') : unavailable(err);
    } finally {
      r.starting = false;
    }
    if (approved.outcome?.status !== 'approved') return working(`Countersign request ${requestId} is ${approved.status}.`);
    // The tool comes from countersign's record of the request, never from this process or the id.
    const tool = approved.request.context?.[McpContext.tool];
    if (tool === undefined || approved.request.context?.[McpContext.server] !== this.o.server || mcpActionName(this.o.server, tool) !== approved.request.action) throw notFound('retrieve');
    const log = this.o.logger.child({ requestId, tool, action: approved.request.action, task: true });
    log.info({ reviewers: approved.outcome.reviewers }, 'approved: running the task’s call');
    r.execution = this.o.executions.run(approved, tool, r.again ?? (() => undefined), log);
    return runs;
  }

  private async open(taskId: string, verb: 'retrieve' | 'cancel'): Promise<TaskRef> {
    const ref = await this.o.ids.open(taskId);
    if (!ref) throw notFound(verb);
    return ref;
  }

  private requireExtension(ctx: ServerContext): void {
    if (!this.wanted(ctx)) throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: tasksExtension() } }, 'Missing required client capability');
  }

  private frame(taskId: string, ref: TaskRef, updatedAt?: number) {
    return { taskId, createdAt: new Date(ref.createdAt).toISOString(), lastUpdatedAt: new Date(updatedAt ?? Date.now()).toISOString(), ttlMs: TASK_ID_TTL_MS, pollIntervalMs: POLL_MS };
  }

  /** This process's record of a task (made on first sight: after a restart, from the id alone). */
  private record(ref: TaskRef): TaskRecord {
    const record = this.records.get(ref.workflowId) ?? { ref };
    this.records.delete(ref.workflowId);
    this.records.set(ref.workflowId, record);
    this.bound();
    return record;
  }

  private end(r: TaskRecord, state: TaskState): TaskState {
    r.ended = { state, at: Date.now(), bytes: JSON.stringify(state).length };
    this.bound();
    return state;
  }

  /** Forgets ended records past their retention, then the least recently used beyond the count and size kept (never a running one). */
  private bound(): void {
    const now = Date.now();
    let bytes = 0;
    for (const [id, r] of this.records) {
      if (r.ended && now - r.ended.at > RETENTION_MS) this.records.delete(id);
      else bytes += r.ended?.bytes ?? 0;
    }
    for (const [id, r] of this.records) {
      if (this.records.size <= MAX_RECORDS && bytes <= MAX_RECORD_BYTES) break;
      if (r.execution && !r.execution.result) continue;
      this.records.delete(id);
      bytes -= r.ended?.bytes ?? 0;
    }
  }
}

function working(statusMessage: string): TaskState {
  return { status: 'working', statusMessage };
}

function awaiting(state: Pick<SubmitState, 'requestId' | 'status' | 'deadline'>, tool: string): string {
  const who = state.status === 'escalated' ? 'is escalated to more reviewers' : 'is waiting for a reviewer';
  return `Awaiting human approval: countersign request ${state.requestId} for ${tool} ${who}, and nothing has run yet.${state.deadline ? ` Reviewers have until ${state.deadline}.` : ''}`;
}

/** The call's result as a 2026-07-28 tools/call would have carried it. */
function completed(result: CallToolResult): TaskState {
  return { status: 'completed', result: { ...result, resultType: 'complete' } as unknown as Extract<TaskState, { status: 'completed' }>['result'] };
}

/** A refusal notice (results.ts) as the task's JSON-RPC error: the same words, and its countersign/request data. */
function failed(notice: CallToolResult): TaskState {
  const message = resultText(notice);
  const data = (notice._meta?.[META] ?? {}) as Record<string, string>;
  return { status: 'failed', statusMessage: message, error: { code: CALL_REFUSED, message, data: { [META]: data } } };
}

/** The same answer whatever is wrong with an id: nothing about another task or request is told. */
function notFound(verb: 'retrieve' | 'cancel'): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `Failed to ${verb} task: Task not found`);
}

function unavailable(err: unknown): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InternalError, `countersign could not be reached (${(err as Error).message.split('\n')[0]}); try again.`);
}
