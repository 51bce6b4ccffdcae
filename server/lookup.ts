/**
 * From the id a caller names to the workflow it means. Visibility trails the starts, so an exact id
 * never waits on it: a workflow id (cs-…) is asked of the workflow itself (describe), and so is a
 * full request id that visibility does not list yet, under each agent the directory knows (the
 * workflow id is cs-<agent>-<request id>). Only a prefix needs visibility: it is asked again for
 * about two seconds, and a miss says that a request just submitted may not be listed yet.
 * Who may see the request is the caller's business (server/routes/), exactly as before.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { AmbiguousRequestIdError, RequestNotFoundError } from '../common/refusals';
import type { Approvals } from './approvals';

/** What a miss on a prefix adds: the lookup that does not lag is one exact id away. */
export const NOT_LISTED_YET = 'A request submitted in the last few seconds may not be listed yet: give its full request id (16 hex digits) or its workflow id (cs-…).';
/** The pauses before asking visibility again for a prefix (about 2 s in all). */
const PREFIX_PAUSES_MS = [250, 500, 1000];
/** Describes in flight at once, when a full request id is looked for under each agent. */
const CONCURRENCY = 8;
const WORKFLOW_ID = /^cs-[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}-[0-9a-f]{16}$/;
const REQUEST_ID = /^[0-9a-f]{16}$/;

export interface Lookup {
  /** Only this agent's requests (an agent looking up its own). */
  agent?: string;
  /** The directory's agents: whose workflow a full request id may be, while visibility does not list it. */
  agents: () => Iterable<string>;
  /** Whether one more lookup beyond the first may be spent on this caller (its listing budget). */
  mayAskAgain: () => boolean;
}

/** The workflow id an exact id names among `agent`'s own requests (its workflow id, or its full request id); undefined for anything else, a prefix included. Pure. */
export function ownWorkflowId(id: string, agent: string): string | undefined {
  if (WORKFLOW_ID.test(id)) return id === `cs-${agent}-${id.slice(-16)}` ? id : undefined;
  return REQUEST_ID.test(id) ? `cs-${agent}-${id}` : undefined;
}

/** A request id prefix (6 to 15 hex digits): found only through visibility. */
export const isPrefix = (id: string): boolean => /^[0-9a-f]{6,15}$/.test(id);

/** The workflow id `id` names; RequestNotFoundError or AmbiguousRequestIdError otherwise. */
export async function lookUpRequest(backend: Approvals, id: string, lookup: Lookup): Promise<string> {
  const { agent } = lookup;
  const missing = () => new RequestNotFoundError(`No request ${id.slice(0, 200)}.`);
  if (WORKFLOW_ID.test(id)) {
    if (agent !== undefined && id !== `cs-${agent}-${id.slice(-16)}`) throw missing();
    if (!(await runs(backend, id))) throw missing();
    return id;
  }
  if (REQUEST_ID.test(id)) {
    if (agent !== undefined) {
      if (!(await runs(backend, `cs-${agent}-${id}`))) throw missing();
      return `cs-${agent}-${id}`;
    }
    try {
      return await backend.resolve(id);
    } catch (err) {
      if (!(err instanceof RequestNotFoundError) || !lookup.mayAskAgain()) throw err;
    }
    const found = await existing(backend, [...lookup.agents()].map((name) => `cs-${name}-${id}`));
    if (found.length > 1) throw new AmbiguousRequestIdError(`The id ${id} matches more than one request; give its workflow id.`);
    if (!found.length) throw missing();
    return found[0]!;
  }
  if (!isPrefix(id)) throw missing();
  for (let attempt = 0; ; attempt++) {
    try {
      return await backend.resolve(id, agent !== undefined ? { agent } : {});
    } catch (err) {
      if (!(err instanceof RequestNotFoundError)) throw err;
      if (attempt >= PREFIX_PAUSES_MS.length || !lookup.mayAskAgain()) throw new RequestNotFoundError(`No request ${id}. ${NOT_LISTED_YET}`);
    }
    await new Promise((resolve) => setTimeout(resolve, PREFIX_PAUSES_MS[attempt]));
  }
}

/** Whether an approval with this workflow id exists on the task queue (running or ended), asked of the workflow. */
async function runs(backend: Approvals, workflowId: string): Promise<boolean> {
  try {
    await backend.status(workflowId);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || err instanceof RequestNotFoundError) return false;
    throw err;
  }
}

/** Which of these workflow ids exist, asked a few at a time. */
async function existing(backend: Approvals, workflowIds: string[]): Promise<string[]> {
  const found: string[] = [];
  for (let i = 0; i < workflowIds.length; i += CONCURRENCY) {
    const batch = workflowIds.slice(i, i + CONCURRENCY);
    const exists = await Promise.all(batch.map((w) => runs(backend, w)));
    found.push(...batch.filter((_, j) => exists[j]));
  }
  return found;
}
