/**
 * The worker's side of Slack (issue 24): a request's message posted to its group's channel when it
 * enters review or escalates, and updated in place after every transition, against the local Slack
 * stand-in (the real WebClient talks to it) with a real Temporal server and worker.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createActivities, type GroupNotification } from '../activities';
import type { RequestMessage } from '../activities/notify/types';
import { loadSlackSettings } from '../config/slack';
import { newEd25519Key, signerFromKey } from '../crypto/keys';
import { compilePolicy } from '../policy/load';
import { eventually } from './support/eventually';
import { decideSeen } from './support/review';
import { BOT_TOKEN, startSlackStandIn, type SlackCall, type SlackStandIn } from './support/slack';
import { action, startStack, type Stack } from './support/stack';
import { testEnvironment } from './support/server';

const FINANCE = 'CFINANCE01';
const LEADS = 'CLEADS0001';
const OPS = 'COPS000001';

const policy = `
version: 1
defaults: { decision: review, reviewers: finance }
groups:
  finance: { members: [dave, erin], escalatesTo: leads, slack: { channel: ${FINANCE} } }
  leads: { members: [lena], slack: { channel: ${LEADS} } }
  ops: { members: [oscar], slack: { channel: ${OPS} } }
rules:
  - id: refunds
    match: { action: payments.refund }
    decision: review
    risk: high
    reason: Refunds move money out.
    reviewers: finance
    approvals: 2
    assurance: chat
  - id: payouts
    match: { action: payments.payout }
    decision: review
    reviewers: finance
    escalate: { after: 2s }
    assurance: chat
  - id: restarts
    match: { action: system.restart }
    decision: review
    reviewers: ops
    sla: 2s
    assurance: chat
  - id: closures
    match: { action: accounts.close }
    decision: review
    reviewers: ops
`;

let env: TestWorkflowEnvironment;
let stack: Stack;
let slack: SlackStandIn;

before(async () => {
  slack = await startSlackStandIn();
  env = await testEnvironment();
  stack = await startStack(env, policy, { slack, inbox: true });
});
after(async () => {
  await stack?.stop();
  await env?.teardown();
  await slack?.close();
});

interface Block {
  type: string;
  block_id?: string;
  text?: { text: string };
  fields?: { text: string }[];
  elements?: { text?: string | { text: string }; action_id?: string; value?: string; url?: string; style?: string }[];
}
const argsOf = (c: SlackCall | Record<string, unknown>): Record<string, unknown> => (typeof c.method === 'string' && typeof c.args === 'object' ? (c as SlackCall).args : (c as Record<string, unknown>));
const blocksOf = (c: SlackCall | Record<string, unknown>) => (argsOf(c).blocks ?? []) as Block[];
const textOf = (c: SlackCall | Record<string, unknown>) =>
  blocksOf(c)
    .flatMap((b) => [b.text?.text ?? '', ...(b.fields ?? []).map((f) => f.text), ...(b.type === 'context' ? (b.elements ?? []).map((e) => String(e.text ?? '')) : [])])
    .join('\n');
const buttonsOf = (c: SlackCall | Record<string, unknown>) => blocksOf(c).flatMap((b) => (b.type === 'actions' ? (b.elements ?? []) : []));
const postFor = (requestId: string, channel: string) => slack.waitFor('chat.postMessage', (a) => a.channel === channel && textOf(a).includes(requestId), `a message in ${channel} for ${requestId}`);
/** An update of a request's message in one channel. */
const updateOf = (requestId: string, channel: string, match: (text: string) => boolean, what: string) => slack.waitFor('chat.update', (a) => a.channel === channel && textOf(a).includes(requestId) && match(textOf(a)), what);
const updatesOf = (requestId: string, channel: string, match: (text: string) => boolean) => slack.callsTo('chat.update').filter((c) => c.args.channel === channel && textOf(c).includes(requestId) && match(textOf(c)));
const noFailures = async (id: string) => assert.deepEqual((await stack.cs.view(id)).history.filter((e) => e.type === 'notification_failed'), []);

