/**
 * The review rules (DESIGN §4) as a pure state machine: (state, command) → state + evidence events.
 * No Temporal and no I/O here: the workflow drives it with decisions, the policy's verdict on an
 * edit, escalation and expiry; the model-based property test (test/unit/review-rules.test.ts)
 * drives it with thousands of generated sequences and checks the invariants after every step.
 *
 * 1. approved ⇒ N distinct reviewers, each eligible under the final version's route, approved that
 *    exact version, naming it as the one they were shown.
 * 2. A reviewer counts once per request, whatever they edit.
 * 3. An edit is a new version: its route replaces the old one, the deadline never moves later,
 *    approvals of earlier versions stop counting, newly eligible groups are notified.
 * 4. A decision names the version its reviewer was shown; any other is STALE_VERSION.
 * 5. The agent and its onBehalfOf human never count; a closed request never changes.
 */
import { canonicalJson, utf8Length } from '../common/canonical';
import { ReasonCode, WAITING_STATUSES } from '../common/codes';
import { escapeName } from '../common/errors';
import type { EvidenceType } from '../common/evidence';
import { actionDigest } from '../common/digest';
import type { Json, Payload } from '../common/json';
import type { GroupSnapshot, PolicyDecision, Resource, ReviewerDecision } from '../common/inputs';
import { excludedFrom, isExcluded, mayDecide, memberOf } from '../policy/access';
import { assuranceOf, decisionStatement, verifyDecision, type DecisionCheck, type DecisionStatement } from '../common/signing';
import { verifyBatch, type BatchItem } from '../common/batch';
import { batchRefusal, batchStatementOf } from './batch';

/** How old a signed statement may be when it arrives, on the workflow's clock. */
export const SIGNATURE_MAX_AGE_MS = 10 * 60_000;
/** How far ahead of the workflow's clock a statement's time may be (clock skew). */
export const SIGNATURE_MAX_SKEW_MS = 60_000;
/** Versions a request may have: each edit is one; a reviewer cannot grow a request without bound. */
export const MAX_VERSIONS = 10;
/** An edited payload up to this size (canonical JSON) is kept whole in its evidence event; a larger one by digest. */
export const MAX_EDIT_EVIDENCE_BYTES = 8 * 1024;

export type ReviewStatus = 'pending' | 'escalated' | 'approved' | 'denied' | 'changes_requested' | 'expired';

/** One version of the payload and what policy decided for it: its route is the one that counts. */
export interface ReviewVersion {
  payload: Payload;
  /** actionDigest of {action, resource, payload}. */
  digest: string;
  policy: PolicyDecision & { route: NonNullable<PolicyDecision['route']> };
  /** Who made this version by editing; absent for the agent's original. */
  editedBy?: string;
}

export interface ReviewState {
  workflowId: string;
  runId: string;
  requestId: string;
  action: string;
  resource: Resource;
  /** Never count, whatever a group lists (lower-cased). */
  excluded: string[];
  status: ReviewStatus;
  version: ReviewVersion;
  versions: number;
  /** The route's group plus every group escalation has reached, in that order. */
  eligible: GroupSnapshot[];
  /** How many escalation steps have been taken; an edit's new route keeps the level. */
  escalationLevel: number;
  /** At most one entry per reviewer: the version they last approved. */
  approvals: { reviewer: string; digest: string }[];
  /** Epoch ms on the workflow's clock. */
  deadline: number;
  nextEscalation?: number;
  /**
   * Every decision must be signed by a key the directory registers for its reviewer (runs started
   * after the front door; earlier runs let a reviewer without a key decide unsigned).
   */
  signaturesRequired?: boolean;
  /**
   * Every signed decision is checked against the reviewer's key and passkeys as the directory has them
   * at decision time, not the routed snapshot's (runs started after 'current-keys'): a replaced key stops at once.
   */
  currentKeys?: boolean;
  /** Batch approvals (one signature over many requests, common/batch.ts) are taken (runs whose review opened after 'batch-decisions'). */
  batchDecisions?: boolean;
  /** Set once reviewers' passkeys were looked up in the directory as it is now: that directory's digest. */
  credentials?: { directoryDigest: string };
  /** Why the request closed, once it has. */
  closure?: { code?: ReasonCode; reviewer?: string; reviewerReason?: string; message?: string; comment?: string; proposedPayload?: Payload };
}

