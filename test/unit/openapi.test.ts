/**
 * The OpenAPI document as the server builds it (server/openapi.ts, from server/operations.ts):
 * lint clean with Redocly's linter under redocly.yaml, one operation for every route Hono serves
 * and no other, and each operation complete enough for a client in another language. The real
 * answers are checked against it in test/openapi.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { lintFromString, loadConfig } from '@redocly/openapi-core';
import pino from 'pino';
import { compilePolicy } from '../../policy/load';
import type { Approvals } from '../../server/approvals';
import { createApp } from '../../server/app';
import type { Enrollments } from '../../server/enrollments';
import { memoryLedger } from '../../server/ledger';
import { openApiDocument } from '../../server/openapi';
import { createSessions } from '../../server/sessions';
import type { SlackApp } from '../../server/slack';

const root = join(__dirname, '..', '..');

type Operation = {
  operationId?: string;
  security?: unknown[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: { $ref?: string } }> }>;
};
const document = openApiDocument() as { paths: Record<string, Record<string, Operation>>; components: { responses: Record<string, Operation['responses'][string]> } };
const operations = Object.entries(document.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })));

/** The web inbox's pages and assets: HTML, CSS and scripts for a browser (docs/inbox.md), not the API. */
const BROWSER_PAGES = ['GET /inbox', 'GET /inbox/', 'GET /inbox/enroll', 'GET /inbox/link', 'GET /inbox/insights', 'GET /inbox/requests/{id}', 'GET /inbox/assets/{file}'];

/** Every method and path the app serves, as OpenAPI writes paths; the Slack routes too (mounted only when the app has Slack). */
function servedRoutes(): string[] {
  const app = createApp({
    backend: {} as Approvals,
    policy: compilePolicy('version: 1\ndefaults: { decision: review, reviewers: ops, sla: 1h }\ngroups:\n  ops: { members: [oscar] }\nrules: []\n', 'policy.yaml'),
    sessions: createSessions(randomBytes(32)),
    logger: pino({ level: 'silent' }),
    allowedHosts: ['*'],
    enrollments: {} as Enrollments,
    slack: { signingSecret: 'unused', ledger: memoryLedger() } as SlackApp,
  });
  const served = app.routes.filter((r) => !(r.method === 'ALL' && r.path.endsWith('*'))).map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
  return [...new Set(served)].sort();
}

describe('the OpenAPI document', () => {
  test('lints clean: no error and no warning from Redocly under redocly.yaml', async () => {
    const config = await loadConfig({ configPath: join(root, 'redocly.yaml') });
    const problems = await lintFromString({ source: JSON.stringify(document, null, 2), absoluteRef: join(root, 'openapi.json'), config });
    const lines = problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer ?? '?'}: ${p.message}`);
    assert.deepEqual(lines, [], `Redocly finds ${lines.length} problems:\n${lines.join('\n')}`);
  });

  test('documents every route the server serves, and nothing it does not serve', () => {
    const served = servedRoutes().filter((r) => !BROWSER_PAGES.includes(r));
    const documented = operations.map((o) => o.key).sort();
    assert.deepEqual(
      { servedButNotDocumented: served.filter((r) => !documented.includes(r)), documentedButNotServed: documented.filter((r) => !served.includes(r)) },
      { servedButNotDocumented: [], documentedButNotServed: [] },
    );
    for (const page of BROWSER_PAGES) assert.ok(servedRoutes().includes(page), `${page} is still a page the inbox serves`);
  });

  test('every operation has a camelCase operationId of its own and explicit security', () => {
    const ids = operations.map(({ op }) => op.operationId);
    for (const [i, id] of ids.entries()) assert.match(id ?? '', /^[a-z][A-Za-z0-9]*$/, `${operations[i]!.key}: operationId`);
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    for (const { key, op } of operations) assert.ok(Array.isArray(op.security), `${key}: security, [] when public`);
  });

  test('every refusal is an RFC 9457 problem, and a JSON body can be refused as the body reader does', () => {
    const problemOf = (r: Operation['responses'][string]) => (r.$ref ? document.components.responses[r.$ref.split('/').pop()!]! : r).content?.['application/problem+json']?.schema.$ref;
    for (const { key, op } of operations) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (!/^2/.test(status)) assert.equal(problemOf(response), '#/components/schemas/Problem', `${key} ${status}`);
      }
      // server/http.ts jsonBody: 415 not JSON, 400 not parseable, 422 not an object; every body has a size limit (413).
      const statuses = Object.keys(op.responses);
      if (op.requestBody?.content['application/json']) for (const s of ['400', '413', '415', '422']) assert.ok(statuses.includes(s), `${key} declares ${s}`);
      else assert.ok(!statuses.includes('400'), `${key} reads no JSON body, so it never answers 400`);
    }
  });
});
