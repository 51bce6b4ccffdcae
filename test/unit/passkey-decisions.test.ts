/**
 * Passkey decisions below the browser: the directory's passkeys and relying party as `policy check`
 * loads them, the review rules accepting only an assertion over this decision's statement by a
 * passkey the routed snapshot registers for its reviewer, the evidence keeping the assertion, the
 * offline verifier checking it against a policy, and a running policy reloaded from its file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { evaluatePolicy } from '../../policy/evaluate';
import { compilePolicy, loadPolicyFile, PolicyLoadError } from '../../policy/load';
import { reloadPolicy } from '../../policy/watch';
import { actionDigest } from '../../common/digest';
import type { Payload } from '../../common/json';
import type { PolicyDecision, ReviewerDecision } from '../../common/inputs';
import { decisionChallenge } from '../../common/signing';
import { checkDecision, decide, openReview, statementOf, withCurrentCredentials } from '../../workflows/review';
import { simulatedAuthenticator } from '../support/authenticator';

const RP = { rpId: 'inbox.example.com', origin: 'https://inbox.example.com' };
const dave = simulatedAuthenticator('p256', RP);
const erin = simulatedAuthenticator('ed25519', RP);
const stranger = simulatedAuthenticator('p256', RP);

const policyText = (directory = `
directory:
  webauthn: { rpId: ${RP.rpId}, origins: ["${RP.origin}"] }
  reviewers:
    dave: { passkeys: [{ id: ${dave.credential.credentialId}, publicKey: ${dave.credential.publicKey} }] }
    erin: { passkeys: [{ id: ${erin.credential.credentialId}, publicKey: ${erin.credential.publicKey} }] }
`) => `
version: 1
defaults: { decision: review, reviewers: finance, sla: 1h }
groups:
  finance: { members: [dave, erin] }
rules:
  - { id: refunds, match: { action: payments.refund }, decision: review, reviewers: finance, approvals: 2 }
${directory}`;

const errors = (text: string) => {
  try {
    compilePolicy(text, 'p.yaml');
  } catch (err) {
    assert.ok(err instanceof PolicyLoadError);
    return err.message;
  }
  assert.fail('the policy loaded');
};

test('the directory: passkeys need a relying party, a key countersign verifies, and one owner each', () => {
  const policy = compilePolicy(policyText());
  assert.deepEqual(policy.reviewerPasskeys.get('dave'), [dave.credential]);
  assert.deepEqual(policy.webauthn, { rpId: RP.rpId, origins: [RP.origin], rpName: 'countersign' });
  assert.notEqual(policy.directory.digest, compilePolicy(policyText().replace(/erin: \{ passkeys.*\n/, '')).directory.digest, 'the digest covers passkeys');
  const entry = (who: string, id: string, key: string) => `    ${who}: { passkeys: [{ id: ${id}, publicKey: ${key} }] }\n`;
  const withReviewers = (reviewers: string, webauthn = `  webauthn: { rpId: ${RP.rpId}, origins: ["${RP.origin}"] }\n`) => policyText(`directory:\n${webauthn}  reviewers:\n${reviewers}`);
  assert.match(errors(withReviewers(entry('dave', dave.credential.credentialId, dave.credential.publicKey), '')), /directory: registers passkeys but no webauthn/);
  assert.match(errors(withReviewers(entry('dave', dave.credential.credentialId, 'AAAA'))), /directory\.reviewers\.dave\.passkeys\[0\]\.publicKey: is not a COSE public key countersign accepts/);
  assert.match(
    errors(withReviewers(entry('dave', dave.credential.credentialId, dave.credential.publicKey) + entry('erin', dave.credential.credentialId, erin.credential.publicKey))),
    /directory\.reviewers\.erin\.passkeys\[0\]\.id: is the same passkey as one of dave's/,
  );
  assert.match(errors(withReviewers('    dave: {}\n')), /directory\.reviewers\.dave: must have a key \(countersign keys reviewer\) or a passkey/);
  assert.match(errors(policyText(`directory:\n  webauthn: { rpId: "https://inbox.example.com", origins: ["${RP.origin}"] }\n`)), /rpId: must be a lower-case host name/);
  assert.match(errors(policyText(`directory:\n  webauthn: { rpId: ${RP.rpId}, origins: ["${RP.origin}/inbox"] }\n`)), /origins\[0\]: must be an origin/);
});

const payload: Payload = { amount: 900, currency: 'USD' };
const REQUEST = { agentId: 'support-bot', taskId: 't-1', action: 'payments.refund', summary: 'Refund', resource: { type: 'customer', id: 'C-42' }, payload };
const START = Date.parse('2026-11-26T10:00:00Z');

function review(policyTextValue = policyText()) {
  const policy = compilePolicy(policyTextValue);
  const decision = evaluatePolicy(policy, REQUEST) as PolicyDecision & { route: NonNullable<PolicyDecision['route']> };
  const opened = openReview({
    workflowId: 'cs-support-bot-0123456789abcdef',
    runId: 'run-1',
    requestId: '0123456789abcdef',
    action: REQUEST.action,
    resource: REQUEST.resource,
    agentId: REQUEST.agentId,
    version: { payload, digest: actionDigest({ action: REQUEST.action, resource: REQUEST.resource, payload }), policy: decision },
    now: START,
    signaturesRequired: true,
  });
  return opened.state;
}

/** The decision as the inbox sends it: the statement's SHA-256 signed by the reviewer's authenticator. */
function passkeyDecision(state: ReturnType<typeof review>, d: ReviewerDecision, by = dave, o: Parameters<typeof dave.assert>[1] = {}, signFor: ReviewerDecision = d): ReviewerDecision {
  const signedAt = new Date(START).toISOString();
  const statement = statementOf(state, { ...signFor, versionDigest: state.version.digest }, signedAt);
  return { ...d, versionDigest: state.version.digest, signature: { signedAt, passkey: by.assert(decisionChallenge(statement), o) } };
}

