import type { EvidenceView } from '../common/bundle';
import { START_VOUCHER_DOMAIN, startVoucherBody, type StartKey } from '../common/start-voucher';
import {
  Client,
  Connection,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition } from '@temporalio/common';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import { MAX_PAGE_SIZE } from '../common/paging';
import { OPEN_STATUSES, ReasonCode, WAITING_STATUSES } from '../common/codes';
import { AmbiguousRequestIdError, ConsumeRefusedError, DecisionRefusedError, InvalidRequestError, RequestNotFoundError } from '../common/refusals';
import { parseActionRequest } from '../common/request';
export { AmbiguousRequestIdError, ConsumeRefusedError, DecisionRefusedError, InvalidRequestError, parseActionRequest, RequestNotFoundError };
import { nativeSha256Hex } from '../crypto/sha256';
import { approvalWorkflowId } from '../common/digest';
import { type ActionRequest, type ExecutionReport, type ReviewerDecision } from '../common/inputs';
import { type ApprovalOutcome, type DecisionReceipt, type ExecutionReceipt, type RequestRow, type ReviewView, type Signed, type SubmitState } from '../common/views';
import { SA } from '../common/search-attributes';
import type { approvalWorkflow } from '../workflows/approval';
import {
  approvalWorkflowType,
  awaitDecisionUpdate,
  consumeUpdate,
  decideUpdate,
  evidenceQuery,
  reportUpdate,
  reviewViewQuery,
  submitStateQuery,
  WAIT_BUDGET_SPENT,
} from '../workflows/messages';
import { staticDetails, staticSummary } from '../common/summary';

/** The memo keys a queue row reads: the start's (summary, resource, action) and the run's own (workflows/publish.ts publishQueueMemo). */
const MEMO_KEYS = ['summary', 'resource', 'action', 'display', 'approvals', 'approvalsNeeded'] as const;

/** A memo's display fields as a row shows them: a list of { name, value } strings, or nothing (anything else a raw client wrote is dropped). */
function displayFields(v: unknown): RequestRow['display'] {
  if (!Array.isArray(v) || v.length > 16) return undefined;
  const fields = v.filter((f): f is { name: string; value: string } => f !== null && typeof f === 'object' && typeof f.name === 'string' && typeof f.value === 'string');
  return fields.length ? fields.map((f) => ({ name: f.name.slice(0, 32), value: f.value.slice(0, 256) })) : undefined;
}

/** Visibility's side of WAITING_STATUSES: requests that wait for a reviewer now. */
const WAITING_CLAUSE = `CountersignStatus IN (${WAITING_STATUSES.map((s) => JSON.stringify(s)).join(', ')})`;

export interface ConnectOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  connection?: Connection;
  /** The front door's start key (keys/server-start.key): signs a voucher for every start it makes. */
  startSigner?: StartKey;
}


/** Which requests a listing returns; the queue, the groups and the agent always come from the caller's credentials. */
export interface ListOptions {
  group?: string;
  groups?: string[];
  agent?: string;
  /** Open requests only (pending or escalated); the default. */
  open?: boolean;
}

/** A page of a listing and, when more match, Temporal's token for the next. */
export interface PendingPage {
  rows: RequestRow[];
  nextPageToken?: Uint8Array;
}

/** The most rows listPending gathers across pages. */
export const MAX_LISTED = 10_000;
const GRPC_INVALID_ARGUMENT = 3;
/** Longest single wait per Update; longer waits are chained so no handler waits for hours. */
const MAX_WAIT_CHUNK_MS = 5 * 60_000;
/** How long a withdrawal waits for the cancelled run to seal its evidence before answering the state it has. */
const WITHDRAW_WAIT_MS = 10_000;

/** Every request operation over one Temporal client: what the server does for agents and reviewers (operators and tests use it directly). */
export class Approvals {
  private constructor(
    readonly client: Client,
    readonly taskQueue: string,
    private readonly ownsConnection: boolean,
    /** The front door's start key: it vouches for starts and, on the front door, attests chat decisions (server/slack/). */
    readonly startSigner?: StartKey,
  ) {}

