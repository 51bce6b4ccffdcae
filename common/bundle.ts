import { canonicalJson } from './canonical';
import { actionDigest, sha256Hex } from './digest';
import { verifyChain, type EvidenceEvent } from './evidence';
import type { ActionRequest } from './inputs';
import type { ApprovalOutcome, ApprovalRecord, ExecutionReceipt, Signed } from './views';
import { base64UrlToBytes, verifyPasskeyAssertion } from './webauthn';
import { batchChallenge, batchMessage, inBatch, type BatchItem, type BatchPosition, type BatchStatement } from './batch';
import { chatAttestationMessage, DECISION_DOMAIN, decisionChallenge, decisionMessageV1, keyId, signingMessage, type DecisionStatement, type DecisionStatementV1 } from './signing';
import { verifyEd25519 } from './ed25519';
import { checkLogProof, type BundleLogProof, type LoggedAt } from './tlog/inclusion';
import { logLeafData } from './tlog/leaf';

export const BUNDLE_FORMAT = 'countersign/evidence/v1';

/** Everything needed to check an approval offline, signed by the layer at the end. */
export interface EvidenceBody {
  format: typeof BUNDLE_FORMAT;
  /** Set on an allow decided at the front door (issue 29): signed by the edge key, never the layer's. */
  decidedAt?: 'edge';
  workflowId: string;
  requestId: string;
  request: Omit<ActionRequest, 'agentKey'>;
  requestDigest: string;
  outcome: Omit<ApprovalOutcome, 'evidence' | 'token'> & { token?: { tokenId: string; expiresAt: string } };
  events: EvidenceEvent[];
  approvalRecord?: Signed<ApprovalRecord>;
  receipt?: Signed<ExecutionReceipt>;
  signer: { keyId: string; publicKey: string };
}

export interface EvidenceBundle extends EvidenceBody {
  signature: string;
  /** Proof that the bundle is in the transparency log, added on export: outside the signed body. */
  log?: BundleLogProof;
}

export function requestDigest(request: Omit<ActionRequest, 'agentKey'>): string {
  const { agentKey: _omitted, ...shown } = request as ActionRequest;
  return sha256Hex(canonicalJson(shown));
}

export function bundleDigest(body: EvidenceBody): string {
  return sha256Hex(canonicalJson(body));
}

/** What the layer signs: the bundle without its signature and without the log proof added on export. */
function signedBody(bundle: EvidenceBundle): EvidenceBody {
  const { signature: _signature, log: _log, ...body } = bundle;
  return body;
}

/** The log leaf of a sealed bundle (common/tlog/leaf.ts), given the run that sealed it. */
export function leafFor(bundle: EvidenceBundle, runId: string): Uint8Array {
  return logLeafData({ workflowId: bundle.workflowId, runId, requestId: bundle.requestId, bundleDigest: bundleDigest(signedBody(bundle)) });
}

/** The events an edge may record, and nothing a reviewer does. */
export const EDGE_EVENT_TYPES: readonly EvidenceEvent['type'][] = ['requested', 'evaluated', 'token_minted', 'consumed', 'reported', 'closed'];

/** Why a bundle that says it was decided at the edge claims more than an edge may decide; undefined when it claims no more. */
export function edgeOverreach(body: Pick<EvidenceBody, 'events' | 'outcome' | 'approvalRecord'>): string | undefined {
  const foreign = body.events.find((e) => !EDGE_EVENT_TYPES.includes(e.type) || (e.data as { decision?: unknown } | undefined)?.decision !== undefined && e.type !== 'evaluated');
  if (foreign) return `it records a ${foreign.type} event, which only a workflow records`;
  const evaluated = body.events.find((e) => e.type === 'evaluated');
  if ((evaluated?.data as { decision?: unknown } | undefined)?.decision !== 'allow') return 'its evaluation is not a policy allow';
  if (body.outcome?.decidedBy !== 'policy' || body.outcome.reviewers?.length) return 'its outcome names a decider other than policy';
  const record = body.approvalRecord?.body;
  if (!record || record.decidedBy !== 'policy' || record.decisions.length) return 'its approval record is not a policy allow without reviewers';
  return undefined;
}

/** On success, `log` says where the bundle is proven to be in the log; absent, it is not proven to be in one. */
export type Verification = { ok: true; checks: string[]; log?: LoggedAt } | { ok: false; link: string; reason: string; checks: string[] };

export interface VerifyOptions {
  /** The layer's public key the user trusts (base64). Without it a bundle is never OK. */
  publicKey?: string;
  /** The edge key the user trusts (base64): it alone signs bundles decided at the edge, and nothing else. */
  edgeKey?: string;
  /** The policy's directory: every decision is checked against what it registers for its reviewer. */
  directory?: TrustedDirectory;
}

