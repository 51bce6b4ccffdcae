import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { ACTION, DECIDE_BLOCK, escapeMrkdwn, payloadDiff, renderRequestMessage, SECTION_MAX, type SlackBlock } from '../../activities/notify/blocks';
import { slackFailure } from '../../activities/notify/slack';
import type { RequestMessage } from '../../activities/notify/types';

const base: RequestMessage = {
  requestId: '0123456789abcdef',
  workflowId: 'cs-support-bot-0123456789abcdef',
  status: 'pending',
  action: 'payments.refund',
  summary: 'Refund order #1234: charged twice.',
  resource: { type: 'customer', id: 'C-42', owner: 'acme', environment: 'prod' },
  agentId: 'support-bot',
  onBehalfOf: 'mallory',
  risk: 'high',
  ruleIds: ['refunds'],
  reason: 'Refunds move money',
  display: [{ name: 'amount', value: '120 USD' }],
  payload: { amount: 120, currency: 'USD', order: '1234' },
  versionDigest: 'a'.repeat(64),
  version: 1,
  approvals: ['dave'],
  approvalsNeeded: 2,
  eligibleGroups: ['finance'],
  deadline: '2026-12-07T12:00:00.000Z',
  assurance: 'chat',
};

const texts = (blocks: SlackBlock[]) =>
  blocks.flatMap((b) => ('text' in b ? [b.text.text, ...(b.fields ?? []).map((f) => f.text)] : b.type === 'context' ? b.elements.map((e) => e.text) : [])).join('\n');
const actions = (blocks: SlackBlock[]) => blocks.flatMap((b) => (b.type === 'actions' ? b.elements : []));

test('a live chat-level message shows the request and the decision buttons of the shared contract', () => {
  const { text, blocks } = renderRequestMessage(base, { live: true, inboxBase: 'https://cs.example.com/' });
  const all = texts(blocks);
  for (const part of ["Agent's summary", 'Refund order #1234', 'support-bot', 'mallory', '`customer:C-42` (owner acme, env prod)', '`refunds`', 'Refunds move money', '1/2 approvals: dave', '<!date^', '*amount:* 120 USD', '"currency": "USD"', 'Pending review']) {
    assert.ok(all.includes(part), `shows ${part}`);
  }
  assert.ok(all.indexOf('120 USD') < all.indexOf("Agent's summary"), "countersign's fields come first");
  assert.ok(text.includes('payments.refund'));
  const block = blocks.find((b) => b.type === 'actions');
  assert.equal(block && 'block_id' in block ? block.block_id : undefined, DECIDE_BLOCK);
  const buttons = actions(blocks);
  assert.deepEqual(buttons.map((b) => b.action_id), [ACTION.approve, ACTION.deny, ACTION.changes, ACTION.open]);
  for (const b of buttons.slice(0, 3)) assert.deepEqual(JSON.parse(b.value!), { w: base.workflowId, v: base.versionDigest });
  assert.equal(buttons[0]!.style, 'primary');
  assert.equal(buttons[3]!.url, 'https://cs.example.com/inbox/requests/0123456789abcdef');
  for (const b of blocks) if ('text' in b) assert.ok(b.text.text.length <= SECTION_MAX);
});

test('without an inbox base there is no url button; a passkey-level rule links to the exact version, or says where to go', () => {
  assert.deepEqual(actions(renderRequestMessage(base, { live: true }).blocks).map((b) => b.action_id), [ACTION.approve, ACTION.deny, ACTION.changes]);
  const passkey = { ...base, assurance: 'passkey' as const };
  const linked = renderRequestMessage(passkey, { live: true, inboxBase: 'https://cs.example.com' });
  const buttons = actions(linked.blocks);
  assert.deepEqual(buttons.map((b) => b.action_id), [ACTION.stepup]);
  assert.equal(buttons[0]!.url, `https://cs.example.com/inbox/requests/${base.requestId}?version=${base.versionDigest}`);
  assert.match(texts(linked.blocks), /needs a passkey/);
  const unlinked = renderRequestMessage(passkey, { live: true });
  assert.equal(actions(unlinked.blocks).length, 0);
  assert.match(texts(unlinked.blocks), /needs a passkey.*open request `0123456789abcdef` in the countersign inbox/);
});

test('no buttons when not live, nor on a closed request; a closed one shows its outcome', () => {
  const stale = renderRequestMessage({ ...base, status: 'escalated', eligibleGroups: ['leads'] }, { live: false, inboxBase: 'https://cs.example.com' });
  assert.equal(stale.blocks.filter((b) => b.type === 'actions').length, 0);
  assert.match(texts(stale.blocks), /Escalated[\s\S]*no longer decides this request; it is now with leads/);
  const closed = renderRequestMessage({ ...base, status: 'denied', outcome: { status: 'denied', code: 'DENIED', message: 'Not <b>this</b> one', reviewers: ['dave'] } }, { live: true });
  assert.equal(closed.blocks.filter((b) => b.type === 'actions').length, 0);
  assert.match(texts(closed.blocks), /Denied\*[\s\S]*Outcome: by dave · `DENIED` · Not &lt;b&gt;this&lt;\/b&gt; one/);
});

