/**
 * Model-based property test of the review rules (workflows/review.ts, DESIGN §4): fast-check
 * generates thousands of sequences of looks, approvals, edits, denials, change requests, signed
 * decisions and clock ticks, drives the pure state machine with them exactly as the workflow does,
 * and checks invariants 1–5 after every step against a model that knows only what reviewers did.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { evaluatePolicy } from '../../policy/evaluate';
import { compilePolicy } from '../../policy/load';
const bytesToBase64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
import { actionDigest, requestIdFor } from '../../common/digest';
import type { Payload } from '../../common/json';
import { ReviewerDecision, type PolicyDecision } from '../../common/inputs';
import { checkDecision, countedApprovers, decide, escalate, expire, isOpen, nextWake, openReview, SIGNATURE_MAX_AGE_MS, type ReviewState, type Transition } from '../../workflows/review';
import { describeIssues } from '../../common/errors';
import { assertOneSentence, runs, wire } from '../support/arbitraries';
import { DECISION_FIELDS, junkDecision } from '../support/junk-inputs';

const kimSecret = ed25519.utils.randomSecretKey();
const kimKey = bytesToBase64(ed25519.getPublicKey(kimSecret));

const POLICY = compilePolicy(`
version: 1
defaults: { decision: review, reviewers: ops, sla: 4h }
groups:
  support: { members: [alice, bob, mallory, support-bot], escalatesTo: support-leads }
  support-leads: { members: [carol] }
  finance: { members: [dave, erin, kim], escalatesTo: cfo, reviewerKeys: { kim: "${kimKey}" } }
  cfo: { members: [fiona] }
  ops: { members: [oscar] }
owners:
  - { match: "customer:*", group: support }
rules:
  - { id: small, match: { action: payments.refund }, when: "payload.amount <= 100", decision: allow }
  - { id: medium, match: { action: payments.refund }, when: "payload.amount > 100", decision: review, risk: medium, reviewers: owner, sla: 4h, escalate: { after: 1h } }
  - { id: large, match: { action: payments.refund }, when: "payload.amount > 500", decision: review, risk: high, tokenTtl: 2m, reviewers: finance, approvals: 2, sla: 2h, escalate: { after: 30m } }
  - { id: huge, match: { action: payments.refund }, when: "payload.amount > 10000", decision: deny, reason: "Too much." }
`);

const REVIEWERS = ['alice', 'carol', 'dave', 'erin', 'fiona', 'kim', 'mallory', 'support-bot'] as const;
const AMOUNTS = [50, 250, 400, 1200, 5000, 50000] as const;
const AGENT = { agentId: 'support-bot', taskId: 't-1', onBehalfOf: 'mallory' };
const RESOURCE = { type: 'customer', id: 'C-42' };
const ACTION = 'payments.refund';
const WORKFLOW = 'cs-support-bot-0123456789abcdef';
const RUN = '0b9e3c1e-5f4a-4d0e-9a57-3c2d1e0f9a11';
const START = Date.parse('2026-11-25T12:00:00Z');

const payloadOf = (amount: number): Payload => ({ amount, currency: 'USD' });
const digestOf = (payload: Payload) => actionDigest({ action: ACTION, resource: RESOURCE, payload });
const policyFor = (payload: Payload): PolicyDecision =>
  evaluatePolicy(POLICY, { ...AGENT, action: ACTION, summary: 'Refund', resource: RESOURCE, payload });

/** What reviewers did, as an observer saw it; never derived from the state machine's own bookkeeping. */
interface Model {
  /** The version each reviewer last looked at. */
  shown: Map<string, string>;
  /** Accepted approvals: who, naming which version, accepted while which version number was current. */
  approvals: { reviewer: string; named: string; version: number }[];
  version: number;
  /** What policy decided for the current version's payload (an edit policy would allow keeps the previous route). */
  policy: PolicyDecision;
  route: NonNullable<PolicyDecision['route']>;
  /** Escalation steps announced so far (from the escalated events, not the machine's counter). */
  level: number;
  /** Every digest seen so far: stale versions to name. */
  digests: string[];
  closed?: string;
}

