/**
 * A reviewer's connection to `countersign server`: a signed login to a short-lived session, then
 * every decision signed with the same key over the statement the workflow verifies (DESIGN §4).
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { signerFromKey, type Signer } from '../crypto/keys';
import { ReasonCode } from '../common/codes';
import { actionDigest } from '../common/digest';
import { DecisionRefusedError, InvalidRequestError } from '../common/refusals';
import type { ReviewerDecision } from '../common/inputs';
import type { DecisionReceipt, ReviewView } from '../common/views';
import { decisionStatement, decisionStatementV1, statementTarget } from '../common/signing';
import { BATCH_DOMAIN, batchStatement, batchTree, type BatchItem } from '../common/batch';
import type { BatchAnswer } from '../common/responses';
import { HttpClient, ServerProblem, UnauthenticatedError } from './http';
import type { RequestRow } from './sdk';

export interface QueueOptions {
  /** Only this one of the reviewer's groups. */
  group?: string;
  /** Rows per page, 1 to 500; the server's default is 100. */
  limit?: number;
}

/** A page of the review queue and, when more requests wait, the cursor of the next page. */
export interface QueuePage {
  requests: RequestRow[];
  nextCursor?: string;
}

/** What a reviewer decides without naming themselves or signing: the client adds both. */
export type Decision = (
  | Omit<Extract<ReviewerDecision, { decision: 'approve' }>, 'reviewer' | 'signature'>
  | Omit<Extract<ReviewerDecision, { decision: 'deny' }>, 'reviewer' | 'signature'>
  | Omit<Extract<ReviewerDecision, { decision: 'request_changes' }>, 'reviewer' | 'signature'>
) & { reviewer?: string };

/** The version a reviewer was shown: what their signature names. */
export interface Shown {
  versionDigest: string;
  policyDigest: string;
  runId?: string;
}

/** Log in again this long before the session runs out. */
const RENEW_MARGIN_MS = 30_000;

export class Reviewer {
  private session?: { token: string; expiresAt: number };
  readonly http: HttpClient;
  private readonly signer: Signer;

  private constructor(
    url: string,
    readonly name: string,
    private readonly key: KeyObject,
    fetchImpl?: typeof fetch,
  ) {
    this.signer = signerFromKey(key);
    this.http = new HttpClient({ url, bearer: () => this.bearer(), fetch: fetchImpl });
  }

  /** Logs in as `name` with their Ed25519 private key (a KeyObject or a PEM file path). */
  static async login(options: { url: string; name: string; key: KeyObject | string; fetch?: typeof fetch }): Promise<Reviewer> {
    const key = typeof options.key === 'string' ? createPrivateKey(readFileSync(options.key)) : options.key;
    if (key.asymmetricKeyType !== 'ed25519') throw new InvalidRequestError(`${options.name}'s key is not an Ed25519 private key.`);
    const reviewer = new Reviewer(options.url, options.name, key, options.fetch);
    await reviewer.bearer();
    return reviewer;
  }

  /** The reviewer's public key (base64), as the directory registers it. */
  get publicKey(): string {
    return this.signer.publicKey;
  }

  private async bearer(): Promise<string> {
    if (this.session && this.session.expiresAt - RENEW_MARGIN_MS > Date.now()) return this.session.token;
    const anonymous = new HttpClient({ url: this.http.base.href, bearer: () => '' });
    const { challenge, nonce } = await anonymous.request<{ challenge: string; nonce: string }>('POST', '/v1/session/challenge', { reviewer: this.name });
    // Bound to the origin this client connects to: a server that relays our login elsewhere gets a proof no other server takes.
    const proof = eddsaJwt(this.key, { nonce, sub: this.name, aud: this.http.base.origin });
    const session = await anonymous.request<{ session: string; expiresAt: string }>('POST', '/v1/session', { challenge, proof });
    this.session = { token: session.session, expiresAt: Date.parse(session.expiresAt) };
    return session.session;
  }

  /** Ends this reviewer's session on the server (every instance); the next call logs in again. */
  async logout(): Promise<void> {
    if (!this.session) return;
    const token = this.session.token;
    this.session = undefined;
    await new HttpClient({ url: this.http.base.href, bearer: () => token }).request('POST', '/v1/session/logout');
  }

  /** The first page of open requests routed to this reviewer's groups, newest first (100 unless `limit` says otherwise). */
  async queue(options: QueueOptions = {}): Promise<RequestRow[]> {
    return (await this.queuePage(options)).requests;
  }