/** An evidence event the workflow appends (with its time) to the hash chain. */
export interface ReviewEvent {
  type: EvidenceType;
  detail: string;
  actor?: string;
  data?: { [key: string]: Json };
}

export type Refusal = { ok: false; code: ReasonCode; message: string };
export type Transition = { ok: true; state: ReviewState; events: ReviewEvent[]; notify: { group: GroupSnapshot; event: 'review_requested' | 'escalated' }[] };

const refuse = (code: ReasonCode, message: string): Refusal => ({ ok: false, code, message });
const short = (digest: string) => digest.slice(0, 12);

export function isOpen(state: ReviewState): boolean {
  return WAITING_STATUSES.includes(state.status);
}

/** The groups a route makes eligible at an escalation level. */
function eligibleAt(route: ReviewVersion['policy']['route'], level: number): GroupSnapshot[] {
  return [route.group, ...route.escalationChain.slice(0, level)];
}

/** The review that begins when policy says `review`. */
export function openReview(init: {
  workflowId: string;
  runId: string;
  requestId: string;
  action: string;
  resource: ReviewState['resource'];
  agentId: string;
  onBehalfOf?: string;
  version: ReviewVersion;
  now: number;
  signaturesRequired?: boolean;
  currentKeys?: boolean;
  batchDecisions?: boolean;
}): Transition {
  const route = init.version.policy.route;
  const state: ReviewState = {
    workflowId: init.workflowId,
    runId: init.runId,
    requestId: init.requestId,
    action: init.action,
    resource: init.resource,
    excluded: excludedFrom(init),
    status: 'pending',
    version: init.version,
    versions: 1,
    eligible: eligibleAt(route, 0),
    escalationLevel: 0,
    approvals: [],
    deadline: init.now + route.slaMs,
    nextEscalation: route.escalateAfterMs && route.escalationChain.length ? init.now + route.escalateAfterMs : undefined,
    ...(init.signaturesRequired ? { signaturesRequired: true } : {}),
    ...(init.currentKeys ? { currentKeys: true } : {}),
    ...(init.batchDecisions ? { batchDecisions: true } : {}),
  };
  return { ok: true, state, events: [], notify: [{ group: route.group, event: 'review_requested' }] };
}

/** Reviewers whose approval of the current version counts now. */
export function countedApprovers(state: ReviewState): string[] {
  return state.approvals
    .filter((a) => a.digest === state.version.digest && isEligible(state, a.reviewer))
    .map((a) => a.reviewer);
}

function isEligible(state: ReviewState, reviewer: string): boolean {
  return mayDecide(state.eligible, state.excluded, reviewer);
}

/** The reviewer's registered key in any eligible group: with one, the decision must be signed by it. */
export function registeredKey(state: ReviewState, reviewer: string): string | undefined {
  return state.eligible.find((g) => g.keys && Object.hasOwn(g.keys, reviewer))?.keys?.[reviewer];
}

/** The reviewer's registered passkeys, from the eligible groups' snapshots. */
export function registeredPasskeys(state: ReviewState, reviewer: string): { credentialId: string; publicKey: string }[] {
  return state.eligible.find((g) => g.passkeys && Object.hasOwn(g.passkeys, reviewer))?.passkeys?.[reviewer] ?? [];
}

/** The statement the reviewer's signature must cover for this decision on the current version. */
export function statementOf(state: ReviewState, d: ReviewerDecision, signedAt: string): DecisionStatement {
  return decisionStatement(
    {
      workflowId: state.workflowId,
      runId: state.runId,
      requestId: state.requestId,
      versionDigest: d.versionDigest ?? '',
      policyDigest: state.version.policy.policyDigest,
      action: state.action,
      resource: state.resource,
    },
    d,
    signedAt,
  );
}

/** This request as a leaf of a batch: what the reviewer's batch signature must cover for the version they name. */
export function batchItemOf(state: ReviewState, d: ReviewerDecision): BatchItem {
  return { workflowId: state.workflowId, runId: state.runId, requestId: state.requestId, versionDigest: d.versionDigest ?? '', policyDigest: state.version.policy.policyDigest };
}

/**
 * Every synchronous check on a decision, in the order a reviewer needs to hear them. Used by the
 * Update validator, the Signal handler and again by `decide` (the world may move while policy runs).
 */