test("a request entering review posts one message to its group's channel: the request, the payload and chat buttons", async () => {
  const state = await stack.cs.submit(action({ payload: { amount: 900, currency: 'USD', order: 'A-77' } }), { waitMs: 1000 });
  assert.equal(state.status, 'pending');
  const post = await postFor(state.requestId, FINANCE);
  const text = textOf(post);
  for (const part of ["Agent's summary", 'Refund order #1234', '`support-bot`', 'mallory', '`customer:C-42`', '`refunds`', 'Refunds move money out.', '0/2 approvals', '<!date^', '"amount": 900', '"order": "A-77"', 'Pending review']) {
    assert.ok(text.includes(part), `the message shows ${part}:\n${text}`);
  }
  assert.equal(post.token, slack.env.COUNTERSIGN_SLACK_BOT_TOKEN);
  const view = await stack.cs.view(state.requestId);
  const buttons = buttonsOf(post);
  assert.deepEqual(buttons.map((b) => b.action_id), ['cs_approve', 'cs_deny', 'cs_changes', 'cs_open']);
  assert.equal(blocksOf(post).find((b) => b.type === 'actions')?.block_id, 'cs_decide');
  for (const b of buttons.slice(0, 3)) assert.deepEqual(JSON.parse(b.value!), { w: state.workflowId, v: view.currentDigest });
  assert.equal(buttons[3]!.url, `${stack.inboxUrl}/requests/${state.requestId}`);
  assert.equal(slack.callsTo('chat.postMessage').filter((c) => textOf(c).includes(state.requestId)).length, 1, 'one message');
  await eventually(async () => {
    const v = await stack.cs.view(state.requestId);
    assert.ok(v.history.some((e) => e.type === 'notified' && e.detail.includes('slack')), 'notified via slack');
  }, 'notified via slack');

  // An approval updates the same message (1/2), the last one closes it: approved, no buttons.
  await decideSeen(stack.cs, state.requestId, { decision: 'approve', reviewer: 'dave' });
  const first = await updateOf(state.requestId, FINANCE, (t) => t.includes('1/2 approvals: dave'), '1/2 in place');
  const ts = first.args.ts;
  assert.ok(typeof ts === 'string' && ts);
  assert.equal(buttonsOf(first).length, 4, 'still live for finance');
  await decideSeen(stack.cs, state.requestId, { decision: 'approve', reviewer: 'erin' });
  const closed = await updateOf(state.requestId, FINANCE, (t) => t.includes('*Approved*'), 'approved in place');
  assert.equal(closed.args.ts, ts, 'the same message');
  assert.match(textOf(closed), /2\/2 approvals: dave, erin/);
  assert.equal(buttonsOf(closed).length, 0, 'no buttons once approved');
  assert.equal(slack.callsTo('chat.postMessage').filter((c) => textOf(c).includes(state.requestId)).length, 1, 'still one message');
  await noFailures(state.requestId);
});

test("a reviewer's edit updates the message with the new version and what changed", async () => {
  const state = await stack.cs.submit(action({ payload: { amount: 900, currency: 'USD', order: 'A-78' } }), { waitMs: 1000 });
  await postFor(state.requestId, FINANCE);
  await decideSeen(stack.cs, state.requestId, { decision: 'approve', reviewer: 'dave', editedPayload: { amount: 450, currency: 'USD', order: 'A-78', note: 'half' } });
  const edited = await updateOf(state.requestId, FINANCE, (t) => t.includes('Changed in version 2'), 'the edit shown');
  const text = textOf(edited);
  assert.ok(text.includes('• `amount`: `900` → `450`'), text);
  assert.ok(text.includes('• added `note`: `"half"`'), text);
  assert.ok(text.includes('"amount": 450'), 'the payload shown is the new version');
  const view = await stack.cs.view(state.requestId);
  const approve = buttonsOf(edited).find((b) => b.action_id === 'cs_approve');
  assert.equal(JSON.parse(approve!.value!).v, view.currentDigest, 'the buttons decide the version shown');
  await noFailures(state.requestId);
});

test('escalation updates the first group message and posts a live one to the next group', async () => {
  const state = await stack.cs.submit(action({ action: 'payments.payout', payload: { amount: 50, currency: 'EUR' } }), { waitMs: 1000 });
  const first = await postFor(state.requestId, FINANCE);
  assert.equal(buttonsOf(first)[0]?.action_id, 'cs_approve');
  const leads = await postFor(state.requestId, LEADS);
  // Posted as the escalation it is, not one status behind.
  assert.ok(textOf(leads).includes('*Escalated*'), textOf(leads));
  assert.deepEqual(buttonsOf(leads).map((b) => b.action_id), ['cs_approve', 'cs_deny', 'cs_changes', 'cs_open'], 'leads decide now');
  const finance = await updateOf(state.requestId, FINANCE, (t) => t.includes('*Escalated*'), 'the first message shows the escalation');
  assert.notEqual(finance.args.ts, leads.reply?.ts, 'two messages, one per channel');
  await noFailures(state.requestId);
});

