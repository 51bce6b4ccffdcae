/**
 * The HTTP API route by route, as the OpenAPI document says it (server/openapi.ts writes it down):
 * one row per route the server serves with every refusal that route can give, naming the schemas of
 * ./components.ts. test/unit/openapi.test.ts checks the rows against the routes Hono
 * serves, so a route added without its row (or a row without its route) fails.
 */
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../common/paging';
import type { Component } from './components';

export type { Component };

/** Every refusal's meaning, as a named response; an operation may say more about its own (`why`). */
export const REFUSALS: Record<number, [name: string, description: string]> = {
  400: ['InvalidJson', 'The body is not valid JSON: malformed, a duplicate key, or an integer beyond ±2^53 (code INVALID_REQUEST)'],
  401: ['Unauthenticated', 'No credential, or not a valid one (code UNAUTHENTICATED)'],
  403: ['CrossOrigin', 'A cross-origin request: an Origin header naming another host (code FORBIDDEN)'],
  404: ['NotFound', 'No such request, or not one this credential may see (code NOT_FOUND)'],
  413: ['BodyTooLarge', 'The body is too large (code BODY_TOO_LARGE)'],
  415: ['NotJson', 'The body is not application/json (code INVALID_REQUEST)'],
  421: ['HostNotAllowed', 'This server does not answer for the Host header (code HOST_NOT_ALLOWED)'],
  422: ['InvalidRequest', 'The body or a query parameter is invalid (code INVALID_REQUEST); the detail names the field'],
  429: ['RateLimited', 'Too many requests, or too many waits held open, for this credential or address (code RATE_LIMITED); see Retry-After'],
  503: ['InboxNotConfigured', "The inbox is not set up: the policy's directory names no webauthn relying party (code INBOX_NOT_CONFIGURED)"],
};
export const FAILED = 'The server or Temporal failed: 500 INTERNAL, 502 TEMPORAL_UNREACHABLE, 503 TEMPORAL_BUSY (see Retry-After)';
/** What any route can answer, whatever it does: the Host and Origin checks come before every route. */
export const EVERYWHERE = [403, 421];

export type Security = Record<string, string[]>[];
const PUBLIC: Security = [];
const AGENT: Security = [{ agentKey: [] }];
const REVIEWER: Security = [{ reviewerSession: [] }, { inboxSession: [] }];
const INBOX: Security = [{ inboxSession: [] }];
const SLACK: Security = [{ slackSignature: [] }];

export interface Operation {
  operationId: string;
  summary: string;
  security: Security;
  parameters?: Record<string, unknown>[];
  /** The request body's component, JSON unless `form`. */
  body?: Component;
  form?: boolean;
  /** The success answer: its status (200 by default), description and component (none for 204). */
  ok: { status?: 200 | 204; description: string; schema?: Component; type?: string };
  /** The statuses this operation's own route can refuse with (403 and 421 are added to every one). */
  refuses: number[];
  /** What a status means here, when REFUSALS says too much or too little (a 403 here is also a cross-origin request). */
  why?: Partial<Record<number, string>>;
}

const ID_DESCRIPTION = 'The workflow id (cs-…) or the request id (16 hex digits), found at once; a prefix of 6 or more hex digits is looked up in visibility, which may not list a request for a few seconds after it starts';
const idParam = { name: 'id', in: 'path', required: true, description: ID_DESCRIPTION, schema: { type: 'string' } };
const waitParam = { name: 'wait', in: 'query', required: false, description: 'Hold the call open up to this long (at most 60s) for the decision, e.g. 30s', schema: { type: 'string' } };
const BATCH_REFUSED = 'Not a reviewer, no x-countersign-csrf header with the inbox cookie (code FORBIDDEN, CSRF), a request this reviewer may not decide now (NOT_ELIGIBLE), or one whose rule forbids batching (BATCH_NOT_ALLOWED): the whole batch is refused, nothing was decided';
const NOT_AN_AGENT = 'A reviewer credential: this endpoint is for agents and auditors (code FORBIDDEN)';
const AMBIGUOUS = 'A short id matches more than one request (code AMBIGUOUS_ID)';
const NOT_A_REVIEWER = 'Not a reviewer (code FORBIDDEN)';
const NO_SLACK = 'The Slack app is not configured on this server (code NOT_FOUND)';
const NOT_AN_AUDITOR = 'Not an auditor key: this endpoint names every agent\'s requests (code FORBIDDEN)';
const NO_LOG = 'The server keeps no store, the log has no checkpoint yet, or (a bundle) the store holds none of that run (code NOT_FOUND)';
const whole = (name: string, description: string, required = true) => ({ name, in: 'query', required, description, schema: { type: 'integer', minimum: 0 } });
const LOG_REFUSALS = (forbidden: string) => ({ refuses: [401, 404, 422, 429], why: { 403: forbidden, 404: NO_LOG } });
const SINCE = (fallback: string) => ({ name: 'since', in: 'query', required: false, description: `The window: a duration back from now such as 7d or 12h, at most 366d (default ${fallback})`, schema: { type: 'string' } });
const PROOF_REFUSALS = { refuses: [401, 404, 409, 422, 429], why: { 403: NOT_AN_AGENT, 404: NO_LOG, 409: 'Leaves the log should hold are missing from the store: it has been tampered with, and countersign log audit names what is gone (code LOG_DAMAGED)' } };
const LINK_REFUSED = 'Not signed in to the inbox, a link code that is not valid or used already, or a passkey that does not verify (code UNAUTHENTICATED)';

