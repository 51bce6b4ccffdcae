/**
 * The cap on an agent's open requests (waiting for a reviewer), enforced at the front door before
 * anything starts. Visibility trails the starts, so a count from it alone is briefly low and a
 * burst would slip through: this instance also counts what it started itself until visibility
 * shows it, and what it is starting right now.
 *
 * What holds: on one instance, an agent never has more than `limit` requests open that this
 * instance started, whatever visibility's lag. Behind N instances, each also sees the others'
 * requests once visibility lists them (usually within a second or two), so a burst spread over
 * all N within that lag can open up to N × limit before every instance refuses.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { OPEN_STATUSES, ReasonCode } from '../common/codes';
import { RequestNotFoundError } from '../common/refusals';
import type { Approvals } from './approvals';
import { HttpProblem } from './problems';

/** The default cap per agent (COUNTERSIGN_MAX_OPEN_REQUESTS). */
export const DEFAULT_MAX_OPEN_REQUESTS = 100;
/** How long a count from visibility is reused, so a busy agent costs at most one count a second. */
const COUNT_TTL_MS = 1000;
/** Describes in flight at once while pruning. */
const CONCURRENCY = 8;

interface AgentState {
  /** Submissions this instance admitted and is starting now. */
  starting: number;
  /** Requests this instance started that were open when the start answered, until visibility shows them. */
  unlisted: Set<string>;
  count?: { value: number; at: number };
  counting?: Promise<number>;
  prunedAt?: number;
}

export class OpenRequestCap {
  private readonly agents = new Map<string, AgentState>();

  constructor(
    private readonly backend: Approvals,
    readonly limit: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('The open-request cap must be a whole number of at least 1.');
  }

  /**
   * Admits one submission of `workflowId` by `agent`, or refuses it 409 TOO_MANY_OPEN_REQUESTS.
   * Returns what to call with the request's status once the start has answered (undefined: it failed).
   */
  async admit(agent: string, workflowId: string): Promise<(status?: string) => void> {
    const state = this.state(agent);
    // Each check is synchronous after its last await, and takes its slot in the same turn: concurrent
    // submissions see each other's slots, so a burst gets exactly the room left and no more.
    const take = (listed: number) => {
      if (listed + state.unlisted.size + state.starting >= this.limit) return undefined;
      state.starting += 1;
      return (status?: string) => {
        // A start that failed may still have started: counted until a prune finds it not waiting.
        if (status === undefined || (OPEN_STATUSES as readonly string[]).includes(status)) state.unlisted.add(workflowId);
        state.starting -= 1;
      };
    };
    const quick = take(await this.listed(agent, state));
    if (quick) return quick;
    // At the cap by the quick count: a submission that joins a running request opens nothing new.
    if (await this.isOpen(workflowId, false)) return () => {};
    await this.prune(state);
    const closer = take(await this.listed(agent, state));
    if (closer) return closer;
    throw new HttpProblem(
      409,
      ReasonCode.TOO_MANY_OPEN_REQUESTS,
      `Agent ${agent} already has ${this.limit} requests waiting for a reviewer, the most it may have open at once: nothing was started; submit again once one is decided.`,
    );
  }

  /** Runs `start` (the submission) if the cap admits it, and counts the request by the status it answers. */
  async starting<T extends { status: string }>(agent: string, workflowId: string, start: () => Promise<T>): Promise<T> {
    const done = await this.admit(agent, workflowId);
    let status: string | undefined;
    try {
      const started = await start();
      status = started.status;
      return started;
    } finally {
      done(status);
    }
  }

  /** One entry per agent that has submitted (agents are the directory's, so the map is bounded by it). */
  private state(agent: string): AgentState {
    let state = this.agents.get(agent);
    if (!state) this.agents.set(agent, (state = { starting: 0, unlisted: new Set() }));
    return state;
  }

  /** Visibility's count of the agent's open requests, at most COUNT_TTL_MS old. */
  private async listed(agent: string, state: AgentState): Promise<number> {
    if (state.count && Date.now() - state.count.at <= COUNT_TTL_MS) return state.count.value;
    state.counting ??= this.backend.countOpen(agent).then(
      (value) => {
        state.count = { value, at: Date.now() };
        state.counting = undefined;
        return value;
      },
      (err: unknown) => {
        state.counting = undefined;
        throw err;
      },
    );
    return state.counting;
  }

  /** Whether the workflow runs (any status), or with `waiting`, waits for a reviewer: asked of the workflow, which does not lag. */
  private async isOpen(workflowId: string, waiting: boolean): Promise<boolean> {
    try {
      const { status, closed } = await this.backend.status(workflowId);
      return !closed && (!waiting || (OPEN_STATUSES as readonly string[]).includes(status));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || err instanceof RequestNotFoundError) return false;
      throw err;
    }
  }

  /**
   * Drops from `unlisted` what visibility now shows past evaluation (counted there from now on) and
   * what no longer waits for a reviewer. At most once a second per agent: an agent retrying at its
   * cap costs Temporal little.
   */
  private async prune(state: AgentState) {
    if (state.prunedAt !== undefined && Date.now() - state.prunedAt < COUNT_TTL_MS) return;
    state.prunedAt = Date.now();
    const ids = [...state.unlisted];
    for (let i = 0; i < ids.length; i += 100) {
      for (const id of await this.backend.listedPastEvaluation(ids.slice(i, i + 100))) state.unlisted.delete(id);
    }
    const rest = [...state.unlisted];
    for (let i = 0; i < rest.length; i += CONCURRENCY) {
      await Promise.all(
        rest.slice(i, i + CONCURRENCY).map(async (id) => {
          if (!(await this.isOpen(id, true))) state.unlisted.delete(id);
        }),
      );
    }
  }
}
