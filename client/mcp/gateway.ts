import { randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { Server, type CallToolResult, type ListToolsResult, type ProtocolEra, type ServerContext } from '@modelcontextprotocol/server';
import type { GatewayLogger } from './logger';
import { z } from 'zod';
import { ReasonCode } from '../../common/codes';
import { approvalWorkflowId } from '../../common/digest';
import type { ActionRequest } from '../../common/inputs';
import type { McpConfig } from '../../policy/schema';
import { InvalidRequestError, parseActionRequest, type ApprovalRequest, type Countersign } from '../sdk';
import { Executions } from './execution';
import { changesRequestedResult, deniedResult, expiredResult, invalidResult, notRunResult, pendingResult, ranElsewhereResult, unavailableResult } from './results';
import { TaskIds } from './task-ids';
import { GatewayTasks, tasksExtension, type TaskCreated } from './tasks';
import { actionRequestFor, mcpToolDigest, type ListedTool } from './tool';

/** tools/list as the upstream sent it: nothing stripped, so the agent sees every field (annotations, schemas, _meta). */
const ListedToolsResult = z.looseObject({ tools: z.array(z.looseObject({ name: z.string() })), nextCursor: z.string().optional() });

/** Every tool the upstream lists, every field kept (the digest covers fields the SDK's own schema would strip). */
export async function listAllTools(upstream: Client): Promise<ListedTool[]> {
  const tools: ListedTool[] = [];
  let cursor: string | undefined;
  do {
    const page = await upstream.request({ method: 'tools/list', params: cursor ? { cursor } : {} }, ListedToolsResult);
    tools.push(...(page.tools as ListedTool[]));
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

/** How often a held call tells an agent that asked for progress that it is still waiting. */
const PROGRESS_EVERY_MS = 10_000;
/** Extra time over --hold for countersign itself to answer before the call is reported pending. */
const ANSWER_GRACE_MS = 15_000;

export interface GatewayOptions {
  cs: Countersign;
  upstream: Client;
  /** The upstream's name in actions (mcp.<server>.<tool>) and in the policy's mcp.servers. */
  server: string;
  agentId: string;
  /** The session's task id: a retry of the same call (same digest) joins the same request. */
  taskId: string;
  onBehalfOf?: string;
  holdMs: number;
  mcp?: McpConfig;
  logger: GatewayLogger;
  version: string;
  /**
   * The gateway's secret (32 bytes or more), from which its MCP task ids are derived: another process
   * with the same secret and credential answers for them. Default: a random one, so the task ids
   * this gateway hands out end with its process.
   */
  secret?: Uint8Array;
}

/** One tools/call on its way to countersign: the request, and what its answer needs. */
interface Call {
  name: string;
  request: ActionRequest;
  workflowId: string;
  requestId: string;
  hasOutputSchema: boolean;
  /** Lets the next identical call ask again (after an expiry or a lapsed approval). */
  again: () => void;
  log: GatewayLogger;
}

/**
 * The MCP gateway: an MCP server to the agent, an MCP client to the upstream, and an agent to
 * countersign. tools/list passes through; each tools/call becomes an action request and runs on
 * the upstream only after an approval whose token this gateway spent. A 2026-07-28 client that
 * declares the tasks extension gets a task for a call that waits for a human (tasks.ts); any other
 * client has the call held up to --hold, then answered pending.
 */
export class McpGateway {
  private readonly tools = new Map<string, ListedTool>();
  private readonly firstSeen = new Map<string, string>();
  /** Per action digest: how many times a lapsed approval (expired, unused token) made the same call ask again. */
  private readonly generations = new Map<string, number>();
  private readonly executions: Executions;
  private readonly tasks: GatewayTasks;
  private readonly servers = new Set<Server>();
  private readonly toolsListeners = new Set<() => void>();

  constructor(private readonly options: GatewayOptions) {
    this.executions = new Executions(options.upstream);
    const ids = new TaskIds(options.secret ?? randomBytes(32), options.agentId, options.server);
    this.tasks = new GatewayTasks({ ids, cs: options.cs, server: options.server, executions: this.executions, logger: options.logger.child({ tasks: true }) });
  }

  /**
   * A server for one agent session of either era (stdio has one per connection; --listen one per 2025
   * session, or per 2026-07-28 request). The tasks extension is offered on 2026-07-28 only: tasks.ts'
   * loadTaskWire() must have been awaited before.
   */
  createServer(era: ProtocolEra = 'legacy'): Server {
    const modern = era === 'modern';
    const server = new Server(
      { name: `countersign-${this.options.server}`, version: this.options.version },
      { capabilities: { tools: { listChanged: true }, ...(modern ? { extensions: tasksExtension() } : {}) }, instructions: this.options.upstream.getInstructions() },
    );
    // The upstream's page as it sent it: the SDK's ListToolsResult would type away fields the agent should see.
    server.setRequestHandler('tools/list', async (request) => (await this.listTools(request.params)) as ListToolsResult);
    // A task handle answers a tools/call in the same slot (resultType "task"), which the SDK passes through.
    server.setRequestHandler('tools/call', async (request, ctx) => (await this.callTool(request.params, ctx)) as CallToolResult);
    if (modern) this.tasks.register(server);
    this.servers.add(server);
    server.onclose = () => this.servers.delete(server);
    return server;
  }

  /** Every page of the upstream's tools, into the cache the calls are judged by. */
  async refreshTools(): Promise<void> {
    this.remember(await listAllTools(this.options.upstream));
  }

  /** Called when the upstream's tools change (as well as each agent session being told). */
  onToolsChanged(listener: () => void): void {
    this.toolsListeners.add(listener);
  }

  /** The upstream changed its tools: refresh and tell every agent session. */
  async toolsChanged(): Promise<void> {
    await this.refreshTools();
    for (const server of this.servers) await server.sendToolListChanged().catch(() => undefined);
    for (const listener of this.toolsListeners) listener();
  }

  async listTools(params: { cursor?: string } | undefined): Promise<z.infer<typeof ListedToolsResult>> {
    const page = await this.options.upstream.request({ method: 'tools/list', params: params ?? {} }, ListedToolsResult);
    this.remember(page.tools as ListedTool[]);
    return page;
  }

  private remember(tools: ListedTool[]): void {
    for (const tool of tools) {
      const digest = mcpToolDigest(tool);
      const before = this.tools.get(tool.name);
      if (before && mcpToolDigest(before) !== digest) this.options.logger.warn({ tool: tool.name, digest }, 'the upstream changed a tool definition during this session');
      if (!this.firstSeen.has(tool.name)) this.firstSeen.set(tool.name, digest);
      this.tools.set(tool.name, tool);
    }
  }

  async callTool(params: { name: string; arguments?: Record<string, unknown> }, ctx: ServerContext): Promise<CallToolResult | TaskCreated> {
    const prepared = await this.prepare(params.name, params.arguments ?? {});
    if (!prepared.ok) return prepared.result;
    const { call } = prepared;
    const known = this.executions.get(call.workflowId);
    if (known) return this.executions.replay(known);
    if (this.tasks.wanted(ctx)) return this.asTask(call);

    let submitted: ApprovalRequest | 'aborted' | 'slow';
    try {
      submitted = await this.hold(call.request, call.requestId, ctx);
    } catch (err) {
      return this.notSubmitted(call, err);
    }
    if (submitted === 'aborted') {
      call.log.info('the agent cancelled the call while it was held; the request stays open for reviewers');
      return pendingResult(call.name, { requestId: call.requestId, status: 'pending' }, call.hasOutputSchema);
    }
    if (submitted === 'slow') return pendingResult(call.name, { requestId: call.requestId, status: 'pending' }, call.hasOutputSchema);

    // An identical call may have started running while this one was held.
    const running = this.executions.get(call.workflowId);
    if (running) return this.executions.replay(running);
    if (!submitted.outcome) {
      call.log.info({ status: submitted.status }, 'held: awaiting review');
      return pendingResult(call.name, { requestId: call.requestId, status: submitted.status, deadline: submitted.deadline }, call.hasOutputSchema);
    }
    return this.decided(submitted, call, ctx.mcpReq.signal);
  }

  /** The action request for a tools/call, as countersign will decide it (or the invalid-call result). */
  private async prepare(name: string, args: Record<string, unknown>): Promise<{ ok: true; call: Call } | { ok: false; result: CallToolResult }> {
    const o = this.options;
    let tool = this.tools.get(name);
    if (!tool) {
      await this.refreshTools().catch((err) => o.logger.warn({ err }, 'could not refresh the upstream tools'));
      tool = this.tools.get(name);
    }
    const draft = actionRequestFor({ server: o.server, agentId: o.agentId, taskId: o.taskId, onBehalfOf: o.onBehalfOf, name, args, tool, mcp: o.mcp, firstSeen: this.firstSeen.get(name) });
    let request: ActionRequest;
    try {
      request = parseActionRequest(draft);
    } catch (err) {
      if (err instanceof InvalidRequestError) return { ok: false, result: invalidResult(name, err.message) };
      throw err;
    }
    const first = approvalWorkflowId(request);
    const generation = this.generations.get(first.actionDigest) ?? 0;
    if (generation) request = { ...request, taskId: `${o.taskId}.r${generation}` };
    const { workflowId, requestId } = generation ? approvalWorkflowId(request) : first;
    const again = () => this.generations.set(first.actionDigest, Math.max(this.generations.get(first.actionDigest) ?? 0, generation + 1));
    return { ok: true, call: { name, request, workflowId, requestId, hasOutputSchema: tool?.outputSchema !== undefined, again, log: o.logger.child({ requestId, tool: name, action: request.action }) } };
  }

  /**
   * A call from a client that declared the tasks extension: one policy decides at once (allow, deny)
   * is answered at once, as for any client; one that waits for a human becomes a task, returned at once.
   */
  private async asTask(call: Call): Promise<CallToolResult | TaskCreated> {
    let submitted: ApprovalRequest;
    try {
      submitted = await this.options.cs.submit(call.request, { waitMs: 0 }); // evaluation is a few milliseconds: a zero wait has policy's verdict
    } catch (err) {
      return this.notSubmitted(call, err);
    }
    if (submitted.outcome) return this.decided(submitted, call);
    call.log.info({ status: submitted.status }, 'awaiting review: answered with a task');
    return this.tasks.create(submitted, call);
  }

  /** Submits and waits up to --hold for the decision, unless the agent cancels first. */
  private async hold(request: ActionRequest, requestId: string, ctx: ServerContext): Promise<ApprovalRequest | 'aborted' | 'slow'> {
    const { cs, holdMs } = this.options;
    const submit = cs.submit(request, { waitMs: holdMs });
    submit.catch(() => undefined); // still awaited below unless the agent cancels or countersign is slow
    const { signal, notify } = ctx.mcpReq;
    const progressToken = ctx.mcpReq._meta?.progressToken;
    const started = Date.now();
    const timers: NodeJS.Timeout[] = [];
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([
        submit,
        new Promise<'aborted'>((resolve) => {
          if (signal.aborted) resolve('aborted');
          onAbort = () => resolve('aborted');
          signal.addEventListener('abort', onAbort, { once: true });
        }),
        new Promise<'slow'>((resolve) => timers.push(setTimeout(() => resolve('slow'), holdMs + ANSWER_GRACE_MS))),
        ...(progressToken !== undefined
          ? [
              new Promise<never>(() => {
                const tick = setInterval(() => {
                  const seconds = Math.round((Date.now() - started) / 1000);
                  notify({ method: 'notifications/progress', params: { progressToken, progress: seconds, message: `awaiting human approval (countersign request ${requestId})` } }).catch(() => undefined);
                }, PROGRESS_EVERY_MS);
                timers.push(tick);
              }),
            ]
          : []),
      ]);
    } finally {
      for (const t of timers) clearTimeout(t);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /** The answer to a call countersign has decided: the upstream's result once approved, else why it did not run. */
  private async decided(submitted: ApprovalRequest, call: Call, signal?: AbortSignal): Promise<CallToolResult> {
    const { name, log } = call;
    const outcome = submitted.outcome!;
    log.info({ status: outcome.status, code: outcome.code }, 'decided');
    switch (outcome.status) {
      case 'approved':
        if (signal?.aborted) {
          // Nothing runs for an agent that has gone: the token expires unused (not_executed).
          log.info('the agent cancelled the call; the approval is left to expire unused');
          return notRunResult(name, call.requestId, outcome.status, 'CANCELLED', 'The call was cancelled before it ran');
        }
        return this.executions.run(submitted, name, call.again, log).running;
      case 'denied':
        return deniedResult(name, outcome);
      case 'changes_requested':
        return changesRequestedResult(name, outcome);
      case 'expired':
        call.again();
        return expiredResult(name, outcome);
      case 'not_executed':
        call.again();
        return notRunResult(name, call.requestId, outcome.status, ReasonCode.TOKEN_EXPIRED, 'Approved, but the approval lapsed before the call was made again; calling it again asks for approval again');
      default:
        return ranElsewhereResult(name, outcome);
    }
  }

  private notSubmitted(call: Call, err: unknown): CallToolResult {
    if (err instanceof InvalidRequestError) return invalidResult(call.name, err.message);
    call.log.error({ err }, 'countersign could not take the request');
    return unavailableResult(call.name, (err as Error).message.split('\n')[0]!);
  }
}