export function checkDecision(state: ReviewState, d: ReviewerDecision, now: number, options: { passkeyLater?: boolean } = {}): Refusal | { ok: true } {
  if (!isOpen(state)) return refuse(ReasonCode.ALREADY_DECIDED, `Request ${state.requestId} is already closed (${state.status}).`);
  const who = escapeName(d.reviewer);
  if (isExcluded(state.excluded, d.reviewer)) return refuse(ReasonCode.NOT_ELIGIBLE, `${who} cannot decide on a request made by or on behalf of themselves.`);
  if (!memberOf(state.eligible, d.reviewer)) {
    return refuse(ReasonCode.NOT_ELIGIBLE, `${who} is not in an eligible group (${state.eligible.map((g) => g.name).join(', ')}).`);
  }
  if (!d.versionDigest) {
    return refuse(ReasonCode.INVALID_REQUEST, `Field "versionDigest" is required: name the version of the payload ${who} was shown (review show).`);
  }
  if (d.versionDigest !== state.version.digest) {
    return refuse(
      ReasonCode.STALE_VERSION,
      `The payload changed since ${who} was shown it (shown ${short(d.versionDigest)}, now ${short(state.version.digest)}): look at the request again and decide on the current version.`,
    );
  }
  const replacement = d.decision === 'approve' ? d.editedPayload : d.decision === 'request_changes' ? d.proposedPayload : undefined;
  const alreadyApproved = state.approvals.some((a) => a.reviewer === d.reviewer && a.digest === state.version.digest);
  if (alreadyApproved && !(d.decision === 'approve' && replacement !== undefined && !sameVersion(state, replacement))) {
    return refuse(ReasonCode.ALREADY_DECIDED, `${who} has already approved this version; another reviewer must decide.`);
  }
  const batched = d.decision === 'approve' && d.batch ? d : undefined;
  if (batched) {
    const refused = batchRefusal({ taken: state.batchDecisions, allowed: state.version.policy.batch, ruleIds: state.version.policy.ruleIds, item: batchItemOf(state, d) }, batched);
    if (refused) return refused;
  }
  const key = registeredKey(state, d.reviewer);
  const passkeys = registeredPasskeys(state, d.reviewer);
  // Runs under the front door: identity is a signature, so every failure is UNAUTHENTICATED.
  const unsigned = state.signaturesRequired ? ReasonCode.UNAUTHENTICATED : ReasonCode.NOT_ELIGIBLE;
  // The Update validator leaves to the handler what it checks against the directory as it is now.
  const later = Boolean(options.passkeyLater && d.signature && ('passkey' in d.signature || state.currentKeys));
  // The rule's assurance, checked here whatever the front door did: a chat click counts only where the rule says chat.
  if (d.signature && 'chat' in d.signature && state.version.policy.assurance !== 'chat') {
    return refuse(
      ReasonCode.ASSURANCE_REQUIRED,
      `Rule ${state.version.policy.ruleIds.join(', ') || '(default)'} needs ${who}'s own signature: a chat decision does not count here. Open the request in the inbox and decide with your passkey.`,
    );
  }
  if (!key && !passkeys.length && state.signaturesRequired && !later) {
    return refuse(ReasonCode.UNAUTHENTICATED, `${who} has no key or passkey registered in the directory, and every decision must be signed by one (countersign keys reviewer, or countersign reviewers invite).`);
  }
  if (key || passkeys.length || (d.signature && ('passkey' in d.signature || 'chat' in d.signature)) || later) {
    if (!d.signature) return refuse(unsigned, `${who} has a registered key, so the decision must be signed with it.`);
    const signedAt = Date.parse(d.signature.signedAt);
    if (!(now - signedAt <= SIGNATURE_MAX_AGE_MS && signedAt - now <= SIGNATURE_MAX_SKEW_MS)) {
      return refuse(unsigned, `${who}'s signed decision is dated ${d.signature.signedAt}, outside the ${SIGNATURE_MAX_AGE_MS / 60_000} minutes a signature is accepted for: sign it again.`);
    }
    if (later) return { ok: true };
    const credentials = { key, passkeys, webauthn: state.version.policy.webauthn, attestationKey: state.version.policy.attestationKey };
    const checked = batched
      ? verifyBatch(batchStatementOf(batched, d.signature.signedAt), d.signature, credentials)
      : verifyDecision(statementOf(state, d, d.signature.signedAt), d.signature, credentials);
    if (!checked.ok) return refuse(unsigned, signatureRefused(checked, who));
  }
  return { ok: true };
}

