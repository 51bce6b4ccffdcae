/**
 * The agent SDK: `countersign server` over HTTP with the agent's API key (DESIGN §7). No Temporal
 * client and no Temporal credentials in the agent's process: it can reach only what its key allows.
 */
import { MAX_HTTP_WAIT_MS } from '../common/api';
import { ReasonCode } from '../common/codes';
import { approvalWorkflowId } from '../common/digest';
import { ConsumeRefusedError, DecisionRefusedError, InvalidRequestError } from '../common/refusals';
import { parseActionRequest } from '../common/request';
import { type Payload } from '../common/json';
import { type ActionRequestInput, type ConsumeRequest, type ExecutionReport } from '../common/inputs';
import { type ApprovalOutcome, type ApprovedOutcome, type RequestRow, type ExecutionReceipt, type Signed, type SubmitState } from '../common/views';
import type { EvidenceView } from '../common/bundle';
import { ApprovalRequest } from './approval-request';
import { generateAgentKey, memoryKeyStore, type AgentKeyStore } from './agent-keys';
import { ForbiddenError, HttpClient, ServerProblem, UnauthenticatedError } from './http';

export { AmbiguousRequestIdError, ConsumeRefusedError, DecisionRefusedError, InvalidRequestError, RequestNotFoundError } from '../common/refusals';
export { parseActionRequest } from '../common/request';
export { ApprovalRequest } from './approval-request';
export { ForbiddenError, ServerProblem, ServerUnreachableError, UnauthenticatedError } from './http';

export interface ConnectOptions {
  /** The server, e.g. https://countersign.example.com (default COUNTERSIGN_URL). */
  url?: string;
  /** This agent's API key (default COUNTERSIGN_API_KEY). */
  apiKey?: string;
  /** Where per-request X25519 keys live: in memory (default) or files, so a restarted agent can open its token. */
  keyStore?: AgentKeyStore;
  fetch?: typeof fetch;
}

/** What guard() did: executed with the approved payload, or why it did not. */
export type GuardResult<T> =
  | { executed: true; status: 'approved'; result: T; outcome: ApprovedOutcome; receipt: Signed<ExecutionReceipt> }
  | { executed: false; status: string; code?: string; message?: string; outcome?: ApprovalOutcome };

export type { RequestRow };

const FINAL_POLL_MS = 250;
const RESUME_WAIT_MS = 1000;

/** An agent's connection to countersign: submit, wait, consume, report, guard. */
export class Countersign {
  private constructor(
    readonly http: HttpClient,
    /** The agent this key belongs to, as the server says. */
    readonly agentId: string,
    readonly role: string,
    readonly keys: AgentKeyStore,
  ) {}

  static async connect(options: ConnectOptions = {}): Promise<Countersign> {
    const url = options.url ?? process.env.COUNTERSIGN_URL;
    const apiKey = options.apiKey ?? process.env.COUNTERSIGN_API_KEY;
    if (!url) throw new InvalidRequestError('Say where the server is: COUNTERSIGN_URL (or connect({ url })), such as http://127.0.0.1:7280.');
    if (!apiKey) throw new InvalidRequestError('Give the agent\'s API key: COUNTERSIGN_API_KEY (or connect({ apiKey })), from countersign keys agent NAME.');
    const http = new HttpClient({ url, bearer: () => apiKey, fetch: options.fetch });
    const me = await http.request<{ role: string; name: string }>('GET', '/v1/whoami');
    return new Countersign(http, me.name, me.role, options.keyStore ?? memoryKeyStore());
  }

  async close(): Promise<void> {}

  /**
   * Submits an action and waits up to `waitMs` for the decision. The same agent, task and action
   * join one request; once it has ended, its final decision comes back without a new review.
   * The agent id is this key's own; a fresh X25519 key is made for the token's delivery. The
   * request is typed, and parsed again here: a field that is wrong throws InvalidRequestError naming it.
   */
  async submit(input: ActionRequestInput, options: { waitMs?: number } = {}): Promise<ApprovalRequest> {
    // The agent is this key's; a request that names one (even wrongly), or is no object at all, is judged as it is.
    const fill = input !== null && typeof input === 'object' && !Array.isArray(input) && !Object.hasOwn(input, 'agentId');
    const parsed = parseActionRequest(fill ? { ...(input as object), agentId: this.agentId } : input);
    let request = parsed;
    const { workflowId } = approvalWorkflowId(parsed);
    if (!request.agentKey) {
      let key = this.keys.get(workflowId);
      if (!key) {
        key = generateAgentKey();
        this.keys.put(workflowId, key);
      }
      request = { ...request, agentKey: key.publicKey };
    }
    const waitMs = options.waitMs ?? 0;
    let state = await this.http.request<SubmitState>('POST', `/v1/requests${waitQuery(Math.min(waitMs, MAX_HTTP_WAIT_MS))}`, request);
    if (waitMs > MAX_HTTP_WAIT_MS && !state.outcome) state = await this.wait(state.workflowId, waitMs - MAX_HTTP_WAIT_MS);
    return new ApprovalRequest(this, parsed, state);
  }