/** What a policy's directory registers, as `verify --policy` trusts it. */
export interface TrustedDirectory {
  /** Reviewer → Ed25519 public keys (base64). */
  keys: Map<string, string[]>;
  /** Reviewer → passkeys (credential id, COSE public key; base64url). */
  passkeys: Map<string, { credentialId: string; publicKey: string }[]>;
  /** The inbox's relying party and origins. */
  webauthn?: { rpId: string; origins: string[] };
  /** The front door's key (directory.server.startKey): it attests chat decisions. */
  attestationKey?: string;
}

/** A chat decision as the evidence keeps it: what Slack proved, and the front door's attestation of it. */
interface ChatEvidence {
  teamId: string;
  userId: string;
  channelId: string;
  actionTs: string;
  attestation: string;
  attestationKey: string;
}

/** A passkey decision as the evidence keeps it (workflows/review.ts). */
interface PasskeyEvidence {
  credentialId: string;
  authenticatorData: string;
  clientDataJSON: string;
  signature: string;
  publicKey: string;
  rpId?: string;
}

/** The origin the browser recorded in a passkey assertion's client data, if it can be read. */
function assertionOrigin(clientDataJSON: string): string | undefined {
  try {
    const origin = (JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64UrlToBytes(clientDataJSON))) as { origin?: unknown }).origin;
    return typeof origin === 'string' ? origin : undefined;
  } catch {
    return undefined;
  }
}

/** Statements signed before they named the workflow (v1) are still checked, under their own domain. */
function statementMessage(statement: DecisionStatement | DecisionStatementV1): string {
  return 'versionDigest' in statement ? signingMessage(DECISION_DOMAIN, statement) : decisionMessageV1(statement);
}

/** Where a batch approval's request sits in the batch, as the evidence keeps it (workflows/review.ts). */
type BatchEvidence = BatchPosition & { leaf?: BatchItem };

/** A batch approval's leaf is this request at the version decided, inside the tree whose root the statement signs. */
function batchSigned(batch: BatchEvidence, statement: BatchStatement, decided: { workflowId: string; requestId: string; versionDigest?: string }): { ok: true } | { ok: false; reason: string } {
  const leaf = batch.leaf;
  if (!leaf || leaf.workflowId !== decided.workflowId || leaf.requestId !== decided.requestId || leaf.versionDigest !== decided.versionDigest) {
    return { ok: false, reason: 'its batch leaf names another request or version' };
  }
  if (!Array.isArray(batch.proof) || !inBatch(leaf, batch)) return { ok: false, reason: 'the request is not in the batch its proof names' };
  if (statement.root !== batch.root || statement.size !== batch.size) return { ok: false, reason: 'the signed batch statement names another tree' };
  return { ok: true };
}