/** The workflow's sentence for a decision whose signature is refused. */
function signatureRefused(checked: Extract<DecisionCheck, { ok: false }>, who: string): string {
  switch (checked.why) {
    case 'unknown-passkey':
      return `The passkey that signed ${who}'s decision is not one the directory registers for them.`;
    case 'no-relying-party':
      return 'The directory names no webauthn relying party, so no passkey assertion can be checked.';
    case 'assertion-refused':
      return `${who}'s passkey assertion is refused: ${checked.reason}.`;
    case 'no-key':
      return `${who} signs with a passkey: the directory registers no key for them.`;
    case 'bad-signature':
      return `The signature on ${who}'s decision does not verify against their registered key for this request and version.`;
    case 'no-attestation-key':
      return `${who}'s decision was made in chat, but the directory names no front-door key (directory.server.startKey) to check its attestation.`;
    case 'bad-attestation':
      return `The front door's attestation of ${who}'s chat decision does not verify for this request and version.`;
  }
}

/**
 * The reviewer's passkeys as the directory registers them now, in place of the routed snapshot's:
 * in every group snapshot that lists them (the route, its escalation chain, the eligible groups),
 * and, for runs under 'current-keys', their Ed25519 key too. Membership is untouched. The relying party is the current one too.
 */
export function withCurrentCredentials(
  state: ReviewState,
  reviewer: string,
  current: { key?: string; passkeys: { credentialId: string; publicKey: string }[]; webauthn?: { rpId: string; origins: string[] }; directoryDigest: string },
): ReviewState {
  const refreshKeys = (g: GroupSnapshot): GroupSnapshot => {
    if (!state.currentKeys) return g; // runs before 'current-keys' keep the routed snapshot's Ed25519 keys
    const keys = { ...(g.keys ?? {}) };
    if (current.key) keys[reviewer] = current.key;
    else delete keys[reviewer];
    const { keys: _old, ...rest } = g;
    return Object.keys(keys).length ? { ...rest, keys } : rest;
  };
  const refresh = (g: GroupSnapshot): GroupSnapshot => {
    if (!g.members.includes(reviewer)) return g;
    const passkeys = { ...(g.passkeys ?? {}) };
    if (current.passkeys.length) passkeys[reviewer] = current.passkeys;
    else delete passkeys[reviewer];
    const { passkeys: _old, ...rest } = refreshKeys(g);
    return Object.keys(passkeys).length ? { ...rest, passkeys } : rest;
  };
  const policy = state.version.policy;
  const route = { ...policy.route, group: refresh(policy.route.group), escalationChain: policy.route.escalationChain.map(refresh) };
  const { webauthn: _rp, ...rest } = policy;
  return {
    ...state,
    eligible: state.eligible.map(refresh),
    version: { ...state.version, policy: { ...rest, route, ...(current.webauthn ? { webauthn: current.webauthn } : {}) } },
    credentials: { directoryDigest: current.directoryDigest },
  };
}

/** True when `payload` would make a new version: an "edit" to the payload already current is no edit. */
export function isNewVersion(state: ReviewState, payload: Payload): boolean {
  return !sameVersion(state, payload);
}

function sameVersion(state: ReviewState, payload: Payload): boolean {
  return state.version.digest === actionDigest({ action: state.action, resource: state.resource, payload });
}

/** Where a decision came in, by how it was signed: a key through the reviewer API (CLI, SDK), a passkey through the inbox, a chat click through Slack. */
const CHANNEL_OF = { key: 'api', passkey: 'inbox', chat: 'slack' } as const;

