import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Logger } from 'pino';
import type { CompiledPolicy } from '../policy/load';
import { ChallengeBody, ConsumeBody, DecisionBody, LoginBody, ReportBody, SubmitBody, ValidateBody } from '../common/api';
import { gatewayOnlyField, maySee } from '../policy/access';
import { checkCatalog } from '../policy/catalog';
import { nativeSha256Hex } from '../crypto/sha256';
import { bytesToBase64Url } from '../common/webauthn';
import { describeIssues } from '../common/errors';
import { AmbiguousRequestIdError, RequestNotFoundError } from '../common/refusals';
import { Payload } from '../common/json';
import { type ActionRequest } from '../common/inputs';
import { type ReviewView, type SubmitState } from '../common/views';
import { decisionChallenge, decisionStatement, statementTarget, verifyDecision, type DecisionCheck } from '../common/signing';
import { approvalWorkflowId } from '../common/digest';
import type { Approvals } from './approvals';
import { API_KEY_PATTERN, authenticateApiKey, type Principal } from './credentials';
import { openApiDocument } from './openapi';
import { Holds } from './holds';
import { bodyUpTo, jsonBody, largeBody, limitParam, parse, rateLimited as takeOrRefuse, smallBody, toProblem, waitParam, type Env } from './http';
import { forbidden, HttpProblem, invalid, notFound, problemBody, unauthenticated } from './problems';
import { TrustedProxies } from './forwarded';
import { memoryLedger, type DoorLedger } from './ledger';
import { CLONED_PASSKEY, SignCounts } from './sign-counts';
import { createRateLimiter } from './rate-limit';
import { DEFAULT_MAX_OPEN_REQUESTS, OpenRequestCap } from './open-requests';
import { isPrefix, lookUpRequest, NOT_LISTED_YET } from './lookup';
import { keyFingerprint, SessionError, type SessionClaims, type Sessions } from './sessions';
import type { Enrollments } from './enrollments';
import { groupsOf, inboxSession, registerInbox } from './inbox';

export interface AppOptions {
  backend: Approvals;
  policy: CompiledPolicy;
  sessions: Sessions;
  logger: Logger;
  /** Host header values accepted (host:port); ['*'] accepts any, for a proxy that checks it. */
  allowedHosts: string[];
  /** Per credential (or per address before authentication). */
  rateLimit?: { perSecond: number; burst: number };
  /** Per credential, for the listings (GET /v1/reviews, GET /v1/requests): visibility queries. */
  listRateLimit?: { perSecond: number; burst: number };
  /** How often the event stream looks for a change. */
  streamPollMs?: number;
  /** Proxies whose X-Forwarded-For is believed (COUNTERSIGN_TRUSTED_PROXIES); none by default. */
  trustedProxies?: TrustedProxies;
  /** Where answered challenges, ended sessions and passkey counts are recorded across instances (the one the sessions use). */
  ledger?: DoorLedger;
  /** Reviewers' passkey enrolments (the web inbox). */
  enrollments: Enrollments;
  /** Served over TLS: the inbox cookie is Secure. */
  secure?: boolean;
  /** Requests one agent may have waiting for a reviewer at once (COUNTERSIGN_MAX_OPEN_REQUESTS); server/open-requests.ts. */
  maxOpenRequestsPerAgent?: number;
}


const SSE_MAX_MS = 10 * 60_000;

export { MAX_OPEN_WAITS_PER_CREDENTIAL, MAX_WAITS_PER_REQUEST } from './holds';
export { MAX_LARGE_BODY_BYTES, MAX_SMALL_BODY_BYTES } from './http';

