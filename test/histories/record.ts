/**
 * Records the replay fixtures in this folder: one real workflow history per outcome, replayed by
 * test/replay.test.ts in every run so that a workflow change that is not replay-safe fails CI.
 *
 *   node --import tsx test/histories/record.ts              # every scenario
 *   node --import tsx test/histories/record.ts escalate     # just these
 *
 * Starts its own Temporal dev server (or uses COUNTERSIGN_TEST_ADDRESS), drives each scenario to
 * its end with the SDK, checks the outcome, and writes the history as <scenario>.json after
 * checking that the written JSON replays. A new scenario goes in SCENARIOS below; commit its JSON.
 * v1/ holds the histories recorded before the 'integrity-v2' patch, v2/ those recorded before the
 * 'signed-decisions' patch (the front door), v3/ those recorded before 'one-round-allow' (policy's
 * verdict and an auto-allow's token in one local activity): runs of that code may still be open, so
 * they are replayed too, and never re-recorded. Scenarios run through the server, as agents and reviewers do.
 */
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import type { ApprovalRequest } from '../../client/sdk';
import type { Payload } from '../../common/json';
import type { ApprovalOutcome } from '../../common/views';
import { actionDigest, approvalWorkflowId } from '../../common/digest';
import { approvalWorkflowType } from '../../workflows/messages';
import { eventually } from '../support/eventually';
import { testEnvironment, testWorkflowBundle } from '../support/server';
import { action, startStack, type Stack, type TestClient } from '../support/stack';
import { decideSeen, signedDecision } from '../support/review';
import { simulatedAuthenticator } from '../support/authenticator';
import { CHAT_ATTESTATION_DOMAIN, decisionStatement, statementTarget } from '../../common/signing';
import { startSlackStandIn, type SlackStandIn } from '../support/slack';
import { decisionChallenge } from '../../common/signing';
import { passkeyFingerprint } from '../../common/webauthn';
import { Enrollments } from '../../server/enrollments';
import { enrollmentWorkflowId, type EnrollmentState, type EnrollmentStatus, type RegisteredPasskey } from '../../workflows/enrollment-messages';

/** The Slack stand-in the recording stack posts to (the chat scenarios wait on it). */
let recordingSlack: SlackStandIn | undefined;

/** Pat decides from the web inbox: a passkey, simulated here (the fixture needs only the history it leaves). */
const INBOX = { rpId: 'localhost', origin: 'http://localhost:7280' };
const PAT = simulatedAuthenticator('p256', INBOX);

/** Second-long durations so that escalation, expiry and the two token timers happen while recording. */
export const RECORDING_POLICY = `
version: 1
defaults: { decision: review, reviewers: support, sla: 1h, tokenTtl: 1m, reportWithin: 1m }
groups:
  support: { members: [alice, bob], escalatesTo: support-leads }
  support-leads: { members: [carol] }
  finance: { members: [dave, erin] }
  inbox: { members: [pat] }
  chat: { members: [dave], slack: { channel: C0RECORD1 } }
rules:
  - id: refund-small
    match: { action: payments.refund }
    when: "payload.amount <= 100"
    decision: allow
  - id: refund-review
    match: { action: payments.refund }
    when: "payload.amount > 100"
    decision: review
    reviewers: support
  - id: refund-large
    match: { action: payments.refund }
    when: "payload.amount > 500"
    decision: review
    reviewers: finance
    approvals: 2
  - id: refund-huge
    match: { action: payments.refund }
    when: "payload.amount > 10000"
    decision: deny
    reason: Refunds over 10,000 are never automated.
  - id: account-close
    match: { action: account.close }
    decision: review
    reviewers: support
    escalate: { after: 2s }
  - id: email-send
    match: { action: email.send }
    decision: review
    reviewers: support
    sla: 4s
  - id: refund-fast
    match: { action: payments.refundFast }
    decision: allow
    tokenTtl: 2s
  - id: refund-unreported
    match: { action: payments.refundUnreported }
    decision: allow
    reportWithin: 2s
  - id: account-unlock
    match: { action: account.unlock }
    decision: review
    reviewers: inbox
  - id: refund-chat
    match: { action: payments.chatRefund }
    decision: review
    reviewers: chat
    assurance: chat
actions:
  payments.refund:
    display: { amount: "{amount} {currency}", order: "{order}" }
directory:
  webauthn: { rpId: ${INBOX.rpId}, origins: ["${INBOX.origin}"] }
  reviewers:
    pat: { passkeys: [{ id: ${PAT.credential.credentialId}, publicKey: ${PAT.credential.publicKey} }] }
`;