/** What the reviewer saw and signed, kept in the evidence with their decision. */
function decisionEvidence(state: ReviewState, d: ReviewerDecision, extra: { [key: string]: Json } = {}): { [key: string]: Json } {
  const key = registeredKey(state, d.reviewer);
  const signature = d.signature;
  const passkey = signature && 'passkey' in signature ? registeredPasskeys(state, d.reviewer).find((c) => c.credentialId === signature.passkey.credentialId) : undefined;
  const p = state.version.policy;
  const statement = signature ? signedStatement(state, d, signature.signedAt) : undefined;
  return {
    decision: d.decision,
    versionDigest: state.version.digest,
    shown: { payloadDigest: state.version.digest, ruleIds: p.ruleIds, risk: p.risk, reason: p.reason, group: p.route.group.name, approvals: p.route.approvals },
    signed: Boolean((key || passkey) && d.signature && !('chat' in d.signature)),
    ...(signature ? { assurance: assuranceOf(signature), channel: CHANNEL_OF[assuranceOf(signature)] } : {}),
    ...(p.directoryDigest ? { directoryDigest: p.directoryDigest } : {}),
    ...((passkey || (key && state.currentKeys)) && state.credentials ? { credentialsDirectoryDigest: state.credentials.directoryDigest } : {}),
    ...(key && d.signature && 'value' in d.signature ? { publicKey: key, signature: d.signature.value, statement: statement! } : {}),
    // A passkey decision keeps the whole assertion and the credential's key: verify checks it offline.
    ...(passkey && d.signature && 'passkey' in d.signature
      ? {
          passkey: { ...d.signature.passkey, publicKey: passkey.publicKey, ...(p.webauthn ? { rpId: p.webauthn.rpId } : {}) },
          statement: statement!,
        }
      : {}),
    // A chat decision keeps what Slack proved and the front door's attestation of it: verify checks it offline.
    ...(signature && 'chat' in signature && p.attestationKey
      ? { chat: { ...signature.chat.slack, attestation: signature.chat.value, attestationKey: p.attestationKey }, statement: statement! }
      : {}),
    // A batch approval keeps where this request sits in the batch: verify recomputes the leaf and checks its proof to the signed root.
    ...(d.decision === 'approve' && d.batch ? { batch: { ...d.batch, leaf: batchItemOf(state, d) as unknown as Json } } : {}),
    ...extra,
  };
}

/** What the reviewer signed: the batch statement for a batch approval, else the decision's own. */
function signedStatement(state: ReviewState, d: ReviewerDecision, signedAt: string): Json {
  return (d.decision === 'approve' && d.batch ? batchStatementOf(d, signedAt) : statementOf(state, d, signedAt)) as unknown as Json;
}

/**
 * Applies one decision. `revised` is policy's verdict on the edited or proposed payload (the
 * workflow runs it between the check and this call); a `deny` there refuses the decision.
 */
