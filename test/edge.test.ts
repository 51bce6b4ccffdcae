/**
 * Allows decided at the front door (issue 29), end to end against a real server, worker and Temporal:
 * an `edge: true` allow starts no workflow, its token is spent once in the store's ledger (whatever
 * the attacker tries, however many agents or server instances race), its evidence is its own bundle
 * signed by the edge key and in the log, and a request the policy routes to review never gets an edge
 * token, whatever an agent sets.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, unlinkSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ConsumeRefusedError, RequestNotFoundError, type ApprovalRequest } from '../client/sdk';
import { verifyBundle, type EvidenceBundle } from '../common/bundle';
import { actionDigest } from '../common/digest';
import type { ExecutionReceipt, Signed, SubmitState } from '../common/views';
import { createLogger } from '../config/logger';
import { generateAgentKey, openToken } from '../crypto/tokens';
import { compilePolicy } from '../policy/load';
import { startServer } from '../server/main';
import { evidencePath, fileStore } from '../store/files';
import { edgeRunId } from '../common/edge';
import { cliFor } from './support/cli';
import { eventually } from './support/eventually';
import { agentAction, startStack, useStack, type Stack } from './support/stack';

const POLICY = `
version: 1
defaults: { decision: review, reviewers: support, sla: 1h, tokenTtl: 5m }
groups:
  support: { members: [alice, bob] }
rules:
  - id: lookups
    match: { action: crm.lookupCustomer }
    decision: allow
    edge: true
  - id: vip-lookups
    match: { action: crm.lookupCustomer, resource: "customer:VIP-*" }
    decision: review
    reviewers: support
  - id: lookups-with-notes
    match: { action: crm.lookupCustomer }
    when: "has(payload.notes)"
    decision: allow
  - id: quick-lookups
    match: { action: crm.lookupFast }
    decision: allow
    edge: true
    tokenTtl: 1s
  - id: small-refunds
    match: { action: payments.refund }
    decision: allow
`;

const EDGE_AGENTS = Array.from({ length: 32 }, (_, i) => `edge-agent-${i}`);
const ctx = useStack(POLICY, { agents: EDGE_AGENTS });
const onFiles = !process.env.COUNTERSIGN_TEST_STORE;

const lookup = (overrides: Record<string, unknown> = {}) => ({ ...agentAction(), action: 'crm.lookupCustomer', summary: 'Look up the customer', resource: { type: 'customer', id: 'C-42' }, payload: { customer: 'C-42' }, ...overrides });

async function refusedWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ConsumeRefusedError, `expected a refusal ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** Whether Temporal has any run of this workflow id. */
async function hasWorkflow(stack: Stack, workflowId: string): Promise<boolean> {
  try {
    await stack.ops.client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

async function edgeAllowed(agent = 'support-bot', overrides: Record<string, unknown> = {}): Promise<ApprovalRequest> {
  const request = await (await ctx.stack.agent(agent)).submit(lookup(overrides));
  assert.equal(request.status, 'approved');
  return request;
}

/** A raw HTTP call with an agent's key, as an attacker would make it. */
async function raw(url: string, agent: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(new URL(path, url), { method, headers: { authorization: `Bearer ${ctx.stack.agentKeys.get(agent)}`, 'content-type': 'application/json', ...headers }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const edgeFiles = () => (onFiles ? readdirSync(join(ctx.stack.evidenceDir, 'edge')).filter((f) => f.endsWith('.json')).length : 0);

describe('an edge allow', () => {
  test('answers approved with a sealed token and starts no workflow; the token is spent once, its outcome reported once', async () => {
    const request = await edgeAllowed();
    assert.equal(request.outcome?.decidedBy, 'policy');
    assert.deepEqual(request.outcome?.ruleIds, ['lookups']);
    assert.ok(request.outcome?.token?.sealed, 'the token comes sealed to the agent key');
    assert.equal(await hasWorkflow(ctx.stack, request.workflowId), false, 'no workflow was started');
    const receipt = await request.consume();
    assert.equal(receipt.body.workflowId, request.workflowId);
    assert.equal(receipt.body.tokenId, request.outcome?.token?.tokenId);
    assert.equal(receipt.keyId, ctx.stack.edgeSigner!.keyId, 'the receipt is signed by the edge key');
    await request.report({ status: 'succeeded' });
    await assert.rejects(request.report({ status: 'failed' }), (err: unknown) => err instanceof ConsumeRefusedError && err.code === 'ALREADY_DECIDED');
    // The plaintext was opened once and the key dropped by the SDK: consume again with the same token, raw.
    const again = await (await ctx.stack.agent()).submit(lookup({ taskId: request.request.taskId, payload: request.request.payload }));
    assert.equal(again.workflowId, request.workflowId, 'the same action of the same task is the same request');
    await refusedWith(again.consume(), 'TOKEN_CONSUMED', /already been used/);
    assert.equal(await hasWorkflow(ctx.stack, request.workflowId), false);
  });

  test('refuses another payload, another task, another agent, an expired token and a token from another deployment', async () => {
    const request = await edgeAllowed();
    const token = request.openToken()!;
    const base = { token, agentId: 'support-bot', taskId: request.request.taskId, actionDigest: actionDigest({ action: 'crm.lookupCustomer', resource: request.request.resource, payload: request.request.payload }) };
    const cs = await ctx.stack.agent();
    await refusedWith(cs.consume(request.workflowId, { ...base, actionDigest: actionDigest({ action: 'crm.lookupCustomer', resource: request.request.resource, payload: { customer: 'C-43' } }) }), 'BINDING_MISMATCH', /payload digest/);
    await refusedWith(cs.consume(request.workflowId, { ...base, taskId: 'another-task' }), 'BINDING_MISMATCH', /task/);
    await refusedWith(cs.consume(request.workflowId, { ...base, token: `cst_${randomBytes(32).toString('base64url')}` }), 'TOKEN_INVALID');
    // Another agent cannot name this request at all, by any id; and may not speak for this agent.
    const other = await raw(ctx.stack.url, 'ops-bot', 'POST', `/v1/requests/${request.requestId}/consume`, { ...base, agentId: 'ops-bot' });
    assert.deepEqual([other.status, other.body.code], [404, 'NOT_FOUND']);
    const byWorkflow = await raw(ctx.stack.url, 'ops-bot', 'POST', `/v1/requests/${request.workflowId}/consume`, { ...base, agentId: 'ops-bot' });
    assert.deepEqual([byWorkflow.status, byWorkflow.body.code], [404, 'NOT_FOUND']);
    const posing = await raw(ctx.stack.url, 'ops-bot', 'POST', `/v1/requests/${request.workflowId}/consume`, base);
    assert.deepEqual([posing.status, posing.body.code], [404, 'NOT_FOUND']);
    const speaking = await raw(ctx.stack.url, 'support-bot', 'POST', `/v1/requests/${request.workflowId}/consume`, { ...base, agentId: 'ops-bot' });
    assert.deepEqual([speaking.status, speaking.body.code], [403, 'FORBIDDEN']);
    // None of that spent it.
    const receipt = await cs.consume(request.workflowId, base);
    assert.equal(receipt.body.actionDigest, base.actionDigest);

    const quick = await edgeAllowed('support-bot', { action: 'crm.lookupFast' });
    const quickToken = quick.openToken()!;
    await new Promise((r) => setTimeout(r, 1500));
    await refusedWith(quick.consume(undefined, quickToken), 'TOKEN_EXPIRED', /expired at/);

    // Another deployment (its own edge key and store) decides the same request: its token is nothing here.
    const elsewhere = await startStack(ctx.env, POLICY, { worker: false, taskQueue: `${ctx.stack.taskQueue}-elsewhere` });
    try {
      const input = lookup();
      const here = await (await ctx.stack.agent()).submit(input);
      const there = await (await elsewhere.agent()).submit(input);
      assert.equal(there.workflowId, here.workflowId);
      const foreign = there.openToken()!;
      const digest = actionDigest({ action: input.action, resource: input.resource, payload: input.payload });
      await refusedWith(cs.consume(here.workflowId, { token: foreign, agentId: 'support-bot', taskId: input.taskId, actionDigest: digest }), 'TOKEN_INVALID', /not valid for this request/);
      assert.ok(await here.consume(), 'its own token still works here');
    } finally {
      await elsewhere.stop();
    }
  });

  test('32 agents consuming at once, each twice: every token is spent exactly once', { timeout: 120_000 }, async () => {
    const requests = await Promise.all(EDGE_AGENTS.map((name) => edgeAllowed(name)));
    const attempts = await Promise.allSettled(
      requests.flatMap((request) => {
        const token = request.openToken()!;
        return [request.consume(undefined, token), request.consume(undefined, token)];
      }),
    );
    for (let i = 0; i < requests.length; i++) {
      const pair = attempts.slice(2 * i, 2 * i + 2);
      const won = pair.filter((a) => a.status === 'fulfilled');
      const lost = pair.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
      assert.equal(won.length, 1, `${requests[i]!.workflowId}: exactly one consume succeeds`);
      assert.ok(lost[0]!.reason instanceof ConsumeRefusedError && lost[0]!.reason.code === 'TOKEN_CONSUMED', String(lost[0]!.reason));
    }
  });

  test('two server instances on one store: the ledger alone holds single use', { skip: !onFiles && 'the second instance writes the files store' }, async () => {
    const policy = compilePolicy(readFileSync(ctx.stack.policyFile, 'utf8'), ctx.stack.policyFile);
    const store = fileStore(ctx.stack.evidenceDir);
    const second = await startServer({ backend: ctx.stack.ops, policy, logger: createLogger({ level: 'silent' }), store, edge: { signer: ctx.stack.edgeSigner!, store }, sessionSecret: randomBytes(32), listen: '127.0.0.1:0', rateLimit: { perSecond: 1000, burst: 2000 } });
    try {
      for (let round = 0; round < 8; round++) {
        // Minted by the second instance, spent at both at once.
        const key = generateAgentKey();
        const input = { ...lookup(), agentKey: key.publicKey };
        const submitted = await raw(second.url, 'support-bot', 'POST', '/v1/requests', input);
        assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
        const state = submitted.body as unknown as SubmitState;
        const grant = state.outcome!.token!;
        const token = openToken(key, grant.sealed!, state.workflowId, grant.tokenId);
        const body = { token, agentId: 'support-bot', taskId: input.taskId, actionDigest: actionDigest(input) };
        const answers = await Promise.all([ctx.stack.url, second.url, ctx.stack.url, second.url].map((url) => raw(url, 'support-bot', 'POST', `/v1/requests/${state.requestId}/consume`, body)));
        assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409, 409, 409], JSON.stringify(answers.map((a) => a.body)));
        assert.ok(answers.filter((a) => a.status === 409).every((a) => a.body.code === 'TOKEN_CONSUMED'));
        assert.equal(((answers.find((a) => a.status === 200)!.body as unknown as Signed<ExecutionReceipt>).body.tokenId), grant.tokenId);
      }
    } finally {
      await second.close();
    }
  });
});

describe('the evidence of an edge allow', () => {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-edge-'));
  const cli = cliFor(ctx);

  test('is its own bundle, signed by the edge key, verifiable offline only with it, and in the log', { timeout: 60_000 }, async () => {
    const request = await edgeAllowed();
    await request.consume();
    await request.report({ status: 'succeeded', message: 'looked up' });
    const cs = await ctx.stack.agent();
    // The worker signs a checkpoint over leaves the edge appended within a few seconds.
    const view = await eventually(async () => {
      const v = await cs.evidence(request.workflowId);
      assert.ok(v.sealed && v.bundle.log, 'sealed, with a log proof');
      return v;
    }, 'the edge bundle under a checkpoint', 200);
    const bundle = view.bundle as EvidenceBundle;
    assert.equal(bundle.decidedAt, 'edge');
    assert.equal(bundle.signer.publicKey, ctx.stack.edgeSigner!.publicKey);
    assert.equal(bundle.outcome.status, 'executed');
    assert.deepEqual(bundle.events.map((e) => e.type), ['requested', 'evaluated', 'token_minted', 'consumed', 'reported', 'closed']);
    assert.equal(bundle.events[1]!.data?.policyDigest, bundle.approvalRecord!.body.policyDigest);
    assert.ok(!JSON.stringify(bundle).includes(request.openToken() ?? 'cst_'), 'no token in the evidence');
    const keys = { publicKey: ctx.stack.signer.publicKey, edgeKey: ctx.stack.edgeSigner!.publicKey };
    const ok = verifyBundle(bundle, keys);
    assert.ok(ok.ok, JSON.stringify(ok));
    assert.ok(ok.checks.some((c) => c.startsWith('decided at the edge')));
    assert.ok(ok.log, 'proven to be in the log under the layer key');
    const layerOnly = verifyBundle(bundle, { publicKey: ctx.stack.signer.publicKey });
    assert.ok(!layerOnly.ok && layerOnly.link === 'signer' && /pass --edge-key/.test(layerOnly.reason), JSON.stringify(layerOnly));
    // The edge key cannot pass for the layer's, nor vouch for a reviewer.
    const asLayer = verifyBundle({ ...bundle, decidedAt: undefined } as EvidenceBundle, keys);
    assert.ok(!asLayer.ok && asLayer.link === 'signer', JSON.stringify(asLayer));
    const withReviewer = verifyBundle({ ...bundle, outcome: { ...bundle.outcome, decidedBy: 'reviewers', reviewers: ['alice'] } } as EvidenceBundle, keys);
    assert.ok(!withReviewer.ok && withReviewer.link === 'decidedAt', JSON.stringify(withReviewer));

    // Offline, with the CLI.
    const file = join(dir, 'edge.evidence.json');
    writeFileSync(file, `${JSON.stringify(bundle, null, 2)}\n`);
    writeFileSync(join(dir, 'layer.pub'), `${ctx.stack.signer.publicKey}\n`);
    writeFileSync(join(dir, 'edge.pub'), `${ctx.stack.edgeSigner!.publicKey}\n`);
    const verified = await cli(['verify', file, '--key', join(dir, 'layer.pub'), '--edge-key', join(dir, 'edge.pub')]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /: decided at the edge — a policy allow with no workflow and no reviewer, signed by the edge key/);
    const untrusted = await cli(['verify', file, '--key', join(dir, 'layer.pub')]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /NOT TRUSTED at signer: .*pass --edge-key/);
  });

  test('log audit checks edge leaves with the edge key and finds a deleted edge bundle', { skip: !onFiles && 'tampers with the file store', timeout: 60_000 }, async () => {
    const request = await edgeAllowed();
    const receipt = await request.consume();
    const pub = join(dir, 'layer.pub');
    writeFileSync(pub, `${ctx.stack.signer.publicKey}\n`);
    writeFileSync(join(dir, 'edge.pub'), `${ctx.stack.edgeSigner!.publicKey}\n`);
    const kept = join(dir, 'kept.checkpoint');
    const audit = (extra: string[]) => cli(['log', 'audit', '--key', pub, '--checkpoint', kept, ...extra], { COUNTERSIGN_API_KEY: ctx.stack.auditorKeys.get('audrey')! });
    const runId = edgeRunId(receipt.body.tokenId, 'consumed');
    const size = async () => (await ctx.stack.store.latestCheckpoint())?.treeSize ?? 0;
    const index = await eventually(async () => {
      const found = (await ctx.stack.store.readLeaves(0, await ctx.stack.store.logSize())).find((l) => new TextDecoder().decode(l.data).includes(runId));
      assert.ok(found && (await size()) > found.index, 'a checkpoint covers the edge leaf');
      return found.index;
    }, 'a checkpoint over the edge leaf', 200);
    const withoutKey = await audit([]);
    assert.equal(withoutKey.code, 1, withoutKey.stdout);
    assert.match(withoutKey.stdout, /FINDING altered-bundle: request [0-9a-f]{16} .*pass --edge-key/);
    const passes = await audit(['--edge-key', join(dir, 'edge.pub')]);
    assert.equal(passes.code, 0, passes.stdout + passes.stderr);
    const path = evidencePath(ctx.stack.evidenceDir, request.workflowId, runId);
    const text = readFileSync(path, 'utf8');
    unlinkSync(path);
    try {
      const run = await audit(['--edge-key', join(dir, 'edge.pub')]);
      assert.equal(run.code, 1, run.stdout);
      assert.match(run.stdout, new RegExp(`^FINDING missing-bundle: request ${request.requestId} \\(workflow ${request.workflowId}, run ${runId}, leaf ${index}\\): its evidence bundle is missing from the store$`, 'm'));
    } finally {
      writeFileSync(path, text);
    }
  });
});

describe('operators count edge allows', () => {
  const cli = cliFor(ctx);
  test('GET /healthz and countersign status show this instance\'s edge decisions, which Temporal cannot', async () => {
    const health = async () => ((await (await fetch(new URL('/healthz', ctx.stack.url))).json()) as { ok: boolean; edge: { allowed: number; consumed: number; reported: number; refused: number } }).edge;
    const before = await health();
    const request = await edgeAllowed();
    await request.consume();
    await refusedWith((await ctx.stack.agent()).consume(request.workflowId, { token: `cst_${randomBytes(32).toString('base64url')}`, agentId: 'support-bot', taskId: request.request.taskId, actionDigest: 'a'.repeat(64) }), 'TOKEN_INVALID');
    await request.report({ status: 'succeeded' });
    const after = await health();
    assert.deepEqual(after, { allowed: before.allowed + 1, consumed: before.consumed + 1, reported: before.reported + 1, refused: before.refused + 1 });
    const status = await cli(['status']);
    assert.match(status.stdout, new RegExp(`^Edge allows   ${after.allowed} decided, ${after.consumed} consumed, ${after.reported} reported, ${after.refused} consumes refused \\(this server instance, since it started; not in the Temporal UI\\)$`, 'm'), status.stdout + status.stderr);
  });

  test('insights count edge allows as auto-allowed, and apart, from their sealed bundles', async () => {
    const insights = async () => {
      const res = await fetch(new URL('/v1/insights?since=1d', ctx.stack.url), { headers: { authorization: `Bearer ${ctx.stack.auditorKeys.get('audrey')!}` } });
      assert.equal(res.status, 200);
      return ((await res.json()) as { outcomes: { auto_allowed: number; edge_allowed: number; executed: number } }).outcomes;
    };
    const before = await insights();
    const request = await edgeAllowed();
    await request.consume();
    await request.report({ status: 'succeeded' });
    const after = await insights();
    assert.deepEqual(
      { edge: after.edge_allowed - before.edge_allowed, auto: after.auto_allowed - before.auto_allowed, executed: after.executed - before.executed },
      { edge: 1, auto: 1, executed: 1 },
      'one more edge allow, counted once (its consume and report bundles are one request), executed',
    );
  });
});

describe('the CLI on an edge allow', () => {
  const cli = cliFor(ctx);
  test('submit prints the approval and the token, consume the edge-signed receipt, once; report seals the outcome', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'countersign-edge-cli-')), 'lookup.json');
    writeFileSync(file, JSON.stringify({ agentId: 'support-bot', ...lookup() }));
    const submitted = await cli(['submit', '--file', file]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const requestId = /^approved by policy \(lookups\): request ([0-9a-f]{16})$/m.exec(submitted.stdout)?.[1];
    const token = /^token: (cst_\S+)$/m.exec(submitted.stdout)?.[1];
    assert.ok(requestId && token, submitted.stdout);
    const consumed = await cli(['consume', requestId, '--token', token, '--action', file]);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.match(consumed.stdout, new RegExp(`^consumed: receipt rcpt_[0-9a-f]+ for request ${requestId} \\(signed by ${ctx.stack.edgeSigner!.keyId}\\)`));
    const again = await cli(['consume', requestId.slice(0, 8), '--token', token, '--action', file]);
    assert.equal(again.code, 1, again.stdout);
    assert.match(again.stderr, /TOKEN_CONSUMED/);
    const reported = await cli(['report', requestId, '--agent', 'support-bot', '--status', 'succeeded']);
    assert.equal(reported.code, 0, reported.stderr);
  });
});

