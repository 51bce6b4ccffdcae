/**
 * The reviewers' endpoints, under /v1/reviews: the queue, one request, the statement a passkey
 * signs, an edit checked before it is signed, and the signed decision itself.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { Hono, type Context } from 'hono';
import { DecisionBody, ValidateBody } from '../../common/api';
import { describeIssues } from '../../common/errors';
import type { ActionRequest, DecisionSignature } from '../../common/inputs';
import { Payload } from '../../common/json';
import { AmbiguousRequestIdError, RequestNotFoundError } from '../../common/refusals';
import type { Ok, ReviewQueue, StatementToSign } from '../../common/responses';
import { decisionChallenge, decisionStatement, statementTarget, verifyDecision, type DecisionCheck } from '../../common/signing';
import type { ReviewView } from '../../common/views';
import { bytesToBase64Url } from '../../common/webauthn';
import { maySee } from '../../policy/access';
import { checkCatalog } from '../../policy/catalog';
import { signedIn } from '../auth';
import { lookupFor, type Deps } from '../deps';
import { jsonBody, largeBody, limitParam, parse, rateLimited, type Env } from '../http';
import { isPrefix, lookUpRequest, NOT_LISTED_YET } from '../lookup';
import { forbidden, HttpProblem, invalid, notFound, unauthenticated } from '../problems';
import { SessionError } from '../sessions';
import { CLONED_PASSKEY } from '../sign-counts';

export type Reviewer = { name: string; groups: string[] };

export function reviewRoutes(deps: Deps): Hono<Env> {
  const { backend, policy, sessions } = deps;
  const routes = new Hono<Env>();

  routes.get('/', signedIn(deps, 'reviewer'), async (c) => {
    const reviewer = c.get('principal');
    rateLimited(deps.listLimiter, `list:${reviewer.role}:${reviewer.name}`);
    const group = c.req.query('group');
    if (group && !/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(group)) throw invalid(`Query parameter "group" must be a group name (letters, digits and . _ : @ -, at most 128), got "${group.slice(0, 50)}".`);
    const groups = reviewer.groups.filter((g) => !group || g === group);
    // A cursor reopens only for this reviewer and these groups: a borrowed or stale one starts nothing.
    const scope = JSON.stringify([reviewer.name, groups]);
    const cursor = c.req.query('cursor');
    let pageToken: Uint8Array | undefined;
    if (cursor !== undefined) {
      try {
        pageToken = await sessions.readCursor(scope, cursor);
      } catch (err) {
        if (!(err instanceof SessionError)) throw err;
        throw invalid(`Query parameter "cursor" must be the nextCursor of a page of this same queue, at most an hour old (${err.message.replace(/\.$/, '').replace(/^The/, 'the')}): list again from the first page.`);
      }
    }
    const page = await backend.listPage({ groups, limit: limitParam(c), ...(pageToken ? { pageToken } : {}) });
    const nextCursor = page.nextPageToken ? await sessions.cursor(scope, page.nextPageToken) : undefined;
    return c.json({ reviewer: reviewer.name, groups, requests: page.rows, ...(nextCursor ? { nextCursor } : {}) } satisfies ReviewQueue);
  });

  routes.get('/:id', signedIn(deps, 'reviewer'), async (c) => {
    return c.json(await reviewFor(c, deps, c.get('principal')));
  });

  routes.post('/:id/decisions', largeBody, signedIn(deps, 'reviewer'), async (c) => {
    const reviewer = c.get('principal');
    const raw = (await jsonBody(c)) as { reviewer?: unknown };
    if (raw.reviewer !== undefined && raw.reviewer !== reviewer.name) {
      throw forbidden(`Field "reviewer" names ${JSON.stringify(String(raw.reviewer).slice(0, 128))}, but you are signed in as ${reviewer.name}.`);
    }
    const decision = parse(DecisionBody, { ...raw, reviewer: reviewer.name });
    if (!decision.signature) throw unauthenticated('Field "signature" is required: every decision is signed by the reviewer\'s registered key.');
    if ('chat' in decision.signature) throw unauthenticated('Field "signature": a chat attestation is made by the front door for a Slack click, never sent by a reviewer.');
    if (!decision.versionDigest) throw invalid('Field "versionDigest" is required: name the version you were shown.');
    const view = await reviewFor(c, deps, reviewer);
    if (!('passkey' in decision.signature) && !policy.reviewerKeys.has(reviewer.name)) throw unauthenticated(`${reviewer.name} has no key in the directory: sign the decision with your passkey.`);
    // A run from before the front door checks no passkey: it takes none.
    if ('passkey' in decision.signature && (!view.runId || !view.policy)) throw invalid('This request was made before passkey decisions: decide on it from the CLI.');
    // Checked here for a quick, clear answer; the workflow checks it again against its own directory snapshot.
    if (view.runId && view.policy) {
      const statement = decisionStatement(statementTarget(view, { versionDigest: decision.versionDigest, policyDigest: view.policy.policyDigest }), decision, decision.signature.signedAt);
      const signature = decision.signature;
      const credentials = { key: policy.reviewerKeys.get(reviewer.name), passkeys: policy.reviewerPasskeys.get(reviewer.name) ?? [], webauthn: policy.webauthn };
      const checked = verifyDecision(statement, signature, credentials);
      if (!checked.ok) throw unauthenticated(signatureRefused(checked, reviewer.name));
      await countPasskeySignature(deps, reviewer.name, signature, checked.signCount);
    }
    return c.json(await backend.decide(view.workflowId, decision));
  });

  /** The statement a passkey signs for a decision (the inbox): the server words it, the reviewer's authenticator signs its SHA-256. */
  routes.post('/:id/statement', largeBody, signedIn(deps, 'reviewer'), async (c) => {
    const reviewer = c.get('principal');
    const raw = (await jsonBody(c)) as { reviewer?: unknown; signature?: unknown };
    if (raw.signature !== undefined) throw invalid('Field "signature" does not belong here: this call returns what to sign.');
    if (raw.reviewer !== undefined && raw.reviewer !== reviewer.name) throw forbidden(`Field "reviewer" names ${JSON.stringify(String(raw.reviewer).slice(0, 128))}, but you are signed in as ${reviewer.name}.`);
    const decision = parse(DecisionBody, { ...raw, reviewer: reviewer.name });
    if (!decision.versionDigest) throw invalid('Field "versionDigest" is required: name the version you were shown.');
    const view = await reviewFor(c, deps, reviewer);
    if (!view.runId || !view.policy) throw invalid('This request was made before passkey decisions: decide on it from the CLI.');
    const edit = decision.decision === 'approve' ? decision.editedPayload : decision.decision === 'request_changes' ? decision.proposedPayload : undefined;
    if (edit !== undefined) catalogCheck(deps, view, edit);
    const passkey = passkeyRequest(deps, reviewer.name, 'decide from the CLI');
    const signedAt = new Date().toISOString();
    const statement = decisionStatement(statementTarget(view, { versionDigest: decision.versionDigest, policyDigest: view.policy.policyDigest }), decision, signedAt);
    return c.json({ statement, challenge: bytesToBase64Url(decisionChallenge(statement)), signedAt, passkey } satisfies StatementToSign);
  });

  /** An edited or proposed payload checked against the action's catalog schema, before anything is signed. */
  routes.post('/:id/validate', largeBody, signedIn(deps, 'reviewer'), async (c) => {
    const reviewer = c.get('principal');
    const { payload } = parse(ValidateBody, await jsonBody(c));
    const view = await reviewFor(c, deps, reviewer);
    catalogCheck(deps, view, payload);
    return c.json({ ok: true } satisfies Ok);
  });

  return routes;
}