/** One row per route served, in the order of server/app.ts. */
export const OPERATIONS: Record<string, Partial<Record<'get' | 'post', Operation>>> = {
  '/healthz': { get: { operationId: 'health', summary: 'Liveness: the server answers', security: PUBLIC, ok: { description: 'Alive', schema: 'Ok' }, refuses: [] } },
  '/openapi.json': { get: { operationId: 'getOpenApiDocument', summary: 'This document', security: PUBLIC, ok: { description: 'The OpenAPI 3.1 document', schema: 'OpenApiDocument' }, refuses: [] } },
  '/v1/whoami': {
    get: {
      operationId: 'whoami',
      summary: 'Who this credential is: an agent, gateway, auditor or reviewer, and a reviewer\'s groups',
      security: [...AGENT, ...REVIEWER],
      ok: { description: 'The principal', schema: 'Whoami' },
      refuses: [401, 429],
    },
  },
  '/v1/session/challenge': {
    post: {
      operationId: 'createLoginChallenge',
      summary: 'Reviewer login, step 1: a challenge to sign',
      security: PUBLIC,
      body: 'ChallengeBody',
      ok: { description: 'The challenge, its nonce and expiry', schema: 'LoginChallenge' },
      refuses: [400, 413, 415, 422, 429],
    },
  },
  '/v1/session': {
    post: {
      operationId: 'createSession',
      summary: "Reviewer login, step 2: an EdDSA JWT by the reviewer's key naming the nonce; returns a short-lived session",
      security: PUBLIC,
      body: 'LoginBody',
      ok: { description: 'The session', schema: 'ReviewerSession' },
      refuses: [400, 401, 413, 415, 422, 429],
    },
  },
  '/v1/session/logout': {
    post: {
      operationId: 'endSession',
      summary: 'Ends the reviewer session in the bearer on every server instance',
      security: [{ reviewerSession: [] }],
      ok: { status: 204, description: 'Logged out' },
      refuses: [401, 429],
    },
  },
  '/v1/requests': {
    post: {
      operationId: 'submitRequest',
      summary: "Submit an action; the agent is the credential's own",
      security: AGENT,
      parameters: [waitParam],
      body: 'SubmitBody',
      ok: { description: 'The decision, or the pending state', schema: 'SubmitState' },
      refuses: [400, 401, 409, 413, 415, 422, 429],
      why: {
        403: "Not an agent or gateway key, a body naming another agent, or MCP context from a key that is not a gateway's (code FORBIDDEN)",
        409: 'The agent already has as many requests waiting for a reviewer as it may; nothing was started (code TOO_MANY_OPEN_REQUESTS)',
      },
    },
    get: {
      operationId: 'listRequests',
      summary: "This agent's requests, newest first, at most 200 (an auditor: everyone's)",
      security: AGENT,
      parameters: [{ name: 'open', in: 'query', required: false, description: 'true: only requests waiting for a reviewer', schema: { type: 'string', enum: ['true', 'false'] } }],
      ok: { description: 'Requests', schema: 'RequestList' },
      refuses: [401, 429],
      why: { 403: NOT_AN_AGENT },
    },
  },
  '/v1/requests/{id}': {
    get: {
      operationId: 'getRequest',
      summary: "A request's state; with ?wait, long-poll for the decision (the request's own agent only)",
      security: AGENT,
      parameters: [idParam, waitParam],
      ok: { description: 'The state', schema: 'SubmitState' },
      refuses: [401, 404, 409, 422, 429],
      why: { 403: NOT_AN_AGENT, 409: AMBIGUOUS },
    },
  },
  '/v1/requests/{id}/events': {
    get: {
      operationId: 'streamRequestEvents',
      summary: 'Server-Sent Events: "status" on each change, then "outcome" once the request has ended; each event\'s data is a SubmitState as JSON',
      security: AGENT,
      parameters: [idParam],
      ok: { description: 'The event stream (at most 10 minutes; reconnect after)', type: 'text/event-stream' },
      refuses: [401, 404, 409, 429],
      why: { 403: NOT_AN_AGENT, 409: AMBIGUOUS },
    },
  },
  '/v1/requests/{id}/consume': {
    post: {
      operationId: 'consumeToken',
      summary: 'Spend the single-use token on the exact action about to run (docs/sealing.md)',
      security: AGENT,
      parameters: [idParam],
      body: 'ConsumeBody',
      ok: { description: 'The signed execution receipt', schema: 'SignedExecutionReceipt' },
      refuses: [400, 401, 404, 409, 413, 415, 422, 429],
      why: {
        403: 'Not an agent or gateway key, or a body naming another agent (code FORBIDDEN)',
        409: 'The token is refused (TOKEN_INVALID, TOKEN_EXPIRED, TOKEN_CONSUMED, BINDING_MISMATCH), the request has ended (ALREADY_DECIDED), or a short id matches more than one request (AMBIGUOUS_ID)',
      },
    },
  },
  '/v1/requests/{id}/report': {
    post: {
      operationId: 'reportExecution',
      summary: 'Report how execution went',
      security: AGENT,
      parameters: [idParam],
      body: 'ReportBody',
      ok: { status: 204, description: 'Recorded' },
      refuses: [400, 401, 404, 409, 413, 415, 422, 429],
      why: {
        403: 'Not an agent or gateway key (code FORBIDDEN)',
        409: 'The token was not consumed (NOT_CONSUMED), the outcome is reported already or the request has ended (ALREADY_DECIDED), or a short id matches more than one request (AMBIGUOUS_ID)',
      },
    },
  },
  '/v1/requests/{id}/withdraw': {
    post: {
      operationId: 'withdrawRequest',
      summary: "Withdraw one of this agent's requests while it is not decided yet: its run is cancelled and its evidence sealed as cancelled",
      security: AGENT,
      parameters: [idParam],
      ok: { description: 'The final state, status cancelled (or the state now, if the run has not closed within 10 s)', schema: 'SubmitState' },
      refuses: [401, 404, 409, 413, 429],
      why: { 403: 'Not an agent or gateway key (code FORBIDDEN)', 409: 'The request is decided already (ALREADY_DECIDED), or a short id matches more than one request (AMBIGUOUS_ID)' },
    },
  },
  '/v1/requests/{id}/evidence': {
    get: {
      operationId: 'getEvidence',
      summary: 'The evidence: the chain so far, and the signed bundle once the request has ended, read from the store, so also after Temporal has deleted the run (agent: its own; auditor: any)',
      security: AGENT,
      parameters: [idParam],
      ok: { description: 'The evidence', schema: 'EvidenceView' },
      refuses: [401, 404, 409, 429],
      why: { 403: NOT_AN_AGENT, 409: AMBIGUOUS },
    },
  },
  '/v1/reviews': {
    get: {
      operationId: 'listReviews',
      summary: "The reviewer's queue: open requests routed to their groups, newest first, a page at a time",
      security: REVIEWER,
      parameters: [
        { name: 'group', in: 'query', required: false, schema: { type: 'string' }, description: "Only this one of the reviewer's groups" },
        { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE }, description: 'Rows in this page' },
        { name: 'cursor', in: 'query', required: false, schema: { type: 'string', maxLength: 2048 }, description: 'The nextCursor of the previous page' },
      ],
      ok: { description: 'A page of the queue', schema: 'ReviewQueue' },
      refuses: [401, 422, 429],
      why: { 403: NOT_A_REVIEWER },
    },
  },
  '/v1/reviews/{id}': {
    get: {
      operationId: 'getReview',
      summary: "Everything needed to decide (404 unless routed to one of the reviewer's groups)",
      security: REVIEWER,
      parameters: [idParam],
      ok: { description: 'The review view', schema: 'ReviewView' },
      refuses: [401, 404, 429],
      why: { 403: NOT_A_REVIEWER },
    },
  },
  '/v1/reviews/{id}/decisions': {
    post: {
      operationId: 'submitDecision',
      summary: "A decision on the version shown, signed by the reviewer's Ed25519 key ({ signedAt, value }) or passkey ({ signedAt, passkey: { credentialId, authenticatorData, clientDataJSON, signature } })",
      security: REVIEWER,
      parameters: [idParam],
      body: 'DecisionBody',
      ok: { description: 'The decision receipt', schema: 'DecisionReceipt' },
      refuses: [400, 401, 404, 409, 413, 415, 422, 429],
      why: {
        401: 'No valid session, or the decision is unsigned or its signature does not verify (code UNAUTHENTICATED)',
        403: 'Not a reviewer, a body naming another reviewer, no x-countersign-csrf header with the inbox cookie (code FORBIDDEN, CSRF), or this reviewer may not decide this request (NOT_ELIGIBLE)',
        409: 'The request is closed, or this reviewer approved this version already (ALREADY_DECIDED); the payload changed since the reviewer was shown it (STALE_VERSION); the rule needs a stronger proof (ASSURANCE_REQUIRED); or policy denies the edit (POLICY_DENIED)',
      },
    },
  },
  '/v1/reviews/{id}/statement': {
    post: {
      operationId: 'prepareDecisionStatement',
      summary: 'The decision statement a passkey signs, and its challenge (base64url SHA-256 of the statement); the body is the decision without reviewer or signature',
      security: REVIEWER,
      parameters: [idParam],
      body: 'StatementBody',
      ok: { description: 'What to sign', schema: 'StatementToSign' },
      refuses: [400, 401, 404, 413, 415, 422, 429],
      why: { 403: 'Not a reviewer, a body naming another reviewer, or no x-countersign-csrf header with the inbox cookie (code FORBIDDEN, CSRF)' },
    },
  },
  '/v1/reviews/{id}/validate': {
    post: {
      operationId: 'validateEdit',
      summary: "Checks an edited or proposed payload against the action's catalog schema",
      security: REVIEWER,
      parameters: [idParam],
      body: 'ValidateBody',
      ok: { description: 'Valid', schema: 'Ok' },
      refuses: [400, 401, 404, 413, 415, 422, 429],
      why: { 403: 'Not a reviewer, or no x-countersign-csrf header with the inbox cookie (code FORBIDDEN, CSRF)' },
    },
  },
  '/v1/batches': { post: { operationId: 'submitBatchApproval', summary: "Approves several requests with one signature by the reviewer's key or passkey over a Merkle root of their leaves (workflow, run, request id, version and policy digests); each request then answers alone", security: REVIEWER, body: 'BatchBody', ok: { description: "Each request's answer: accepted with its receipt, or refused alone with its code (STALE_VERSION for a version changed since it was shown)", schema: 'BatchAnswer' }, refuses: [400, 401, 413, 415, 422, 429], why: { 401: 'No valid session, or the signature does not verify over this batch (code UNAUTHENTICATED); nothing was decided', 403: BATCH_REFUSED } } },
  '/v1/batches/statement': { post: { operationId: 'prepareBatchStatement', summary: 'The batch statement a passkey signs, its leaves and its challenge (base64url SHA-256 of the statement); the body names each request shown and its version', security: REVIEWER, body: 'BatchStatementBody', ok: { description: 'What to sign', schema: 'BatchToSign' }, refuses: [400, 401, 413, 415, 422, 429], why: { 403: BATCH_REFUSED } } },
  '/v1/log/checkpoint': { get: { operationId: 'getLogCheckpoint', summary: "The transparency log's latest checkpoint: a C2SP signed note by the layer key (origin countersign/<key id>, tree size, base64 root)", security: AGENT, ok: { description: 'The signed checkpoint note', type: 'text/plain' }, refuses: [401, 404, 429], why: { 403: NOT_AN_AGENT, 404: NO_LOG } } },
  '/v1/log/leaves': {
    get: {
      operationId: 'listLogLeaves',
      summary: "The log's leaves from start, at most count (1000) a page; fewer at the end of the log",
      security: AGENT,
      parameters: [whole('start', 'The first leaf index (default 0)', false), { ...whole('count', 'Leaves in this page, 1 to 1000 (default 1000)', false), schema: { type: 'integer', minimum: 1, maximum: 1000 } }],
      ok: { description: 'A page of leaves, each its index and data (base64)', schema: 'LogLeaves' },
      ...LOG_REFUSALS(NOT_AN_AUDITOR),
    },
  },
  '/v1/log/proof/inclusion': { get: { operationId: 'getInclusionProof', summary: 'The RFC 9162 inclusion proof of one leaf in the tree of size leaves', security: AGENT, parameters: [whole('index', 'The leaf index, below size'), whole('size', 'The tree size, at most the log size')], ok: { description: 'The proof, hex hashes leaf to root', schema: 'InclusionProof' }, ...PROOF_REFUSALS } },
  '/v1/log/proof/consistency': { get: { operationId: 'getConsistencyProof', summary: 'The RFC 9162 consistency proof from the tree of from leaves to the tree of to leaves', security: AGENT, parameters: [whole('from', 'The earlier tree size, at most to'), whole('to', 'The later tree size, at most the log size')], ok: { description: 'The proof, hex hashes', schema: 'ConsistencyProof' }, ...PROOF_REFUSALS } },
  '/v1/log/bundle': {
    get: {
      operationId: 'getLoggedBundle',
      summary: 'A sealed bundle exactly as the store keeps it, by the workflow id and run id its log leaf names (what log audit checks each leaf against)',
      security: AGENT,
      parameters: [{ name: 'workflowId', in: 'query', required: true, description: "The leaf's workflowId", schema: { type: 'string', maxLength: 1000 } }, { name: 'runId', in: 'query', required: true, description: "The leaf's runId", schema: { type: 'string', maxLength: 128 } }],
      ok: { description: 'The bundle text as sealed', type: 'application/json' },
      ...LOG_REFUSALS(NOT_AN_AUDITOR),
    },
  },
  '/v1/insights': { get: { operationId: 'getInsights', summary: 'Figures over the sealed evidence of a window: outcomes by action, rule and agent, the share automated, time to decide per group and reviewer, SLA breaches, escalations, rubber-stamp flags (docs/insights.md)', security: AGENT, parameters: [SINCE('7d'), { name: 'charts', in: 'query', required: false, description: 'svg: add server-rendered SVG charts (the inbox Insights page)', schema: { type: 'string', enum: ['svg'] } }], ok: { description: 'The figures', schema: 'InsightsReport' }, ...LOG_REFUSALS(NOT_AN_AUDITOR) } },
  '/v1/insights/requests': { get: { operationId: 'listRecordedRequests', summary: "Recorded requests sealed in a window, newest first, 200 a page: each request as its evidence keeps it and policy's verdict then (what policy simulate replays)", security: AGENT, parameters: [SINCE('30d'), { name: 'cursor', in: 'query', required: false, description: 'The next of the page before', schema: { type: 'string' } }], ok: { description: 'A page of recorded requests', schema: 'RecordedRequests' }, ...LOG_REFUSALS(NOT_AN_AUDITOR) } },
  '/v1/log/bundles': { get: { operationId: 'listLoggedBundles', summary: 'Every bundle the store holds, a page at a time, named by the leaf each should have in the log (what log audit checks for bundles with no leaf)', security: AGENT, parameters: [{ name: 'after', in: 'query', required: false, description: 'The next cursor of the page before (omit for the first page)', schema: { type: 'string', maxLength: 2000 } }, { ...whole('count', 'Bundles in this page, 1 to 1000 (default 1000)', false), schema: { type: 'integer', minimum: 1, maximum: 1000 } }], ok: { description: 'A page of stored bundles and the cursor of the next', schema: 'LogBundles' }, ...LOG_REFUSALS(NOT_AN_AUDITOR) } },
  '/v1/slack/interactions': {
    post: {
      operationId: 'slackInteraction',
      summary: "Slack interactivity (block_actions, view_submission), form-encoded as Slack sends it. Answered at once; the decision follows. Served only when the Slack app is configured (404 otherwise)",
      security: SLACK,
      body: 'SlackInteractionForm',
      form: true,
      ok: { description: "Acknowledged: an empty body, or a modal's response_action", schema: 'SlackReply' },
      refuses: [401, 404, 413, 415, 429],
      why: { 401: "Slack's request signature does not verify (code UNAUTHENTICATED)", 404: NO_SLACK, 415: 'The body is not application/x-www-form-urlencoded (code INVALID_REQUEST)' },
    },
  },
  '/v1/slack/commands': {
    post: {
      operationId: 'slackCommand',
      summary: '/countersign link | unlink | whoami, form-encoded as Slack sends it. Served only when the Slack app is configured (404 otherwise)',
      security: SLACK,
      body: 'SlackCommandForm',
      form: true,
      ok: { description: 'An ephemeral reply', schema: 'SlackReply' },
      refuses: [401, 404, 413, 415, 429],
      why: { 401: "Slack's request signature does not verify (code UNAUTHENTICATED)", 404: NO_SLACK, 415: 'The body is not application/x-www-form-urlencoded (code INVALID_REQUEST)' },
    },
  },
  '/v1/slack/link': {
    get: {
      operationId: 'getSlackLink',
      summary: 'Inbox: what the signed-in reviewer confirms to link a Slack user (the statement and its passkey challenge), for a link code',
      security: INBOX,
      parameters: [{ name: 'code', in: 'query', required: true, description: 'The link code from /countersign link in Slack', schema: { type: 'string' } }],
      ok: { description: 'The link to confirm', schema: 'SlackLinkOffer' },
      refuses: [401, 404, 429],
      why: { 401: LINK_REFUSED, 404: NO_SLACK },
    },
    post: {
      operationId: 'linkSlackUser',
      summary: 'Inbox: links the Slack user to the signed-in reviewer, with a passkey assertion over the statement (the code is single use)',
      security: INBOX,
      body: 'SlackLinkBody',
      ok: { description: 'Linked', schema: 'SlackLinked' },
      refuses: [400, 401, 404, 413, 415, 422, 429],
      why: { 401: LINK_REFUSED, 403: 'A body naming another reviewer (code FORBIDDEN), or no x-countersign-csrf header (code CSRF)', 404: NO_SLACK },
    },
  },
  '/v1/inbox/enroll/options': {
    post: {
      operationId: 'passkeyEnrollOptions',
      summary: 'Passkey enrolment, step 1: WebAuthn creation options for an open invite',
      security: PUBLIC,
      body: 'EnrollOptionsBody',
      ok: { description: 'The creation options and a ticket', schema: 'WebAuthnCeremony' },
      refuses: [400, 401, 413, 415, 422, 429, 503],
    },
  },
  '/v1/inbox/enroll': {
    post: {
      operationId: 'passkeyEnroll',
      summary: 'Passkey enrolment, step 2: registers the new passkey against the invite (single use); it grants nothing until an operator confirms it',
      security: PUBLIC,
      body: 'EnrollBody',
      ok: { description: 'Registered, awaiting the operator', schema: 'Enrolment' },
      refuses: [400, 401, 413, 415, 422, 429, 503],
    },
  },
  '/v1/inbox/login/options': {
    post: {
      operationId: 'passkeyLoginOptions',
      summary: 'Passkey sign-in, step 1: WebAuthn request options (user verification required)',
      security: PUBLIC,
      body: 'PasskeyLoginOptionsBody',
      ok: { description: 'The request options and a ticket', schema: 'WebAuthnCeremony' },
      refuses: [400, 413, 415, 422, 429, 503],
    },
  },
  '/v1/inbox/login': {
    post: {
      operationId: 'passkeyLogin',
      summary: 'Passkey sign-in, step 2: sets the inbox session cookie',
      security: PUBLIC,
      body: 'PasskeyLoginBody',
      ok: { description: 'Signed in', schema: 'InboxSession' },
      refuses: [400, 401, 413, 415, 422, 429, 503],
    },
  },
  '/v1/inbox/me': {
    get: {
      operationId: 'getInboxSession',
      summary: "The inbox session's reviewer, groups and CSRF token",
      security: INBOX,
      ok: { description: 'The session', schema: 'InboxSession' },
      refuses: [401],
    },
  },
  '/v1/inbox/logout': {
    post: {
      operationId: 'inboxLogout',
      summary: 'Ends the inbox session on the server, if there is one, and clears its cookie',
      security: [...INBOX, {}],
      ok: { status: 204, description: 'Signed out' },
      refuses: [],
    },
  },
};