test('review rules: a passkey assertion over this decision counts; any other is UNAUTHENTICATED', () => {
  const state = review();
  const approve: ReviewerDecision = { decision: 'approve', reviewer: 'dave', comment: 'ok' };
  const refused = (d: ReviewerDecision, reason: RegExp) => {
    const r = decide(state, d, START);
    assert.equal(r.ok, false);
    assert.equal((r as { code: string }).code, 'UNAUTHENTICATED');
    assert.match((r as { message: string }).message, reason);
  };
  const accepted = decide(state, passkeyDecision(state, approve), START);
  assert.ok(accepted.ok, (accepted as { message?: string }).message);
  const event = accepted.events.find((e) => e.type === 'approved')!;
  const kept = event.data!.passkey as Record<string, string>;
  assert.equal(kept.credentialId, dave.credential.credentialId);
  assert.equal(kept.publicKey, dave.credential.publicKey);
  assert.equal(kept.rpId, RP.rpId);
  assert.equal(event.data!.signed, true);

  refused(passkeyDecision(state, approve, stranger), /not one the directory registers for them/);
  refused(passkeyDecision(state, approve, erin), /not one the directory registers for them/); // erin's passkey in dave's name
  refused(passkeyDecision(state, approve, dave, {}, { ...approve, comment: 'something else' }), /answers another challenge/);
  refused(passkeyDecision(state, approve, dave, {}, { decision: 'deny', reviewer: 'dave', reasonCode: 'NO', message: 'no' }), /answers another challenge/);
  refused(passkeyDecision(state, approve, dave, { origin: 'https://evil.example' }), /another origin/);
  refused(passkeyDecision(state, approve, dave, { rpId: 'evil.example' }), /another relying party/);
  refused(passkeyDecision(state, approve, dave, { flags: 0x01 }), /did not verify the user/);
  refused({ ...approve, versionDigest: state.version.digest }, /must be signed/);
  // The same assertion replayed on another request (another workflow in the statement) never verifies.
  const elsewhere = { ...state, workflowId: 'cs-support-bot-fedcba9876543210', requestId: 'fedcba9876543210' };
  const r = decide(elsewhere, passkeyDecision(state, approve), START);
  assert.equal(r.ok, false);
  assert.match((r as { message: string }).message, /answers another challenge/);
});

