/**
 * The agents' endpoints, under /v1/requests: submit, list, read (with a long-poll), the event
 * stream, consume, report, withdraw and evidence. An auditor may list and read; a reviewer has /v1/reviews.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { ConsumeBody, ReportBody, SubmitBody } from '../../common/api';
import { approvalWorkflowId } from '../../common/digest';
import { RequestNotFoundError } from '../../common/refusals';
import type { RequestList } from '../../common/responses';
import type { SubmitState } from '../../common/views';
import { nativeSha256Hex } from '../../crypto/sha256';
import { gatewayOnlyField } from '../../policy/access';
import { checkCatalog } from '../../policy/catalog';
import type { Approvals } from '../approvals';
import { signedIn } from '../auth';
import type { Principal } from '../credentials';
import { lookupFor, type Deps } from '../deps';
import { jsonBody, largeBody, parse, rateLimited, smallBody, waitParam, type Env } from '../http';
import { evidenceFor } from '../evidence';
import { lookUpRequest } from '../lookup';
import { forbidden, HttpProblem, invalid, notFound } from '../problems';

/** How long one event stream stays open; the client reconnects after. */
const SSE_MAX_MS = 10 * 60_000;

export function requestRoutes(deps: Deps): Hono<Env> {
  const { backend, policy } = deps;
  const routes = new Hono<Env>();

  routes.post('/', largeBody, signedIn(deps, 'agent'), async (c) => {
    const agent = c.get('principal');
    const raw = await jsonBody(c);
    const asserted = (raw as { agentId?: unknown }).agentId;
    if (asserted !== undefined && asserted !== agent.name) {
      throw forbidden(`Field "agentId" names ${JSON.stringify(String(asserted).slice(0, 128))}, but this credential is agent ${agent.name}: an agent submits only as itself.`);
    }
    const body = parse(SubmitBody, { ...(raw as object), agentId: agent.name });
    const request = { ...body, agentId: agent.name }; // parsed once, here; the workflow checks it again
    const gatewayOnly = agent.gateway ? undefined : gatewayOnlyField(request);
    if (gatewayOnly === 'action') throw forbidden(`Field "action": ${request.action} is an MCP tool call, which only a gateway credential may submit.`);
    if (gatewayOnly) throw forbidden(`Field "${gatewayOnly}": MCP context is believed only from a gateway credential.`);
    // The catalog is the policy's, and the server holds it: a payload it refuses starts nothing (the workflow checks again).
    const catalogued = checkCatalog(policy.catalog, request, policy.environment);
    if (!catalogued.ok) throw invalid(catalogued.message);
    // An allow the policy decides at the edge starts no workflow (server/edge.ts); every other verdict takes the workflow's path.
    const edged = deps.edge ? await deps.edge.submit(policy, request) : undefined;
    if (edged) return c.json(edged);
    const waitMs = waitParam(c);
    const { workflowId } = approvalWorkflowId(request, nativeSha256Hex);
    const submitted = await deps.openRequests.starting(agent.name, workflowId, () => (waitMs > 0 ? deps.holds.hold(agent, workflowId, () => backend.submit(request, { waitMs })) : backend.submit(request, { waitMs: 0 })));
    return c.json(submitted);
  });

  routes.get('/', signedIn(deps), async (c) => {
    const p = c.get('principal');
    if (p.role === 'reviewer') throw forbidden('Reviewers list their queue at /v1/reviews.');
    rateLimited(deps.listLimiter, `list:${p.role}:${p.name}`);
    const rows = await backend.listPending({ open: c.req.query('open') === 'true', ...(p.role === 'agent' ? { agent: p.name } : {}), limit: 200 });
    return c.json({ requests: rows } satisfies RequestList);
  });

  routes.get('/:id', signedIn(deps), async (c) => {
    const p = c.get('principal');
    const workflowId = await requestFor(c, deps, p);
    // An auditor reads; only the request's agent may hold a wait (each one is an Update on its workflow).
    const waitMs = p.role === 'agent' ? waitParam(c) : 0;
    if (waitMs === 0) return c.json(await currentState(backend, workflowId, 0));
    return c.json(await deps.holds.hold(p, workflowId, () => currentState(backend, workflowId, waitMs)));
  });

  routes.get('/:id/events', signedIn(deps), async (c) => {
    const p = c.get('principal');
    const workflowId = await requestFor(c, deps, p);
    const release = deps.holds.stream(p);
    return streamSSE(c, async (stream) => {
      try {
        let last = '';
        const until = Date.now() + SSE_MAX_MS;
        let id = 0;
        while (!stream.aborted && Date.now() < until) {
          const { status, closed } = await backend.status(workflowId);
          if (status !== last || closed) {
            last = status;
            const state = closed ? { ...(await backend.finalState(workflowId)), final: true } : await currentState(backend, workflowId, 0);
            await stream.writeSSE({ event: closed ? 'outcome' : 'status', data: JSON.stringify(state), id: String(++id) });
            if (closed) return;
          }
          await stream.sleep(deps.streamPollMs);
        }
      } finally {
        release();
      }
    });
  });

  routes.post('/:id/consume', smallBody, signedIn(deps, 'agent'), async (c) => {
    const agent = c.get('principal');
    const raw = await jsonBody(c);
    // An edge token is found by its hash, for the request it is bound to; any other goes to its workflow as before.
    const early = deps.edge ? ConsumeBody.safeParse(raw) : undefined;
    if (early?.success && early.data.agentId === agent.name) {
      const receipt = await deps.edge!.consume(agent.name, c.req.param('id') ?? '', early.data);
      if (receipt) return c.json(receipt);
    }
    const notThisAgent = (agentId: string) => forbidden(`Field "agentId" names ${JSON.stringify(agentId)}, but this credential is agent ${agent.name}.`);
    let workflowId: string;
    try {
      workflowId = await requestFor(c, deps, agent);
    } catch (err) {
      // An edge request has no workflow: a token its store does not hold (another deployment's, a made-up one) is not valid for it.
      if (!early?.success || !(err instanceof HttpProblem) || err.status !== 404 || !(await deps.edge!.decidedAtEdge(agent.name, c.req.param('id') ?? ''))) throw err;
      if (early.data.agentId !== agent.name) throw notThisAgent(early.data.agentId);
      throw deps.edge!.unknownToken(early.data);
    }
    const body = parse(ConsumeBody, raw);
    if (body.agentId !== agent.name) throw notThisAgent(body.agentId);
    return c.json(await backend.consume(workflowId, body));
  });

  routes.post('/:id/report', smallBody, signedIn(deps, 'agent'), async (c) => {
    const raw = await jsonBody(c);
    const early = deps.edge ? ReportBody.safeParse(raw) : undefined;
    if (early?.success && (await deps.edge!.report(c.get('principal').name, c.req.param('id') ?? '', early.data))) return c.body(null, 204);
    const workflowId = await requestFor(c, deps, c.get('principal'));
    await backend.report(workflowId, parse(ReportBody, raw));
    return c.body(null, 204);
  });

  // Only the request's own agent: another agent's id is not found, as everywhere else.
  routes.post('/:id/withdraw', smallBody, signedIn(deps, 'agent'), async (c) => {
    return c.json(await backend.withdraw(await requestFor(c, deps, c.get('principal'))));
  });

  // A closed request's evidence comes from the store, where it outlives Temporal's history (server/evidence.ts).
  routes.get('/:id/evidence', signedIn(deps), async (c) => {
    const p = c.get('principal');
    const id = c.req.param('id') ?? '';
    if (p.role !== 'agent' && p.role !== 'auditor') throw forbidden(`This endpoint is for agents and auditors; you are signed in as ${p.role} ${p.name}.`);
    try {
      return c.json(await evidenceFor(backend, deps.store, id, lookupFor(deps, p), deps.log));
    } catch (err) {
      if (err instanceof RequestNotFoundError) throw notFound(err.message);
      throw err;
    }
  });

  return routes;
}