/**
 * A fixture file back into a History. The files are `JSON.stringify(await handle.fetchHistory())`:
 * protobufjs JSON (longs as strings, bytes as base64, enums by name), which the History type's own
 * fromObject reads exactly. Worker.runReplayHistories would take the parsed JSON as it is and convert it
 * with historyFromJSON, but that fails ("type must be a Type") whenever npm installs @temporalio/common
 * and @temporalio/proto with separate copies of protobufjs 8 — which it does here, because
 * @grpc/proto-loader keeps protobufjs 7 at the top of node_modules.
 */
export function historyFromFixture(json: unknown): temporal.api.history.v1.History {
  return temporal.api.history.v1.History.fromObject(json as { [key: string]: unknown });
}

export interface Scenario {
  /** The status the workflow must end with (checked when recording and again on every replay). */
  outcome: ApprovalOutcome['status'];
  /** Drives one request through the scenario; returns its workflow id. */
  run(cs: TestClient, name: string, stack: Stack): Promise<string>;
}

const request = (name: string, overrides: Record<string, unknown>) => action({ taskId: `fixture-${name}-${randomUUID().slice(0, 8)}`, ...overrides });
const refund = (amount: number) => ({ payload: { amount, currency: 'USD', order: '1234' } });

async function submitted(cs: TestClient, name: string, overrides: Record<string, unknown>, expected: string): Promise<ApprovalRequest> {
  const r = await cs.submit(request(name, overrides), { waitMs: 0 });
  if (r.status !== expected) throw new Error(`${name}: submitted as ${r.status}, expected ${expected}`);
  return r;
}

/** Waits for the token, consumes it (for `payload`, default the approved one) and reports. */
async function execute(r: ApprovalRequest, report: 'succeeded' | 'failed' | 'none', payload?: Payload): Promise<string> {
  if (r.status !== 'approved') await r.wait(10_000);
  if (r.status !== 'approved') throw new Error(`${r.workflowId}: ${r.status}, expected approved`);
  await r.consume(payload);
  if (report === 'succeeded') await r.report({ status: 'succeeded', message: 'done' });
  if (report === 'failed') await r.report({ status: 'failed', message: 'payment provider down' });
  return r.workflowId;
}

