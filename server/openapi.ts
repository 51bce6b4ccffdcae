import { z } from 'zod';
import { ChallengeBody, ConsumeBody, DecisionBody, EnrollBody, EnrollOptionsBody, LoginBody, PasskeyLoginBody, ReportBody, SubmitBody, ValidateBody } from '../common/api';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../common/paging';

const schema = (s: z.ZodType) => {
  const json = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
};

const problem = { $ref: '#/components/schemas/Problem' };
const problems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: DESCRIPTIONS[s], content: { 'application/problem+json': { schema: problem } } }]));
const DESCRIPTIONS: Record<number, string> = {
  401: 'No credential, or not a valid one (code UNAUTHENTICATED)',
  403: 'The credential may not do this (another agent, another role, MCP context without a gateway key, NOT_ELIGIBLE)',
  404: 'No such request, or not one this credential may see',
  409: 'The request\'s state refuses it (ALREADY_DECIDED, STALE_VERSION, TOKEN_CONSUMED, TOKEN_EXPIRED, BINDING_MISMATCH, NOT_CONSUMED), or the agent already has as many requests waiting for a reviewer as it may (TOO_MANY_OPEN_REQUESTS)',
  413: 'The body is too large',
  422: 'The body is invalid (INVALID_REQUEST); the detail names the field',
  429: 'Too many requests from this credential; see Retry-After',
};
const json = (ref: string) => ({ content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } });
const body = (ref: string) => ({ required: true, ...json(ref) });
const idParam = { name: 'id', in: 'path', required: true, description: 'The workflow id (cs-…) or the request id (16 hex digits), found at once; a prefix of 6 or more hex digits is looked up in visibility, which may not list a request for a few seconds after it starts', schema: { type: 'string' } };
const waitParam = { name: 'wait', in: 'query', required: false, description: 'Hold the call open up to this long (at most 60s) for the decision, e.g. 30s', schema: { type: 'string' } };
const agent = [{ agentKey: [] }];
const reviewer = [{ reviewerSession: [] }, { inboxSession: [] }];