  /**
   * Submits, waits, consumes the token and runs `execute` with the approved (possibly edited)
   * payload, then reports the outcome. Never calls `execute` on a deny, an expiry, a pending
   * request or a refused consumption.
   */
  async guard<T>(input: ActionRequestInput, execute: (payload: Payload) => Promise<T>, options: { waitMs?: number } = {}): Promise<GuardResult<T>> {
    const request = await this.submit(input, options);
    const outcome = request.outcome;
    if (request.status !== 'approved' || outcome?.status !== 'approved') {
      return { executed: false, status: request.status, code: outcome?.code, message: outcome?.message ?? (outcome ? undefined : 'still pending'), outcome };
    }
    let receipt: Signed<ExecutionReceipt>;
    try {
      receipt = await request.consume(outcome.payload);
    } catch (err) {
      if (err instanceof ConsumeRefusedError) return { executed: false, status: request.status, code: err.code, message: err.message, outcome };
      throw err;
    }
    let result: T;
    try {
      result = await execute(outcome.payload);
    } catch (err) {
      await request.report({ status: 'failed', message: (err as Error).message?.slice(0, 2000) });
      throw err;
    }
    await request.report({ status: 'succeeded' });
    return { executed: true, status: 'approved', result, outcome, receipt };
  }

  /** Spends the token on the action about to run; returns the signed receipt. Refusals throw ConsumeRefusedError. */
  async consume(id: string, consume: ConsumeRequest): Promise<Signed<ExecutionReceipt>> {
    try {
      return await this.http.request('POST', `/v1/requests/${enc(id)}/consume`, consume);
    } catch (err) {
      throw asRefusal(err);
    }
  }

  /** Reports how execution went, after consuming. */
  async report(id: string, report: ExecutionReport): Promise<void> {
    try {
      await this.http.request('POST', `/v1/requests/${enc(id)}/report`, report);
    } catch (err) {
      throw asRefusal(err);
    }
  }

  /**
   * One of this agent's requests once decided, submitted earlier by this process or another (one
   * before a restart): its decision, and the request as countersign recorded it, so an approval's
   * token can be opened (with the same key store) and consumed.
   */
  async resume(id: string): Promise<ApprovalRequest> {
    // A short wait: a decided request answers at once, with its outcome (the plain state of an open run has none).
    const state = await this.state(id, RESUME_WAIT_MS);
    const { bundle } = await this.evidence(state.workflowId);
    return new ApprovalRequest(this, bundle.request, state);
  }

  /**
   * Withdraws one of this agent's requests that is not decided yet: countersign cancels it and seals its
   * evidence as `cancelled`. Returns the final state (or, if the run is slow to close, the state now).
   * A request already decided is refused with DecisionRefusedError ALREADY_DECIDED.
   */
  async withdraw(id: string): Promise<SubmitState> {
    try {
      return await this.http.request('POST', `/v1/requests/${enc(id)}/withdraw`);
    } catch (err) {
      if (err instanceof ServerProblem && err.code === ReasonCode.ALREADY_DECIDED) throw new DecisionRefusedError(err.code, err.message);
      throw err;
    }
  }

  /** The evidence of a request: the signed bundle once it has ended, the chain so far while open. */
  async evidence(id: string): Promise<EvidenceView> {
    return this.http.request('GET', `/v1/requests/${enc(id)}/evidence`);
  }

  /** The request's state now; with `waitMs`, after waiting up to that long for the decision. */
  async state(id: string, waitMs = 0): Promise<SubmitState> {
    return this.http.request('GET', `/v1/requests/${enc(id)}${waitQuery(waitMs)}`);
  }

  /** Waits up to `waitMs` more for the decision of a submitted request. */
  async wait(id: string, waitMs: number): Promise<SubmitState> {
    let remaining = waitMs;
    for (;;) {
      const chunk = Math.min(remaining, MAX_HTTP_WAIT_MS);
      const state = await this.state(id, chunk);
      remaining -= chunk;
      if (state.outcome || remaining <= 0) return state;
    }
  }

  /** The final outcome, once the request has ended (waits for it). */
  async outcome(id: string): Promise<ApprovalOutcome> {
    for (;;) {
      const state = await this.state(id, MAX_HTTP_WAIT_MS);
      if (state.final && state.outcome) return state.outcome;
      if (state.outcome) await new Promise((r) => setTimeout(r, FINAL_POLL_MS));
    }
  }

  /** This agent's requests, newest first (open ones only with `open`). */
  async list(options: { open?: boolean } = {}): Promise<RequestRow[]> {
    return (await this.http.request<{ requests: RequestRow[] }>('GET', `/v1/requests${options.open ? '?open=true' : ''}`)).requests;
  }
}

const enc = encodeURIComponent;
const waitQuery = (ms: number) => (ms > 0 ? `?wait=${Math.ceil(ms / 1000)}s` : '');

function asRefusal(err: unknown): unknown {
  // A credential the server does not take is no verdict on the token: it stays what it is.
  if (err instanceof UnauthenticatedError || err instanceof ForbiddenError) return err;
  if (err instanceof InvalidRequestError) return new ConsumeRefusedError(ReasonCode.INVALID_REQUEST, err.message);
  if (err instanceof ServerProblem && (Object.values(ReasonCode) as string[]).includes(err.code)) return new ConsumeRefusedError(err.code, err.message);
  return err;
}