/** Checks a bundle offline: the chain, every signature and the digests; names the first broken link. */
export function verifyBundle(bundle: EvidenceBundle, options: VerifyOptions = {}): Verification {
  const checks: string[] = [];
  const fail = (link: string, reason: string): Verification => ({ ok: false, link, reason, checks });
  if (bundle?.format !== BUNDLE_FORMAT) return fail('format', `not a countersign evidence bundle (format ${JSON.stringify(bundle?.format)})`);
  if (typeof bundle.signer?.publicKey !== 'string') return fail('signer', 'the bundle names no signer key');
  const edge = bundle.decidedAt === 'edge';
  if (bundle.decidedAt !== undefined && !edge) return fail('decidedAt', `unknown decidedAt ${JSON.stringify(bundle.decidedAt)}`);
  // The edge key signs edge allows and nothing else; the layer key never signs one: neither passes for the other.
  if (options.edgeKey && options.edgeKey === options.publicKey) return fail('signer', 'the edge key you named is the layer key: they must be distinct keys');
  if (!edge && options.edgeKey && bundle.signer.publicKey === options.edgeKey) return fail('signer', `signed by the edge key ${keyId(options.edgeKey)}, which signs only allows decided at the edge, and this bundle does not say it was decided there`);
  const expected = edge ? options.edgeKey : options.publicKey;
  if (edge && options.publicKey && bundle.signer.publicKey === options.publicKey) return fail('signer', 'decided at the edge, yet signed by the layer key: edge bundles are signed by the edge key');
  if (expected && bundle.signer.publicKey !== expected) {
    return fail('signer', `signed by key ${keyId(bundle.signer.publicKey)}, not by the trusted ${edge ? 'edge ' : ''}key ${keyId(expected)}`);
  }
  if (edge) {
    const overreach = edgeOverreach(bundle);
    if (overreach) return fail('decidedAt', `decided at the edge, yet ${overreach}`);
  }
  const trusted = bundle.signer.publicKey;
  if (keyId(bundle.signer.publicKey) !== bundle.signer.keyId) return fail('signer', 'the signer key id does not match its public key');

  const chain = verifyChain(bundle.events);
  if (!chain.ok) return fail(`events[${chain.seq}]`, chain.reason);
  checks.push(`hash chain of ${bundle.events.length} events`);

  const digest = requestDigest(bundle.request);
  if (digest !== bundle.requestDigest) return fail('request', 'the request does not match its digest');
  const requested = bundle.events[0];
  if (!requested || requested.type !== 'requested' || requested.data?.requestDigest !== digest) return fail('events[0]', 'the first event does not record this request');
  checks.push('request digest');

  for (const event of bundle.events) {
    const data = event.data as { decision?: string; versionDigest?: string; signature?: string; publicKey?: string; passkey?: PasskeyEvidence; chat?: ChatEvidence; batch?: BatchEvidence; statement?: DecisionStatement | DecisionStatementV1 } | undefined;
    if (!data?.decision || event.actor === undefined) continue;
    const who = event.actor ?? 'a reviewer';
    const registeredKeys = options.directory?.keys.get(who) ?? [];
    const registeredPasskeys = options.directory?.passkeys.get(who) ?? [];
    const at = `events[${event.seq}]`;
    if (!data.signature && !data.passkey && !data.chat) {
      if (registeredKeys.length || registeredPasskeys.length) return fail(at, `${who} has a key in the policy's directory, but this ${event.type} decision is unsigned`);
      continue;
    }
    const s = data.statement;
    if (!s) return fail(at, `${who}'s ${event.type} decision keeps no signed statement`);
    const batched = data.batch ? batchSigned(data.batch, s as unknown as BatchStatement, { workflowId: bundle.workflowId, requestId: bundle.requestId, versionDigest: data.versionDigest }) : undefined;
    if (batched && !batched.ok) return fail(at, `${who}'s batch approval: ${batched.reason}`);
    if (batched && (data.chat || !data.passkey && !data.signature)) return fail(at, `${who}'s batch approval is not signed by their own key or passkey`);
    if (data.chat) {
      // A chat decision: the front door attests that Slack signed the click and that the Slack user is linked to this reviewer.
      const c = data.chat;
      if (!('versionDigest' in s)) return fail(at, `${who}'s chat decision attests a statement of an old format`);
      const trusted = options.directory ? options.directory.attestationKey : c.attestationKey;
      if (!trusted) return fail(at, `${who}'s decision was made in chat, and the policy's directory names no front-door key (directory.server.startKey) to check its attestation`);
      const slack = { teamId: c.teamId, userId: c.userId, channelId: c.channelId, actionTs: c.actionTs };
      if (!verifyEd25519(trusted, chatAttestationMessage(s, slack), c.attestation)) return fail(at, `the front door's attestation of ${who}'s chat decision does not verify`);
    } else if (data.passkey) {
      // The assertion's challenge is SHA-256 of the statement: checking it checks what the reviewer decided.
      const p = data.passkey;
      if (!('versionDigest' in s)) return fail(at, `${who}'s passkey decision signs a statement of an old format`);
      const trusted = options.directory ? registeredPasskeys.find((c) => c.credentialId === p.credentialId) : { credentialId: p.credentialId, publicKey: p.publicKey };
      if (!trusted) return fail(at, `${who}'s decision is signed by passkey ${String(p.credentialId).slice(0, 16)}…, which the policy's directory does not register for them`);
      const rpId = options.directory?.webauthn?.rpId ?? p.rpId;
      const origins = options.directory?.webauthn?.origins ?? [assertionOrigin(p.clientDataJSON) ?? ''];
      if (!rpId) return fail(at, `${who}'s passkey decision names no relying party, and no policy is given to say which`);
      const checked = verifyPasskeyAssertion(p, trusted, { challenge: batched ? batchChallenge(s as unknown as BatchStatement) : decisionChallenge(s), origins, rpId });
      if (!checked.ok) return fail(at, `the passkey assertion of ${who} on this ${event.type} decision does not verify: ${checked.reason}`);
    } else if (!data.publicKey || !verifyEd25519(data.publicKey, batched ? batchMessage(s as unknown as BatchStatement) : statementMessage(s), data.signature!)) {
      return fail(at, `the signature of ${who} on this ${event.type} decision does not verify`);
    }
    const named = batched ? true : 'versionDigest' in s ? s.workflowId === bundle.workflowId && s.requestId === bundle.requestId : s.requestId === bundle.requestId;
    if (!named || s.reviewer !== event.actor || s.decision !== data.decision) {
      return fail(at, `${who}'s signed statement is for another request, reviewer or decision`);
    }
    const how = data.passkey ? 'passkey' : data.chat ? 'chat decision' : 'signature';
    if (data.chat) {
      checks.push(`${how} of ${who} (${at}, assurance chat: Slack user ${data.chat.userId} in ${data.chat.channelId}) attested by ${options.directory ? 'the front-door key the policy registers' : 'the front-door key in the bundle'}`);
      continue;
    }
    if (options.directory) {
      if (!data.passkey && !registeredKeys.includes(data.publicKey!)) return fail(at, `${who}'s decision is signed by key ${keyId(data.publicKey!)}, which the policy's directory does not register for them`);
      checks.push(`reviewer ${how} of ${who} (${at}) ${data.passkey ? 'registered in the policy, on its relying party' : 'by a key the policy registers'}: assurance ${data.passkey ? 'passkey' : 'key'}`);
    } else {
      checks.push(`reviewer ${how} of ${who} (${at}) against the key in the bundle: assurance ${data.passkey ? 'passkey' : 'key'}`);
    }
  }

  const record = bundle.approvalRecord;
  if (record) {
    if (!verifyEd25519(trusted, signingMessage('countersign/approval-record/v1', record.body), record.signature)) return fail('approvalRecord', 'the approval record signature does not verify');
    if (record.body.requestDigest !== digest) return fail('approvalRecord', 'the approval record names another request');
    const minted = bundle.events.find((e) => e.type === 'token_minted');
    if (!minted || minted.data?.tokenHash !== record.body.tokenHash || minted.data?.tokenId !== record.body.tokenId) return fail('approvalRecord', 'the approval record does not match the token_minted event');
    const payload = bundle.outcome.payload;
    if (!payload || actionDigest({ action: bundle.request.action, resource: bundle.request.resource, payload }) !== record.body.actionDigest) {
      return fail('outcome.payload', 'the approved payload does not match the digest in the approval record');
    }
    checks.push('approval record signature and digests');
  }

  const receipt = bundle.receipt;
  if (receipt) {
    if (!record) return fail('receipt', 'an execution receipt without an approval record');
    if (!verifyEd25519(trusted, signingMessage('countersign/execution-receipt/v1', receipt.body), receipt.signature)) return fail('receipt', 'the execution receipt signature does not verify');
    if (receipt.body.approvalRecordDigest !== sha256Hex(canonicalJson(record.body))) return fail('receipt', 'the receipt does not name this approval record');
    if (receipt.body.actionDigest !== record.body.actionDigest) return fail('receipt', 'the receipt consumed another action digest');
    checks.push('execution receipt signature');
  }

  if (!verifyEd25519(trusted, signingMessage('countersign/evidence-bundle/v1', signedBody(bundle)), bundle.signature)) return fail('signature', 'the bundle signature does not verify');
  checks.push('bundle signature');

  if (edge) checks.push(`decided at the edge: a policy allow with no reviewer, signed by edge key ${bundle.signer.keyId}`);
  let log: LoggedAt | undefined;
  if (bundle.log !== undefined) {
    // The log's checkpoints are the layer key's, whoever signed the bundle.
    const checkpointKey = edge ? options.publicKey : trusted;
    if (!checkpointKey) return fail('log', 'the log\'s checkpoints are signed by the layer key: pass --key with it to check this edge bundle is in the log');
    const logged = checkLogProof(bundle.log, (runId) => leafFor(bundle, runId), checkpointKey);
    if (!logged.ok) return fail('log', logged.reason);
    log = { origin: logged.origin, index: logged.index, treeSize: logged.treeSize };
    checks.push(`in log ${log.origin}: leaf ${log.index} of ${log.treeSize}, under a checkpoint signed by ${edge ? 'the layer key' : 'the same key'}`);
  }
  if (!expected) {
    return fail('signer', edge ? `the bundle was decided at the edge and is signed by edge key ${bundle.signer.keyId}, which you did not name as trusted: pass --edge-key with the edge's public key` : `the bundle is signed by key ${bundle.signer.keyId}, which you did not name as trusted: pass --key with the layer's public key`);
  }
  return log ? { ok: true, checks, log } : { ok: true, checks };
}

/** The evidence so far; once sealed, the complete signed bundle. */
export interface EvidenceView {
  sealed: boolean;
  /** While the request is open there is no outcome yet: the bundle is the chain so far. */
  bundle: Omit<EvidenceBody, 'signer' | 'outcome'> & { outcome?: EvidenceBody['outcome']; signer?: EvidenceBody['signer']; signature?: string; log?: BundleLogProof };
}