  /** One page of the queue; `nextCursor`, when present, fetches the next (pass it back as `cursor`). */
  async queuePage(options: QueueOptions & { cursor?: string } = {}): Promise<QueuePage> {
    const query = new URLSearchParams();
    if (options.group) query.set('group', options.group);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.cursor !== undefined) query.set('cursor', options.cursor);
    const qs = query.toString();
    const page = await this.http.request<{ requests: RequestRow[]; nextCursor?: string }>('GET', `/v1/reviews${qs ? `?${qs}` : ''}`);
    return { requests: page.requests, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  /**
   * Everything needed to decide; 404 (RequestNotFoundError) unless routed to one of this reviewer's
   * groups. A workflow id (cs-…) or a full request id is found the moment the request starts; a
   * prefix only once Temporal's visibility lists it (docs/requests.md).
   */
  async view(id: string): Promise<ReviewView> {
    const view = await this.http.request<ReviewView>('GET', `/v1/reviews/${encodeURIComponent(id)}`);
    // What the reviewer signs names currentDigest: it must be the digest of the payload shown, not a server's word.
    const computed = actionDigest({ action: view.request.action, resource: view.request.resource, payload: view.currentPayload });
    if (computed !== view.currentDigest) {
      throw new DecisionRefusedError(ReasonCode.INVALID_REQUEST, `The server sent request ${view.requestId} with a version digest that is not the digest of the payload it shows: nothing is shown or signed.`);
    }
    return view;
  }

  /**
   * Signs and sends a decision on the version `shown` (default: the one in `view`, which the caller
   * has just shown the reviewer). Refusals throw DecisionRefusedError with the reason code.
   */
  async decide(view: ReviewView, decision: Decision, shown: Shown = { versionDigest: view.currentDigest, policyDigest: view.policy?.policyDigest ?? '' }): Promise<DecisionReceipt> {
    const unsigned = { ...decision, reviewer: this.name, versionDigest: decision.versionDigest ?? shown.versionDigest } as ReviewerDecision;
    const signedAt = new Date().toISOString();
    // A run started before 'integrity-v2' (its view has no run id) verifies the v1 statement.
    const signed = view.runId
      ? this.signer.sign('countersign/reviewer-decision/v2', decisionStatement(statementTarget({ ...view, runId: shown.runId ?? view.runId }, { versionDigest: unsigned.versionDigest!, policyDigest: shown.policyDigest }), unsigned, signedAt))
      : this.signer.sign('countersign/reviewer-decision/v1', decisionStatementV1(view.requestId, unsigned.versionDigest!, view.request, unsigned, signedAt));
    return this.send(view.workflowId, { ...unsigned, signature: { signedAt, value: signed.signature } });
  }

  /**
   * Approves several requests with one signature: over the Merkle root of one leaf per request
   * (its workflow, run, request id and the version and policy `shown`). The batch is refused whole
   * (DecisionRefusedError) when one request may not be decided by this reviewer or in a batch;
   * otherwise each request answers alone in `results` (a stale version STALE_VERSION, the others go through).
   */
  async approveBatch(targets: readonly { view: ReviewView; shown?: Shown }[], comment?: string): Promise<BatchAnswer> {
    const items: BatchItem[] = targets.map(({ view, shown }) => ({
      workflowId: view.workflowId,
      runId: shown?.runId ?? view.runId ?? '',
      requestId: view.requestId,
      versionDigest: shown?.versionDigest ?? view.currentDigest,
      policyDigest: shown?.policyDigest ?? view.policy?.policyDigest ?? '',
    }));
    const signedAt = new Date().toISOString();
    const signed = this.signer.sign(BATCH_DOMAIN, batchStatement(this.name, batchTree(items), comment, signedAt));
    return this.sendBatch({ items, ...(comment !== undefined ? { comment } : {}), signature: { signedAt, value: signed.signature } });
  }

  /** Sends a batch approval exactly as given (the server and each workflow judge it). */
  async sendBatch(batch: unknown): Promise<BatchAnswer> {
    return this.refusing(() => this.http.request<BatchAnswer>('POST', '/v1/batches', batch));
  }

  /** Sends a decision exactly as given (already signed, or not: the server and the workflow judge it). */
  async send(id: string, decision: unknown): Promise<DecisionReceipt> {
    return this.refusing(() => this.http.request<DecisionReceipt>('POST', `/v1/reviews/${encodeURIComponent(id)}/decisions`, decision));
  }

  /** A refusal with a reason code reads as DecisionRefusedError. */
  private async refusing<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (err) {
      if (err instanceof UnauthenticatedError) throw new DecisionRefusedError(ReasonCode.UNAUTHENTICATED, err.message);
      if (err instanceof InvalidRequestError) throw new DecisionRefusedError(ReasonCode.INVALID_REQUEST, err.message);
      if (err instanceof ServerProblem && (Object.values(ReasonCode) as string[]).includes(err.code)) throw new DecisionRefusedError(err.code, err.message);
      throw err;
    }
  }
}

/**
 * A compact JWS (RFC 7515) with EdDSA (RFC 8037) by node:crypto, valid for 2 minutes: the login
 * proof the server verifies with jose. Written out here so the CLI does not load a JWT library.
 */
function eddsaJwt(key: KeyObject, claims: { nonce: string; sub: string; aud: string }): string {
  const iat = Math.floor(Date.now() / 1000);
  const part = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  const input = `${part({ alg: 'EdDSA' })}.${part({ ...claims, iat, exp: iat + 120 })}`;
  return `${input}.${sign(null, Buffer.from(input, 'ascii'), key).toString('base64url')}`;
}