export const SCENARIOS: Record<string, Scenario> = {
  'auto-allow': {
    outcome: 'executed',
    run: async (cs, name) => execute(await submitted(cs, name, refund(40), 'approved'), 'succeeded'),
  },
  'policy-deny': {
    outcome: 'denied',
    run: async (cs, name) => (await submitted(cs, name, refund(20_000), 'denied')).workflowId,
  },
  approve: {
    outcome: 'executed',
    run: async (cs, name) => {
      const r = await submitted(cs, name, refund(250), 'pending');
      await decideSeen(cs, r.workflowId, { decision: 'approve', reviewer: 'alice', comment: 'duplicate charge confirmed' });
      return execute(r, 'succeeded');
    },
  },
  /** The 'current-keys' patch: the signed decision is checked against the directory's key at decision time (a local activity look-up). */
  'current-key-approve': {
    outcome: 'executed',
    run: async (cs, name) => {
      const r = await submitted(cs, name, refund(260), 'pending');
      await decideSeen(cs, r.workflowId, { decision: 'approve', reviewer: 'bob', comment: 'checked against the current directory' });
      return execute(r, 'succeeded');
    },
  },
  /** The 'agent-wait-budget' patch: the agent's waits are counted (a spent budget is answered by a query, not an Update). */
  'wait-budget-deny': {
    outcome: 'denied',
    run: async (cs, name) => {
      const r = await submitted(cs, name, refund(270), 'pending');
      await cs.wait(r.workflowId, 0);
      await decideSeen(cs, r.workflowId, { decision: 'deny', reviewer: 'alice', reasonCode: 'NOT_DUE', message: 'No refund is due.' });
      return r.workflowId;
    },
  },
  /** The 'vouched-start' patch: the server signs each start; an auto-allow through it, and a raw start without its voucher. */
  'vouched-allow': {
    outcome: 'executed',
    run: async (cs, name) => execute(await submitted(cs, name, refund(45), 'approved'), 'succeeded'),
  },
  'unvouched-start': {
    outcome: 'denied',
    run: async (_cs, name, stack) => {
      const body = request(name, refund(40));
      const ids = approvalWorkflowId(body as never);
      await stack.ops.client.workflow.start(approvalWorkflowType, { taskQueue: stack.ops.taskQueue, workflowId: ids.workflowId, args: [{ request: body as never, requestId: ids.requestId, actionDigest: ids.actionDigest }] });
      return ids.workflowId;
    },
  },
  /** The 'batch-decisions' patch: two requests approved with one signature over a Merkle root; this run checks its own leaf. */
  'batch-approve': {
    outcome: 'executed',
    run: async (cs, name, stack) => {
      const first = await submitted(cs, name, refund(240), 'pending');
      const second = await submitted(cs, `${name}-2`, refund(245), 'pending');
      const alice = await stack.reviewer('alice');
      const answer = await alice.approveBatch([{ view: await alice.view(first.workflowId) }, { view: await alice.view(second.workflowId) }], 'both duplicates');
      if (!answer.results.every((r) => r.accepted)) throw new Error(`${name}: ${JSON.stringify(answer.results)}`);
      return execute(first, 'succeeded');
    },
  },
  'approve-with-edit': {
    outcome: 'executed',
    run: async (cs, name) => {
      const r = await submitted(cs, name, refund(300), 'pending');
      const edited = { amount: 180, currency: 'USD', order: '1234' };
      await decideSeen(cs, r.workflowId, { decision: 'approve', reviewer: 'bob', editedPayload: edited });
      return execute(r, 'succeeded', edited);
    },
  },
  'changes-requested': {
    outcome: 'changes_requested',
    run: async (cs, name) => {
      const r = await submitted(cs, name, refund(300), 'pending');
      const proposed = { amount: 150, currency: 'USD', order: '1234' };
      await decideSeen(cs, r.workflowId, { decision: 'request_changes', reviewer: 'alice', comment: 'Refund only the duplicate charge.', proposedPayload: proposed });
      return r.workflowId;
    },
  },
  'reviewer-deny': {
    outcome: 'denied',
    run: async (cs, name) => {
      const r = await submitted(cs, name, refund(300), 'pending');
      await decideSeen(cs, r.workflowId, { decision: 'deny', reviewer: 'bob', reasonCode: 'DUPLICATE_REFUND', message: 'Already refunded last week.' });
      return r.workflowId;
    },
  },
  escalate: {
    outcome: 'executed',
    run: async (cs, name) => {
      const r = await submitted(cs, name, { action: 'account.close', payload: { account: 'AC-1' } }, 'pending');
      await eventually(async () => {
        const view = await cs.view(r.workflowId);
        if (view.status !== 'escalated') throw new Error(`status ${view.status}`);
      }, `${name}: escalated`, 100, 200);
      await decideSeen(cs, r.workflowId, { decision: 'approve', reviewer: 'carol' });
      return execute(r, 'succeeded');
    },
  },
  'sla-expired': {
    outcome: 'expired',
    run: async (cs, name) => (await submitted(cs, name, { action: 'email.send', payload: { to: ['x@example.com'] } }, 'pending')).workflowId,
  },
  'consume-report-failed': {
    outcome: 'failed',
    run: async (cs, name) => execute(await submitted(cs, name, refund(60), 'approved'), 'failed'),
  },
  'not-executed': {
    outcome: 'not_executed',
    run: async (cs, name) => (await submitted(cs, name, { action: 'payments.refundFast', ...refund(30) }, 'approved')).workflowId,
  },
  'outcome-unknown': {
    outcome: 'outcome_unknown',
    run: async (cs, name) => execute(await submitted(cs, name, { action: 'payments.refundUnreported', ...refund(30) }, 'approved'), 'none'),
  },
  'edit-rerouted': {
    outcome: 'executed',
    run: async (cs, name) => {
      const r = await submitted(cs, name, refund(250), 'pending');
      const edited = { amount: 800, currency: 'USD', order: '1234' };
      await decideSeen(cs, r.workflowId, { decision: 'approve', reviewer: 'bob', editedPayload: edited }); // now finance's, twice
      await decideSeen(cs, r.workflowId, { decision: 'approve', reviewer: 'dave' });
      await decideSeen(cs, r.workflowId, { decision: 'approve', reviewer: 'erin' });
      return execute(r, 'succeeded', edited);
    },
  },
  /**
   * Slack (issue 24): the review message is posted to the group's channel and kept current (the
   * 'chat-messages' patch), and dave approves in chat — the front door's attestation of his click,
   * signed with the start key, as the Slack endpoint sends it.
   */
  'chat-approve': {
    outcome: 'executed',
    run: async (cs, name, stack) => {
      const r = await submitted(cs, name, { action: 'payments.chatRefund', ...refund(300) }, 'pending');
      await recordingSlack!.waitFor('chat.postMessage', (a) => JSON.stringify(a.blocks ?? '').includes(r.requestId), 'the review message');
      const view = await cs.view(r.workflowId);
      const signedAt = new Date().toISOString();
      const slack = { teamId: 'T0RECORD', userId: 'U0DAVE001', channelId: 'C0RECORD1', actionTs: `${Math.floor(Date.now() / 1000)}.000001` };
      const decision = { decision: 'approve' as const, reviewer: 'dave', versionDigest: view.currentDigest };
      const statement = decisionStatement(statementTarget(view, { versionDigest: view.currentDigest, policyDigest: view.policy!.policyDigest }), decision, signedAt);
      const value = stack.startSigner.sign(CHAT_ATTESTATION_DOMAIN, { statement, slack }).signature;
      await stack.ops.decide(r.workflowId, { ...decision, signature: { signedAt, chat: { slack, value } } });
      const id = await execute(r, 'succeeded');
      await recordingSlack!.waitFor('chat.update', (a) => JSON.stringify(a.blocks ?? '').includes(r.requestId) && /xecuted/.test(JSON.stringify(a.blocks)), 'the message updated to executed');
      return id;
    },
  },
  /** The 'queue-memo' patch: the run publishes its display fields and approvals (0/2, then 1/2, 2/2) in its memo for the queue. */
  'queue-memo': {
    outcome: 'executed',
    run: async (cs, name) => {
      const r = await submitted(cs, name, refund(900), 'pending');
      await decideSeen(cs, r.workflowId, { decision: 'approve', reviewer: 'dave' });
      await decideSeen(cs, r.workflowId, { decision: 'approve', reviewer: 'erin' });
      return execute(r, 'succeeded');
    },
  },
  'signal-refused': {
    outcome: 'executed',
    run: async (cs, name, stack) => {
      const r = await submitted(cs, name, refund(250), 'pending');
      const handle = stack.ops.client.workflow.getHandle(r.workflowId);
      const { currentDigest } = await cs.view(r.workflowId);
      await handle.signal('decide', { decision: 'approve', reviewer: 'alice', versionDigest: '0'.repeat(64) }); // STALE_VERSION, recorded
      await handle.signal('decide', { decision: 'approve', reviewer: 'alice', versionDigest: currentDigest }); // unsigned: UNAUTHENTICATED, recorded
      await handle.signal('decide', await signedDecision(stack, r.workflowId, { decision: 'approve', reviewer: 'alice', versionDigest: currentDigest }));
      return execute(r, 'succeeded');
    },
  },
  cancelled: {
    outcome: 'cancelled',
    run: async (cs, name, stack) => {
      const r = await submitted(cs, name, refund(250), 'pending');
      await stack.ops.client.workflow.getHandle(r.workflowId).cancel();
      return r.workflowId;
    },
  },
  'input-mismatch': {
    outcome: 'denied',
    run: async (_cs, name, stack) => {
      const body = request(name, refund(40));
      const ids = approvalWorkflowId(body as never);
      const forged = actionDigest({ action: 'payments.refund', resource: body.resource as never, payload: { amount: 250_000, currency: 'USD' } });
      await stack.ops.client.workflow.start(approvalWorkflowType, { taskQueue: stack.ops.taskQueue, workflowId: ids.workflowId, args: [{ request: body as never, requestId: ids.requestId, actionDigest: forged }] });
      return ids.workflowId;
    },
  },
  'passkey-approve': {
    outcome: 'executed',
    run: async (cs, name, stack) => {
      const r = await submitted(cs, name, { action: 'account.unlock', resource: { type: 'account', id: 'A-7' }, payload: { reason: 'locked out after travel' } }, 'pending');
      const view = await stack.ops.view(r.workflowId);
      const signedAt = new Date().toISOString();
      const decision = { decision: 'approve' as const, reviewer: 'pat', versionDigest: view.currentDigest, comment: 'identity checked on a call' };
      const statement = decisionStatement(statementTarget(view, { versionDigest: view.currentDigest, policyDigest: view.policy!.policyDigest }), decision, signedAt);
      await stack.ops.decide(r.workflowId, { ...decision, signature: { signedAt, passkey: PAT.assert(decisionChallenge(statement)) } });
      return execute(r, 'succeeded');
    },
  },
  'spent-before-reset': {
    outcome: 'outcome_unknown',
    run: async (cs, name, stack) => {
      const r = await submitted(cs, name, refund(40), 'approved');
      const token = r.openToken()!;
      const receipt = await r.consume();
      await r.report({ status: 'succeeded' });
      await cs.outcome(r.workflowId);
      const handle = stack.ops.client.workflow.getHandle(r.workflowId);
      const { events } = await handle.fetchHistory();
      const EventType = temporal.api.enums.v1.EventType;
      const consume = events!.findIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'consume');
      const point = events!.slice(0, consume).reverse().find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)!;
      const { runId } = await handle.describe();
      await stack.ops.client.workflowService.resetWorkflowExecution({
        namespace: 'default',
        workflowExecution: { workflowId: r.workflowId, runId },
        reason: 'fixture: a reset to before the consume',
        workflowTaskFinishEventId: point.eventId,
        requestId: randomUUID(),
      });
      await cs.consume(r.workflowId, { token, agentId: r.request.agentId, taskId: r.request.taskId, actionDigest: receipt.body.actionDigest }).catch(() => undefined);
      return r.workflowId;
    },
  },
};