describe('a request the policy routes to review', () => {
  test('never gets an edge token, whatever field an agent sets over raw HTTP', { timeout: 120_000 }, async () => {
    const before = edgeFiles();
    const vip = () => ({ ...lookup({ resource: { type: 'customer', id: 'VIP-7' } }), agentKey: generateAgentKey().publicKey });
    // Fields an agent may set, set to everything that reads like "decide me at the edge".
    const variants: { body: Record<string, unknown>; path?: string; headers?: Record<string, string> }[] = [
      { body: vip() },
      { body: { ...vip(), context: { edge: 'true', decision: 'allow', decidedAt: 'edge', ruleIds: 'lookups' } } },
      { body: { ...vip(), summary: 'edge: true', onBehalfOf: 'edge' } },
      { body: { ...vip(), resource: { type: 'customer', id: 'VIP-7', owner: 'edge', environment: 'edge' } } },
      { body: vip(), path: '/v1/requests?edge=true&wait=0s&decision=allow' },
      { body: vip(), headers: { 'x-countersign-edge': 'true', 'x-countersign-decision': 'allow' } },
      // A payload the edge rule's sibling sends to the workflow (a plain allow without edge: true among the matches).
      { body: { ...lookup({ payload: { customer: 'C-42', notes: 'x' } }), agentKey: generateAgentKey().publicKey } },
    ];
    for (const v of variants) {
      const answer = await raw(ctx.stack.url, 'support-bot', 'POST', v.path ?? '/v1/requests', v.body, v.headers);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const state = answer.body as unknown as SubmitState;
      assert.ok(await hasWorkflow(ctx.stack, state.workflowId), `${JSON.stringify(v).slice(0, 200)}: took the workflow's path`);
      if (state.outcome?.token) {
        // Only the plain allow without edge: its token is the workflow's, signed by the layer key.
        assert.deepEqual(state.outcome.ruleIds, ['lookups', 'lookups-with-notes']);
      } else assert.equal(state.status, 'pending');
    }
    // Fields the request does not have are refused outright, nothing started.
    for (const extra of [{ edge: true }, { decidedAt: 'edge' }, { decision: 'allow' }, { ruleIds: ['lookups'] }]) {
      const answer = await raw(ctx.stack.url, 'support-bot', 'POST', '/v1/requests', { ...vip(), ...extra });
      assert.equal(answer.status, 422, JSON.stringify(answer.body));
      assert.match(String(answer.body.detail), new RegExp(Object.keys(extra)[0]!));
    }
    assert.equal(edgeFiles(), before, 'no edge token was minted');
    await assert.rejects((await ctx.stack.agent()).evidence(`cs-support-bot-${'0'.repeat(16)}`), RequestNotFoundError);
  });
});