test('expiry updates the message: expired, no buttons', async () => {
  const state = await stack.cs.submit(action({ action: 'system.restart', resource: { type: 'system', id: 'web-1' }, payload: { host: 'web-1' } }), { waitMs: 1000 });
  const post = await postFor(state.requestId, OPS);
  assert.equal(buttonsOf(post).length, 4);
  const expired = await updateOf(state.requestId, OPS, (t) => t.includes('*Expired*'), 'expired in place');
  assert.match(textOf(expired), /SLA_EXPIRED/);
  assert.equal(buttonsOf(expired).length, 0);
  assert.equal(blocksOf(expired).filter((b) => b.type === 'actions').length, 0);
});

test('a passkey-level rule links to the exact version in the inbox and offers no chat decision', async () => {
  const state = await stack.cs.submit(action({ action: 'accounts.close', payload: { account: 'A-1' } }), { waitMs: 1000 });
  const post = await postFor(state.requestId, OPS);
  const view = await stack.cs.view(state.requestId);
  const buttons = buttonsOf(post);
  assert.deepEqual(buttons.map((b) => b.action_id), ['cs_stepup']);
  assert.equal(buttons[0]!.url, `${stack.inboxUrl}/requests/${state.requestId}?version=${view.currentDigest}`);
  assert.match(textOf(post), /needs a passkey/);
});

test("an agent's summary cannot mention the channel or plant a link", async () => {
  const state = await stack.cs.submit(action({ summary: 'Urgent <!channel> <http://evil|x> & <@U0BOSS>', payload: { amount: 700, note: '<!here>' } }), { waitMs: 1000 });
  const post = await postFor(state.requestId, FINANCE);
  const all = `${String(post.args.text)}\n${textOf(post)}`;
  assert.ok(all.includes('Urgent &lt;!channel&gt; &lt;http://evil|x&gt; &amp; &lt;@U0BOSS&gt;'), all);
  for (const raw of ['<!channel>', '<http://evil', '<@U0BOSS>', '<!here>']) assert.ok(!all.includes(raw), `${raw} is escaped`);
});

test("a 429 on chat.update is retried after Slack's Retry-After, and the update arrives", async () => {
  const state = await stack.cs.submit(action({ payload: { amount: 650, currency: 'USD' } }), { waitMs: 1000 });
  const posted = await postFor(state.requestId, FINANCE);
  assert.ok(textOf(posted).includes('0/2 approvals'), 'posted with the status it has: no correcting update follows');
  const ts = posted.reply?.ts as string;
  slack.rateLimit('chat.update', 1, 1);
  await decideSeen(stack.cs, state.requestId, { decision: 'approve', reviewer: 'dave' });
  await eventually(() => {
    const updates = updatesOf(state.requestId, FINANCE, (t) => t.includes('1/2 approvals: dave'));
    assert.ok(updates.every((c) => c.args.ts === ts));
    // The first was answered 429; the same update came again, and that one succeeded.
    assert.ok(updates.length >= 2, `${updates.length} chat.update calls for the message`);
  }, 'the update retried after the 429', 100);
  await eventually(async () => {
    const v = await stack.cs.view(state.requestId);
    assert.equal(v.history.filter((e) => e.type === 'notification_failed').length, 0);
  }, 'no failure recorded');
  assert.ok(stack.logs.some((l) => l.messageTs === ts && l.live === true && String(l.msg).includes('updated')), 'the worker logged the update');
  assert.ok(!JSON.stringify(stack.logs).includes(slack.env.COUNTERSIGN_SLACK_BOT_TOKEN!), 'the token is in no log line');
});

/**
 * The activities alone (the SDK's mock activity context, the stand-in as Slack): what Temporal is
 * told when Slack refuses, limits or is off.
 */
const unitPolicy = compilePolicy(
  `
version: 1
defaults: { decision: review, reviewers: finance }
groups:
  finance: { members: [dave], slack: { channel: ${FINANCE} } }
  ops: { members: [oscar], slack: { channel: ${OPS} } }
`,
  'policy.yaml',
);
const notification: GroupNotification = {
  event: 'review_requested',
  group: 'finance',
  requestId: '0123456789abcdef',
  workflowId: 'cs-support-bot-0123456789abcdef',
  action: 'payments.refund',
  summary: 'Refund twice-charged order',
  resource: { type: 'customer', id: 'C-42' },
  agentId: 'support-bot',
  risk: 'high',
  ruleIds: ['refunds'],
  reason: 'Refunds move money out.',
};
const unitMessage: RequestMessage = {
  requestId: notification.requestId,
  workflowId: notification.workflowId,
  status: 'pending',
  action: notification.action,
  summary: notification.summary,
  resource: notification.resource,
  agentId: notification.agentId,
  risk: 'high',
  ruleIds: ['refunds'],
  reason: notification.reason,
  payload: { amount: 900 },
  versionDigest: 'b'.repeat(64),
  version: 1,
  approvals: [],
  approvalsNeeded: 1,
  eligibleGroups: ['finance'],
  assurance: 'chat',
};