export function decide(state: ReviewState, d: ReviewerDecision, now: number, revised?: PolicyDecision): Refusal | Transition {
  const checked = checkDecision(state, d, now);
  if (!checked.ok) return checked;
  const events: ReviewEvent[] = [];
  const notify: Transition['notify'] = [];
  const next: ReviewState = { ...state, approvals: [...state.approvals], eligible: [...state.eligible] };

  if (d.decision === 'deny') {
    events.push({ type: 'denied', detail: `${d.reasonCode}: ${d.message}`, actor: d.reviewer, data: decisionEvidence(state, d, { reasonCode: d.reasonCode, message: d.message }) });
    next.status = 'denied';
    next.closure = { code: ReasonCode.REVIEWER_DENIED, reviewer: d.reviewer, reviewerReason: d.reasonCode, message: d.message };
    return { ok: true, state: next, events, notify };
  }

  const replacement = d.decision === 'approve' ? d.editedPayload : d.proposedPayload;
  const newVersion = replacement !== undefined && !sameVersion(state, replacement);
  if (newVersion) {
    if (d.decision === 'approve' && state.versions >= MAX_VERSIONS) {
      return refuse(ReasonCode.INVALID_REQUEST, `Request ${state.requestId} has ${MAX_VERSIONS} versions already: approve, deny or request changes instead of editing again.`);
    }
    if (!revised) return refuse(ReasonCode.INVALID_REQUEST, 'The edited payload has not been checked by policy.');
    if (revised.decision === 'deny') return refuse(ReasonCode.POLICY_DENIED, `The ${d.decision === 'approve' ? 'edit' : 'proposed payload'} is refused: policy denies it (${revised.reason})`);
  }

  if (d.decision === 'request_changes') {
    events.push({
      type: 'changes_requested',
      detail: d.comment,
      actor: d.reviewer,
      data: decisionEvidence(state, d, { comment: d.comment, ...(d.proposedPayload ? { proposedPayload: d.proposedPayload } : {}) }),
    });
    next.status = 'changes_requested';
    next.closure = { code: ReasonCode.CHANGES_REQUESTED, reviewer: d.reviewer, message: d.comment, comment: d.comment, proposedPayload: d.proposedPayload };
    return { ok: true, state: next, events, notify };
  }

  const evidence = decisionEvidence(state, d, d.comment ? { comment: d.comment } : {});
  if (newVersion) {
    // A new version: policy's verdict on it, route and all, replaces the old one. An edit policy would
    // allow at once is still under review: it keeps the current verdict (route, risk, rules, token TTL).
    const policy = revised!.route ? { ...revised!, route: revised!.route } : { ...state.version.policy, actionDigest: revised!.actionDigest };
    const route = policy.route;
    const before = new Set(state.eligible.map((g) => g.name));
    next.version = { payload: replacement, digest: revised!.actionDigest, policy, editedBy: d.reviewer };
    next.versions = state.versions + 1;
    next.eligible = eligibleAt(route, state.escalationLevel);
    next.deadline = Math.min(state.deadline, now + route.slaMs);
    const remaining = route.escalationChain.length > state.escalationLevel && route.escalateAfterMs;
    next.nextEscalation = remaining ? Math.min(next.deadline, now + route.escalateAfterMs!) : undefined;
    for (const group of next.eligible) if (!before.has(group.name)) notify.push({ group, event: 'review_requested' });
    events.push({
      type: 'edited',
      detail: `payload edited (version ${short(next.version.digest)}): needs ${route.group.name} (${route.approvals} approval${route.approvals > 1 ? 's' : ''}); earlier approvals no longer count`,
      actor: d.reviewer,
      data: {
        // Small edits are kept whole; a large one by digest, so that many edits cannot outgrow the evidence (the final payload is in the outcome).
        ...(utf8Length(canonicalJson(replacement)) <= MAX_EDIT_EVIDENCE_BYTES ? { payload: replacement } : { payloadOmitted: true }),
        actionDigest: next.version.digest,
        previousDigest: state.version.digest,
        ruleIds: policy.ruleIds,
        risk: policy.risk,
        group: route.group.name,
        approvals: route.approvals,
        eligibleGroups: next.eligible.map((g) => g.name),
        deadline: new Date(next.deadline).toISOString(),
      },
    });
  }

  // One entry per reviewer; a new version starts with none, even if it repeats an earlier payload.
  next.approvals = next.version === state.version ? next.approvals.filter((a) => a.reviewer !== d.reviewer) : [];
  if (isEligible(next, d.reviewer)) {
    next.approvals.push({ reviewer: d.reviewer, digest: next.version.digest });
    const counted = countedApprovers(next);
    events.push({ type: 'approved', detail: `${counted.length}/${next.version.policy.route.approvals} approvals${d.comment ? `: ${d.comment}` : ''}`, actor: d.reviewer, data: evidence });
    if (counted.length >= next.version.policy.route.approvals) {
      next.status = 'approved';
      next.closure = {};
    }
  } else {
    events.push({
      type: 'refused',
      detail: `${escapeName(d.reviewer)}'s approval does not count: the edited version is routed to ${next.eligible.map((g) => g.name).join(', ')}`,
      actor: d.reviewer,
      data: { ...evidence, counted: false },
    });
  }
  return { ok: true, state: next, events, notify };
}

/** The escalation timer fired: the next group in the chain may decide too. */
export function escalate(state: ReviewState, now: number): Transition {
  if (!isOpen(state) || state.nextEscalation === undefined || now < state.nextEscalation) return { ok: true, state, events: [], notify: [] };
  const route = state.version.policy.route;
  const group = route.escalationChain[state.escalationLevel];
  if (!group) return { ok: true, state: { ...state, nextEscalation: undefined }, events: [], notify: [] };
  const level = state.escalationLevel + 1;
  const next: ReviewState = {
    ...state,
    status: 'escalated',
    escalationLevel: level,
    eligible: eligibleAt(route, level),
    nextEscalation: route.escalationChain.length > level && route.escalateAfterMs ? now + route.escalateAfterMs : undefined,
  };
  return {
    ok: true,
    state: next,
    events: [{ type: 'escalated', detail: `no decision in time; ${group.name} may now decide`, data: { group: group.name } }],
    notify: [{ group, event: 'escalated' }],
  };
}

/** The SLA timer fired. */
export function expire(state: ReviewState, now: number): Transition {
  if (!isOpen(state) || now < state.deadline) return { ok: true, state, events: [], notify: [] };
  return {
    ok: true,
    state: { ...state, status: 'expired', closure: { code: ReasonCode.SLA_EXPIRED } },
    events: [{ type: 'expired', detail: 'no decision within the SLA' }],
    notify: [],
  };
}

/** When the workflow must next wake up for a timer. */
export function nextWake(state: ReviewState): { at: number; what: 'expiry' | 'escalation' } {
  return state.nextEscalation !== undefined && state.nextEscalation < state.deadline ? { at: state.nextEscalation, what: 'escalation' } : { at: state.deadline, what: 'expiry' };
}
