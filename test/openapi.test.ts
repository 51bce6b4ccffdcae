/**
 * The OpenAPI document a real server serves at /openapi.json, against that server's real answers:
 * each call below is checked for a status its operation declares, the content type it names, and
 * (with ajv) a body its schema accepts, refusals included; a request body the server took must be
 * one the document accepts too. So the documented types and the real traffic cannot drift apart;
 * test/unit/openapi.test.ts lints the document and checks its routes.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import { SignJWT } from 'jose';
import { openToken } from '../client/agent-keys';
import { actionDigest } from '../common/digest';
import type { SubmitState } from '../common/views';
import type { EvidenceView } from '../common/bundle';
import { REFUND_POLICY } from './support/refund-policy';
import { signedDecision } from './support/review';
import { action, useStack } from './support/stack';
import { x25519KeyPair } from '../crypto/tokens';


const ctx = useStack(REFUND_POLICY);

type Response = { $ref?: string; content?: Record<string, { schema?: { $ref?: string } }> };
type Document = { paths: Record<string, Record<string, { requestBody?: Response; responses: Record<string, Response> }>>; components: { responses: Record<string, Response>; schemas: Record<string, unknown> } };
let document: Document;
const validators = new Map<string, ValidateFunction>();
const SCHEMAS = 'https://countersign.test/openapi.json';

/** The document the running server serves, read once (on first use: the stack starts in useStack's hook), and its schemas compiled. */
async function served(): Promise<Document> {
  if (document) return document;
  document = (await (await fetch(new URL('/openapi.json', ctx.stack.url))).json()) as Document;
  // The components as one JSON Schema (2020-12, as OpenAPI 3.1's are), their $refs pointed at its $defs.
  const defs = JSON.parse(JSON.stringify(document.components.schemas).replaceAll('"#/components/schemas/', '"#/$defs/')) as Record<string, unknown>;
  const ajv = new Ajv2020({ allErrors: true, strict: true, formats: { 'date-time': true } });
  ajv.addSchema({ $id: SCHEMAS, $defs: defs });
  for (const name of Object.keys(defs)) validators.set(name, ajv.getSchema(`${SCHEMAS}#/$defs/${name}`)!);
  return document;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

/**
 * One raw call, checked against the document: `template` is the documented path. Returns the answer
 * once its status, content type and body are all as documented.
 */
async function documented(method: string, template: string, options: { path?: string; bearer?: string; body?: unknown; raw?: string; type?: string; expect?: number } = {}): Promise<Answer> {
  const headers: Record<string, string> = options.bearer ? { authorization: `Bearer ${options.bearer}` } : {};
  if (options.body !== undefined || options.raw !== undefined) headers['content-type'] = options.type ?? 'application/json';
  const res = await fetch(new URL(options.path ?? template, ctx.stack.url), { method, headers, body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)) });
  const text = await res.text();
  const where = `${method} ${template} → ${res.status}`;
  if (options.expect !== undefined) assert.equal(res.status, options.expect, `${where}: ${text.slice(0, 500)}`);
  const document = await served();
  const operation = document.paths[template]?.[method.toLowerCase()];
  assert.ok(operation, `${method} ${template} is documented`);
  let declared = operation.responses[String(res.status)];
  assert.ok(declared, `${where}: the operation declares ${res.status} (it declares ${Object.keys(operation.responses).join(', ')})`);
  if (declared.$ref) declared = document.components.responses[declared.$ref.split('/').pop()!]!;
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  if (!declared.content) {
    assert.equal(text, '', `${where}: no body is documented`);
    return { status: res.status, body: {}, text };
  }
  assert.ok(declared.content[type], `${where}: content type ${type}, documented ${Object.keys(declared.content).join(', ')}`);
  const schema = declared.content[type]!.schema?.$ref?.split('/').pop();
  const body = text && type.endsWith('json') ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (schema) conforms(schema, body, where);
  // A body the server took is one the document accepts.
  const sent = operation.requestBody?.content?.['application/json']?.schema?.$ref?.split('/').pop();
  if (res.ok && sent && options.body !== undefined) conforms(sent, options.body, `${where}: the request body`);
  return { status: res.status, body, text };
}

