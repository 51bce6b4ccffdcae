/**
 * The front door (DESIGN §0), attacked the way a hostile agent or an overreaching reviewer would:
 * raw HTTP with whatever credential they hold, bodies of their choosing, replayed signatures.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { SignJWT } from 'jose';
import { openToken } from '../client/agent-keys';
import { actionDigest, approvalWorkflowId } from '../common/digest';
import type { ReviewerDecision } from '../common/inputs';
import type { SubmitState } from '../common/views';
import { TrustedProxies } from '../server/forwarded';
import { startServer, type RunningServer } from '../server/main';
import { eventually } from './support/eventually';
import { signedDecision } from './support/review';
import { action, useStack } from './support/stack';
import fc from 'fast-check';
import { InvalidRequestError } from '../client/sdk';
import { LONE_SURROGATE, runs, SERVER_TIMEOUT_MS } from './support/arbitraries';
import { mutatedRequest, parseOutcome } from './support/request-mutations';
import { ed25519KeyPair } from '../crypto/keys';
import { x25519KeyPair } from '../crypto/tokens';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: support, sla: 1h, tokenTtl: 5m }
groups:
  support: { members: [alice, bob] }
  finance: { members: [dave, erin] }
rules:
  - id: refund-small
    match: { action: payments.refund }
    when: "payload.amount <= 100"
    decision: allow
  - id: refund-support
    match: { action: payments.refund }
    when: "payload.amount > 100 && payload.amount <= 1000"
    decision: review
    reviewers: support
  - id: refund-finance
    match: { action: payments.refund }
    when: "payload.amount > 1000"
    decision: review
    reviewers: finance
    approvals: 2
actions:
  crm.updateEmail:
    payload:
      type: object
      required: [customer, email]
      additionalProperties: false
      properties:
        customer: { type: string, pattern: "^C-[0-9]+$" }
        email: { type: string, maxLength: 254 }
`;

const ctx = useStack(POLICY);

interface Answer {
  status: number;
  type: string;
  body: Record<string, unknown>;
  headers: Headers;
}

/** One raw HTTP call, as curl would make it. */
async function call(method: string, path: string, options: { bearer?: string; body?: unknown; raw?: string; headers?: Record<string, string>; base?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(options.bearer ? { authorization: `Bearer ${options.bearer}` } : {}), ...options.headers };
  if (options.body !== undefined || options.raw !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(new URL(path, options.base ?? ctx.stack.url), { method, headers, body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)) });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