test('review rules: passkeys are the directory\'s as it is at decision time; membership is the routed snapshot\'s', () => {
  const onlyErin = `directory:\n  webauthn: { rpId: ${RP.rpId}, origins: ["${RP.origin}"] }\n  reviewers:\n    erin: { passkeys: [{ id: ${erin.credential.credentialId}, publicKey: ${erin.credential.publicKey} }] }\n`;
  const routed = review(policyText(onlyErin));
  const approve: ReviewerDecision = { decision: 'approve', reviewer: 'dave' };
  // Routed before dave's passkey was confirmed: the snapshot alone refuses it...
  const before = decide(routed, passkeyDecision(routed, approve), START);
  assert.equal(before.ok, false);
  assert.match((before as { message: string }).message, /dave has no key or passkey registered in the directory/);
  // ...the Update validator lets the handler decide, and the handler looks the passkey up now.
  assert.deepEqual(checkDecision(routed, passkeyDecision(routed, approve), START, { passkeyLater: true }), { ok: true });
  const current = { passkeys: [dave.credential], webauthn: { rpId: RP.rpId, origins: [RP.origin] }, directoryDigest: 'd'.repeat(64) };
  const refreshed = withCurrentCredentials(routed, 'dave', current);
  const after = decide(refreshed, passkeyDecision(refreshed, approve), START);
  assert.ok(after.ok, (after as { message?: string }).message);
  assert.equal(after.events.find((e) => e.type === 'approved')!.data!.credentialsDirectoryDigest, 'd'.repeat(64));
  // A passkey removed from the directory stops counting on requests already routed.
  const revoked = withCurrentCredentials(review(), 'dave', { ...current, passkeys: [] });
  const refused = decide(revoked, passkeyDecision(revoked, approve), START);
  assert.equal(refused.ok, false);
  assert.match((refused as { message: string }).message, /dave has no key or passkey registered in the directory/);
  // Membership is not the directory's to change: frank, in no routed group, stays ineligible with any passkey.
  const frank = decide(withCurrentCredentials(routed, 'frank', { ...current, passkeys: [stranger.credential] }), passkeyDecision(routed, { decision: 'approve', reviewer: 'frank' }, stranger), START);
  assert.equal(frank.ok, false);
  assert.equal((frank as { code: string }).code, 'NOT_ELIGIBLE');
});

test('a running policy is replaced in place when its file changes, and a broken file leaves it running', () => {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-reload-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, policyText());
  const policy = loadPolicyFile(file);
  const lines: { msg: string }[] = [];
  const logger = pino({}, new Writable({ write: (chunk, _e, done) => (lines.push(JSON.parse(String(chunk))), done()) }));
  assert.equal(reloadPolicy(policy, logger), false, 'unchanged: nothing to do');
  writeFileSync(file, policyText().replace(/\n {4}erin: \{ passkeys.*/, ''));
  assert.equal(reloadPolicy(policy, logger), true);
  assert.equal(policy.reviewerPasskeys.has('erin'), false, "erin's passkey is gone from the running policy");
  const digest = policy.digest;
  writeFileSync(file, 'version: 1\ngroups: [oops');
  assert.equal(reloadPolicy(policy, logger), false);
  assert.equal(policy.digest, digest, 'the last good policy keeps running');
  assert.deepEqual(lines.map((l) => l.msg), ['policy reloaded', 'the changed policy does not load; the previous one keeps running']);
});