/** The OpenAPI 3.1 document served at /openapi.json, built from the same zod schemas the server validates with. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'countersign',
      version: '1',
      description: 'Human approval for AI agent actions. Agents authenticate with an API key; reviewers with a session from a signed login; every decision is signed by the reviewer\'s key.',
    },
    components: {
      securitySchemes: {
        agentKey: { type: 'http', scheme: 'bearer', description: 'An agent, gateway or auditor API key (cs_agent_…), from countersign keys agent' },
        reviewerSession: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A reviewer session from POST /v1/session' },
        inboxSession: {
          type: 'apiKey',
          in: 'cookie',
          name: 'cs_inbox',
          description: 'The web inbox\'s passkey session (cookie cs_inbox, __Host-cs_inbox over https), from POST /v1/inbox/login; every POST with it also carries x-countersign-csrf',
        },
      },
      schemas: {
        SubmitBody: schema(SubmitBody),
        ConsumeBody: schema(ConsumeBody),
        ReportBody: schema(ReportBody),
        DecisionBody: schema(DecisionBody),
        ChallengeBody: schema(ChallengeBody),
        LoginBody: schema(LoginBody),
        EnrollOptionsBody: schema(EnrollOptionsBody),
        EnrollBody: schema(EnrollBody),
        PasskeyLoginBody: schema(PasskeyLoginBody),
        ValidateBody: schema(ValidateBody),
        State: {
          type: 'object',
          required: ['requestId', 'workflowId', 'status'],
          properties: { requestId: { type: 'string' }, workflowId: { type: 'string' }, status: { type: 'string' }, deadline: { type: 'string' }, outcome: { type: 'object' } },
        },
        Problem: {
          type: 'object',
          description: 'RFC 9457 problem details',
          required: ['type', 'title', 'status', 'detail', 'code'],
          properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, code: { type: 'string' }, instance: { type: 'string' } },
        },
      },
    },
    paths: {
      '/v1/requests': {
        post: {
          summary: 'Submit an action; the agent is the credential\'s own',
          security: agent,
          parameters: [waitParam],
          requestBody: body('SubmitBody'),
          responses: { 200: { description: 'The decision, or the pending state', ...json('State') }, ...problems(401, 403, 409, 413, 422, 429) },
        },
        get: { summary: 'This agent\'s requests (an auditor: all)', security: agent, responses: { 200: { description: 'Requests' }, ...problems(401, 403, 429) } },
      },
      '/v1/requests/{id}': {
        get: { summary: 'A request\'s state; with ?wait, long-poll for the decision', security: agent, parameters: [idParam, waitParam], responses: { 200: { description: 'State', ...json('State') }, ...problems(401, 403, 404, 429) } },
      },
      '/v1/requests/{id}/events': {
        get: { summary: 'Server-Sent Events: "status" on each change, then "outcome"', security: agent, parameters: [idParam], responses: { 200: { description: 'text/event-stream' }, ...problems(401, 403, 404) } },
      },
      '/v1/requests/{id}/consume': {
        post: { summary: 'Spend the single-use token on the exact action about to run', security: agent, parameters: [idParam], requestBody: body('ConsumeBody'), responses: { 200: { description: 'The signed execution receipt' }, ...problems(401, 403, 404, 409, 413, 422, 429) } },
      },
      '/v1/requests/{id}/report': {
        post: { summary: 'Report how execution went', security: agent, parameters: [idParam], requestBody: body('ReportBody'), responses: { 204: { description: 'Recorded' }, ...problems(401, 403, 404, 409, 422, 429) } },
      },
      '/v1/requests/{id}/withdraw': {
        post: { summary: 'Withdraw one of this agent\'s requests while it is not decided yet: its run is cancelled and its evidence sealed as cancelled', security: agent, parameters: [idParam], responses: { 200: { description: 'The final state, status cancelled (or the state now, if the run has not closed within 10 s)', ...json('State') }, ...problems(401, 403, 404, 409, 429) } },
      },
      '/v1/requests/{id}/evidence': {
        get: { summary: 'The evidence: the signed bundle once sealed (agent: its own; auditor: any)', security: agent, parameters: [idParam], responses: { 200: { description: 'Evidence' }, ...problems(401, 403, 404, 429) } },
      },
      '/v1/session/challenge': {
        post: { summary: 'Reviewer login, step 1: a challenge to sign', requestBody: body('ChallengeBody'), responses: { 200: { description: '{ challenge, nonce, expiresAt }' }, ...problems(422, 429) } },
      },
      '/v1/session': {
        post: { summary: 'Reviewer login, step 2: an EdDSA JWT by the reviewer\'s key naming the nonce; returns a short-lived session', requestBody: body('LoginBody'), responses: { 200: { description: '{ session, reviewer, expiresAt }' }, ...problems(401, 422, 429) } },
      },
      '/v1/session/logout': {
        post: { summary: 'Ends the reviewer session in the bearer on every server instance', security: [{ reviewerSession: [] }], responses: { 204: { description: 'Logged out' }, ...problems(401, 429) } },
      },
      '/v1/reviews': {
        get: {
          summary: 'The reviewer\'s queue: open requests routed to their groups, newest first, a page at a time',
          security: reviewer,
          parameters: [
            { name: 'group', in: 'query', required: false, schema: { type: 'string' }, description: 'Only this one of the reviewer\'s groups' },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE }, description: 'Rows in this page' },
            { name: 'cursor', in: 'query', required: false, schema: { type: 'string', maxLength: 2048 }, description: 'The nextCursor of the previous page' },
          ],
          responses: { 200: { description: '{ reviewer, groups, requests, nextCursor? } — nextCursor only when more requests wait' }, ...problems(401, 403, 422, 429) },
        },
      },
      '/v1/reviews/{id}': {
        get: { summary: 'Everything needed to decide (404 unless routed to one of the reviewer\'s groups)', security: reviewer, parameters: [idParam], responses: { 200: { description: 'Review view' }, ...problems(401, 403, 404, 429) } },
      },
      '/v1/reviews/{id}/decisions': {
        post: {
          summary: 'A decision on the version shown, signed by the reviewer\'s Ed25519 key ({ signedAt, value }) or passkey ({ signedAt, passkey: { credentialId, authenticatorData, clientDataJSON, signature } })',
          security: reviewer,
          parameters: [idParam],
          requestBody: body('DecisionBody'),
          responses: { 200: { description: 'Decision receipt' }, ...problems(401, 403, 404, 409, 413, 422, 429) },
        },
      },
      '/v1/reviews/{id}/statement': {
        post: {
          summary: 'The decision statement a passkey signs, and its challenge (base64url SHA-256 of the statement); the body is the decision without reviewer or signature',
          security: reviewer,
          parameters: [idParam],
          requestBody: body('DecisionBody'),
          responses: { 200: { description: '{ statement, challenge, signedAt, passkey: { rpId, allowCredentials } }' }, ...problems(401, 403, 404, 413, 422, 429) },
        },
      },
      '/v1/reviews/{id}/validate': {
        post: { summary: 'Checks an edited or proposed payload against the action\'s catalog schema', security: reviewer, parameters: [idParam], requestBody: body('ValidateBody'), responses: { 200: { description: '{ ok: true }' }, ...problems(401, 403, 404, 413, 422, 429) } },
      },
      '/v1/inbox/enroll/options': {
        post: { summary: 'Passkey enrolment, step 1: WebAuthn creation options for an open invite', requestBody: body('EnrollOptionsBody'), responses: { 200: { description: '{ options, ticket }' }, ...problems(401, 422, 429) } },
      },
      '/v1/inbox/enroll': {
        post: { summary: 'Passkey enrolment, step 2: registers the new passkey against the invite (single use); it grants nothing until an operator confirms it', requestBody: body('EnrollBody'), responses: { 200: { description: '{ reviewer, credentialId, fingerprint, message }' }, ...problems(401, 422, 429) } },
      },
      '/v1/inbox/login/options': {
        post: { summary: 'Passkey sign-in, step 1: WebAuthn request options (user verification required)', responses: { 200: { description: '{ options, ticket }' }, ...problems(422, 429) } },
      },
      '/v1/slack/interactions': {
        post: { summary: 'Slack interactivity (block_actions, view_submission), form-encoded as Slack sends it; the credential is Slack\'s v0 request signature. Answered at once; the decision follows. Served only when the Slack app is configured', responses: { 200: { description: 'Acknowledged (or a modal\'s response_action)' }, ...problems(401, 413, 429) } },
      },
      '/v1/slack/commands': {
        post: { summary: '/countersign link | unlink | whoami, form-encoded as Slack sends it; the credential is Slack\'s v0 request signature', responses: { 200: { description: 'An ephemeral reply' }, ...problems(401, 413, 429) } },
      },
      '/v1/slack/link': {
        get: { summary: 'Inbox: what the signed-in reviewer confirms to link a Slack user (the statement and its passkey challenge), for a link code', responses: { 200: { description: '{ slack, statement, challenge, passkey }' }, ...problems(401, 422, 429) } },
        post: { summary: 'Inbox: links the Slack user to the signed-in reviewer, with a passkey assertion over the statement (the code is single use)', responses: { 200: { description: '{ reviewer, slack }' }, ...problems(401, 403, 422, 429) } },
      },
      '/v1/inbox/login': {
        post: { summary: 'Passkey sign-in, step 2: sets the inbox session cookie', requestBody: body('PasskeyLoginBody'), responses: { 200: { description: '{ reviewer, groups, csrf, expiresAt }' }, ...problems(401, 422, 429) } },
      },
      '/v1/inbox/me': {
        get: { summary: 'The inbox session\'s reviewer, groups and CSRF token', security: [{ inboxSession: [] }], responses: { 200: { description: '{ reviewer, groups, csrf, expiresAt }' }, ...problems(401) } },
      },
      '/v1/inbox/logout': {
        post: { summary: 'Ends the inbox session on the server and clears its cookie', responses: { 204: { description: 'Signed out' } } },
      },
    },
  };
}
