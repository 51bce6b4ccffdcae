import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { eventually } from './support/eventually';
import { action, useStack } from './support/stack';

const SECRET = 'webhook-test-secret-9f2c';
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
let server: Server;
let hookPort = 0;
let downPort = 0;

const policy = (hookPort: number, downPort: number) => `
version: 1
defaults: { decision: review, reviewers: finance }
groups:
  finance:
    members: [dave]
    webhook: { url: "http://127.0.0.1:${hookPort}/hooks/finance", secretEnv: FINANCE_HOOK_SECRET }
  ops:
    members: [oscar]
    webhook: { url: "http://127.0.0.1:${downPort}/nobody-listens", secretEnv: FINANCE_HOOK_SECRET }
rules:
  - id: refunds
    match: { action: payments.refund }
    decision: review
    reviewers: finance
  - id: restarts
    match: { action: system.restart }
    decision: review
    reviewers: ops
    sla: 2s
`;

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // A port that was just free and is closed again: the "webhook target is down" case.
  const down = createServer();
  await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
  downPort = (down.address() as AddressInfo).port;
  hookPort = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => down.close(() => resolve()));
});
const ctx = useStack(() => policy(hookPort, downPort), { env: { FINANCE_HOOK_SECRET: SECRET } });
after(() => server?.close());

test('the routed group gets a JSON webhook whose HMAC-SHA256 signature verifies', async () => {
  const state = await ctx.stack.cs.submit(action({ payload: { amount: 900, currency: 'USD' } }), { waitMs: 1000 });
  assert.equal(state.status, 'pending');
  const hook = await eventually(() => {
    const found = received.find((r) => JSON.parse(r.body).requestId === state.requestId);
    assert.ok(found, 'webhook not received yet');
    return found;
  }, 'webhook delivered');
  assert.equal(hook.headers['content-type'], 'application/json');
  const timestamp = String(hook.headers['x-countersign-timestamp']);
  const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${hook.body}`).digest('hex')}`;
  const signature = String(hook.headers['x-countersign-signature']);
  assert.ok(signature.length === expected.length && timingSafeEqual(Buffer.from(signature), Buffer.from(expected)), 'signature verifies');
  const wrong = `sha256=${createHmac('sha256', 'another-secret').update(`${timestamp}.${hook.body}`).digest('hex')}`;
  assert.notEqual(signature, wrong);
  const body = JSON.parse(hook.body);
  assert.equal(body.event, 'review_requested');
  assert.equal(body.group, 'finance');
  assert.equal(body.action, 'payments.refund');
  assert.equal(body.workflowId, state.workflowId);
  assert.deepEqual(body.ruleIds, ['refunds']);
  assert.equal(body.payload, undefined, 'the webhook carries no payload');
  assert.ok(!hook.body.includes(SECRET));
  await eventually(async () => {
    const view = await ctx.stack.cs.view(state.workflowId);
    assert.ok(view.history.some((e) => e.type === 'notified' && e.detail === 'review_requested sent to finance via log, webhook'));
  }, 'notification recorded');
});

test('a webhook target that is down does not hold up expiry, and the failure is recorded', async () => {
  const state = await ctx.stack.cs.submit(action({ action: 'system.restart', resource: { type: 'system', id: 'api' }, payload: { service: 'api' } }), { waitMs: 0 });
  const expired = await eventually(async () => {
    const view = await ctx.stack.cs.view(state.workflowId);
    assert.equal(view.status, 'expired');
    return view;
  }, 'expired while the webhook retries', 150);
  assert.equal(expired.outcome?.code, 'SLA_EXPIRED');
  const final = await ctx.stack.cs.outcome(state.workflowId); // the workflow ends once notifications settle
  assert.equal(final.status, 'expired');
  const view = await ctx.stack.cs.view(state.workflowId);
  const failure = view.history.find((e) => e.type === 'notification_failed');
  assert.ok(failure, 'notification failure in the history');
  assert.match(failure.detail, /^review_requested to ops: webhook 127\.0\.0\.1:\d+ unreachable \(ECONNREFUSED\)/);
});