const agentKey = (name = 'support-bot') => ctx.stack.agentKeys.get(name)!;
/** A new X25519 key pair: the agent's side of sealed token delivery. */
function x25519() {
  const { privateKey, publicKey } = x25519KeyPair();
  return { privateKey, publicKey: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64') };
}

/** A request submitted through the server by `agent`; returns its state. */
async function submitted(overrides: Record<string, unknown> = {}, agent = 'support-bot', wait = '1s'): Promise<SubmitState> {
  const res = await call('POST', `/v1/requests?wait=${wait}`, { bearer: agentKey(agent), body: { ...action({ agentId: agent, ...overrides }), agentKey: x25519().publicKey } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as unknown as SubmitState;
}

async function session(name: string): Promise<string> {
  const r = await ctx.stack.reviewer(name);
  return (r as unknown as { bearer(): Promise<string> }).bearer();
}

function assertProblem(res: Answer, status: number, code?: string, detail?: RegExp) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.match(res.type, /^application\/problem\+json/);
  assert.equal(res.body.status, status);
  if (code) assert.equal(res.body.code, code);
  if (detail) assert.match(String(res.body.detail), detail);
}

describe('agents, holding only their own key', () => {
  test('no credential, a made-up key, or a key for no one: 401, with problem details', async () => {
    assertProblem(await call('GET', '/v1/requests'), 401, 'UNAUTHENTICATED', /Authorization: Bearer/);
    assertProblem(await call('GET', '/v1/requests', { bearer: `cs_agent_${randomBytes(32).toString('base64url')}` }), 401, 'UNAUTHENTICATED');
    assertProblem(await call('GET', '/v1/requests', { bearer: 'not-a-key' }), 401, 'UNAUTHENTICATED');
    // An agent key presented as another kind is refused: the kind is part of the credential.
    assertProblem(await call('GET', '/v1/requests', { bearer: agentKey().replace('cs_agent_', 'cs_gateway_') }), 401);
  });

  test('every reviewer endpoint refuses an agent key, and an agent cannot approve its own request', async () => {
    const state = await submitted({ payload: { amount: 200, currency: 'USD' } });
    assert.equal(state.status, 'pending');
    const view = await ctx.stack.ops.view(state.workflowId);
    assertProblem(await call('GET', '/v1/reviews', { bearer: agentKey() }), 403, 'FORBIDDEN', /for reviewers/);
    assertProblem(await call('GET', `/v1/reviews/${state.requestId}`, { bearer: agentKey() }), 403);
    const approve = { decision: 'approve', reviewer: 'alice', versionDigest: view.currentDigest, signature: { signedAt: new Date().toISOString(), value: `${'A'.repeat(86)}==` } };
    assertProblem(await call('POST', `/v1/reviews/${state.requestId}/decisions`, { bearer: agentKey(), body: approve }), 403);
    // Nor can it log in as a reviewer: it holds no reviewer's key.
    const { challenge } = (await call('POST', '/v1/session/challenge', { body: { reviewer: 'alice' } })).body as { challenge: string; nonce: string };
    const { privateKey } = ed25519KeyPair();
    const proof = await new SignJWT({ nonce: 'x' }).setProtectedHeader({ alg: 'EdDSA' }).setSubject('alice').setAudience(new URL(ctx.stack.url).origin).setIssuedAt().setExpirationTime('1m').sign(privateKey);
    assertProblem(await call('POST', '/v1/session', { body: { challenge, proof } }), 401, 'UNAUTHENTICATED');
    assert.equal((await ctx.stack.ops.view(state.workflowId)).approvals.length, 0);
  });

  test('submitting as another agent is refused and starts nothing', async () => {
    const body = { ...action({ agentId: 'ops-bot' }), agentKey: x25519().publicKey };
    assertProblem(await call('POST', '/v1/requests', { bearer: agentKey('support-bot'), body }), 403, 'FORBIDDEN', /agentId.*support-bot/);
    const { workflowId } = (await import('../common/digest')).approvalWorkflowId(body as never);
    await assert.rejects(ctx.stack.ops.status(workflowId), /not found/i);
  });

  test('another agent\'s request is not found, by request id or workflow id, for every operation', async () => {
    const theirs = await submitted({ payload: { amount: 50, currency: 'USD' } }, 'ops-bot');
    assert.equal(theirs.status, 'approved');
    for (const id of [theirs.requestId, theirs.workflowId]) {
      assertProblem(await call('GET', `/v1/requests/${id}`, { bearer: agentKey() }), 404);
      assertProblem(await call('GET', `/v1/requests/${id}/evidence`, { bearer: agentKey() }), 404);
      assertProblem(await call('GET', `/v1/requests/${id}/events`, { bearer: agentKey() }), 404);
      assertProblem(await call('POST', `/v1/requests/${id}/consume`, { bearer: agentKey(), body: { token: 'x', agentId: 'support-bot', taskId: 't', actionDigest: 'a'.repeat(64) } }), 404);
      assertProblem(await call('POST', `/v1/requests/${id}/report`, { bearer: agentKey(), body: { status: 'succeeded' } }), 404);
    }
    const listed = (await call('GET', '/v1/requests', { bearer: agentKey() })).body.requests as { agent: string }[];
    assert.ok(listed.every((r) => r.agent === 'support-bot'));
    // Its owner reads it.
    assert.equal((await call('GET', `/v1/requests/${theirs.requestId}`, { bearer: agentKey('ops-bot') })).body.status, 'approved');
  });

  test('bodies too large get 413, and nothing is started', async () => {
    const huge = { ...action(), payload: { blob: 'x'.repeat(1_100_000) }, agentKey: x25519().publicKey };
    assertProblem(await call('POST', '/v1/requests', { bearer: agentKey(), body: huge }), 413, 'BODY_TOO_LARGE');
    assertProblem(await call('POST', '/v1/session/challenge', { body: { reviewer: 'a'.repeat(20_000) } }), 413);
  });

  test('bad input: one sentence naming the field (422), duplicate keys refused (400), non-JSON refused (415)', async () => {
    const bad = await call('POST', '/v1/requests', { bearer: agentKey(), body: { ...action(), summary: '', agentKey: x25519().publicKey } });
    assertProblem(bad, 422, 'INVALID_REQUEST', /summary/);
    assertProblem(await call('POST', '/v1/requests', { bearer: agentKey(), body: { ...action() } }), 422, 'INVALID_REQUEST', /agentKey/);
    const dup = `{"taskId":"t1","taskId":"t2","action":"payments.refund","summary":"s","resource":{"type":"customer","id":"C"},"payload":{},"agentKey":"${x25519().publicKey}"}`;
    assertProblem(await call('POST', '/v1/requests', { bearer: agentKey(), raw: dup }), 400, 'INVALID_REQUEST', /duplicate/i);
    assertProblem(await call('POST', '/v1/requests', { bearer: agentKey(), raw: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415);
    assertProblem(await call('GET', '/v1/requests/0123456789abcdef?wait=forever', { bearer: agentKey() }), 404);
  });

  test('MCP context is believed only from a gateway credential', async () => {
    const context = { 'mcp.server': 'filesystem', 'mcp.readOnlyHint': 'true' };
    const body = { ...action({ action: 'mcp.filesystem.read_file', resource: { type: 'dataset', id: 'fs:/x' }, payload: { path: '/x' }, context }), agentKey: x25519().publicKey };
    assertProblem(await call('POST', '/v1/requests', { bearer: agentKey(), body: { ...body, agentId: 'support-bot' } }), 403, 'FORBIDDEN', /mcp\.server.*gateway/);
    const { context: _c, ...noContext } = body as Record<string, unknown>;
    assertProblem(await call('POST', '/v1/requests', { bearer: agentKey(), body: { ...noContext, agentId: 'support-bot' } }), 403, 'FORBIDDEN', /MCP tool call, which only a gateway/);
    const fromGateway = await call('POST', '/v1/requests', { bearer: agentKey('gw'), body: { ...body, agentId: 'gw' } });
    assert.equal(fromGateway.status, 200, JSON.stringify(fromGateway.body));
  });

  test('around the server, straight to Temporal: a stranger\'s request and MCP context from a non-gateway are denied before policy runs', async () => {
    const { approvalWorkflowId } = await import('../common/digest');
    const start = async (request: Record<string, unknown>) => {
      const ids = approvalWorkflowId(request as never);
      const handle = await ctx.env.client.workflow.start('approvalWorkflow', { taskQueue: ctx.stack.taskQueue, workflowId: ids.workflowId, args: [ctx.stack.vouch({ request, requestId: ids.requestId, actionDigest: ids.actionDigest }, ids.workflowId)] });
      return (await handle.result()) as { status: string; code?: string; message?: string; token?: unknown };
    };
    const stranger = await start(action({ agentId: 'mallory-bot', payload: { amount: 20, currency: 'USD' } }));
    assert.equal(stranger.status, 'denied');
    assert.equal(stranger.code, 'INVALID_REQUEST');
    assert.match(stranger.message ?? '', /"mallory-bot" is not an agent in the policy's directory/);
    assert.equal(stranger.token, undefined);
    const context = { 'mcp.readOnlyHint': 'true' };
    const hinted = await start(action({ agentId: 'support-bot', action: 'mcp.filesystem.write_file', resource: { type: 'dataset', id: 'fs:/x' }, payload: { path: '/x' }, context }));
    assert.equal(hinted.status, 'denied');
    assert.match(hinted.message ?? '', /MCP context is believed only from a gateway, and support-bot is not one/);
    const toolCall = await start(action({ agentId: 'support-bot', action: 'mcp.filesystem.write_file', resource: { type: 'dataset', id: 'fs:/y' }, payload: { path: '/y' } }));
    assert.equal(toolCall.status, 'denied');
    assert.match(toolCall.message ?? '', /is an MCP tool call, which only a gateway submits/);
  });

  test('Host and Origin are checked: a rebinding page or another site is refused', async () => {
    // fetch will not send another Host: a raw request does.
    const url = new URL('/v1/requests', ctx.stack.url);
    const rebinding = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, headers: { host: 'evil.example', authorization: `Bearer ${agentKey()}` } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(rebinding.status, 421);
    assert.equal(JSON.parse(rebinding.body).code, 'HOST_NOT_ALLOWED');
    assertProblem(await call('GET', '/v1/requests', { bearer: agentKey(), headers: { origin: 'https://evil.example' } }), 403);
  });
});

describe('the front door refuses what it can judge before anything starts', () => {
  /** The workflow id the server would have derived for `body`, and that no workflow has it. */
  async function assertNothingStarted(body: Record<string, unknown>, agent = 'support-bot') {
    const { workflowId } = approvalWorkflowId({ ...body, agentId: agent } as never);
    await assert.rejects(ctx.env.client.workflow.getHandle(workflowId).describe(), (err: unknown) => err instanceof WorkflowNotFoundError, `${workflowId} was started`);
  }

  test('D3: a payload its catalog schema refuses is a 422 naming the field, and no workflow is started; the same request made valid is reviewed', async () => {
    const update = (payload: Record<string, unknown>) => ({ ...action({ action: 'crm.updateEmail', resource: { type: 'customer', id: 'C-42' }, payload }), agentKey: x25519().publicKey });
    const wrongType = update({ customer: 'C-42', email: 42 });
    assertProblem(await call('POST', '/v1/requests?wait=1s', { bearer: agentKey(), body: wrongType }), 422, 'INVALID_REQUEST', /^Field "payload\.email" must be string \(type, crm\.updateEmail catalog schema\)\.$/);
    await assertNothingStarted(wrongType);
    const extra = update({ customer: 'C-42', email: 'a@example.com', cluster: 'prod' });
    assertProblem(await call('POST', '/v1/requests', { bearer: agentKey(), body: extra }), 422, 'INVALID_REQUEST', /^Field "payload\.cluster"/);
    await assertNothingStarted(extra);
    const valid = await call('POST', '/v1/requests?wait=1s', { bearer: agentKey(), body: update({ customer: 'C-42', email: 'a@example.com' }) });
    assert.equal(valid.status, 200, JSON.stringify(valid.body));
    assert.equal(valid.body.status, 'pending');
  });

  test('the cap on an agent\'s open requests counts what another instance started once visibility lists it: 409, the sentence, nothing started', async () => {
    const { loadPolicyFile } = await import('../policy/load');
    const capped = await startServer({ backend: ctx.stack.ops, policy: loadPolicyFile(ctx.stack.policyFile), logger: (await import('../config/logger')).createLogger({ level: 'silent' }), sessionSecret: randomBytes(32), listen: '127.0.0.1:0', maxOpenRequestsPerAgent: 2 });
    try {
      const agent = 'release-bot';
      // Two requests waiting for support, started through the stack's own server (another instance).
      for (const amount of [200, 300]) assert.equal((await submitted({ payload: { amount, currency: 'USD' } }, agent)).status, 'pending');
      await eventually(async () => assert.equal(await ctx.stack.ops.countOpen(agent), 2), 'both listed by visibility');
      const body = { ...action({ agentId: agent, payload: { amount: 400, currency: 'USD' } }), agentKey: x25519().publicKey };
      assertProblem(await call('POST', '/v1/requests?wait=1s', { base: capped.url, bearer: agentKey(agent), body }), 409, 'TOO_MANY_OPEN_REQUESTS', /^Agent release-bot already has 2 requests waiting for a reviewer, the most it may have open at once: nothing was started; submit again once one is decided\.$/);
      await assertNothingStarted(body, agent);
      // Another agent is not held back by release-bot's requests.
      assert.equal((await call('POST', '/v1/requests', { base: capped.url, bearer: agentKey('sales-bot'), body: { ...action({ agentId: 'sales-bot', payload: { amount: 250, currency: 'USD' } }), agentKey: x25519().publicKey } })).status, 200);
    } finally {
      await capped.close();
    }
  });
});

describe('the whole agent path with curl-like calls and the published OpenAPI document', () => {
  test('the OpenAPI 3.1 document describes every operation and the schemas the server validates with', async () => {
    const doc = (await call('GET', '/openapi.json')).body as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
    assert.equal(doc.openapi, '3.1.0');
    for (const path of ['/v1/requests', '/v1/requests/{id}', '/v1/requests/{id}/consume', '/v1/requests/{id}/report', '/v1/requests/{id}/evidence', '/v1/requests/{id}/events', '/v1/session', '/v1/reviews/{id}/decisions']) {
      assert.ok(doc.paths[path], `documents ${path}`);
    }
    assert.ok(doc.components.schemas.SubmitBody?.properties?.agentKey, 'SubmitBody from the zod schema');
  });

  test('submit, long-poll, open the sealed token, consume, report, read the evidence', async () => {
    const mine = x25519();
    const request = action({ payload: { amount: 300, currency: 'USD', order: 'O-1' } });
    const first = await call('POST', '/v1/requests', { bearer: agentKey(), body: { ...request, agentKey: mine.publicKey } });
    assert.equal(first.status, 200);
    const state = first.body as unknown as SubmitState;
    assert.ok(['evaluating', 'pending'].includes(state.status), state.status);
    // Meanwhile a support reviewer approves; the agent long-polls for it.
    const decision = await signedDecision(ctx.stack, state.workflowId, { decision: 'approve', reviewer: 'alice' }).catch(async () => {
      await new Promise((r) => setTimeout(r, 500));
      return signedDecision(ctx.stack, state.workflowId, { decision: 'approve', reviewer: 'alice' });
    });
    const alice = await session('alice');
    const decided = await call('POST', `/v1/reviews/${state.requestId}/decisions`, { bearer: alice, body: decision });
    assert.equal(decided.status, 200, JSON.stringify(decided.body));
    const waited = (await call('GET', `/v1/requests/${state.requestId}?wait=20s`, { bearer: agentKey() })).body as unknown as SubmitState;
    assert.equal(waited.status, 'approved');
    const grant = waited.outcome!.token!;
    const token = openToken(mine, grant.sealed!, state.workflowId, grant.tokenId);
    const digest = actionDigest(request as never);
    const consumed = await call('POST', `/v1/requests/${state.requestId}/consume`, { bearer: agentKey(), body: { token, agentId: 'support-bot', taskId: request.taskId, actionDigest: digest } });
    assert.equal(consumed.status, 200, JSON.stringify(consumed.body));
    assert.ok((consumed.body as { signature?: string }).signature);
    const again = await call('POST', `/v1/requests/${state.requestId}/consume`, { bearer: agentKey(), body: { token, agentId: 'support-bot', taskId: request.taskId, actionDigest: digest } });
    assertProblem(again, 409, 'TOKEN_CONSUMED');
    assert.equal((await call('POST', `/v1/requests/${state.requestId}/report`, { bearer: agentKey(), body: { status: 'succeeded' } })).status, 204);
    const final = (await call('GET', `/v1/requests/${state.requestId}?wait=20s`, { bearer: agentKey() })).body as unknown as SubmitState;
    assert.equal(final.status, 'executed');
    // The outcome is known before the run has sealed its evidence and ended: the sealed bundle is there once the state says final.
    await eventually(async () => assert.equal(((await call('GET', `/v1/requests/${state.requestId}`, { bearer: agentKey() })).body as unknown as SubmitState).final, true), 'the request has ended');
    const evidence = (await call('GET', `/v1/requests/${state.requestId}/evidence`, { bearer: agentKey() })).body as { sealed: boolean; bundle: { events: { type: string; data?: { directoryDigest?: string } }[] } };
    assert.equal(evidence.sealed, true);
    const decisionEvent = evidence.bundle.events.find((e) => e.type === 'approved');
    assert.ok(decisionEvent?.data?.directoryDigest, 'the directory digest is recorded with the decision');
    // The auditor exports any request's evidence, and can do nothing else.
    const auditor = ctx.stack.auditorKeys.get('audrey')!;
    assert.equal((await call('GET', `/v1/requests/${state.requestId}/evidence`, { bearer: auditor })).status, 200);
    assertProblem(await call('POST', '/v1/requests', { bearer: auditor, body: { ...action(), agentKey: mine.publicKey } }), 403);
    assertProblem(await call('GET', '/v1/reviews', { bearer: auditor }), 403);
  });

  test('Server-Sent Events: a status event per change, then the outcome', async () => {
    const state = await submitted({ payload: { amount: 250, currency: 'USD' } });
    const res = await fetch(new URL(`/v1/requests/${state.requestId}/events`, ctx.stack.url), { headers: { authorization: `Bearer ${agentKey()}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const read = async (until: RegExp) => {
      while (!until.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
      }
    };
    await read(/event: status\ndata: .*"pending"/);
    await ctx.stack.cs.decide(state.workflowId, { decision: 'deny', reviewer: 'bob', reasonCode: 'NOT_NEEDED', message: 'No.' });
    await read(/event: outcome\ndata: .*\n/);
    const outcome = JSON.parse(/event: outcome\ndata: (.*)\n/.exec(text)![1]!) as SubmitState;
    assert.equal(outcome.status, 'denied');
    assert.equal(outcome.outcome?.code, 'REVIEWER_DENIED');
  });
});

describe('reviewers, acting beyond their rights', () => {
  test('a support reviewer cannot see or decide finance\'s requests: 404, and the queue leaks nothing', async () => {
    const finance = await submitted({ payload: { amount: 5000, currency: 'USD' } });
    assert.equal(finance.status, 'pending');
    const alice = await session('alice');
    assertProblem(await call('GET', `/v1/reviews/${finance.requestId}`, { bearer: alice }), 404);
    assertProblem(await call('GET', `/v1/reviews/${finance.workflowId}`, { bearer: alice }), 404);
    const signed = await signedDecision(ctx.stack, finance.workflowId, { decision: 'approve', reviewer: 'alice' });
    assertProblem(await call('POST', `/v1/reviews/${finance.requestId}/decisions`, { bearer: alice, body: signed }), 404);
    const queue = (await call('GET', '/v1/reviews', { bearer: alice })).body as { groups: string[]; requests: { requestId: string }[] };
    assert.deepEqual(queue.groups, ['support']);
    assert.ok(!queue.requests.some((r) => r.requestId === finance.requestId));
    const dave = await session('dave');
    assert.equal((await call('GET', `/v1/reviews/${finance.requestId}`, { bearer: dave })).status, 200);
    assert.equal((await ctx.stack.ops.view(finance.workflowId)).approvals.length, 0);
  });

  test('the queue comes a page at a time: every request once across pages, and a cursor cannot widen whose requests are listed', async () => {
    const mine = await Promise.all([5001, 5002, 5003].map((amount) => submitted({ payload: { amount, currency: 'USD' } })));
    const dave = await session('dave');
    type Page = { groups: string[]; requests: { requestId: string; groups: string[] }[]; nextCursor?: string };
    const readAll = async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const res = await call('GET', `/v1/reviews?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { bearer: dave });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const page = res.body as unknown as Page;
        assert.ok(page.requests.length <= 2, `a page of ${page.requests.length} rows for limit=2`);
        if (page.nextCursor) assert.equal(page.requests.length, 2, 'only a full page says more wait');
        seen.push(...page.requests.map((r) => r.requestId));
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 50);
      return { seen, pages };
    };
    const { seen, pages } = await eventually(async () => {
      const all = await readAll();
      for (const m of mine) assert.ok(all.seen.includes(m.requestId), `${m.requestId} is listed`);
      return all;
    }, 'all three listed across pages');
    assert.ok(pages >= 2, `three requests at two a page take more than one page (${pages})`);
    assert.equal(new Set(seen).size, seen.length, 'no request on two pages');

    // A cursor is sealed to the reviewer and groups it was made for: alice (support) replaying dave's
    // is refused, and so is dave's own cursor for another group or with one character changed.
    const first = (await call('GET', '/v1/reviews?limit=1', { bearer: dave })).body as unknown as Page;
    assert.ok(first.nextCursor, 'a page of one, with more waiting, has a cursor');
    const alice = await session('alice');
    const borrowed = await call('GET', `/v1/reviews?limit=500&cursor=${first.nextCursor}`, { bearer: alice });
    assertProblem(borrowed, 422, 'INVALID_REQUEST', /"cursor" must be the nextCursor of a page of this same queue/);
    assert.ok(!JSON.stringify(borrowed.body).includes(mine[0]!.requestId), 'nothing of finance\'s queue in the refusal');
    assertProblem(await call('GET', `/v1/reviews?group=support&cursor=${first.nextCursor}`, { bearer: dave }), 422, 'INVALID_REQUEST', /"cursor"/);
    const flipped = first.nextCursor.slice(0, -2) + (first.nextCursor.slice(-2, -1) === 'A' ? 'B' : 'A') + first.nextCursor.slice(-1);
    assertProblem(await call('GET', `/v1/reviews?cursor=${flipped}`, { bearer: dave }), 422, 'INVALID_REQUEST', /"cursor"/);
    assert.equal((await call('GET', `/v1/reviews?cursor=${first.nextCursor}`, { bearer: dave })).status, 200, 'the genuine cursor reads on');
  });

  test('a bad page size or cursor gets one sentence naming it (422)', async () => {
    const dave = await session('dave');
    for (const limit of ['0', '501', 'ten', '-1', '1e2']) assertProblem(await call('GET', `/v1/reviews?limit=${limit}`, { bearer: dave }), 422, 'INVALID_REQUEST', /"limit" must be a whole number from 1 to 500/);
    for (const group of ['a b', '"x" OR 1=1', 'g'.repeat(200)]) assertProblem(await call('GET', `/v1/reviews?group=${encodeURIComponent(group)}`, { bearer: dave }), 422, 'INVALID_REQUEST', /Query parameter "group" must be a group name/);
    const cursorProblem = /Query parameter "cursor" must be the nextCursor of a page of this same queue/;
    assertProblem(await call('GET', '/v1/reviews?cursor=not%20base64!', { bearer: dave }), 422, 'INVALID_REQUEST', cursorProblem);
    assertProblem(await call('GET', `/v1/reviews?cursor=${'A'.repeat(3000)}`, { bearer: dave }), 422, 'INVALID_REQUEST', cursorProblem);
    // Temporal's own page token, unsealed (what a caller who guessed the format would send): refused before Temporal sees it.
    const forged = Buffer.from('{"CloseTime":"x","StartTime":1,"RunID":{}}').toString('base64url');
    assertProblem(await call('GET', `/v1/reviews?cursor=${forged}`, { bearer: dave }), 422, 'INVALID_REQUEST', cursorProblem);
  });

  test('one reviewer cannot approve twice, nor as someone else; a second reviewer completes the rule', async () => {
    const finance = await submitted({ payload: { amount: 1200, currency: 'USD' } });
    const dave = await session('dave');
    const daves = await signedDecision(ctx.stack, finance.workflowId, { decision: 'approve', reviewer: 'dave' });
    assert.equal((await call('POST', `/v1/reviews/${finance.requestId}/decisions`, { bearer: dave, body: daves })).status, 200);
    // The same signed decision again (a replay), and a fresh one: dave counts once.
    assertProblem(await call('POST', `/v1/reviews/${finance.requestId}/decisions`, { bearer: dave, body: daves }), 409, 'ALREADY_DECIDED');
    const fresh = await signedDecision(ctx.stack, finance.workflowId, { decision: 'approve', reviewer: 'dave' });
    assertProblem(await call('POST', `/v1/reviews/${finance.requestId}/decisions`, { bearer: dave, body: fresh }), 409, 'ALREADY_DECIDED');
    // dave naming erin in the body: his session is his identity.
    const asErin = { ...fresh, reviewer: 'erin' };
    assertProblem(await call('POST', `/v1/reviews/${finance.requestId}/decisions`, { bearer: dave, body: asErin }), 403, 'FORBIDDEN', /signed in as dave/);
    assert.equal((await ctx.stack.ops.view(finance.workflowId)).status, 'pending');
    const erin = await session('erin');
    const erins = await signedDecision(ctx.stack, finance.workflowId, { decision: 'approve', reviewer: 'erin' });
    const done = await call('POST', `/v1/reviews/${finance.requestId}/decisions`, { bearer: erin, body: erins });
    assert.equal(done.status, 200);
    assert.equal(done.body.status, 'approved');
  });

  test('unsigned, forged and replayed decision signatures are refused, through the server and around it', async () => {
    const first = await submitted({ payload: { amount: 400, currency: 'USD' } });
    const second = await submitted({ payload: { amount: 410, currency: 'USD' } });
    const bob = await session('bob');
    const view = await ctx.stack.ops.view(first.workflowId);
    const unsigned: ReviewerDecision = { decision: 'approve', reviewer: 'bob', versionDigest: view.currentDigest };
    assertProblem(await call('POST', `/v1/reviews/${first.requestId}/decisions`, { bearer: bob, body: unsigned }), 401, 'UNAUTHENTICATED', /signature/);
    // Forged: signed by a key that is not bob's.
    const { privateKey } = ed25519KeyPair();
    const forgedKeyFile = join(ctx.stack.dir, 'forged.pem');
    (await import('node:fs')).writeFileSync(forgedKeyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const forged = await signedDecision(ctx.stack, first.workflowId, { decision: 'approve', reviewer: 'bob' }, forgedKeyFile);
    assertProblem(await call('POST', `/v1/reviews/${first.requestId}/decisions`, { bearer: bob, body: forged }), 401, 'UNAUTHENTICATED', /does not verify/);
    // Replayed: bob's genuine signature for the first request, sent for the second.
    const genuine = await signedDecision(ctx.stack, first.workflowId, { decision: 'approve', reviewer: 'bob' });
    const secondView = await ctx.stack.ops.view(second.workflowId);
    assertProblem(await call('POST', `/v1/reviews/${second.requestId}/decisions`, { bearer: bob, body: { ...genuine, versionDigest: secondView.currentDigest } }), 401, 'UNAUTHENTICATED');
    // Around the server, straight to Temporal: the workflow refuses the same three itself.
    const forgedForSecond = await signedDecision(ctx.stack, second.workflowId, { decision: 'approve', reviewer: 'bob' }, forgedKeyFile);
    for (const d of [{ ...unsigned, versionDigest: secondView.currentDigest }, forgedForSecond, { ...genuine, versionDigest: secondView.currentDigest }]) {
      await assert.rejects(ctx.stack.ops.decide(second.workflowId, d), (err: Error & { code?: string }) => err.code === 'UNAUTHENTICATED');
    }
    assert.equal((await ctx.stack.ops.view(first.workflowId)).approvals.length, 0);
    assert.equal((await ctx.stack.ops.view(second.workflowId)).approvals.length, 0);
  });
});

describe('sessions across instances, expiry and rate limits', () => {
  const secret = randomBytes(32);
  let a: RunningServer;
  let b: RunningServer;
  let limited: RunningServer;
  let listLimited: RunningServer;
  before(async () => {
    const common = { backend: ctx.stack.ops, policy: (await import('../policy/load')).loadPolicyFile(ctx.stack.policyFile), logger: (await import('../config/logger')).createLogger({ level: 'silent' }), sessionSecret: secret, listen: '127.0.0.1:0' };
    a = await startServer({ ...common, sessionTtlSeconds: 2 });
    b = await startServer(common);
    limited = await startServer({ ...common, sessionSecret: randomBytes(32), rateLimit: { perSecond: 0.2, burst: 3 } });
    listLimited = await startServer({ ...common, sessionSecret: randomBytes(32), listRateLimit: { perSecond: 0.2, burst: 2 } });
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close(), limited?.close(), listLimited?.close()]);
  });

  test('listings, which cost the database, have a smaller budget of their own per credential: 429, while other calls go on', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call('GET', '/v1/requests', { base: listLimited.url, bearer: agentKey('bot') })).status);
    assert.deepEqual(statuses, [200, 200, 429, 429]);
    const over = await call('GET', '/v1/requests', { base: listLimited.url, bearer: agentKey('bot') });
    assertProblem(over, 429, 'RATE_LIMITED', /Too many requests/);
    assert.ok(Number(over.headers.get('retry-after')) >= 1);
    assert.equal((await call('GET', '/v1/whoami', { base: listLimited.url, bearer: agentKey('bot') })).status, 200, 'a call that lists nothing is not held back');
    assert.equal((await call('GET', '/v1/requests', { base: listLimited.url, bearer: agentKey('bot-1') })).status, 200, 'another credential has its own budget');
  });

  async function loginAt(base: string, name: string): Promise<string> {
    const { challenge, nonce } = (await call('POST', '/v1/session/challenge', { base, body: { reviewer: name } })).body as { challenge: string; nonce: string };
    const key = createPrivateKey(readFileSync(ctx.stack.reviewerKeys.get(name)!));
    const proof = await new SignJWT({ nonce }).setProtectedHeader({ alg: 'EdDSA' }).setSubject(name).setAudience(new URL(base).origin).setIssuedAt().setExpirationTime('1m').sign(key);
    const res = await call('POST', '/v1/session', { base, body: { challenge, proof } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.session as string;
  }

  test('a session from one instance works on another that shares the secret, and is refused once expired', async () => {
    const s = await loginAt(a.url, 'alice');
    assert.equal((await call('GET', '/v1/reviews', { base: b.url, bearer: s })).status, 200);
    assertProblem(await call('GET', '/v1/reviews', { base: ctx.stack.url, bearer: s }), 401, 'UNAUTHENTICATED'); // another secret: another deployment
    await new Promise((r) => setTimeout(r, 3100));
    assertProblem(await call('GET', '/v1/reviews', { base: b.url, bearer: s }), 401, 'UNAUTHENTICATED', /expired/);
  });

  test('a login proof answers one challenge: another challenge\'s proof is refused', async () => {
    const one = (await call('POST', '/v1/session/challenge', { base: b.url, body: { reviewer: 'alice' } })).body as { challenge: string; nonce: string };
    const two = (await call('POST', '/v1/session/challenge', { base: b.url, body: { reviewer: 'alice' } })).body as { challenge: string; nonce: string };
    const key = createPrivateKey(readFileSync(ctx.stack.reviewerKeys.get('alice')!));
    const proof = await new SignJWT({ nonce: one.nonce }).setProtectedHeader({ alg: 'EdDSA' }).setSubject('alice').setAudience(new URL(b.url).origin).setIssuedAt().setExpirationTime('1m').sign(key);
    assertProblem(await call('POST', '/v1/session', { base: b.url, body: { challenge: two.challenge, proof } }), 401, 'UNAUTHENTICATED', /another challenge/);
    // bob's challenge answered with alice's key: refused.
    const bobs = (await call('POST', '/v1/session/challenge', { base: b.url, body: { reviewer: 'bob' } })).body as { challenge: string; nonce: string };
    const wrong = await new SignJWT({ nonce: bobs.nonce }).setProtectedHeader({ alg: 'EdDSA' }).setSubject('bob').setAudience(new URL(b.url).origin).setIssuedAt().setExpirationTime('1m').sign(key);
    assertProblem(await call('POST', '/v1/session', { base: b.url, body: { challenge: bobs.challenge, proof: wrong } }), 401);
  });

  test('logout ends the session on the server, on every instance: the same bearer is refused from then on', async () => {
    const s = await loginAt(b.url, 'alice');
    assert.equal((await call('GET', '/v1/reviews', { base: a.url, bearer: s })).status, 200);
    assert.equal((await call('POST', '/v1/session/logout', { base: b.url, bearer: s })).status, 204);
    assertProblem(await call('GET', '/v1/reviews', { base: b.url, bearer: s }), 401, 'UNAUTHENTICATED', /ended \(logged out\)/);
    assertProblem(await call('GET', '/v1/reviews', { base: a.url, bearer: s }), 401, 'UNAUTHENTICATED', /ended \(logged out\)/);
    assertProblem(await call('POST', '/v1/session/logout', { base: a.url, bearer: s }), 401, 'UNAUTHENTICATED');
    // Another session of the same reviewer is not touched.
    assert.equal((await call('GET', '/v1/reviews', { base: b.url, bearer: await loginAt(b.url, 'alice') })).status, 200);
  });

  test('a session ends when the key that logged it in is replaced in the directory', async () => {
    const s = await loginAt(b.url, 'bob');
    const { parseDocument } = await import('yaml');
    const doc = parseDocument(readFileSync(ctx.stack.policyFile, 'utf8'));
    const { publicKey } = ed25519KeyPair();
    doc.setIn(['directory', 'reviewers', 'bob', 'key'], Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64'));
    const { compilePolicy } = await import('../policy/load');
    const rotated = await startServer({ backend: ctx.stack.ops, policy: compilePolicy(doc.toString()), logger: (await import('../config/logger')).createLogger({ level: 'silent' }), sessionSecret: secret, listen: '127.0.0.1:0' });
    try {
      assertProblem(await call('GET', '/v1/reviews', { base: rotated.url, bearer: s }), 401, 'UNAUTHENTICATED', /key this session was logged in with is no longer in the directory/);
      assert.equal((await call('GET', '/v1/reviews', { base: b.url, bearer: s })).status, 200, 'where the directory still has the key, the session stands');
    } finally {
      await rotated.close();
    }
  });

  test('a challenge answered at one instance cannot be answered again at another (the record is in Temporal)', async () => {
    const { challenge, nonce } = (await call('POST', '/v1/session/challenge', { base: a.url, body: { reviewer: 'alice' } })).body as { challenge: string; nonce: string };
    const key = createPrivateKey(readFileSync(ctx.stack.reviewerKeys.get('alice')!));
    const proofFor = (base: string) => new SignJWT({ nonce }).setProtectedHeader({ alg: 'EdDSA' }).setSubject('alice').setAudience(new URL(base).origin).setIssuedAt().setExpirationTime('1m').sign(key);
    assert.equal((await call('POST', '/v1/session', { base: b.url, body: { challenge, proof: await proofFor(b.url) } })).status, 200);
    assertProblem(await call('POST', '/v1/session', { base: a.url, body: { challenge, proof: await proofFor(a.url) } }), 401, 'UNAUTHENTICATED', /answered already/);
    assertProblem(await call('POST', '/v1/session', { base: b.url, body: { challenge, proof: await proofFor(b.url) } }), 401, 'UNAUTHENTICATED', /answered already/);
  });

  test('rate limits are per instance (docs/deploy.md): behind two instances a credential gets twice its burst', async () => {
    const common = { backend: ctx.stack.ops, policy: (await import('../policy/load')).loadPolicyFile(ctx.stack.policyFile), logger: (await import('../config/logger')).createLogger({ level: 'silent' }), sessionSecret: secret, listen: '127.0.0.1:0', rateLimit: { perSecond: 0.001, burst: 3 } };
    const [one, two] = [await startServer(common), await startServer(common)];
    try {
      const statuses: number[] = [];
      for (const base of [one.url, two.url]) for (let i = 0; i < 4; i++) statuses.push((await call('GET', '/v1/whoami', { base, bearer: agentKey('bot') })).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 200, 200, 200, 429]);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  test('a reviewer removed from a group loses its open requests at once, on a server running the new policy', async () => {
    const request = await submitted({ payload: { amount: 333, currency: 'USD' } });
    const s = await loginAt(b.url, 'alice');
    assert.equal((await call('GET', `/v1/reviews/${request.requestId}`, { base: b.url, bearer: s })).status, 200);
    const text = readFileSync(ctx.stack.policyFile, 'utf8').replace(/support: \{ members: \[ ?alice, bob ?\] \}/, 'support: { members: [bob] }\n  former: { members: [alice] }');
    assert.notEqual(text, readFileSync(ctx.stack.policyFile, 'utf8'));
    const { compilePolicy } = await import('../policy/load');
    const moved = await startServer({ backend: ctx.stack.ops, policy: compilePolicy(text), logger: (await import('../config/logger')).createLogger({ level: 'silent' }), sessionSecret: secret, listen: '127.0.0.1:0' });
    try {
      assertProblem(await call('GET', `/v1/reviews/${request.requestId}`, { base: moved.url, bearer: s }), 404);
      const queue = (await call('GET', '/v1/reviews', { base: moved.url, bearer: s })).body as { groups: string[]; requests: unknown[] };
      assert.deepEqual(queue.groups, ['former']);
    } finally {
      await moved.close();
    }
  });

  test('waits are bounded: a fifth long-poll on one request while four are open gets 429', async () => {
    const request = await submitted({ payload: { amount: 444, currency: 'USD' } });
    const statuses = await Promise.all(Array.from({ length: 5 }, (_, i) => new Promise((r) => setTimeout(r, i * 150)).then(() => call('GET', `/v1/requests/${request.requestId}?wait=3s`, { base: b.url, bearer: agentKey() }).then((res) => res.status))));
    assert.deepEqual([...statuses].sort(), [200, 200, 200, 200, 429]);
    // An auditor's ?wait is a plain read: it holds nothing open on the agent's request.
    const auditor = await call('GET', `/v1/requests/${request.requestId}?wait=30s`, { base: b.url, bearer: ctx.stack.auditorKeys.get('audrey')! });
    assert.equal(auditor.status, 200);
    assert.equal(auditor.body.status, 'pending');
  });

  test('the SDK sends a key in the clear to no other machine, and follows no redirect', async () => {
    const { Countersign } = await import('../client/sdk');
    await assert.rejects(Countersign.connect({ url: 'http://countersign.example.com', apiKey: agentKey() }), /must be https:\/\/ for a server on another machine/);
  });

  test('a credential over its rate gets 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const res = await call('GET', '/v1/requests', { base: limited.url, bearer: agentKey('bot') });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    assert.ok(Number(retryAfter) >= 1);
    // Another credential has its own bucket.
    assert.equal((await call('GET', '/v1/requests', { base: limited.url, bearer: agentKey('bot-1') })).status, 200);
  });
});

describe('the front door: lockouts, proxies, slow connections and relayed logins', () => {
  let direct: RunningServer;
  let proxied: RunningServer;
  let slow: RunningServer;
  before(async () => {
    const common = { backend: ctx.stack.ops, policy: (await import('../policy/load')).loadPolicyFile(ctx.stack.policyFile), logger: (await import('../config/logger')).createLogger({ level: 'silent' }), sessionSecret: randomBytes(32), listen: '127.0.0.1:0' };
    // Five logins' worth of budget, refilled too slowly to matter during a test.
    const rateLimit = { perSecond: 0.001, burst: 5 };
    direct = await startServer({ ...common, rateLimit });
    proxied = await startServer({ ...common, rateLimit, trustedProxies: new TrustedProxies(['127.0.0.1']) });
    slow = await startServer({ ...common, connections: { headersTimeoutMs: 300, requestTimeoutMs: 600, maxPerAddress: 3 } });
  });
  after(async () => {
    await Promise.all([direct?.close(), proxied?.close(), slow?.close()]);
  });

  /** A raw HTTP call from a chosen loopback address (127.0.0.2 is another machine as far as the server can tell). */
  function callFrom(localAddress: string, base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const url = new URL(path, base);
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method, localAddress, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  /** dave's own login, as his CLI makes it: a challenge, then a proof signed for the origin it connected to. */
  async function daveLogsIn(base: string, from = '127.0.0.1', headers: Record<string, string> = {}, audience = new URL(base).origin): Promise<{ status: number; body: Record<string, unknown> }> {
    const c = await callFrom(from, base, 'POST', '/v1/session/challenge', { reviewer: 'dave' }, headers);
    if (c.status !== 200) return c;
    const key = createPrivateKey(readFileSync(ctx.stack.reviewerKeys.get('dave')!));
    const proof = await new SignJWT({ nonce: c.body.nonce }).setProtectedHeader({ alg: 'EdDSA' }).setSubject('dave').setAudience(audience).setIssuedAt().setExpirationTime('1m').sign(key);
    return callFrom(from, base, 'POST', '/v1/session', { challenge: c.body.challenge, proof }, headers);
  }

  test('challenges naming dave from another address spend only that address\'s budget: dave still logs in', async () => {
    const attacker: number[] = [];
    // X-Forwarded-For from a peer that is no trusted proxy is not believed: a new forged address per call changes nothing.
    for (let i = 0; i < 20; i++) attacker.push((await callFrom('127.0.0.2', direct.url, 'POST', '/v1/session/challenge', { reviewer: 'dave' }, { 'x-forwarded-for': `10.0.0.${i}` })).status);
    assert.deepEqual(attacker, [...Array(5).fill(200), ...Array(15).fill(429)]);
    for (let i = 0; i < 2; i++) {
      const login = await daveLogsIn(direct.url);
      assert.equal(login.status, 200, JSON.stringify(login.body));
      assert.equal(login.body.reviewer, 'dave');
    }
  });

  test('behind a trusted proxy the client is the right-most hop it did not write: a forged first entry dodges nothing', async () => {
    const attacker: number[] = [];
    // The proxy appends the address it saw (10.66.0.1); the attacker writes whatever it likes to the left.
    for (let i = 0; i < 12; i++) attacker.push((await callFrom('127.0.0.1', proxied.url, 'POST', '/v1/session/challenge', { reviewer: 'dave' }, { 'x-forwarded-for': `192.0.2.${i}, 10.66.0.1` })).status);
    assert.deepEqual(attacker, [...Array(5).fill(200), ...Array(7).fill(429)]);
    const login = await daveLogsIn(proxied.url, '127.0.0.1', { 'x-forwarded-for': '10.77.0.1' });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    // The same peer without the proxy's header is the proxy itself: a budget apart from both clients.
    assert.equal((await callFrom('127.0.0.1', proxied.url, 'POST', '/v1/session/challenge', { reviewer: 'dave' })).status, 200);
  });

  test('a login proof made for another origin (a relaying fake server) is refused, and the challenge stays answerable', async () => {
    const c = await callFrom('127.0.0.1', slow.url, 'POST', '/v1/session/challenge', { reviewer: 'dave' });
    const key = createPrivateKey(readFileSync(ctx.stack.reviewerKeys.get('dave')!));
    const sign = (aud: string) => new SignJWT({ nonce: c.body.nonce }).setProtectedHeader({ alg: 'EdDSA' }).setSubject('dave').setAudience(aud).setIssuedAt().setExpirationTime('1m').sign(key);
    for (const aud of ['https://evil.example', 'countersign/login', `http://127.0.0.1:1${new URL(slow.url).port}`]) {
      const relayed = await callFrom('127.0.0.1', slow.url, 'POST', '/v1/session', { challenge: c.body.challenge, proof: await sign(aud) });
      assert.equal(relayed.status, 401, aud);
      assert.match(String(relayed.body.detail), /made for another server/);
    }
    const own = await callFrom('127.0.0.1', slow.url, 'POST', '/v1/session', { challenge: c.body.challenge, proof: await sign(new URL(slow.url).origin) });
    assert.equal(own.status, 200, JSON.stringify(own.body));
  });

  /** A raw socket that sends `head`, then one byte of `drip` every 50 ms until the server closes it (at most 20 s); returns what the server said. */
  function trickle(base: string, head: string, drip: string, localAddress = '127.0.0.1'): Promise<{ answer: string; closed: boolean }> {
    const url = new URL(base);
    return new Promise((resolve) => {
      const socket = connect({ host: url.hostname, port: Number(url.port), localAddress });
      let answer = '';
      let sent = 0;
      socket.on('data', (d) => (answer += d));
      socket.on('error', () => undefined);
      socket.once('connect', () => socket.write(head));
      const timer = setInterval(() => {
        if (sent++ >= 400) {
          clearInterval(timer);
          socket.destroy();
          resolve({ answer, closed: false });
        } else if (socket.writable) socket.write(drip[sent % drip.length]!);
      }, 50);
      socket.once('close', () => {
        clearInterval(timer);
        resolve({ answer, closed: sent < 400 });
      });
    });
  }

  test('slow headers and a slow body are cut off with 408 and the connection closed', async () => {
    const host = new URL(slow.url).host;
    const headers = await trickle(slow.url, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\n`, 'X-Slow: 1\r\n');
    assert.equal(headers.closed, true, 'the server closed the socket');
    assert.match(headers.answer, /^HTTP\/1\.1 408 /);
    const body = await trickle(slow.url, `POST /v1/session HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{"challenge":"`, 'a');
    assert.equal(body.closed, true, 'the server closed the socket');
    assert.match(body.answer, /^HTTP\/1\.1 408 /);
  });

  test('one address holds at most its cap of connections; another address is still served', async () => {
    const url = new URL(slow.url);
    const open = (localAddress: string) =>
      new Promise<Socket>((resolve, reject) => {
        const socket = connect({ host: url.hostname, port: Number(url.port), localAddress }, () => resolve(socket));
        socket.once('error', reject);
      });
    const held = [await open('127.0.0.3'), await open('127.0.0.3'), await open('127.0.0.3')];
    try {
      const extra = await open('127.0.0.3');
      const said = await new Promise<string>((resolve) => {
        let text = '';
        extra.on('data', (d) => (text += d));
        extra.on('error', () => undefined);
        extra.once('close', () => resolve(text));
        extra.write(`GET /healthz HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
      });
      assert.equal(said, '', 'the connection over the cap was closed unanswered');
      // The ones within the cap are served, and so is everyone else.
      const answer = await new Promise<string>((resolve) => {
        held[0]!.once('data', (d) => resolve(String(d)));
        held[0]!.write(`GET /healthz HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
      });
      assert.match(answer, /^HTTP\/1\.1 200 /);
      assert.equal((await callFrom('127.0.0.1', slow.url, 'GET', '/healthz')).status, 200);
    } finally {
      for (const s of held) s.destroy();
    }
  });
});

describe('an agent process with no Temporal settings at all', () => {
  test('the SDK submits, waits, consumes and reports through the server with only COUNTERSIGN_URL and COUNTERSIGN_API_KEY', async () => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', COUNTERSIGN_URL: ctx.stack.url, COUNTERSIGN_API_KEY: agentKey('sales-bot') };
    const script = join(__dirname, 'support', 'agent-process.ts');
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', script], { env, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
    });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { temporalVars: string[]; agentId: string; executed: boolean; status: string; outcome: string };
    assert.deepEqual(report.temporalVars, []);
    assert.equal(report.agentId, 'sales-bot');
    assert.equal(report.executed, true);
    assert.equal(report.outcome, 'executed');
  });

  test('no API key, session or signature ever reaches the logs', async () => {
    const logs = JSON.stringify(ctx.stack.logs);
    for (const key of [...ctx.stack.agentKeys.values(), ...ctx.stack.auditorKeys.values()]) assert.ok(!logs.includes(key), 'an API key in the logs');
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./.test(logs), 'a JWT in the logs');
    assert.ok(ctx.stack.logs.some((l) => l.msg === 'http' && typeof l.principal === 'string'), 'the access log names principals');
  });
});

// ---------------------------------------------------------------------------------------------
// Invalid requests (fast-check mutations) against the real server: refused, and no workflow started
// ---------------------------------------------------------------------------------------------

async function assertNoWorkflow(workflowId: string): Promise<void> {
  const repaired = workflowId.replace(LONE_SURROGATE, '\ufffd');
  if (repaired !== workflowId) {
    // Not valid UTF-8: the server refuses the id itself, so nothing can run under it. Look under the repaired id too.
    await assert.rejects(ctx.env.client.workflow.getHandle(workflowId).describe(), /invalid UTF-8/);
    workflowId = repaired;
  }
  const describe = () => ctx.env.client.workflow.getHandle(workflowId).describe();
  if (workflowId.includes('\u0000')) {
    // The cluster's Temporal keeps ids in PostgreSQL, which cannot hold a NUL: it answers Unavailable,
    // and the client retries that until its deadline. No workflow can be started under such an id
    // there; a describe that does answer must still say "not found", and one that succeeds fails here.
    await assert.rejects(ctx.env.client.connection.withDeadline(Date.now() + 5_000, describe), (err: unknown) => {
      const unstorable = err instanceof ServiceError && /UNAVAILABLE|DEADLINE_EXCEEDED|invalid byte sequence/i.test(`${err.message} ${String((err.cause as Error | undefined)?.message)}`);
      assert.ok(err instanceof WorkflowNotFoundError || unstorable, `describe(${JSON.stringify(workflowId.slice(0, 80))}) failed with ${(err as Error)?.name}: ${(err as Error)?.message}`);
      return true;
    });
    return;
  }
  await assert.rejects(describe(), (err: unknown) => {
    assert.ok(err instanceof WorkflowNotFoundError, `describe(${JSON.stringify(workflowId.slice(0, 80))}) failed with ${(err as Error)?.name}: ${(err as Error)?.message}`);
    return true;
  });
}

function wouldBeWorkflowId(request: unknown): string | undefined {
  try {
    return approvalWorkflowId(request as never).workflowId;
  } catch {
    return undefined; // garbage the digest cannot even be computed for: nothing to look up
  }
}

describe('invalid requests against the server', () => {
  test('an invalid request is refused with InvalidRequestError and starts no workflow', { timeout: SERVER_TIMEOUT_MS }, async () => {
    // Through the server the agent is the key's: a request with no agentId is the key's agent's (support-bot here).
    const asSent = (request: unknown) =>
      request !== null && typeof request === 'object' && !Array.isArray(request) && !Object.hasOwn(request, 'agentId') ? { ...request, agentId: 'support-bot' } : request;
    const invalid = mutatedRequest.filter(({ request }) => !parseOutcome(asSent(request)).ok);
    await fc.assert(
      fc.asyncProperty(invalid, async ({ base, request }) => {
        const local = parseOutcome(asSent(request));
        assert.ok(!local.ok);
        await assert.rejects(ctx.stack.cs.submit(request, { waitMs: 0 }), (err: unknown) => {
          assert.ok(err instanceof InvalidRequestError, `submit threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
          assert.equal(err.message, local.error.message);
          assert.equal(err.code, 'INVALID_REQUEST');
          return true;
        });
        const ids = new Set([wouldBeWorkflowId(request), wouldBeWorkflowId(base)].filter((id): id is string => id !== undefined));
        for (const id of ids) await assertNoWorkflow(id);
      }),
      runs(30),
    );
  });
});