/** A request this reviewer may see: routed to one of their groups. Anything else is 404, as if it did not exist. */
export async function reviewFor(c: Context, deps: Deps, reviewer: Reviewer, id: string = c.req.param('id') ?? ''): Promise<ReviewView> {
  // Not there and not routed to you read the same (the sentence depends only on the id's shape).
  const hidden = () => notFound(`No request ${id.slice(0, 200)} in your queue.${isPrefix(id) ? ` ${NOT_LISTED_YET}` : ''}`);
  let view: ReviewView;
  try {
    view = await deps.backend.view(await lookUpRequest(deps.backend, id, lookupFor(deps, { role: 'reviewer', name: reviewer.name })));
  } catch (err) {
    if (err instanceof RequestNotFoundError || err instanceof AmbiguousRequestIdError || err instanceof WorkflowNotFoundError || err instanceof HttpProblem) throw hidden();
    throw err;
  }
  if (!maySee(view, reviewer.name, reviewer.groups)) throw hidden();
  return view;
}

/** The payload as the workflow will judge an edit: a JSON object within the limits, valid for the action's catalog entry. */
function catalogCheck(deps: Deps, view: ReviewView, payload: unknown): void {
  const parsed = Payload.safeParse(payload);
  if (!parsed.success) throw invalid(describeIssues(parsed.error).replace(/^Field "/, 'Field "payload.').replace(/^Field "payload\.payload/, 'Field "payload'));
  const checked = checkCatalog(deps.policy.catalog, { ...view.request, payload: parsed.data } as ActionRequest, deps.policy.environment);
  if (!checked.ok) throw invalid(checked.message);
}

/** What navigator.credentials.get needs besides the challenge: the reviewer's passkeys. None is UNAUTHENTICATED, saying what to do `instead`. */
export function passkeyRequest(deps: Deps, reviewer: string, instead: string): StatementToSign['passkey'] {
  const passkeys = deps.policy.reviewerPasskeys.get(reviewer) ?? [];
  const rp = deps.policy.webauthn;
  if (!passkeys.length || !rp) throw unauthenticated(`${reviewer} has no passkey in the directory: ${instead}, or enrol one (countersign reviewers invite).`);
  return { rpId: rp.rpId, allowCredentials: passkeys.map((p) => ({ id: p.credentialId, type: 'public-key' as const })) };
}

/** A passkey's signature counter must move forward (an authenticator that counts): one that does not is a clone or a replay. */
export async function countPasskeySignature(deps: Deps, reviewer: string, signature: DecisionSignature, signCount: number | undefined): Promise<void> {
  if (!('passkey' in signature) || (await deps.signCounts.advance(signature.passkey.credentialId, signCount!))) return;
  deps.logger.warn({ reviewer, credentialId: signature.passkey.credentialId.slice(0, 16) }, 'passkey signature counter did not move forward: a cloned authenticator or a replay');
  throw unauthenticated(CLONED_PASSKEY);
}

/** The front door's sentence for a decision whose signature is refused. */
export function signatureRefused(checked: Extract<DecisionCheck, { ok: false }>, reviewer: string): string {
  switch (checked.why) {
    case 'unknown-passkey':
      return `The passkey that signed this decision is not one the directory registers for ${reviewer}.`;
    case 'no-relying-party':
      return 'The directory names no webauthn relying party, so no passkey assertion can be checked.';
    case 'assertion-refused':
      return `The passkey assertion is refused: ${checked.reason}.`;
    case 'no-key':
    case 'bad-signature':
      return `The signature does not verify against ${reviewer}'s registered key for this request and version.`;
    case 'no-attestation-key':
    case 'bad-attestation':
      return 'A chat attestation is made by the front door for a Slack click, never sent by a reviewer.';
  }
}
