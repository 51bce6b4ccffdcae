/** What needs no credential: the health check (with this instance's edge counts) and the OpenAPI document (server/openapi.ts). */
import { Hono } from 'hono';
import type { Ok } from '../../common/responses';
import type { EdgeDesk } from '../edge';
import type { Env } from '../http';
import { openApiDocument } from '../openapi';

export function metaRoutes(edge?: EdgeDesk): Hono<Env> {
  const routes = new Hono<Env>();
  // With an edge key, this instance's edge decisions since it started: they have no workflow to count in Temporal.
  routes.get('/healthz', (c) => c.json({ ok: true, ...(edge ? { edge: { ...edge.counts } } : {}) } satisfies Ok));
  // Built on first use and kept: it depends on the code alone, and building it takes milliseconds.
  let document: Record<string, unknown> | undefined;
  routes.get('/openapi.json', (c) => c.json((document ??= openApiDocument())));
  return routes;
}
