import type { Client } from '@modelcontextprotocol/client';
import { Server, type CallToolResult, type ListToolsResult, type ServerContext } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ReasonCode } from '../../common/codes';
import { approvalWorkflowId } from '../../common/digest';
import type { McpConfig } from '../../policy/schema';
import { ConsumeRefusedError, InvalidRequestError, parseActionRequest, type ApprovalRequest, type Countersign } from '../sdk';
import {
  changesRequestedResult,
  deniedResult,
  editedNote,
  expiredResult,
  invalidResult,
  notRunResult,
  pendingResult,
  ranElsewhereResult,
  replayNote,
  resultText,
  unavailableResult,
  upstreamFailedResult,
  withNote,
} from './results';
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

/** An approved call may run long; the agent's own timeout is not the upstream's. */
const UPSTREAM_TIMEOUT_MS = 10 * 60_000;
/** How often a held call tells an agent that asked for progress that it is still waiting. */
const PROGRESS_EVERY_MS = 10_000;
/** Recorded results kept for retries; an older call's retry learns it already ran, without its result. */
const MAX_KEPT_EXECUTIONS = 256;
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
  logger: Logger;
  version: string;
}

/** One request's execution in this gateway: at most once, its result kept for retries. */
interface Execution {
  requestId: string;
  running: Promise<CallToolResult>;
  result?: CallToolResult;
  ranAt?: string;
}

/**
 * The MCP gateway: an MCP server to the agent, an MCP client to the upstream, and an agent to
 * countersign. tools/list passes through; each tools/call becomes an action request and runs on
 * the upstream only after an approval whose token this gateway spent.
 */
export class McpGateway {
  private readonly tools = new Map<string, ListedTool>();
  private readonly firstSeen = new Map<string, string>();
  /** Per action digest: how many times a lapsed approval (expired, unused token) made the same call ask again. */
  private readonly generations = new Map<string, number>();
  private readonly executions = new Map<string, Execution>();
  private readonly servers = new Set<Server>();

  constructor(private readonly options: GatewayOptions) {}

  /** A server for one agent session (stdio has one; --listen has one per HTTP session). */
  createServer(): Server {
    const server = new Server(
      { name: `countersign-${this.options.server}`, version: this.options.version },
      { capabilities: { tools: { listChanged: true } }, instructions: this.options.upstream.getInstructions() },
    );
    // The upstream's page as it sent it: the SDK's ListToolsResult would type away fields the agent should see.
    server.setRequestHandler('tools/list', async (request) => (await this.listTools(request.params)) as ListToolsResult);
    server.setRequestHandler('tools/call', async (request, ctx) => this.callTool(request.params, ctx));
    this.servers.add(server);
    server.onclose = () => this.servers.delete(server);
    return server;
  }

  /** Every page of the upstream's tools, into the cache the calls are judged by. */
  async refreshTools(): Promise<void> {
    this.remember(await listAllTools(this.options.upstream));
  }