interface Real {
  state: ReviewState;
  now: number;
}

const open0 = (amount: number, signaturesRequired = false): { model: Model; real: Real } => {
  const payload = payloadOf(amount);
  const policy = policyFor(payload);
  const digest = digestOf(payload);
  const t = openReview({
    workflowId: WORKFLOW,
    runId: RUN,
    requestId: requestIdFor(AGENT.agentId, AGENT.taskId, digest),
    action: ACTION,
    resource: RESOURCE,
    agentId: AGENT.agentId,
    onBehalfOf: AGENT.onBehalfOf,
    version: { payload, digest, policy: { ...policy, route: policy.route! } },
    now: START,
    signaturesRequired,
  });
  return { model: { shown: new Map(), approvals: [], version: 1, policy, route: policy.route!, level: 0, digests: [digest] }, real: { state: t.state, now: START } };
};

/** Invariants 1, 2 and 5, after every step. */
function checkInvariants(model: Model, real: Real): void {
  const s = real.state;
  const reviewers = s.approvals.map((a) => a.reviewer);
  assert.equal(new Set(reviewers).size, reviewers.length, 'invariant 2: a reviewer appears once among approvals');
  for (const r of reviewers) assert.ok(!['support-bot', 'mallory'].includes(r), 'invariant 5: the agent and its onBehalfOf human never count');
  const route = s.version.policy.route;
  assert.equal(route.group.name, model.route.group.name, 'invariant 3: the current version is routed by policy for its payload');
  assert.equal(route.approvals, model.route.approvals, 'invariant 3: approvals needed follow the current version');
  assert.equal(route.slaMs, model.route.slaMs, 'invariant 3: the SLA follows the current version');
  assert.equal(route.escalateAfterMs, model.route.escalateAfterMs, 'invariant 3: escalation follows the current version');
  assert.deepEqual(route.escalationChain.map((g) => g.name), model.route.escalationChain.map((g) => g.name), 'invariant 3: the escalation chain follows the current version');
  if (model.policy.decision === 'review') {
    assert.equal(s.version.policy.risk, model.policy.risk, 'invariant 3: the risk follows the current version');
    assert.equal(s.version.policy.tokenTtlMs, model.policy.tokenTtlMs, 'invariant 3: the token TTL follows the current version');
    assert.deepEqual(s.version.policy.ruleIds, model.policy.ruleIds, 'invariant 3: the rules follow the current version');
  }
  if (s.status === 'approved') {
    const final = s.version.digest;
    const groups = [model.route.group, ...model.route.escalationChain.slice(0, model.level)];
    const valid = new Set(
      model.approvals
        .filter((a) => a.version === model.version && a.named === final)
        .filter((a) => groups.some((g) => g.members.includes(a.reviewer)))
        .filter((a) => !['support-bot', 'mallory'].includes(a.reviewer))
        .map((a) => a.reviewer),
    );
    assert.ok(
      valid.size >= model.route.approvals,
      `invariant 1: approved with ${valid.size} distinct eligible reviewers who named the final version, ${model.route.approvals} needed`,
    );
    for (const r of countedApprovers(s)) assert.ok(valid.has(r), `invariant 1: ${r} counted without approving the final version as shown`);
  }
}

/** Runs one transition the way the workflow does; a closed request must come out unchanged. */
function step(model: Model, real: Real, run: () => ReturnType<typeof decide>): ReturnType<typeof decide> {
  const before = JSON.stringify(real.state);
  const result = run();
  if (result.ok) real.state = result.state;
  if (model.closed) assert.equal(JSON.stringify(real.state), model.closed, 'invariant 5: a closed request never changes');
  if (!isOpen(real.state)) model.closed ??= JSON.stringify(real.state);
  if (model.closed && before === model.closed) assert.equal(result.ok && result.events.length > 0, false, 'invariant 5: nothing happens after close');
  return result;
}