  static async connect(options: ConnectOptions = {}): Promise<Approvals> {
    const connection = options.connection ?? (await Connection.connect({ address: options.address ?? process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' }));
    const client = new Client({ connection, namespace: options.namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default' });
    return new Approvals(client, options.taskQueue ?? process.env.COUNTERSIGN_TASK_QUEUE ?? 'countersign', !options.connection, options.startSigner);
  }

  async close(): Promise<void> {
    if (this.ownsConnection) await this.client.connection.close();
  }

  /**
   * Starts (or joins) the workflow of an action request the caller has parsed, and waits up to
   * `waitMs` for the decision. The same agent, task and action join one workflow; once it has ended,
   * its final decision comes back without a new review. The token is sealed to `request.agentKey`.
   */
  async submit(request: ActionRequest & { agentKey: string }, options: { waitMs?: number } = {}): Promise<SubmitState> {
    const { workflowId, requestId, actionDigest: digest } = approvalWorkflowId(request, nativeSha256Hex);
    const waitMs = options.waitMs ?? 0;
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof approvalWorkflow>(approvalWorkflowType, {
      workflowId,
      taskQueue: this.taskQueue,
      args: [{ request, requestId, actionDigest: digest, ...(this.startSigner ? { voucher: this.startSigner.sign(START_VOUCHER_DOMAIN, startVoucherBody(request, { workflowId, requestId, actionDigest: digest }, Date.now())) } : {}) }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: SA.status, value: 'evaluating' },
        { key: SA.agent, value: request.agentId },
        { key: SA.action, value: request.action },
        { key: SA.requestId, value: requestId },
      ],
      memo: { summary: request.summary, resource: `${request.resource.type}:${request.resource.id}`, action: request.action },
      staticSummary: staticSummary(request),
      staticDetails: staticDetails(request, digest),
    });
    let state: SubmitState;
    try {
      state = await this.client.workflow.executeUpdateWithStart(awaitDecisionUpdate, {
        args: [{ waitMs: Math.min(waitMs, MAX_WAIT_CHUNK_MS) }],
        startWorkflowOperation,
      });
      if (waitMs > MAX_WAIT_CHUNK_MS && !state.outcome) state = await this.wait(workflowId, waitMs - MAX_WAIT_CHUNK_MS);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError || isClosedWorkflowError(err)) state = await this.finalState(workflowId);
      else if (isWaitBudgetSpent(err)) state = await this.client.workflow.getHandle<typeof approvalWorkflow>(workflowId).query(submitStateQuery);
      else throw err;
    }
    return state;
  }

  /** Spends the token on `payload` (which must be the approved one); returns the signed receipt. */
  async consume(id: string, consume: { token: string; agentId: string; taskId: string; actionDigest: string }): Promise<Signed<ExecutionReceipt>> {
    const handle = this.handle(await this.resolve(id));
    try {
      return await executeUpdate(handle, consumeUpdate, consume);
    } catch (err) {
      throw await this.refusal(handle.workflowId, err, true);
    }
  }

  /** Reports how execution went, after consuming. */
  async report(id: string, report: ExecutionReport): Promise<void> {
    const handle = this.handle(await this.resolve(id));
    try {
      await executeUpdate(handle, reportUpdate, report);
    } catch (err) {
      throw await this.refusal(handle.workflowId, err, false);
    }
  }

  private async refusal(workflowId: string, err: unknown, consuming: boolean): Promise<unknown> {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) return new ConsumeRefusedError(err.cause.type ?? 'REFUSED', err.cause.message);
    if (!isClosedWorkflowError(err)) return err;
    const outcome = await this.client.workflow.getHandle<typeof approvalWorkflow>(workflowId).result();
    if (!consuming) return new ConsumeRefusedError(ReasonCode.ALREADY_DECIDED, `Request ${outcome.requestId} has ended (${outcome.status}).`);
    if (outcome.status === 'not_executed') return new ConsumeRefusedError(ReasonCode.TOKEN_EXPIRED, 'The token expired unused.');
    if (outcome.execution) return new ConsumeRefusedError(ReasonCode.TOKEN_CONSUMED, 'The token has already been used.');
    return new ConsumeRefusedError(ReasonCode.TOKEN_INVALID, `Request ${outcome.requestId} has ended (${outcome.status}) without a usable token.`);
  }

  /**
   * Withdraws a request that is not decided yet (OPEN_STATUSES): its run is cancelled, which records
   * the cancellation and seals the evidence as `cancelled`. Answers the final state once the run has
   * closed (normally at once), or the state it has after WITHDRAW_WAIT_MS. A request already decided
   * is refused ALREADY_DECIDED: an approval is never withdrawn here, it lapses unused.
   */
  async withdraw(id: string): Promise<SubmitState> {
    const workflowId = await this.resolve(id);
    const { status, closed } = await this.status(workflowId);
    if (closed || !(OPEN_STATUSES as readonly string[]).includes(status)) {
      throw new DecisionRefusedError(ReasonCode.ALREADY_DECIDED, `Request ${workflowId.slice(-16)} is ${status}: only a request that is not decided yet can be withdrawn.`);
    }
    const handle = this.handle(workflowId);
    await handle.cancel();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), WITHDRAW_WAIT_MS)));
    try {
      const outcome = await Promise.race([handle.result(), late]);
      if (outcome) return { requestId: outcome.requestId, workflowId, status: outcome.status, outcome, final: true };
    } finally {
      clearTimeout(timer);
    }
    const now = await this.status(workflowId);
    return { requestId: workflowId.slice(-16), workflowId, status: now.status as SubmitState['status'] };
  }

  /** The evidence of a request: the signed bundle once it has ended, the chain so far while open. */
  async evidence(id: string): Promise<EvidenceView> {
    return this.handle(await this.resolve(id)).query(evidenceQuery);
  }

  /** Waits up to `waitMs` more for the decision of a submitted request. */
  async wait(id: string, waitMs: number): Promise<SubmitState> {
    const workflowId = await this.resolve(id);
    const handle = this.client.workflow.getHandle<typeof approvalWorkflow>(workflowId);
    let remaining = waitMs;
    for (;;) {
      const chunk = Math.min(remaining, MAX_WAIT_CHUNK_MS);
      let state: SubmitState;
      try {
        state = await executeUpdate(handle, awaitDecisionUpdate, { waitMs: chunk });
      } catch (err) {
        if (isClosedWorkflowError(err)) return this.finalState(workflowId);
        // The request's budget of agent waits is spent: its state, answered by a query (no Update).
        if (isWaitBudgetSpent(err)) return handle.query(submitStateQuery);
        throw err;
      }
      remaining -= chunk;
      if (state.outcome || remaining <= 0) return state;
    }
  }

  /** The outcome of a request whose workflow has ended. */
  async outcome(id: string): Promise<ApprovalOutcome> {
    return this.client.workflow.getHandle<typeof approvalWorkflow>(await this.resolve(id)).result();
  }

  /** @internal */
  async finalState(workflowId: string): Promise<SubmitState> {
    const outcome = await this.client.workflow.getHandle<typeof approvalWorkflow>(workflowId).result();
    return { requestId: outcome.requestId, workflowId, status: outcome.status, outcome };
  }

  /** The request's status as the search attributes have it, and whether its workflow has ended. */
  async status(workflowId: string): Promise<{ status: string; closed: boolean }> {
    const d = await this.client.workflow.getHandle(workflowId).describe();
    // Only an approval on this task queue is a request: any other workflow named cs-… is not found.
    if (d.type !== approvalWorkflowType || d.taskQueue !== this.taskQueue) throw new RequestNotFoundError(`No request ${workflowId}.`);
    return { status: d.typedSearchAttributes.get(SA.status) ?? 'evaluating', closed: d.status.name !== 'RUNNING' };
  }

  /** Everything a reviewer needs to decide. */
  async view(id: string): Promise<ReviewView> {
    return this.handle(await this.resolve(id)).query(reviewViewQuery);
  }

  /** Sends a reviewer decision; throws DecisionRefusedError with the code when the workflow refuses it. */
  async decide(id: string, decision: ReviewerDecision): Promise<DecisionReceipt> {
    const handle = this.handle(await this.resolve(id));
    try {
      return await executeUpdate(handle, decideUpdate, decision);
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
        throw new DecisionRefusedError(err.cause.type ?? 'REFUSED', err.cause.message);
      }
      if (isClosedWorkflowError(err)) throw new DecisionRefusedError(ReasonCode.ALREADY_DECIDED, `Request ${id} is already closed.`);
      throw err;
    }
  }

  /**
   * Open requests on this task queue (visibility, no per-request queries), newest first — the only
   * order SQL visibility offers — up to `limit` (at most MAX_LISTED) across pages: what operators
   * and tests read. The front door serves one page at a time with listPage.
   */
  async listPending(options: ListOptions & { limit?: number } = {}): Promise<RequestRow[]> {
    const limit = Math.min(options.limit ?? MAX_LISTED, MAX_LISTED);
    const rows: RequestRow[] = [];
    let pageToken: Uint8Array | undefined;
    do {
      const page = await this.listPage({ ...options, limit: Math.min(MAX_PAGE_SIZE, limit - rows.length), pageToken });
      rows.push(...page.rows);
      pageToken = page.nextPageToken;
    } while (pageToken && rows.length < limit);
    return rows;
  }

  /**
   * One page of a listing, newest first: at most `limit` rows (1 to MAX_PAGE_SIZE) and, when more
   * match, Temporal's token for the next page. Visibility's cost grows with the rows a page returns,
   * not with how many requests wait, so the page is asked of the server at exactly this size. The
   * token is Temporal's own and unchecked here: the front door hands it out only signed (a cursor,
   * server/sessions.ts), and reads only cursors it signed for the same reviewer and groups. A full
   * last page still gets a token (SQL visibility cannot tell), so "more" means "more may wait".
   */
  async listPage(options: ListOptions & { limit: number; pageToken?: Uint8Array }): Promise<PendingPage> {
    if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > MAX_PAGE_SIZE) throw new InvalidRequestError(`Field "limit" must be a whole number from 1 to ${MAX_PAGE_SIZE}.`);
    const clauses = [`WorkflowType = "${approvalWorkflowType}"`, `TaskQueue = ${JSON.stringify(this.taskQueue)}`];
    if (options.open !== false) clauses.push(WAITING_CLAUSE);
    if (options.group) clauses.push(`CountersignGroup = ${JSON.stringify(options.group)}`);
    if (options.groups) {
      if (!options.groups.length) return { rows: [] };
      clauses.push(`CountersignGroup IN (${options.groups.map((g) => JSON.stringify(g)).join(', ')})`);
    }
    if (options.agent !== undefined) clauses.push(`CountersignAgent = ${JSON.stringify(options.agent)}`);
    let response: Awaited<ReturnType<Client['workflowService']['listWorkflowExecutions']>>;
    try {
      response = await this.client.workflowService.listWorkflowExecutions({
        namespace: this.client.options.namespace,
        query: clauses.join(' AND '),
        pageSize: options.limit,
        ...(options.pageToken ? { nextPageToken: options.pageToken } : {}),
      });
    } catch (err) {
      // A token Temporal no longer reads (its visibility store changed since the cursor was made).
      if (options.pageToken && (err as { code?: number }).code === GRPC_INVALID_ARGUMENT) throw new InvalidRequestError('Query parameter "cursor" is from a listing Temporal can no longer continue: list again from the first page.');
      throw err;
    }
    const payloads = this.client.options.loadedDataConverter.payloadConverter;
    const rows = response.executions.map((wf): RequestRow => {
      const sa = decodeTypedSearchAttributes(wf.searchAttributes?.indexedFields);
      const memo: { [K in (typeof MEMO_KEYS)[number]]?: unknown } = {};
      for (const [key, payload] of Object.entries(wf.memo?.fields ?? {})) {
        if (!(MEMO_KEYS as readonly string[]).includes(key)) continue;
        try {
          memo[key as (typeof MEMO_KEYS)[number]] = payloads.fromPayload(payload);
        } catch {
          // A memo a raw Temporal client wrote in some other encoding: shown blank, not a failed listing.
        }
      }
      const workflowId = wf.execution?.workflowId ?? '';
      const text = (v: unknown) => (typeof v === 'string' ? v : '');
      const count = (v: unknown) => (Number.isInteger(v) && (v as number) >= 0 ? (v as number) : undefined);
      const display = displayFields(memo.display);
      const [approvals, approvalsNeeded] = [count(memo.approvals), count(memo.approvalsNeeded)];
      return {
        requestId: sa.get(SA.requestId) ?? workflowId.slice(-16),
        workflowId,
        action: sa.get(SA.action) ?? text(memo.action),
        resource: text(memo.resource),
        summary: text(memo.summary),
        risk: sa.get(SA.risk),
        groups: sa.get(SA.group) ?? [],
        agent: sa.get(SA.agent) ?? '',
        status: sa.get(SA.status) ?? '',
        startedAt: (optionalTsToDate(wf.startTime) ?? new Date(0)).toISOString(),
        deadline: sa.get(SA.deadline)?.toISOString(),
        ...(display ? { display } : {}),
        ...(approvals !== undefined && approvalsNeeded !== undefined ? { approvals, approvalsNeeded } : {}),
      };
    });
    return { rows, ...(response.nextPageToken?.length && rows.length ? { nextPageToken: response.nextPageToken } : {}) };
  }

  /**
   * How many of an agent's requests visibility shows waiting for a reviewer (pending or escalated) on
   * this task queue. Visibility trails the starts: the front door adds what it started itself
   * (server/open-requests.ts).
   */
  async countOpen(agent: string): Promise<number> {
    const query = `WorkflowType = "${approvalWorkflowType}" AND TaskQueue = ${JSON.stringify(this.taskQueue)} AND ExecutionStatus = "Running" AND CountersignAgent = ${JSON.stringify(agent)} AND ${WAITING_CLAUSE}`;
    return (await this.client.workflow.count(query)).count;
  }

  /** Which of these workflows visibility already shows past evaluation (waiting or ended): at most 100 ids a call. */
  async listedPastEvaluation(workflowIds: string[]): Promise<Set<string>> {
    if (!workflowIds.length) return new Set();
    if (workflowIds.length > 100) throw new InvalidRequestError('At most 100 workflow ids a call.');
    const query = `WorkflowId IN (${workflowIds.map((id) => JSON.stringify(id)).join(', ')}) AND CountersignStatus != "evaluating"`;
    const found = new Set<string>();
    for await (const wf of this.client.workflow.list({ query, pageSize: 100 })) found.add(wf.workflowId);
    return found;
  }

  /** Accepts a workflow id (cs-…), a full request id, or a unique prefix of at least 6 hex digits. */
  async resolve(id: string, options: { agent?: string } = {}): Promise<string> {
    if (id.startsWith('cs-')) {
      await this.status(id); // not found unless it is an approval on this task queue
      return id;
    }
    if (!/^[0-9a-f]{6,16}$/.test(id)) throw new RequestNotFoundError(`"${id}" is not a request id (6-16 hex digits) or a workflow id (cs-...).`);
    let query = `${id.length === 16 ? `CountersignRequestId = "${id}"` : `CountersignRequestId STARTS_WITH "${id}"`} AND WorkflowType = "${approvalWorkflowType}" AND TaskQueue = ${JSON.stringify(this.taskQueue)}`;
    // An agent's prefix matches only its own requests: another agent's cannot make it ambiguous.
    if (options.agent !== undefined) query += ` AND CountersignAgent = ${JSON.stringify(options.agent)}`;
    const found: string[] = [];
    for await (const wf of this.client.workflow.list({ query })) {
      // Only a workflow whose id carries the request id is that request: a run started with
      // another id and a copied search attribute cannot shadow it.
      if (!wf.workflowId.startsWith(options.agent !== undefined ? `cs-${options.agent}-` : 'cs-') || !/-([0-9a-f]{16})$/.exec(wf.workflowId)?.[1]?.startsWith(id)) continue;
      if (!found.includes(wf.workflowId)) found.push(wf.workflowId);
      if (found.length > 1) break;
    }
    if (found.length === 0) throw new RequestNotFoundError(`No request with id ${id}.`);
    if (found.length > 1) throw new AmbiguousRequestIdError(`The id ${id} matches more than one request; give more digits.`);
    return found[0]!;
  }

  private handle(workflowId: string): WorkflowHandle<typeof approvalWorkflow> {
    return this.client.workflow.getHandle<typeof approvalWorkflow>(workflowId);
  }
}

/**
 * Sends an Update, again when the server answers UnprocessedUpdate: that update reached a workflow
 * task that completed without accepting or rejecting it (seen under load with many concurrent
 * updates), so it had no effect and resending it is safe.
 */
async function executeUpdate<Ret, Arg>(handle: WorkflowHandle<typeof approvalWorkflow>, def: UpdateDefinition<Ret, [Arg]>, arg: Arg): Promise<Ret> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await handle.executeUpdate(def, { args: [arg] });
    } catch (err) {
      const unprocessed = err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === 'UnprocessedUpdate';
      if (!unprocessed || attempt >= 5) throw err;
    }
  }
}

/** An awaitDecision refused because the request has answered as many waits as it answers. */
function isWaitBudgetSpent(err: unknown): boolean {
  return err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === WAIT_BUDGET_SPENT;
}

/** An Update sent to a workflow that has ended, or was ending as it arrived (the SDK reports both as WorkflowNotFoundError). */
function isClosedWorkflowError(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError && /already completed|aborted by closing workflow/i.test(err.message);
}