/** A reviewer's passkey enrolment (workflows/enrollment.ts), driven as the CLI and the server drive it. */
export interface EnrollmentScenario {
  status: EnrollmentStatus;
  /** Returns the workflow id and the run to record. */
  run(enrollments: Enrollments, stack: Stack): Promise<{ workflowId: string; runId: string }>;
}

/** A registration as the server makes it once the browser's ceremony verified (a simulated passkey here). */
function registered(): RegisteredPasskey {
  const { credential } = simulatedAuthenticator('p256', INBOX);
  return { id: credential.credentialId, publicKey: credential.publicKey, origin: INBOX.origin, rpId: INBOX.rpId, fingerprint: passkeyFingerprint(credential.credentialId, credential.publicKey) };
}

async function enrolmentRun(stack: Stack, reviewer: string) {
  const { runId } = await stack.ops.client.workflow.getHandle(enrollmentWorkflowId(reviewer)).describe();
  return { workflowId: enrollmentWorkflowId(reviewer), runId };
}

export const ENROLLMENT_SCENARIOS: Record<string, EnrollmentScenario> = {
  'enroll-confirmed': {
    status: 'confirmed',
    run: async (enrollments, stack) => {
      const reviewer = `rita-${randomUUID().slice(0, 8)}`;
      const { token } = await enrollments.invite(reviewer);
      await enrollments.check(reviewer, token);
      const passkey = registered();
      await enrollments.register(reviewer, token, passkey);
      await enrollments.register(reviewer, token, registered()).catch(() => undefined); // single use: refused
      await enrollments.confirm(reviewer, passkey.id);
      return enrolmentRun(stack, reviewer);
    },
  },
  'enroll-expired': {
    status: 'expired',
    run: async (enrollments, stack) => {
      const reviewer = `sol-${randomUUID().slice(0, 8)}`;
      await enrollments.invite(reviewer, { ttlMs: 1500 });
      return enrolmentRun(stack, reviewer);
    },
  },
  'enroll-withdrawn': {
    status: 'revoked',
    run: async (enrollments, stack) => {
      const reviewer = `uma-${randomUUID().slice(0, 8)}`;
      const { token } = await enrollments.invite(reviewer);
      await enrollments.register(reviewer, token, registered());
      const run = await enrolmentRun(stack, reviewer);
      await enrollments.invite(reviewer, { replace: true }); // withdraws the registered, unconfirmed passkey
      return run;
    },
  },
};