/** Which version a reviewer names: the one they looked at, or (a careless or hostile client) another. */
type Naming = 'shown' | 'current' | 'stale' | 'none';
const naming = fc.constantFrom<Naming>('shown', 'shown', 'current', 'current', 'current', 'stale', 'none');

function named(model: Model, real: Real, reviewer: string, how: Naming): string | undefined {
  if (how === 'shown') return model.shown.get(reviewer);
  if (how === 'current') return real.state.version.digest;
  if (how === 'stale') return model.digests.find((d) => d !== real.state.version.digest);
  return undefined;
}

function afterDecision(model: Model, real: Real, d: ReviewerDecision, result: ReturnType<typeof decide>, beforeDigest: string, beforeDeadline: number): void {
  if (!result.ok) return;
  assert.equal(d.versionDigest, beforeDigest, 'invariant 4: only a decision naming the current version is accepted');
  assert.ok(![ 'support-bot', 'mallory'].includes(d.reviewer), 'invariant 5: the agent and its human never decide');
  if (real.state.version.digest !== beforeDigest) {
    model.version += 1;
    const revised = policyFor(real.state.version.payload);
    if (revised.route) {
      model.route = revised.route;
      model.policy = revised;
    }
    if (!model.digests.includes(real.state.version.digest)) model.digests.push(real.state.version.digest);
    assert.ok(real.state.deadline <= beforeDeadline, 'invariant 3: an edit never moves the deadline later');
    assert.deepEqual(countedApprovers(real.state).filter((r) => r !== d.reviewer), [], 'invariant 3: approvals of earlier versions do not count');
  }
  // The editor approves the version they wrote: the digest of their own edited payload.
  const authored = d.decision === 'approve' && d.editedPayload ? digestOf(d.editedPayload) : undefined;
  if (d.decision === 'approve') model.approvals.push({ reviewer: d.reviewer, named: authored ?? d.versionDigest!, version: model.version });
}

class Look implements fc.Command<Model, Real> {
  constructor(readonly reviewer: string) {}
  check = () => true;
  run(model: Model, real: Real) {
    model.shown.set(this.reviewer, real.state.version.digest);
    checkInvariants(model, real);
  }
  toString = () => `look(${this.reviewer})`;
}

class Approve implements fc.Command<Model, Real> {
  /** `same`: an "edit" to exactly the current payload. */
  constructor(readonly reviewer: string, readonly how: Naming, readonly edit?: number | 'same') {}
  check = () => true;
  run(model: Model, real: Real) {
    const editedPayload = this.edit === undefined ? undefined : this.edit === 'same' ? { ...real.state.version.payload } : payloadOf(this.edit);
    const d: ReviewerDecision = { decision: 'approve', reviewer: this.reviewer, versionDigest: named(model, real, this.reviewer, this.how), ...(editedPayload ? { editedPayload } : {}) };
    const { digest: beforeDigest } = real.state.version;
    const beforeDeadline = real.state.deadline;
    const result = step(model, real, () => decide(real.state, d, real.now, editedPayload ? policyFor(editedPayload) : undefined));
    afterDecision(model, real, d, result, beforeDigest, beforeDeadline);
    if (editedPayload && result.ok && policyFor(editedPayload).decision === 'deny') assert.fail('an edit policy denies is never accepted');
    checkInvariants(model, real);
  }
  toString = () => `approve(${this.reviewer}, ${this.how}${this.edit !== undefined ? `, edit ${this.edit}` : ''})`;
}