  /** The upstream changed its tools: refresh and tell every agent session. */
  async toolsChanged(): Promise<void> {
    await this.refreshTools();
    for (const server of this.servers) await server.sendToolListChanged().catch(() => undefined);
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

  async callTool(params: { name: string; arguments?: Record<string, unknown> }, ctx: ServerContext): Promise<CallToolResult> {
    const { name } = params;
    const o = this.options;
    let tool = this.tools.get(name);
    if (!tool) {
      await this.refreshTools().catch((err) => o.logger.warn({ err }, 'could not refresh the upstream tools'));
      tool = this.tools.get(name);
    }
    const draft = actionRequestFor({ server: o.server, agentId: o.agentId, taskId: o.taskId, onBehalfOf: o.onBehalfOf, name, args: params.arguments ?? {}, tool, mcp: o.mcp, firstSeen: this.firstSeen.get(name) });
    const hasOutputSchema = tool?.outputSchema !== undefined;
    let request;
    try {
      request = parseActionRequest(draft);
    } catch (err) {
      if (err instanceof InvalidRequestError) return invalidResult(name, err.message);
      throw err;
    }
    const first = approvalWorkflowId(request);
    const generation = this.generations.get(first.actionDigest) ?? 0;
    if (generation) request = { ...request, taskId: `${o.taskId}.r${generation}` };
    const { workflowId, requestId } = generation ? approvalWorkflowId(request) : first;
    const log = o.logger.child({ requestId, tool: name, action: request.action });

    const known = this.executions.get(workflowId);
    if (known) return this.replay(known);

    let submitted: ApprovalRequest | 'aborted' | 'slow';
    try {
      submitted = await this.hold(request, requestId, ctx);
    } catch (err) {
      if (err instanceof InvalidRequestError) return invalidResult(name, err.message);
      log.error({ err }, 'countersign could not take the request');
      return unavailableResult(name, (err as Error).message.split('\n')[0]!);
    }
    if (submitted === 'aborted') {
      log.info('the agent cancelled the call while it was held; the request stays open for reviewers');
      return pendingResult(name, { requestId, status: 'pending' }, hasOutputSchema);
    }
    if (submitted === 'slow') return pendingResult(name, { requestId, status: 'pending' }, hasOutputSchema);

    // An identical call may have started running while this one was held.
    const running = this.executions.get(workflowId);
    if (running) return this.replay(running);
    const outcome = submitted.outcome;
    if (!outcome) {
      log.info({ status: submitted.status }, 'held: awaiting review');
      return pendingResult(name, { requestId, status: submitted.status, deadline: submitted.deadline }, hasOutputSchema);
    }
    log.info({ status: outcome.status, code: outcome.code }, 'decided');
    switch (outcome.status) {
      case 'approved':
        if (ctx.mcpReq.signal.aborted) {
          // Nothing runs for an agent that has gone: the token expires unused (not_executed).
          log.info('the agent cancelled the call; the approval is left to expire unused');
          return notRunResult(name, requestId, outcome.status, 'CANCELLED', 'The call was cancelled before it ran');
        }
        return this.execute(submitted, name, () => this.askAgain(first.actionDigest, generation), log);
      case 'denied':
        return deniedResult(name, outcome);
      case 'changes_requested':
        return changesRequestedResult(name, outcome);
      case 'expired':
        this.askAgain(first.actionDigest, generation);
        return expiredResult(name, outcome);
      case 'not_executed':
        this.askAgain(first.actionDigest, generation);
        return notRunResult(name, requestId, outcome.status, ReasonCode.TOKEN_EXPIRED, 'Approved, but the approval lapsed before the call was made again; calling it again asks for approval again');
      default:
        return ranElsewhereResult(name, outcome);
    }
  }

  /** Submits and waits up to --hold for the decision, unless the agent cancels first. */
  private async hold(request: ReturnType<typeof parseActionRequest>, requestId: string, ctx: ServerContext): Promise<ApprovalRequest | 'aborted' | 'slow'> {
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

  /** Spends the token, runs the (possibly edited) call on the upstream once, reports, keeps the result. */
  private execute(approved: ApprovalRequest, name: string, lapsed: () => void, log: Logger): Promise<CallToolResult> {
    const outcome = approved.outcome!;
    const execution: Execution = { requestId: approved.requestId, running: Promise.resolve({ content: [] }) };
    execution.running = (async (): Promise<CallToolResult> => {
      try {
        await approved.consume(outcome.payload);
      } catch (err) {
        this.executions.delete(approved.workflowId); // nothing ran
        if (!(err instanceof ConsumeRefusedError)) {
          log.error({ err }, 'could not spend the token');
          return unavailableResult(name, (err as Error).message.split('\n')[0]!);
        }
        log.warn({ code: err.code }, 'the token was refused');
        if (err.code === ReasonCode.TOKEN_EXPIRED) lapsed();
        return notRunResult(name, approved.requestId, approved.status, err.code, `Approved, but the approval token was refused: ${err.message}`);
      }
      let result: CallToolResult;
      let failure: string | undefined;
      try {
        result = await this.options.upstream.request({ method: 'tools/call', params: { name, arguments: outcome.payload } }, { timeout: UPSTREAM_TIMEOUT_MS });
        if (result.isError) failure = resultText(result) || 'the tool returned an error';
      } catch (err) {
        failure = (err as Error).message;
        result = upstreamFailedResult(name, failure);
      }
      try {
        await approved.report(failure ? { status: 'failed', message: failure.slice(0, 2000) } : { status: 'succeeded' });
      } catch (err) {
        log.warn({ err }, 'could not report the outcome');
      }
      log.info({ status: failure ? 'failed' : 'succeeded', edited: outcome.edited }, 'ran on the upstream');
      const delivered = outcome.edited ? withNote(result, editedNote(outcome)) : result;
      execution.result = delivered;
      execution.ranAt = new Date().toISOString();
      return delivered;
    })();
    this.executions.set(approved.workflowId, execution);
    for (const [workflowId, kept] of this.executions) {
      if (this.executions.size <= MAX_KEPT_EXECUTIONS) break;
      if (kept.result) this.executions.delete(workflowId);
    }
    return execution.running;
  }

  private async replay(execution: Execution): Promise<CallToolResult> {
    const result = execution.result ?? (await execution.running);
    if (!execution.ranAt) return result; // it did not run: the same answer, no note
    return withNote(result, replayNote(execution.requestId, execution.ranAt));
  }

  /** A lapsed approval (expired, token unused): the next identical call starts a new request. */
  private askAgain(actionDigest: string, generation: number): void {
    this.generations.set(actionDigest, Math.max(this.generations.get(actionDigest) ?? 0, generation + 1));
  }
}