async function main(names: string[]): Promise<void> {
  const unknown = names.filter((n) => !SCENARIOS[n] && !ENROLLMENT_SCENARIOS[n]);
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${[...Object.keys(SCENARIOS), ...Object.keys(ENROLLMENT_SCENARIOS)].join(', ')}`);
  const chosen = names.length ? names.filter((n) => SCENARIOS[n]) : Object.keys(SCENARIOS);
  const enrolments = names.length ? names.filter((n) => ENROLLMENT_SCENARIOS[n]) : Object.keys(ENROLLMENT_SCENARIOS);
  const env = await testEnvironment();
  recordingSlack = await startSlackStandIn();
  const stack = await startStack(env, RECORDING_POLICY, { slack: recordingSlack });
  try {
    const workflowBundle = await testWorkflowBundle();
    /** What is written must read back to the same history and replay, before it becomes a fixture. */
    const write = async (name: string, file: string, workflowId: string, history: unknown, what: string) => {
      const json = `${JSON.stringify(history, null, 2)}\n`;
      const readBack = historyFromFixture(JSON.parse(json));
      if (`${JSON.stringify(readBack, null, 2)}\n` !== json) throw new Error(`${name}: the history does not survive a JSON round trip`);
      await Worker.runReplayHistory({ workflowBundle, replayName: `record ${name}` }, readBack, workflowId);
      writeFileSync(file, json);
      process.stdout.write(`${name}: ${what}, ${(history as { events?: unknown[] }).events?.length ?? 0} events, ${json.length} bytes → ${file}\n`);
    };
    const enrollments = new Enrollments(stack.ops.client, stack.taskQueue);
    await Promise.all(
      enrolments.map(async (name) => {
        const scenario = ENROLLMENT_SCENARIOS[name]!;
        const { workflowId, runId } = await scenario.run(enrollments, stack);
        const handle = stack.ops.client.workflow.getHandle(workflowId, runId);
        const state = (await handle.result()) as EnrollmentState;
        if (state.status !== scenario.status) throw new Error(`${name}: ended ${state.status}, expected ${scenario.status}`);
        await write(name, join(__dirname, 'enrollment', `${name}.json`), workflowId, await handle.fetchHistory(), state.status);
      }),
    );
    await Promise.all(
      chosen.map(async (name) => {
        const scenario = SCENARIOS[name]!;
        const workflowId = await scenario.run(stack.cs, name, stack);
        const outcome = await stack.cs.outcome(workflowId);
        if (outcome.status !== scenario.outcome) throw new Error(`${name}: ended ${outcome.status}, expected ${scenario.outcome}`);
        await write(name, join(__dirname, `${name}.json`), workflowId, await env.client.workflow.getHandle(workflowId).fetchHistory(), outcome.status);
      }),
    );
  } finally {
    await stack.stop();
    await recordingSlack.close();
    await env.teardown();
    rmSync(stack.dir, { recursive: true, force: true });
  }
}

// Run only as a script: test/replay.test.ts imports SCENARIOS from here.
if (process.argv[1] && resolve(process.argv[1]) === __filename) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`recording failed: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