class Close implements fc.Command<Model, Real> {
  constructor(readonly reviewer: string, readonly kind: 'deny' | 'request_changes', readonly how: Naming) {}
  check = () => true;
  run(model: Model, real: Real) {
    const versionDigest = named(model, real, this.reviewer, this.how);
    const d: ReviewerDecision =
      this.kind === 'deny'
        ? { decision: 'deny', reviewer: this.reviewer, versionDigest, reasonCode: 'NO', message: 'no' }
        : { decision: 'request_changes', reviewer: this.reviewer, versionDigest, comment: 'smaller, please' };
    const { digest: beforeDigest } = real.state.version;
    const result = step(model, real, () => decide(real.state, d, real.now));
    afterDecision(model, real, d, result, beforeDigest, real.state.deadline);
    checkInvariants(model, real);
  }
  toString = () => `${this.kind}(${this.reviewer}, ${this.how})`;
}

/** kim has a registered key: only a fresh signature over this request's run and current version, under its policy, counts. */
type Signing = 'valid' | 'other-workflow' | 'other-run' | 'other-request' | 'other-version' | 'other-policy' | 'too-old' | 'future' | 'wrong-key' | 'unsigned';
class SignedApprove implements fc.Command<Model, Real> {
  constructor(readonly signing: Signing) {}
  check = () => true;
  run(model: Model, real: Real) {
    const s = real.state;
    const at = this.signing === 'too-old' ? real.now - SIGNATURE_MAX_AGE_MS - 1000 : this.signing === 'future' ? real.now + 5 * 60_000 : real.now;
    const signedAt = new Date(at).toISOString();
    // The statement written out field by field (not by the code under test), as DESIGN §4 names them.
    const statement = {
      workflowId: this.signing === 'other-workflow' ? 'cs-support-bot-ffffffffffffffff' : s.workflowId,
      runId: this.signing === 'other-run' ? 'another-run' : s.runId,
      requestId: this.signing === 'other-request' ? 'ffffffffffffffff' : s.requestId,
      versionDigest: this.signing === 'other-version' ? (model.digests.find((d) => d !== s.version.digest) ?? '0'.repeat(64)) : s.version.digest,
      policyDigest: this.signing === 'other-policy' ? '0'.repeat(64) : s.version.policy.policyDigest,
      reviewer: 'kim',
      decision: 'approve',
      signedAt,
    };
    const secret = this.signing === 'wrong-key' ? ed25519.utils.randomSecretKey() : kimSecret;
    const message = new TextEncoder().encode(JSON.stringify({ content: Object.fromEntries(Object.entries(statement).sort(([a], [b]) => (a < b ? -1 : 1))), domain: 'countersign/reviewer-decision/v2' }));
    const d: ReviewerDecision = { decision: 'approve', reviewer: 'kim', versionDigest: s.version.digest };
    const signed: ReviewerDecision = this.signing === 'unsigned' ? d : { ...d, signature: { signedAt, value: bytesToBase64(ed25519.sign(message, secret)) } };
    const eligible = isOpen(s) && s.eligible.some((g) => g.members.includes('kim')) && !s.approvals.some((a) => a.reviewer === 'kim' && a.digest === s.version.digest);
    const beforeDigest = s.version.digest;
    const result = step(model, real, () => decide(real.state, signed, real.now));
    if (this.signing !== 'valid') assert.equal(result.ok, false, `a ${this.signing} signature is refused`);
    else assert.equal(result.ok, eligible, `a valid signature from an eligible kim is accepted (${result.ok ? 'accepted' : (result as { message: string }).message})`);
    afterDecision(model, real, signed, result, beforeDigest, s.deadline);
    checkInvariants(model, real);
  }
  toString = () => `kim(${this.signing})`;
}