function activitiesWith(env: NodeJS.ProcessEnv, options: { noSlackOption?: boolean } = {}) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (c, _e, done) => (lines.push(JSON.parse(String(c))), done()) });
  const slackSettings = loadSlackSettings(env);
  const activities = createActivities({
    policy: unitPolicy,
    logger: pino({ level: 'debug' }, sink),
    signer: signerFromKey(newEd25519Key()),
    evidenceDir: mkdtempSync(join(tmpdir(), 'slack-activities-')),
    env,
    ...(options.noSlackOption ? {} : { slack: slackSettings }),
  });
  return { activities, lines };
}
const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment().run(fn as (...a: unknown[]) => Promise<R>, ...args) as Promise<R>;
const failure = async (promise: Promise<unknown>): Promise<ApplicationFailure> => {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    return err;
  }
  throw new Error('expected the activity to fail');
};

test('activities: Slack from the environment posts and returns the message; COUNTERSIGN_PUBLIC_URL is the inbox base', async () => {
  const { activities } = activitiesWith({ ...slack.env, COUNTERSIGN_PUBLIC_URL: 'https://cs.example.com' }, { noSlackOption: true });
  const res = await run(activities.notifyGroup, notification, unitMessage);
  assert.deepEqual(res.channels, ['log', 'slack']);
  assert.equal(res.posted?.channel, FINANCE);
  const post = slack.callsTo('chat.postMessage').at(-1)!;
  assert.equal(buttonsOf(post).find((b) => b.action_id === 'cs_open')?.url, 'https://cs.example.com/inbox/requests/0123456789abcdef');
  assert.throws(() => activitiesWith({ COUNTERSIGN_PUBLIC_URL: 'https://cs.example.com/inbox?x=1' }), /COUNTERSIGN_PUBLIC_URL must be an http\(s\) origin/);
  assert.throws(() => activitiesWith({ COUNTERSIGN_PUBLIC_URL: 'javascript:alert(1)' }), /COUNTERSIGN_PUBLIC_URL must be an http\(s\) origin/);
});

test('activities: without Slack a group with a channel is warned about once, and notified otherwise', async () => {
  const { activities, lines } = activitiesWith({});
  for (let i = 0; i < 3; i++) assert.deepEqual(await run(activities.notifyGroup, notification, unitMessage), { channels: ['log'] });
  assert.equal(lines.filter((l) => String(l.msg).includes('Slack is not configured')).length, 1);
});

test("activities: Slack's refusals are final and name the channel; a 429 asks Temporal to wait Retry-After; an unreachable Slack is retried", async () => {
  const wrongToken = `xoxb-9999-9999-${'b'.repeat(24)}`;
  const refused = await failure(run(activitiesWith({ ...slack.env, COUNTERSIGN_SLACK_BOT_TOKEN: wrongToken }).activities.notifyGroup, notification, unitMessage));
  assert.equal(refused.nonRetryable, true);
  assert.match(refused.message, new RegExp(`${FINANCE}.*invalid_auth.*COUNTERSIGN_SLACK_BOT_TOKEN`));
  assert.ok(!refused.message.includes(wrongToken) && !refused.message.includes(BOT_TOKEN));

  const { activities, lines } = activitiesWith(slack.env);
  slack.rateLimit('chat.postMessage', 3, 1);
  const limited = await failure(run(activities.notifyGroup, notification, unitMessage));
  assert.equal(limited.type, 'SLACK_RATE_LIMITED');
  assert.equal(limited.nonRetryable, false);
  assert.equal(limited.nextRetryDelay, '3s');

  // Two messages: one update limited, the other still made; the retryable failure is what Temporal sees.
  slack.rateLimit('chat.update', 2, 1);
  const before = slack.callsTo('chat.update').length;
  const both = await failure(run(activities.updateGroupMessages, { message: unitMessage, refs: [{ group: 'finance', channel: FINANCE, ts: '1.000001', live: false }, { group: 'ops', channel: OPS, ts: '1.000002', live: false }] }));
  assert.equal(both.nextRetryDelay, '2s');
  assert.deepEqual(slack.callsTo('chat.update').slice(before).map((c) => c.args.channel), [FINANCE, OPS]);

  const down = await failure(run(activitiesWith({ ...slack.env, COUNTERSIGN_SLACK_API_URL: 'http://127.0.0.1:9/api/' }).activities.notifyGroup, notification, unitMessage));
  assert.equal(down.nonRetryable, false);
  assert.equal(down.type, 'SLACK_UNREACHABLE');
  assert.ok(!JSON.stringify(lines).includes(BOT_TOKEN), 'the token is in no log line');
});