test('every agent-supplied string is escaped: no mention, broadcast or link can be injected', () => {
  const evil = '<!channel> <@U0ADMIN> <http://evil.example|click> & more';
  const m: RequestMessage = {
    ...base,
    summary: evil,
    agentId: 'support-bot',
    onBehalfOf: evil,
    resource: { type: 'customer', id: evil, owner: evil, environment: 'prod' },
    display: [{ name: 'note', value: evil }],
    payload: { note: evil, tricky: '```<!here>```' },
  };
  const { text, blocks } = renderRequestMessage(m, { live: true });
  const all = `${text}\n${texts(blocks)}`;
  assert.ok(!all.includes('<!channel>') && !all.includes('<@U0ADMIN>') && !all.includes('<http://evil') && !all.includes('<!here>'), all);
  assert.ok(all.includes('&lt;!channel&gt; &lt;@U0ADMIN&gt; &lt;http://evil.example|click&gt; &amp; more'));
  assert.ok(!all.includes('```<'), 'three backticks in the payload cannot close the code block');
  // The only < in the message are ours: the deadline's date token.
  assert.deepEqual(all.match(/<[^>]*>/g)?.every((t) => t.startsWith('<!date^')), true);
  assert.equal(escapeMrkdwn('a<b>&c'), 'a&lt;b&gt;&amp;c');
});

test('a long payload is cut to fit a section, with a note and the inbox link for the whole', () => {
  const m = { ...base, payload: { rows: Array.from({ length: 400 }, (_, i) => ({ i, text: `row <${i}> & more` })) } };
  const { blocks } = renderRequestMessage(m, { live: true, inboxBase: 'https://cs.example.com' });
  const section = blocks.map((b) => ('text' in b ? b.text.text : '')).find((t) => t.startsWith('*Payload*'))!;
  assert.ok(section.length <= SECTION_MAX, `${section.length} characters`);
  assert.match(section, /_Cut: \d+ of \d+ characters shown; <https:\/\/cs\.example\.com\/inbox\/requests\/0123456789abcdef\|the whole payload in the inbox>\._$/);
  const none = renderRequestMessage(m, { live: true }).blocks.map((b) => ('text' in b ? b.text.text : '')).find((t) => t.startsWith('*Payload*'))!;
  assert.match(none, /open request `0123456789abcdef` in the inbox/);
});

test('an edited version shows what changed, key by key, bounded', () => {
  const m: RequestMessage = { ...base, version: 2, editedBy: 'dave', previousPayload: { amount: 120, currency: 'USD', order: '1234', meta: { a: 1 } }, payload: { amount: 90, currency: 'USD', note: 'partial', meta: { a: 2 } } };
  const all = texts(renderRequestMessage(m, { live: true }).blocks);
  assert.match(all, /Changed in version 2\* by dave/);
  assert.ok(all.includes('• `amount`: `120` → `90`'));
  assert.ok(all.includes('• removed `order` (was `"1234"`)'));
  assert.ok(all.includes('• added `note`: `"partial"`'));
  assert.ok(all.includes('• `meta.a`: `1` → `2`'));
  assert.ok(!all.includes('`currency`:'), 'unchanged keys are not listed');
  const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i]));
  const bounded = texts(renderRequestMessage({ ...base, version: 3, previousPayload: {}, payload: many }, { live: true }).blocks);
  assert.match(bounded, /…and 20 more changes/);
  assert.equal(payloadDiff({ a: 1 }, { a: 1 }).length, 0);
  assert.ok(!texts(renderRequestMessage({ ...base, previousPayload: { amount: 1 } }, { live: true }).blocks).includes('Changed in version'), 'version 1 shows no diff');
});

test("Slack's failures become Temporal's: a 429 waits Retry-After, a refusal is final and names the channel, never the token", () => {
  const token = 'xoxb-secret-token-123456';
  const limited = slackFailure({ code: 'slack_webapi_rate_limited_error', retryAfter: 7 }, 'chat.update', 'C0FIN', token) as ApplicationFailure;
  assert.equal(limited.type, 'SLACK_RATE_LIMITED');
  assert.equal(limited.nonRetryable, false);
  assert.equal(limited.nextRetryDelay, '7s');
  const missing = slackFailure({ code: 'slack_webapi_platform_error', data: { error: 'channel_not_found' } }, 'chat.postMessage', 'C0FIN', token) as ApplicationFailure;
  assert.equal(missing.nonRetryable, true);
  assert.match(missing.message, /C0FIN.*channel_not_found/);
  const auth = slackFailure({ code: 'slack_webapi_platform_error', data: { error: 'invalid_auth' } }, 'chat.postMessage', 'C0FIN', token) as ApplicationFailure;
  assert.equal(auth.nonRetryable, true);
  assert.match(auth.message, /COUNTERSIGN_SLACK_BOT_TOKEN/);
  const down = slackFailure({ code: 'slack_webapi_request_error', original: { message: `connect ECONNREFUSED with ${token}` } }, 'chat.update', 'C0FIN', token) as ApplicationFailure;
  assert.equal(down.nonRetryable, false);
  for (const f of [limited, missing, auth, down]) assert.ok(!f.message.includes(token));
});
