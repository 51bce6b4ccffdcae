/**
 * An agent withdraws its own request while it is not decided yet (POST /v1/requests/{id}/withdraw),
 * over raw HTTP as any client would: the run is cancelled and its evidence sealed; anyone else's
 * withdrawal is refused, and so is a withdrawal once the request is decided.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { DecisionRefusedError } from '../client/sdk';
import type { SubmitState } from '../common/views';
import { verifyBundle, type EvidenceBundle } from '../common/bundle';
import { agentAction, useStack } from './support/stack';
import { decideSeen } from './support/review';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: finance, sla: 1h }
groups:
  finance: { members: [dave, erin] }
rules:
  - id: small-refunds
    match: { action: payments.refund }
    when: "payload.amount <= 10"
    decision: allow
`;

const ctx = useStack(POLICY);

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function post(path: string, bearer?: string): Promise<Answer> {
  const res = await fetch(new URL(path, ctx.stack.url), { method: 'POST', headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const agentKey = (name: string) => ctx.stack.agentKeys.get(name)!;
const withdraw = (id: string, bearer?: string) => post(`/v1/requests/${id}/withdraw`, bearer);

/** A request the policy sends to review, submitted by `agent`: pending. */
async function pending(agent = 'support-bot'): Promise<SubmitState> {
  const request = await (await ctx.stack.agent(agent)).submit(agentAction());
  assert.equal(request.status, 'pending');
  return request.state;
}

async function reviewerSession(name: string): Promise<string> {
  const challenged = await fetch(new URL('/v1/session/challenge', ctx.stack.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reviewer: name }) });
  const { challenge, nonce } = (await challenged.json()) as { challenge: string; nonce: string };
  const key = createPrivateKey(readFileSync(ctx.stack.reviewerKeys.get(name)!));
  const proof = await new SignJWT({ nonce }).setProtectedHeader({ alg: 'EdDSA' }).setSubject(name).setAudience(new URL(ctx.stack.url).origin).setIssuedAt().setExpirationTime('1m').sign(key);
  const session = await fetch(new URL('/v1/session', ctx.stack.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ challenge, proof }) });
  return ((await session.json()) as { session: string }).session;
}

describe('withdrawing a request', () => {
  test('the owner withdraws a pending request: cancelled, and its evidence sealed and verifiable', async () => {
    const state = await pending();
    const answer = await withdraw(state.requestId, agentKey('support-bot'));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, 'cancelled');
    assert.equal(answer.body.final, true);
    const outcome = answer.body.outcome as { status: string; decidedBy: string; token?: unknown; evidence?: { path: string } };
    assert.equal(outcome.status, 'cancelled');
    assert.equal(outcome.decidedBy, 'cancellation');
    assert.equal(outcome.token, undefined, 'nothing was approved, so there is no token');

    const evidence = await (await ctx.stack.agent('support-bot')).evidence(state.requestId);
    assert.equal(evidence.sealed, true);
    assert.equal(evidence.bundle.outcome?.status, 'cancelled');
    assert.ok(evidence.bundle.events.some((e) => e.type === 'cancelled'), 'the cancellation is in the chain');
    const sealed = JSON.parse(readFileSync(outcome.evidence!.path, 'utf8')) as EvidenceBundle;
    assert.deepEqual(verifyBundle(sealed, { publicKey: ctx.stack.signer.publicKey }).ok, true);
    assert.equal((await ctx.stack.ops.outcome(state.workflowId)).status, 'cancelled');

    const again = await withdraw(state.requestId, agentKey('support-bot'));
    assert.equal(again.status, 409, 'a cancelled request is decided');
    assert.equal(again.body.code, 'ALREADY_DECIDED');
  });

  test('only its own agent may withdraw it: another agent gets the same 404 as an unknown id; a reviewer, an auditor or no key is refused', async () => {
    const state = await pending();
    for (const id of [state.requestId, state.workflowId]) {
      const other = await withdraw(id, agentKey('ops-bot'));
      assert.equal(other.status, 404, JSON.stringify(other.body));
      assert.equal(other.body.code, 'NOT_FOUND');
    }
    const unknown = await withdraw('0123456789abcdef', agentKey('ops-bot'));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.detail, 'No request 0123456789abcdef.');
    assert.equal((await withdraw(state.requestId, agentKey('ops-bot'))).body.detail, `No request ${state.requestId}.`, 'the same words as for an id that does not exist');

    const reviewer = await withdraw(state.requestId, await reviewerSession('dave'));
    assert.equal(reviewer.status, 403);
    assert.equal(reviewer.body.code, 'FORBIDDEN');
    const auditor = await withdraw(state.requestId, ctx.stack.auditorKeys.get('audrey'));
    assert.equal(auditor.status, 403);
    const anonymous = await withdraw(state.requestId);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.code, 'UNAUTHENTICATED');

    assert.equal((await ctx.stack.ops.view(state.workflowId)).status, 'pending', 'none of them changed anything');
  });

  test('a decided request is not withdrawn: 409 ALREADY_DECIDED, and its decision stands', async () => {
    const denied = await pending();
    await decideSeen(ctx.stack.cs, denied.requestId, { decision: 'deny', reviewer: 'dave', reasonCode: 'NOT_JUSTIFIED', message: 'Not a duplicate.' });
    const refused = await withdraw(denied.requestId, agentKey('support-bot'));
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'ALREADY_DECIDED');
    assert.match(refused.body.detail as string, /is denied: only a request that is not decided yet can be withdrawn/);

    const approved = await pending();
    await decideSeen(ctx.stack.cs, approved.requestId, { decision: 'approve', reviewer: 'erin' });
    assert.equal((await withdraw(approved.requestId, agentKey('support-bot'))).status, 409);
    assert.equal((await ctx.stack.ops.view(approved.workflowId)).status, 'approved', 'the approval stands (it lapses if unused)');

    const allowed = await (await ctx.stack.agent('support-bot')).submit(agentAction({ payload: { amount: 5, currency: 'USD', order: '9' } }));
    assert.equal(allowed.status, 'approved');
    assert.equal((await withdraw(allowed.requestId, agentKey('support-bot'))).status, 409);
  });

  test('the SDK: Countersign.withdraw returns the cancelled state, and refuses a decided request with DecisionRefusedError', async () => {
    const cs = await ctx.stack.agent('support-bot');
    const state = await pending();
    const withdrawn = await cs.withdraw(state.requestId);
    assert.equal(withdrawn.status, 'cancelled');
    assert.equal(withdrawn.outcome?.status, 'cancelled');
    await assert.rejects(cs.withdraw(state.requestId), (err: unknown) => err instanceof DecisionRefusedError && err.code === 'ALREADY_DECIDED');
  });

  test('the OpenAPI document describes it', async () => {
    const doc = (await (await fetch(new URL('/openapi.json', ctx.stack.url))).json()) as { paths: Record<string, { post?: { operationId: string; responses: Record<string, unknown> } }> };
    const operation = doc.paths['/v1/requests/{id}/withdraw']?.post;
    assert.equal(operation?.operationId, 'withdrawRequest');
    for (const status of ['200', '401', '403', '404', '409', '429']) assert.ok(status in operation.responses, `the document declares ${status}`);
  });
});