class Tick implements fc.Command<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  run(model: Model, real: Real) {
    real.now += this.ms;
    // As the workflow's loop does: fire every timer that is due, in order.
    while (isOpen(real.state) && nextWake(real.state).at <= real.now) {
      const wake = nextWake(real.state);
      const t: Transition = wake.what === 'expiry' ? expire(real.state, real.now) : escalate(real.state, real.now);
      step(model, real, () => t);
      model.level += t.events.filter((e) => e.type === 'escalated').length;
    }
    const late = step(model, real, () => escalate(real.state, real.now));
    assert.equal(late.ok && late.events.length, 0, 'nothing escalates before its time');
    checkInvariants(model, real);
  }
  toString = () => `tick(${Math.round(this.ms / 60_000)}m)`;
}

const reviewer = fc.constantFrom(...REVIEWERS);
const commands = [
  reviewer.map((r) => new Look(r)),
  fc.tuple(reviewer, naming).map(([r, how]) => new Approve(r, how)),
  fc.tuple(reviewer, naming, fc.constantFrom<number | 'same'>(...AMOUNTS, 'same', 'same')).map(([r, how, amount]) => new Approve(r, how, amount)),
  fc.tuple(reviewer, fc.constantFrom<'deny' | 'request_changes'>('deny', 'request_changes'), naming).map(([r, kind, how]) => new Close(r, kind, how)),
  fc.constantFrom<Signing>('valid', 'valid', 'other-workflow', 'other-run', 'other-request', 'other-version', 'other-policy', 'too-old', 'future', 'wrong-key', 'unsigned').map((s) => new SignedApprove(s)),
  fc.integer({ min: 60_000, max: 3 * 3600_000 }).map((ms) => new Tick(ms)),
];