/** The workflow an agent's or an auditor's id names; another agent's request is simply not found. */
async function requestFor(c: Context, deps: Deps, p: Principal): Promise<string> {
  const id = c.req.param('id') ?? '';
  if (p.role !== 'agent' && p.role !== 'auditor') throw forbidden(`This endpoint is for agents and auditors; you are signed in as ${p.role} ${p.name}.`);
  try {
    return await lookUpRequest(deps.backend, id, lookupFor(deps, p));
  } catch (err) {
    if (err instanceof RequestNotFoundError || err instanceof WorkflowNotFoundError) throw notFound(err instanceof RequestNotFoundError ? err.message : `No request ${id.slice(0, 200)}.`);
    throw err;
  }
}

/** The request's state now, or once decided if that comes within `waitMs`; `final` once the run has closed. */
async function currentState(backend: Approvals, workflowId: string, waitMs: number): Promise<SubmitState> {
  if (waitMs > 0) {
    let state: SubmitState;
    try {
      state = await backend.wait(workflowId, waitMs);
    } catch (err) {
      // The run ended, or is being cancelled, while the wait was in flight (the update fails then):
      // its final state is the answer, if it comes within the wait; else the state now.
      if (!(err instanceof WorkflowUpdateFailedError) && !(await backend.status(workflowId)).closed) throw err;
      const until = Date.now() + waitMs;
      while (!(await backend.status(workflowId)).closed && Date.now() < until) await new Promise((r) => setTimeout(r, 250));
      return currentState(backend, workflowId, 0);
    }
    if (state.outcome && (await backend.status(workflowId)).closed) return { ...state, final: true };
    return state;
  }
  const { status, closed } = await backend.status(workflowId);
  if (closed) return { ...(await backend.finalState(workflowId)), final: true };
  return { requestId: workflowId.slice(-16), workflowId, status: status as SubmitState['status'] };
}
