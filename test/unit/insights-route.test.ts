/**
 * GET /v1/insights under load (server/routes/insights.ts): each answer reads the store, so at most
 * two are computed at once across callers; a third is refused 429 with Retry-After until one ends.
 * In process, against a store whose listing waits until the test lets it go.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pino from 'pino';
import { compilePolicy } from '../../policy/load';
import type { Approvals } from '../../server/approvals';
import { createApp } from '../../server/app';
import { apiKeyHash, newApiKey } from '../../server/credentials';
import type { Enrollments } from '../../server/enrollments';
import { MAX_INSIGHTS_IN_FLIGHT } from '../../server/routes/insights';
import { createSessions } from '../../server/sessions';
import type { StoreReader } from '../../store/types';

test('a third insights answer at once is refused 429 with Retry-After; once one ends, the next is served', async () => {
  const key = newApiKey('auditor');
  const policy = compilePolicy(`version: 1
defaults: { decision: review, reviewers: ops, sla: 1h }
groups:
  ops: { members: [oscar] }
rules: []
directory:
  auditors:
    audrey: { keyHash: "${apiKeyHash(key)}" }
`);
  const waiting: (() => void)[] = [];
  const store = {
    description: 'a store that answers when told',
    listEvidence: () => new Promise<{ items: [] }>((resolve) => waiting.push(() => resolve({ items: [] }))),
  } as unknown as StoreReader;
  const app = createApp({ backend: {} as Approvals, policy, sessions: createSessions(randomBytes(32)), logger: pino({ level: 'silent' }), allowedHosts: ['*'], enrollments: {} as Enrollments, store });
  const ask = () => app.request('/v1/insights?since=1d', { headers: { authorization: `Bearer ${key}`, host: 'localhost' } });

  const held = Array.from({ length: MAX_INSIGHTS_IN_FLIGHT }, ask);
  while (waiting.length < MAX_INSIGHTS_IN_FLIGHT) await new Promise((r) => setImmediate(r));
  const refused = await ask();
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get('retry-after'), '5');
  assert.equal(((await refused.json()) as { detail: string }).detail, '2 insights answers are being computed already; try again in 5 s.');

  waiting.shift()!();
  assert.equal((await held[0]!).status, 200);
  const next = ask();
  while (waiting.length < MAX_INSIGHTS_IN_FLIGHT) await new Promise((r) => setImmediate(r));
  for (const release of waiting.splice(0)) release();
  assert.deepEqual(await Promise.all([held[1]!, next].map(async (r) => (await r).status)), [200, 200]);
});