/** `value` is valid for the document's schema `name`, or the test fails naming each violation. */
function conforms(name: string, value: unknown, where: string): void {
  const validate = validators.get(name);
  assert.ok(validate, `the document has a schema ${name}`);
  if (!validate(value)) assert.fail(`${where}: the body is not a valid ${name}:\n${validate.errors!.map((e) => `  ${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('\n')}\n${JSON.stringify(value).slice(0, 2000)}`);
}

const agentKey = (name = 'support-bot') => ctx.stack.agentKeys.get(name)!;
function x25519() {
  const { privateKey, publicKey } = x25519KeyPair();
  return { privateKey, publicKey: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64') };
}

/** A reviewer's session, made through the documented login. */
async function login(name: string): Promise<string> {
  const challenge = await documented('POST', '/v1/session/challenge', { body: { reviewer: name }, expect: 200 });
  const key = createPrivateKey(readFileSync(ctx.stack.reviewerKeys.get(name)!));
  const proof = await new SignJWT({ nonce: challenge.body.nonce as string }).setProtectedHeader({ alg: 'EdDSA' }).setSubject(name).setAudience(new URL(ctx.stack.url).origin).setIssuedAt().setExpirationTime('1m').sign(key);
  const session = await documented('POST', '/v1/session', { body: { challenge: challenge.body.challenge, proof }, expect: 200 });
  return session.body.session as string;
}

describe('real answers, as the served OpenAPI document says', () => {
  test('the liveness check and the document itself', async () => {
    await documented('GET', '/healthz', { expect: 200 });
    await documented('GET', '/openapi.json', { expect: 200 });
  });

  test('whoami, for an agent, an auditor and a reviewer', async () => {
    assert.deepEqual((await documented('GET', '/v1/whoami', { bearer: agentKey(), expect: 200 })).body, { role: 'agent', name: 'support-bot' });
    assert.deepEqual((await documented('GET', '/v1/whoami', { bearer: ctx.stack.auditorKeys.get('audrey')!, expect: 200 })).body, { role: 'auditor', name: 'audrey' });
    const whoami = await documented('GET', '/v1/whoami', { bearer: await login('dave'), expect: 200 });
    assert.deepEqual(whoami.body, { role: 'reviewer', name: 'dave', groups: ['finance'] });
    await documented('GET', '/v1/whoami', { expect: 401 });
  });

  test('an auto-allowed submission: the outcome with its sealed token, consume, a second consume refused, report, evidence', async () => {
    const mine = x25519();
    const request = action({ payload: { customer: 'C-42', amount: 40, currency: 'USD', order: 'A-1' } });
    const submitted = await documented('POST', '/v1/requests', { path: '/v1/requests?wait=10s', bearer: agentKey(), body: { ...request, agentKey: mine.publicKey }, expect: 200 });
    const state = submitted.body as unknown as SubmitState;
    assert.equal(state.status, 'approved');
    assert.ok(state.outcome?.token?.sealed, 'the outcome carries the sealed token');
    await documented('GET', '/v1/requests/{id}', { path: `/v1/requests/${state.requestId}`, bearer: agentKey(), expect: 200 });
    await documented('GET', '/v1/requests', { bearer: agentKey(), expect: 200 });

    const token = openToken(mine, state.outcome.token.sealed, state.workflowId, state.outcome.token.tokenId);
    const consume = { token, agentId: 'support-bot', taskId: request.taskId, actionDigest: actionDigest(request as never) };
    const path = `/v1/requests/${state.requestId}/consume`;
    await documented('POST', '/v1/requests/{id}/consume', { path, bearer: agentKey(), body: consume, expect: 200 });
    assert.equal((await documented('POST', '/v1/requests/{id}/consume', { path, bearer: agentKey(), body: consume, expect: 409 })).body.code, 'TOKEN_CONSUMED');
    await documented('POST', '/v1/requests/{id}/report', { path: `/v1/requests/${state.requestId}/report`, bearer: agentKey(), body: { status: 'succeeded' }, expect: 204 });
    const final = await documented('GET', '/v1/requests/{id}', { path: `/v1/requests/${state.requestId}?wait=20s`, bearer: agentKey(), expect: 200 });
    assert.equal(final.body.status, 'executed');
    const evidence = await documented('GET', '/v1/requests/{id}/evidence', { path: `/v1/requests/${state.requestId}/evidence`, bearer: agentKey(), expect: 200 });
    assert.equal(evidence.body.sealed, true);

    // The log, as an auditor reads it (test/log.test.ts checks its numbers).
    await ctx.stack.cs.outcome(state.workflowId);
    const sealed = await documented('GET', '/v1/requests/{id}/evidence', { path: `/v1/requests/${state.requestId}/evidence`, bearer: agentKey(), expect: 200 });
    assert.ok((sealed.body.bundle as { log?: unknown }).log, 'the sealed bundle carries its log proof');
    const auditor = ctx.stack.auditorKeys.get('audrey')!;
    const note = await documented('GET', '/v1/log/checkpoint', { bearer: auditor, expect: 200 });
    const size = Number(note.text.split('\n')[1]);
    const leaves = await documented('GET', '/v1/log/leaves', { path: '/v1/log/leaves?start=0&count=10', bearer: auditor, expect: 200 });
    await documented('GET', '/v1/log/proof/inclusion', { path: `/v1/log/proof/inclusion?index=0&size=${size}`, bearer: agentKey(), expect: 200 });
    await documented('GET', '/v1/log/proof/consistency', { path: `/v1/log/proof/consistency?from=1&to=${size}`, bearer: agentKey(), expect: 200 });
    await documented('GET', '/v1/log/proof/consistency', { path: '/v1/log/proof/consistency?from=x&to=1', bearer: agentKey(), expect: 422 });
    const leaf = JSON.parse(Buffer.from((leaves.body.leaves as { data: string }[])[0]!.data, 'base64').toString()) as { workflowId: string; runId: string };
    await documented('GET', '/v1/log/bundle', { path: `/v1/log/bundle?workflowId=${encodeURIComponent(leaf.workflowId)}&runId=${encodeURIComponent(leaf.runId)}`, bearer: auditor, expect: 200 });
    await documented('GET', '/v1/log/leaves', { bearer: agentKey(), expect: 403 });
  });

  test('a policy deny, and its outcome as an event stream', async () => {
    const request = action({ payload: { customer: 'C-42', amount: 20_000, currency: 'USD', order: 'A-2' } });
    const denied = await documented('POST', '/v1/requests', { path: '/v1/requests?wait=10s', bearer: agentKey(), body: { ...request, agentKey: x25519().publicKey }, expect: 200 });
    const state = denied.body as unknown as SubmitState;
    assert.equal(state.status, 'denied');
    assert.equal(state.outcome?.code, 'POLICY_DENIED');
    // The run has ended: the stream is its one outcome event, whose data is a SubmitState.
    const stream = await documented('GET', '/v1/requests/{id}/events', { path: `/v1/requests/${state.requestId}/events`, bearer: agentKey(), expect: 200 });
    const data = /event: outcome\ndata: (.*)\n/.exec(stream.text)?.[1];
    assert.ok(data, stream.text);
    conforms('SubmitState', JSON.parse(data), 'the outcome event');
  });

  test('a review: the queue, the view, a catalog check, a signed decision, the statement a passkey would sign', async () => {
    const submitted = await documented('POST', '/v1/requests', { bearer: agentKey(), body: { ...action({ payload: { customer: 'C-42', amount: 500, currency: 'USD', order: 'A-3' } }), agentKey: x25519().publicKey }, expect: 200 });
    const { requestId, workflowId } = submitted.body as unknown as SubmitState;
    const dave = await login('dave');
    await documented('GET', '/v1/reviews', { bearer: dave, expect: 200 });
    const view = await documented('GET', '/v1/reviews/{id}', { path: `/v1/reviews/${workflowId}`, bearer: dave, expect: 200 });
    assert.equal(view.body.status, 'pending');
    // While open, the agent's evidence is the chain so far: no outcome, nothing sealed (it used to be a 500).
    const chain = await documented('GET', '/v1/requests/{id}/evidence', { path: `/v1/requests/${requestId}/evidence`, bearer: agentKey(), expect: 200 });
    const open = chain.body as unknown as EvidenceView;
    assert.equal(open.sealed, false);
    assert.equal(open.bundle.outcome, undefined);
    assert.deepEqual(open.bundle.events.map((e) => e.type).slice(0, 2), ['requested', 'evaluated']);
    await documented('POST', '/v1/reviews/{id}/validate', { path: `/v1/reviews/${requestId}/validate`, bearer: dave, body: { payload: { customer: 'C-42', amount: 450, currency: 'USD', order: 'A-3' } }, expect: 200 });
    // dave has a key and no passkey: the statement for a passkey is refused, as documented.
    await documented('POST', '/v1/reviews/{id}/statement', { path: `/v1/reviews/${requestId}/statement`, bearer: dave, body: { decision: 'approve', reviewer: 'dave', versionDigest: view.body.currentDigest }, expect: 401 });
    const decision = await signedDecision(ctx.stack, workflowId, { decision: 'approve', reviewer: 'dave' });
    const receipt = await documented('POST', '/v1/reviews/{id}/decisions', { path: `/v1/reviews/${requestId}/decisions`, bearer: dave, body: decision, expect: 200 });
    assert.equal(receipt.body.status, 'approved');
    await documented('POST', '/v1/session/logout', { bearer: dave, expect: 204 });
  });

  test('refusals are the problems the document declares: 400, 401, 403, 404, 415, 422', async () => {
    const bad = await documented('POST', '/v1/requests', { bearer: agentKey(), raw: '{"taskId": ', expect: 400 });
    assert.equal(bad.body.code, 'INVALID_REQUEST');
    await documented('POST', '/v1/requests', { bearer: agentKey(), raw: '{"a": 1, "a": 2}', expect: 400 });
    await documented('POST', '/v1/requests', { bearer: agentKey(), raw: '{}', type: 'text/plain', expect: 415 });
    const invalid = await documented('POST', '/v1/requests', { bearer: agentKey(), body: { ...action(), agentKey: 'not a key' }, expect: 422 });
    assert.match(String(invalid.body.detail), /agentKey/);
    await documented('POST', '/v1/requests', { body: action(), expect: 401 });
    await documented('GET', '/v1/reviews', { bearer: agentKey(), expect: 403 });
    await documented('GET', '/v1/requests/{id}', { path: '/v1/requests/cs-support-bot-0123456789abcdef', bearer: agentKey(), expect: 404 });
    await documented('POST', '/v1/session/challenge', { raw: 'nope', expect: 400 });
  });
});
