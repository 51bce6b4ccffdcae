/** What needs no credential: the health check and the OpenAPI document (server/openapi.ts). */
import { Hono } from 'hono';
import type { Ok } from '../../common/responses';
import type { Env } from '../http';
import { openApiDocument } from '../openapi';

export function metaRoutes(): Hono<Env> {
  const routes = new Hono<Env>();
  routes.get('/healthz', (c) => c.json({ ok: true } satisfies Ok));
  // Built on first use and kept: it depends on the code alone, and building it takes milliseconds.
  let document: Record<string, unknown> | undefined;
  routes.get('/openapi.json', (c) => c.json((document ??= openApiDocument())));
  return routes;
}
