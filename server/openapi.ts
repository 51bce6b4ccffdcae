/**
 * The OpenAPI 3.1 document served at /openapi.json, written from server/operations.ts: the zod
 * schemas of bodies (common/api.ts) and answers (common/responses.ts) as components, and each route's
 * row as an operation. test/unit/openapi.test.ts lints it (redocly.yaml) as part of npm test.
 */
import { z } from 'zod';
import { ANSWERS, BODIES, type Component } from './components';
import { EVERYWHERE, FAILED, OPERATIONS, REFUSALS, type Operation } from './operations';

/** The named schemas of one side (input: as sent; output: as answered), each referring to the others by $ref. */
function components(schemas: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, Record<string, unknown>> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const { schemas: out } = z.toJSONSchema(registry, { io, unrepresentable: 'any', target: 'draft-2020-12', uri: (id) => `#/components/schemas/${id}` }) as {
    schemas: Record<string, Record<string, unknown>>;
  };
  for (const json of Object.values(out)) {
    delete json.$schema;
    delete json.$id;
  }
  return out;
}

const retryAfter = { 'retry-after': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } } };
const problem = (description: string, status?: number) => ({
  description,
  ...(status === 429 || status === undefined ? { headers: retryAfter } : {}),
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});
const ref = (schema: Component) => ({ schema: { $ref: `#/components/schemas/${schema}` } });

function operation(op: Operation): Record<string, unknown> {
  const { ok, body, form, refuses, why = {}, ...rest } = op;
  const success = { description: ok.description, ...(ok.schema || ok.type ? { content: { [ok.type ?? 'application/json']: ok.schema ? ref(ok.schema) : { schema: { type: 'string' } } } } : {}) };
  const statuses = [...new Set([...refuses, ...EVERYWHERE])].sort((a, b) => a - b);
  const refusal = (s: number) => {
    const own = why[s];
    if (own !== undefined) return problem(s === 403 ? `${own}; or a cross-origin request` : own, s);
    const named = REFUSALS[s];
    if (!named) throw new Error(`${op.operationId}: say why it answers ${s}`);
    return { $ref: `#/components/responses/${named[0]}` };
  };
  return {
    ...rest,
    ...(body ? { requestBody: { required: true, content: { [form ? 'application/x-www-form-urlencoded' : 'application/json']: ref(body) } } } : {}),
    responses: { [ok.status ?? 200]: success, ...Object.fromEntries(statuses.map((s) => [String(s), refusal(s)])), default: { $ref: '#/components/responses/Failed' } },
  };
}

/** The OpenAPI 3.1 document served at /openapi.json. */
export function openApiDocument(): Record<string, unknown> {
  const paths = Object.fromEntries(Object.entries(OPERATIONS).map(([path, ops]) => [path, Object.fromEntries(Object.entries(ops).map(([method, op]) => [method, operation(op)]))]));
  // The named refusals some operation refers to (an unused one would be a lint warning).
  const used = new Set([...JSON.stringify(paths).matchAll(/#\/components\/responses\/(\w+)/g)].map((m) => m[1]));
  const responses = Object.fromEntries(
    [...Object.entries(REFUSALS).map(([status, [name, description]]) => [name, problem(description, Number(status))] as const), ['Failed', problem(FAILED)] as const].filter(([name]) => used.has(name)),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'countersign',
      version: '1',
      description:
        "Human approval for AI agent actions. Agents authenticate with an API key; reviewers with a session from a signed login; every decision is signed by the reviewer's key. How an agent opens its sealed token and computes the digest consume needs: docs/sealing.md.",
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'The countersign server that serves this document' }],
    components: {
      securitySchemes: {
        agentKey: { type: 'http', scheme: 'bearer', description: 'An agent, gateway or auditor API key (cs_agent_…, cs_gateway_…, cs_auditor_…), from countersign keys agent' },
        reviewerSession: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A reviewer session from POST /v1/session' },
        inboxSession: {
          type: 'apiKey',
          in: 'cookie',
          name: 'cs_inbox',
          description: "The web inbox's passkey session (cookie cs_inbox, __Host-cs_inbox over https), from POST /v1/inbox/login; every POST with it also carries x-countersign-csrf",
        },
        slackSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'x-slack-signature',
          description: "Slack's v0 request signature (HMAC-SHA256 with the app's signing secret over v0:<x-slack-request-timestamp>:<body>), as Slack sends it",
        },
      },
      schemas: { ...components(BODIES, 'input'), ...components(ANSWERS, 'output') },
      responses,
    },
    paths,
  };
}