describe('review rules (model-based)', () => {
  test('invariants 1–5 hold for every generated sequence of decisions, edits, escalations and timers', () => {
    fc.assert(
      fc.property(fc.constantFrom(250, 1200, 5000), fc.commands(commands, { maxCommands: 40 }), (amount, cmds) => {
        const { model, real } = open0(amount);
        fc.modelRun(() => ({ model, real }), cmds);
      }),
      { numRuns: 3000, includeErrorInReport: true },
    );
  });

  test('under the front door (signaturesRequired) an unsigned decision is refused UNAUTHENTICATED, from anyone, and a signed one counts', () => {
    const { real } = open0(1200, true);
    const v = real.state.version.digest;
    for (const reviewer of ['dave', 'kim']) {
      const r = decide(real.state, { decision: 'approve', reviewer, versionDigest: v }, START);
      assert.equal(!r.ok && r.code, 'UNAUTHENTICATED', `${reviewer} unsigned`);
    }
    const deny = decide(real.state, { decision: 'deny', reviewer: 'erin', versionDigest: v, reasonCode: 'NO', message: 'no' }, START);
    assert.equal(!deny.ok && deny.code, 'UNAUTHENTICATED', 'a denial must be signed too');
    const signedAt = new Date(START).toISOString();
    const statement = { workflowId: real.state.workflowId, runId: real.state.runId, requestId: real.state.requestId, versionDigest: v, policyDigest: real.state.version.policy.policyDigest, reviewer: 'kim', decision: 'approve', signedAt };
    const message = new TextEncoder().encode(JSON.stringify({ content: Object.fromEntries(Object.entries(statement).sort(([a], [b]) => (a < b ? -1 : 1))), domain: 'countersign/reviewer-decision/v2' }));
    const wrong = decide(real.state, { decision: 'approve', reviewer: 'kim', versionDigest: v, signature: { signedAt, value: bytesToBase64(ed25519.sign(message, ed25519.utils.randomSecretKey())) } }, START);
    assert.equal(!wrong.ok && wrong.code, 'UNAUTHENTICATED');
    const signed = decide(real.state, { decision: 'approve', reviewer: 'kim', versionDigest: v, signature: { signedAt, value: bytesToBase64(ed25519.sign(message, kimSecret)) } }, START);
    assert.ok(signed.ok, !signed.ok ? signed.message : '');
    assert.deepEqual(signed.state.approvals.map((a) => a.reviewer), ['kim']);
    // Runs from before the front door keep their rules: dave, with no key, decides unsigned there.
    assert.ok(decide(open0(1200).real.state, { decision: 'approve', reviewer: 'dave', versionDigest: v }, START).ok);
  });

  test('the attacks of issue 9, replayed: each is refused', () => {
    const { real } = open0(1200);
    const v1 = real.state.version.digest;
    const approve = (reviewer: string, extra: Partial<ReviewerDecision> = {}) => ({ decision: 'approve', reviewer, versionDigest: v1, ...extra }) as ReviewerDecision;

    // 1. dave approves, then "edits" to the identical payload to approve again.
    const first = decide(real.state, approve('dave'), START);
    assert.ok(first.ok);
    const again = decide(first.state, approve('dave', { editedPayload: payloadOf(1200) }), START, policyFor(payloadOf(1200)));
    assert.equal(again.ok, false);
    assert.equal(!again.ok && again.code, 'ALREADY_DECIDED');

    // 2. Re-routing: a $200 refund routed to support, edited by support to $5,000 → finance, 2 approvals.
    const small = openReview({
      workflowId: WORKFLOW, runId: RUN, requestId: 'r', action: ACTION, resource: RESOURCE, agentId: 'support-bot', onBehalfOf: 'mallory',
      version: { payload: payloadOf(200), digest: digestOf(payloadOf(200)), policy: { ...policyFor(payloadOf(200)), route: policyFor(payloadOf(200)).route! } },
      now: START,
    }).state;
    assert.equal(small.version.policy.route.group.name, 'support');
    const edited = decide(small, { decision: 'approve', reviewer: 'alice', versionDigest: small.version.digest, editedPayload: payloadOf(5000) }, START, policyFor(payloadOf(5000)));
    assert.ok(edited.ok);
    assert.equal(edited.state.status, 'pending', 'support cannot approve what is now routed to finance');
    assert.deepEqual(edited.state.eligible.map((g) => g.name), ['finance']);
    assert.deepEqual(countedApprovers(edited.state), []);
    assert.deepEqual(edited.notify.map((n) => n.group.name), ['finance'], 'the newly eligible group is notified');

    // 3. erin was shown v1; dave edits to v2; erin's approval naming v1 is stale.
    const byDave = decide(real.state, approve('dave', { editedPayload: payloadOf(5000) }), START, policyFor(payloadOf(5000)));
    assert.ok(byDave.ok);
    const erin = checkDecision(byDave.state, approve('erin'), START);
    assert.equal(!erin.ok && erin.code, 'STALE_VERSION');

    // An edit back to an earlier payload is a new version all the same: dave's approval of v1 does not return.
    const v2 = decide(first.state, approve('erin', { editedPayload: payloadOf(5000) }), START, policyFor(payloadOf(5000)));
    assert.ok(v2.ok);
    const v3 = decide(v2.state, { decision: 'approve', reviewer: 'erin', versionDigest: v2.state.version.digest, editedPayload: payloadOf(1200) }, START, policyFor(payloadOf(1200)));
    assert.ok(v3.ok);
    assert.equal(v3.state.version.digest, v1);
    assert.deepEqual(countedApprovers(v3.state), ['erin']);
    assert.equal(v3.state.status, 'pending');
  });
});

describe('reviewer decisions refused by the schema (pure)', () => {
  test('junk decisions that must be invalid are refused by the schema, in one sentence naming the field', () => {
    fc.assert(
      fc.property(junkDecision, (junk) => {
        const parsed = ReviewerDecision.safeParse(wire(junk.value));
        if (junk.mustBeInvalid) assert.ok(!parsed.success, `the schema accepts a decision that must be invalid: ${JSON.stringify(junk.value)?.slice(0, 300)}`);
        if (!parsed.success) assertOneSentence(describeIssues(parsed.error, 'decision'), 'decision', DECISION_FIELDS);
      }),
      runs(1000),
    );
  });
});