export function createApp(options: AppOptions): Hono<Env> {
  const { backend, policy, sessions, logger } = options;
  const limiter = createRateLimiter(options.rateLimit ?? { perSecond: 50, burst: 200 });
  // Listings are visibility queries, which PostgreSQL (or Temporal Cloud's namespace limit) pays for:
  // a budget of their own per credential, well under the general one. An open inbox uses 0.5 a second.
  const listLimiter = createRateLimiter(options.listRateLimit ?? { perSecond: 10, burst: 40 });
  const signCounts = new SignCounts(options.ledger ?? memoryLedger());
  const openRequests = new OpenRequestCap(backend, options.maxOpenRequestsPerAgent ?? DEFAULT_MAX_OPEN_REQUESTS);
  const allowed = new Set(options.allowedHosts.map((h) => h.toLowerCase()));
  // A login proof names the origin the reviewer's CLI connected to: one whose host this server answers for by name.
  const loginAudiences = [...allowed].filter((h) => h !== '*').flatMap((h) => ['http', 'https'].map((scheme) => originOf(`${scheme}://${h}`))).filter((o): o is string => Boolean(o));
  // The inbox is https when this server terminates TLS or its public origins (behind a proxy) are https.
  const secure = Boolean(options.secure) || Boolean(policy.webauthn?.origins.length && policy.webauthn.origins.every((o) => o.startsWith('https://')));
  const app = new Hono<Env>();

  app.onError((err, c) => {
    const problem = toProblem(err);
    if (problem.status >= 500) logger.error({ err: (err as Error).message, name: (err as Error).name, path: c.req.routePath }, 'request failed');
    for (const [k, v] of Object.entries(problem.headers)) c.header(k, v);
    return c.json(problemBody(problem, c.req.path), problem.status as 400, { 'content-type': 'application/problem+json' });
  });
  app.notFound((c) => c.json(problemBody(notFound(`There is no ${c.req.method} ${c.req.path}.`), c.req.path), 404, { 'content-type': 'application/problem+json' }));

  // Access log: who, what, how it ended. Never a header, a body or a query string.
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const who = c.get('principal');
    logger.info({ method: c.req.method, path: c.req.routePath, status: c.res.status, principal: who ? `${who.role}:${who.name}` : undefined, ms: Math.round(performance.now() - started) }, 'http');
  });

  // Host and Origin: a DNS-rebinding page or another site's script is refused before anything runs.
  app.use('*', async (c, next) => {
    const host = (c.req.header('host') ?? '').toLowerCase();
    if (!allowed.has('*') && !allowed.has(host)) throw new HttpProblem(421, 'HOST_NOT_ALLOWED', `This server does not answer for the host "${host.slice(0, 100)}".`);
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      let originHost = '';
      try {
        originHost = new URL(origin).host.toLowerCase();
      } catch {
        /* an unparseable origin matches nothing */
      }
      if (originHost !== host) throw forbidden('Cross-origin requests are refused.');
    }
    c.header('cache-control', 'no-store');
    c.header('x-content-type-options', 'nosniff');
    await next();
  });

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/openapi.json', (c) => c.json(openApiDocument()));
  app.get('/v1/whoami', async (c) => {
    const p = await authenticate(c);
    return c.json(p.role === 'agent' ? { role: p.gateway ? 'gateway' : 'agent', name: p.name } : p);
  });

  // --- authentication ---------------------------------------------------------------------------
  const rateLimited = (key: string, bucket = limiter) => takeOrRefuse(bucket, key);
  const proxies = options.trustedProxies ?? new TrustedProxies([]);
  const clientAddress = (c: Context) => {
    const peer = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress ?? 'unknown';
    return proxies.clientAddress(peer, c.req.header('x-forwarded-for'));
  };

  /** A refused credential: counted against the caller's address (a bucket apart from logins), then 401. */
  const refused = (c: Context, detail: string) => {
    rateLimited(`authfail:${clientAddress(c)}`);
    return unauthenticated(detail);
  };

  const authenticate = async (c: Context<Env>): Promise<Principal> => {
    const header = c.req.header('authorization') ?? '';
    // The web inbox: a passkey session in an HttpOnly cookie, honoured by the reviewer endpoints only
    // (an agent endpoint answers it 403), with its CSRF token on every change.
    if (!header && c.req.header('cookie')) {
      let session: Awaited<ReturnType<typeof inboxSession>>;
      try {
        session = await inboxSession(c, { policy, sessions, secure }, { stateChange: c.req.method !== 'GET' && c.req.method !== 'HEAD' });
      } catch (err) {
        if (err instanceof HttpProblem && err.status === 401) throw refused(c, err.message);
        throw err;
      }
      const principal: Principal = { role: 'reviewer', name: session.reviewer, groups: groupsOf(policy, session.reviewer) };
      rateLimited(`${principal.role}:${principal.name}`);
      c.set('principal', principal);
      return principal;
    }
    const m = /^Bearer ([\x21-\x7e]{1,4096})$/.exec(header);
    if (!m) throw refused(c, 'Send your credential as "Authorization: Bearer <key or session>".');
    const credential = m[1]!;
    let principal: Principal | undefined;
    if (API_KEY_PATTERN.test(credential)) principal = authenticateApiKey(policy.directory, credential);
    else if (credential.split('.').length !== 3) throw refused(c, 'The credential is not valid: an API key (cs_agent_…) or a reviewer session from POST /v1/session.');
    else {
      let claims: SessionClaims;
      try {
        claims = await sessions.verify(credential);
      } catch (err) {
        throw refused(c, err instanceof SessionError ? `${err.message} Log in again.` : 'The credential is not valid.');
      }
      // A session outlives neither the reviewer's registration nor the key that logged it in (a rotated or revoked key ends it).
      const key = policy.reviewerKeys.get(claims.reviewer);
      if (key && keyFingerprint(key) !== claims.kid) throw refused(c, 'The key this session was logged in with is no longer in the directory. Log in again.');
      if (key) principal = { role: 'reviewer', name: claims.reviewer, groups: groupsOf(policy, claims.reviewer) };
    }
    if (!principal) throw refused(c, 'The credential is not valid.');
    rateLimited(`${principal.role}:${principal.name}`);
    c.set('principal', principal);
    return principal;
  };
  const asAgent = async (c: Context<Env>) => {
    const p = await authenticate(c);
    if (p.role !== 'agent') throw forbidden(`This endpoint is for agents; you are signed in as ${p.role} ${p.name}.`);
    return p;
  };
  const asReviewer = async (c: Context<Env>) => {
    const p = await authenticate(c);
    if (p.role !== 'reviewer') throw forbidden(`This endpoint is for reviewers; you are signed in as ${p.role} ${p.name}.`);
    return p;
  };


  const holds = new Holds();
  const holdSlot = <T>(p: Principal, workflowId: string, fn: () => Promise<T>) => holds.hold(p, workflowId, fn);
  const large = largeBody;
  const small = smallBody;

  // --- agents -----------------------------------------------------------------------------------
  app.post('/v1/requests', large, async (c) => {
    const agent = await asAgent(c);
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
    const waitMs = waitParam(c);
    const { workflowId } = approvalWorkflowId(request, nativeSha256Hex);
    const submitted = await openRequests.starting(agent.name, workflowId, () => (waitMs > 0 ? holdSlot(agent, workflowId, () => backend.submit(request, { waitMs })) : backend.submit(request, { waitMs: 0 })));
    return c.json(submitted);
  });

  app.get('/v1/requests', async (c) => {
    const p = await authenticate(c);
    if (p.role === 'reviewer') throw forbidden('Reviewers list their queue at /v1/reviews.');
    rateLimited(`list:${p.role}:${p.name}`, listLimiter);
    const rows = await backend.listPending({ open: c.req.query('open') === 'true', ...(p.role === 'agent' ? { agent: p.name } : {}), limit: 200 });
    return c.json({ requests: rows });
  });

  /** How the caller's id is looked up (server/lookup.ts): an agent only among its own; a retry spends its listing budget. */
  const lookupFor = (p: { role: string; name: string }) => ({
    ...(p.role === 'agent' ? { agent: p.name } : {}),
    agents: () => policy.directory.agents.keys(),
    mayAskAgain: () => listLimiter.take(`list:${p.role}:${p.name}`).ok,
  });

  /** The workflow an agent's or an auditor's id names; another agent's request is simply not found. */
  const requestFor = async (c: Context<Env>, p: Principal): Promise<string> => {
    const id = c.req.param('id') ?? '';
    if (p.role !== 'agent' && p.role !== 'auditor') throw forbidden(`This endpoint is for agents and auditors; you are signed in as ${p.role} ${p.name}.`);
    try {
      return await lookUpRequest(backend, id, lookupFor(p));
    } catch (err) {
      if (err instanceof RequestNotFoundError || err instanceof WorkflowNotFoundError) throw notFound(err instanceof RequestNotFoundError ? err.message : `No request ${id.slice(0, 200)}.`);
      throw err;
    }
  };

  app.get('/v1/requests/:id', async (c) => {
    const p = await authenticate(c);
    const workflowId = await requestFor(c, p);
    // An auditor reads; only the request's agent may hold a wait (each one is an Update on its workflow).
    const waitMs = p.role === 'agent' ? waitParam(c) : 0;
    if (waitMs === 0) return c.json(await currentState(backend, workflowId, 0));
    return c.json(await holdSlot(p, workflowId, () => currentState(backend, workflowId, waitMs)));
  });

  app.get('/v1/requests/:id/events', async (c) => {
    const p = await authenticate(c);
    const workflowId = await requestFor(c, p);
    const pollMs = options.streamPollMs ?? 1000;
    const release = holds.stream(p);
    return streamSSE(c, async (stream) => {
      try {
        await eventsLoop(stream);
      } finally {
        release();
      }
    });
    async function eventsLoop(stream: Parameters<Parameters<typeof streamSSE>[1]>[0]) {
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
        await stream.sleep(pollMs);
      }
    }
  });

  app.post('/v1/requests/:id/consume', small, async (c) => {
    const agent = await asAgent(c);
    const workflowId = await requestFor(c, agent);
    const body = parse(ConsumeBody, await jsonBody(c));
    if (body.agentId !== agent.name) throw forbidden(`Field "agentId" names ${JSON.stringify(body.agentId)}, but this credential is agent ${agent.name}.`);
    return c.json(await backend.consume(workflowId, body));
  });

  app.post('/v1/requests/:id/report', small, async (c) => {
    const agent = await asAgent(c);
    const workflowId = await requestFor(c, agent);
    await backend.report(workflowId, parse(ReportBody, await jsonBody(c)));
    return c.body(null, 204);
  });

  app.get('/v1/requests/:id/evidence', async (c) => {
    const p = await authenticate(c);
    return c.json(await backend.evidence(await requestFor(c, p)));
  });

  // --- reviewers --------------------------------------------------------------------------------
  app.post('/v1/session/challenge', small, async (c) => {
    // Logins have buckets of their own: failed API calls from the same address cannot lock reviewers out.
    // A challenge costs only its caller's address: whoever it names, it proves nothing and spends no one else's budget.
    rateLimited(`login:${clientAddress(c)}`);
    const { reviewer } = parse(ChallengeBody, await jsonBody(c));
    return c.json(await sessions.challenge(reviewer));
  });

  app.post('/v1/session', small, async (c) => {
    rateLimited(`login:${clientAddress(c)}`);
    const { challenge, proof } = parse(LoginBody, await jsonBody(c));
    let session: Awaited<ReturnType<Sessions['login']>>;
    try {
      session = await sessions.login(challenge, proof, (name) => policy.reviewerKeys.get(name), loginAudiences);
    } catch (err) {
      if (err instanceof SessionError) throw unauthenticated(err.message);
      throw err;
    }
    // The reviewer's own budget is charged only once their key has signed: no one else can spend it.
    rateLimited(`login-as:${session.reviewer}`);
    return c.json(session);
  });

  /** Ends this session on every instance: the same bearer is refused from now on. */
  app.post('/v1/session/logout', async (c) => {
    const m = /^Bearer ([\x21-\x7e]{1,4096})$/.exec(c.req.header('authorization') ?? '');
    if (!m || m[1]!.split('.').length !== 3) throw refused(c, 'Send the session to end as "Authorization: Bearer <session>".');
    let claims: SessionClaims;
    try {
      claims = await sessions.verify(m[1]!);
    } catch (err) {
      throw refused(c, err instanceof SessionError ? `${err.message} There is nothing to log out of.` : 'The credential is not valid.');
    }
    await sessions.end(claims);
    logger.info({ reviewer: claims.reviewer }, 'reviewer logged out');
    return c.body(null, 204);
  });

  app.get('/v1/reviews', async (c) => {
    const reviewer = await asReviewer(c);
    rateLimited(`list:${reviewer.role}:${reviewer.name}`, listLimiter);
    const group = c.req.query('group');
    if (group && !/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(group)) throw invalid(`Query parameter "group" must be a group name (letters, digits and . _ : @ -, at most 128), got "${group.slice(0, 50)}".`);
    const groups = reviewer.role === 'reviewer' ? reviewer.groups.filter((g) => !group || g === group) : [];
    // A cursor reopens only for this reviewer and these groups: a borrowed or stale one starts nothing.
    const scope = JSON.stringify([reviewer.name, groups]);
    const cursor = c.req.query('cursor');
    let pageToken: Uint8Array | undefined;
    if (cursor !== undefined) {
      try {
        pageToken = await sessions.readCursor(scope, cursor);
      } catch (err) {
        if (!(err instanceof SessionError)) throw err;
        throw invalid(`Query parameter "cursor" must be the nextCursor of a page of this same queue, at most an hour old (${err.message.replace(/\.$/, '').replace(/^The/, 'the')}): list again from the first page.`);
      }
    }
    const page = await backend.listPage({ groups, limit: limitParam(c), ...(pageToken ? { pageToken } : {}) });
    const nextCursor = page.nextPageToken ? await sessions.cursor(scope, page.nextPageToken) : undefined;
    return c.json({ reviewer: reviewer.name, groups, requests: page.rows, ...(nextCursor ? { nextCursor } : {}) });
  });

  /** A request this reviewer may see: routed to one of their groups. Anything else is 404, as if it did not exist. */
  const reviewFor = async (c: Context<Env>, reviewer: { name: string; groups: string[] }): Promise<ReviewView> => {
    const id = c.req.param('id') ?? '';
    // Not there and not routed to you read the same (the sentence depends only on the id's shape).
    const hidden = () => notFound(`No request ${id.slice(0, 200)} in your queue.${isPrefix(id) ? ` ${NOT_LISTED_YET}` : ''}`);
    let view: ReviewView;
    try {
      view = await backend.view(await lookUpRequest(backend, id, lookupFor({ role: 'reviewer', name: reviewer.name })));
    } catch (err) {
      if (err instanceof RequestNotFoundError || err instanceof AmbiguousRequestIdError || err instanceof WorkflowNotFoundError || err instanceof HttpProblem) throw hidden();
      throw err;
    }
    if (!maySee(view, reviewer.name, reviewer.groups)) throw hidden();
    return view;
  };

  app.get('/v1/reviews/:id', async (c) => {
    const reviewer = await asReviewer(c);
    return c.json(await reviewFor(c, reviewer as { name: string; groups: string[] }));
  });

  app.post('/v1/reviews/:id/decisions', large, async (c) => {
    const reviewer = await asReviewer(c);
    const raw = (await jsonBody(c)) as { reviewer?: unknown };
    if (raw.reviewer !== undefined && raw.reviewer !== reviewer.name) {
      throw forbidden(`Field "reviewer" names ${JSON.stringify(String(raw.reviewer).slice(0, 128))}, but you are signed in as ${reviewer.name}.`);
    }
    const decision = parse(DecisionBody, { ...raw, reviewer: reviewer.name });
    if (!decision.signature) throw unauthenticated('Field "signature" is required: every decision is signed by the reviewer\'s registered key.');
    if (!decision.versionDigest) throw invalid('Field "versionDigest" is required: name the version you were shown.');
    const view = await reviewFor(c, reviewer as { name: string; groups: string[] });
    if (!('passkey' in decision.signature) && !policy.reviewerKeys.has(reviewer.name)) throw unauthenticated(`${reviewer.name} has no key in the directory: sign the decision with your passkey.`);
    // A run from before the front door checks no passkey: it takes none.
    if ('passkey' in decision.signature && (!view.runId || !view.policy)) throw invalid('This request was made before passkey decisions: decide on it from the CLI.');
    // Checked here for a quick, clear answer; the workflow checks it again against its own directory snapshot.
    if (view.runId && view.policy) {
      const statement = decisionStatement(statementTarget(view, { versionDigest: decision.versionDigest, policyDigest: view.policy.policyDigest }), decision, decision.signature.signedAt);
      const signature = decision.signature;
      const credentials = { key: policy.reviewerKeys.get(reviewer.name), passkeys: policy.reviewerPasskeys.get(reviewer.name) ?? [], webauthn: policy.webauthn };
      const checked = verifyDecision(statement, signature, credentials);
      if (!checked.ok) throw unauthenticated(signatureRefused(checked, reviewer.name));
      if ('passkey' in signature && !(await signCounts.advance(signature.passkey.credentialId, checked.signCount!))) {
        logger.warn({ reviewer: reviewer.name, credentialId: signature.passkey.credentialId.slice(0, 16) }, 'passkey signature counter did not move forward: a cloned authenticator or a replay');
        throw unauthenticated(CLONED_PASSKEY);
      }
    }
    return c.json(await backend.decide(view.workflowId, decision));
  });

  /** The statement a passkey signs for a decision (the inbox): the server words it, the reviewer's authenticator signs its SHA-256. */
  app.post('/v1/reviews/:id/statement', large, async (c) => {
    const reviewer = await asReviewer(c);
    const raw = (await jsonBody(c)) as { reviewer?: unknown; signature?: unknown };
    if (raw.signature !== undefined) throw invalid('Field "signature" does not belong here: this call returns what to sign.');
    if (raw.reviewer !== undefined && raw.reviewer !== reviewer.name) throw forbidden(`Field "reviewer" names ${JSON.stringify(String(raw.reviewer).slice(0, 128))}, but you are signed in as ${reviewer.name}.`);
    const decision = parse(DecisionBody, { ...raw, reviewer: reviewer.name });
    if (!decision.versionDigest) throw invalid('Field "versionDigest" is required: name the version you were shown.');
    const view = await reviewFor(c, reviewer as { name: string; groups: string[] });
    if (!view.runId || !view.policy) throw invalid('This request was made before passkey decisions: decide on it from the CLI.');
    const edit = decision.decision === 'approve' ? decision.editedPayload : decision.decision === 'request_changes' ? decision.proposedPayload : undefined;
    if (edit !== undefined) catalogCheck(view, edit);
    const passkeys = policy.reviewerPasskeys.get(reviewer.name) ?? [];
    if (!passkeys.length || !policy.webauthn) throw unauthenticated(`${reviewer.name} has no passkey in the directory: decide from the CLI, or enrol one (countersign reviewers invite).`);
    const signedAt = new Date().toISOString();
    const statement = decisionStatement(statementTarget(view, { versionDigest: decision.versionDigest, policyDigest: view.policy.policyDigest }), decision, signedAt);
    return c.json({
      statement,
      challenge: bytesToBase64Url(decisionChallenge(statement)),
      signedAt,
      passkey: { rpId: policy.webauthn.rpId, allowCredentials: passkeys.map((p) => ({ id: p.credentialId, type: 'public-key' })) },
    });
  });

  /** An edited or proposed payload checked against the action's catalog schema, before anything is signed. */
  app.post('/v1/reviews/:id/validate', large, async (c) => {
    const reviewer = await asReviewer(c);
    const { payload } = parse(ValidateBody, await jsonBody(c));
    const view = await reviewFor(c, reviewer as { name: string; groups: string[] });
    catalogCheck(view, payload);
    return c.json({ ok: true });
  });

  /** The payload as the workflow will judge an edit: a JSON object within the limits, valid for the action's catalog entry. */
  const catalogCheck = (view: ReviewView, payload: unknown) => {
    const parsed = Payload.safeParse(payload);
    if (!parsed.success) throw invalid(describeIssues(parsed.error).replace(/^Field "/, 'Field "payload.').replace(/^Field "payload\.payload/, 'Field "payload'));
    const checked = checkCatalog(policy.catalog, { ...view.request, payload: parsed.data } as ActionRequest, policy.environment);
    if (!checked.ok) throw invalid(checked.message);
  };

  registerInbox(app, {
    policy,
    sessions,
    enrollments: options.enrollments,
    logger,
    secure,
    rateLimited,
    clientAddress,
    signCounts,
    jsonBody,
    parse: parse as never,
    limit: bodyUpTo(64 * 1024),
  });

  return app;
}

/** The front door's sentence for a decision whose signature is refused. */
function signatureRefused(checked: Extract<DecisionCheck, { ok: false }>, reviewer: string): string {
  switch (checked.why) {
    case 'unknown-passkey':
      return `The passkey that signed this decision is not one the directory registers for ${reviewer}.`;
    case 'no-relying-party':
      return 'The directory names no webauthn relying party, so no passkey assertion can be checked.';
    case 'assertion-refused':
      return `The passkey assertion is refused: ${checked.reason}.`;
    case 'no-key':
    case 'bad-signature':
      return `The signature does not verify against ${reviewer}'s registered key for this request and version.`;
  }
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

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


