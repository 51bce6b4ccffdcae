import { ReasonCode } from '../common/codes';
import { actionDigest } from '../common/digest';
import { ConsumeRefusedError } from '../common/refusals';
import type { Payload } from '../common/json';
import type { ActionRequest, ConsumeRequest, ExecutionReport } from '../common/inputs';
import type { ApprovalOutcome, ExecutionReceipt, Signed, SubmitState } from '../common/views';
import { openToken, type AgentKeyStore } from './agent-keys';

/** What an ApprovalRequest needs of its connection: the SDK over HTTP, or the server's direct Temporal backend. */
export interface RequestOperations {
  readonly keys: AgentKeyStore;
  wait(id: string, waitMs: number): Promise<SubmitState>;
  consume(id: string, consume: ConsumeRequest): Promise<Signed<ExecutionReceipt>>;
  report(id: string, report: ExecutionReport): Promise<void>;
}

/** One submitted action, from the agent's side: its decision, its token, its consumption and report. */
export class ApprovalRequest {
  constructor(
    private readonly cs: RequestOperations,
    readonly request: ActionRequest,
    public state: SubmitState,
  ) {}

  get requestId(): string {
    return this.state.requestId;
  }
  get workflowId(): string {
    return this.state.workflowId;
  }
  get status(): SubmitState['status'] {
    return this.state.status;
  }
  get outcome(): ApprovalOutcome | undefined {
    return this.state.outcome;
  }
  get deadline(): string | undefined {
    return this.state.deadline;
  }

  /** Waits up to `waitMs` more for the decision. */
  async wait(waitMs: number): Promise<this> {
    this.state = await this.cs.wait(this.workflowId, waitMs);
    return this;
  }

  /** The plaintext token, opened with this request's private key; undefined until approved or when the key is not ours. */
  openToken(): string | undefined {
    const grant = this.outcome?.token;
    const key = this.cs.keys.get(this.workflowId);
    if (!grant?.sealed || !key) return undefined;
    try {
      return openToken(key, grant.sealed, this.workflowId, grant.tokenId);
    } catch {
      return undefined; // sealed to another key: this agent never held it
    }
  }

  /** Spends the token on the payload about to run (default: the approved one). Refusals throw ConsumeRefusedError. */
  async consume(payload: Payload | undefined = this.outcome?.payload, token = this.openToken()): Promise<Signed<ExecutionReceipt>> {
    if (!token) throw new ConsumeRefusedError(ReasonCode.TOKEN_INVALID, `Request ${this.requestId} has no token to consume (status ${this.status}).`);
    if (!payload) throw new ConsumeRefusedError(ReasonCode.BINDING_MISMATCH, 'There is no payload to consume the token for.');
    const digest = actionDigest({ action: this.request.action, resource: this.request.resource, payload });
    const receipt = await this.cs.consume(this.workflowId, { token, agentId: this.request.agentId, taskId: this.request.taskId, actionDigest: digest });
    this.cs.keys.delete(this.workflowId); // the token is spent: its key has nothing left to open
    return receipt;
  }

  async report(report: ExecutionReport): Promise<void> {
    await this.cs.report(this.workflowId, report);
  }
}
