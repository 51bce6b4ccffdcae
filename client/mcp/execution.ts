import type { Client } from '@modelcontextprotocol/client';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { GatewayLogger } from './logger';
import { ReasonCode } from '../../common/codes';
import { ConsumeRefusedError, type ApprovalRequest } from '../sdk';
import { editedNote, notRunResult, replayNote, resultText, unavailableResult, upstreamFailedResult, withNote } from './results';

/** An approved call may run long; the agent's own timeout is not the upstream's. */
const UPSTREAM_TIMEOUT_MS = 10 * 60_000;
/** Recorded results kept for retries (and tasks); an older call's retry learns it already ran, without its result. */
const MAX_KEPT_EXECUTIONS = 256;
/** And at most this much of them, counted as JSON text. */
const MAX_KEPT_BYTES = 64 * 1024 * 1024;

/** One request's execution in this gateway: at most once, its result kept for retries. */
export interface Execution {
  requestId: string;
  running: Promise<CallToolResult>;
  /** Set once settled: what the agent is answered. */
  result?: CallToolResult;
  /** Set when it ran on the upstream. */
  ranAt?: string;
  /** Set when countersign refused the token (the reason code): nothing ran. */
  refused?: string;
  /** Set when countersign could not be reached to spend the token: nothing ran, and asking again may work. */
  unavailable?: boolean;
  bytes?: number;
}

/** The approved calls this gateway ran, by workflow id: each runs once, and its result is kept a while. */
export class Executions {
  private readonly byWorkflow = new Map<string, Execution>();

  constructor(private readonly upstream: Client) {}

  get(workflowId: string): Execution | undefined {
    return this.byWorkflow.get(workflowId);
  }

  /** Spends the token, runs the (possibly edited) call on the upstream once, reports, keeps the result (or the run already under way). */
  run(approved: ApprovalRequest, name: string, lapsed: () => void, log: GatewayLogger): Execution {
    const under = this.byWorkflow.get(approved.workflowId);
    if (under) return under;
    const outcome = approved.outcome!;
    const execution: Execution = { requestId: approved.requestId, running: Promise.resolve({ content: [] }) };
    const settle = (result: CallToolResult): CallToolResult => {
      execution.result = result;
      execution.bytes = JSON.stringify(result).length;
      this.bound();
      return result;
    };
    execution.running = (async (): Promise<CallToolResult> => {
      try {
        await approved.consume(outcome.payload);
      } catch (err) {
        this.byWorkflow.delete(approved.workflowId); // nothing ran
        if (!(err instanceof ConsumeRefusedError)) {
          log.error({ err }, 'could not spend the token');
          execution.unavailable = true;
          return settle(unavailableResult(name, (err as Error).message.split('\n')[0]!));
        }
        log.warn({ code: err.code }, 'the token was refused');
        execution.refused = err.code;
        if (err.code === ReasonCode.TOKEN_EXPIRED) lapsed();
        return settle(notRunResult(name, approved.requestId, approved.status, err.code, `Approved, but the approval token was refused: ${err.message}`));
      }
      let result: CallToolResult;
      let failure: string | undefined;
      try {
        result = await this.upstream.request({ method: 'tools/call', params: { name, arguments: outcome.payload } }, { timeout: UPSTREAM_TIMEOUT_MS });
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
      execution.ranAt = new Date().toISOString();
      return settle(outcome.edited ? withNote(result, editedNote(outcome)) : result);
    })();
    this.byWorkflow.set(approved.workflowId, execution);
    this.bound();
    return execution;
  }

  /** What a retry of a call that already ran (or is running) here gets: its result, with a note that it did not run again. */
  async replay(execution: Execution): Promise<CallToolResult> {
    const result = execution.result ?? (await execution.running);
    if (!execution.ranAt) return result; // it did not run: the same answer, no note
    return withNote(result, replayNote(execution.requestId, execution.ranAt));
  }

  /** Forgets the oldest settled results beyond the count and size kept; a running call is never forgotten. */
  private bound(): void {
    let bytes = 0;
    for (const kept of this.byWorkflow.values()) bytes += kept.bytes ?? 0;
    for (const [workflowId, kept] of this.byWorkflow) {
      if (this.byWorkflow.size <= MAX_KEPT_EXECUTIONS && bytes <= MAX_KEPT_BYTES) break;
      if (!kept.result) continue;
      this.byWorkflow.delete(workflowId);
      bytes -= kept.bytes ?? 0;
    }
  }
}
