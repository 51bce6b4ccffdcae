/**
 * Insights under /v1/insights (issue 28), for auditors only (an operator uses an auditor key): the
 * figures over a window of sealed evidence, and the recorded requests policy simulation replays.
 * Both name every agent's requests, so a reviewer or an agent is refused 403.
 */
import { Hono, type Context } from 'hono';
import { parseDuration } from '../../common/duration';
import type { InsightsReport, RecordedRequests } from '../../common/insights/report';
import { signedIn } from '../auth';
import type { Deps } from '../deps';
import { rateLimited, type Env } from '../http';
import { insightsCharts } from '../insights-svg';
import { insightsReport, MAX_WINDOW_MS, recordedRequests } from '../insights';
import { forbidden, HttpProblem, invalid, notFound } from '../problems';
import { StoreInputError } from '../../store/types';

/** The window's start from "since": a duration back from now (7d, 12h), at most MAX_WINDOW_MS; `fallback` when absent. */
export function windowStart(text: string | undefined, now: number, fallback: string): Date {
  const given = text === undefined || text === '' ? fallback : text;
  const ms = given.length <= 20 ? parseDuration(given) : undefined;
  if (ms === undefined || ms <= 0 || ms > MAX_WINDOW_MS) {
    throw invalid(`Query parameter "since" must be a duration back from now such as 7d or 12h, at most ${MAX_WINDOW_MS / 86_400_000}d, got "${given.slice(0, 50)}".`);
  }
  return new Date(now - ms);
}

/** Insights answers computed at once, across callers: each reads up to MAX_BUNDLES_READ bundles. */
export const MAX_INSIGHTS_IN_FLIGHT = 2;

export function insightsRoutes(deps: Deps): Hono<Env> {
  const routes = new Hono<Env>();
  let inFlight = 0;
  const auditorOnly = (c: Context<Env>) => {
    const p = c.get('principal');
    if (p.role !== 'auditor') throw forbidden(`This endpoint is for auditors; you are signed in as ${p.role} ${p.name}.`);
    if (!deps.store) throw notFound('This server keeps no store, so it has no recorded requests to count.');
    // Each answer reads the store: the listings' budget, not the general one.
    rateLimited(deps.listLimiter, `list:${p.role}:${p.name}`);
    return deps.store;
  };

  routes.get('/', signedIn(deps), async (c) => {
    const store = auditorOnly(c);
    const now = Date.now();
    const since = windowStart(c.req.query('since'), now, '7d');
    const charts = c.req.query('charts');
    if (charts !== undefined && charts !== 'svg') throw invalid(`Query parameter "charts" may only be svg, got "${charts.slice(0, 50)}".`);
    if (inFlight >= MAX_INSIGHTS_IN_FLIGHT) throw new HttpProblem(429, 'RATE_LIMITED', `${MAX_INSIGHTS_IN_FLIGHT} insights answers are being computed already; try again in 5 s.`, { 'retry-after': '5' });
    inFlight += 1;
    let report;
    try {
      report = await insightsReport(store, since, new Date(now));
    } finally {
      inFlight -= 1;
    }
    return c.json((charts ? { ...report, charts: insightsCharts(report) } : report) satisfies InsightsReport);
  });

  routes.get('/requests', signedIn(deps), async (c) => {
    const store = auditorOnly(c);
    const since = windowStart(c.req.query('since'), Date.now(), '30d');
    const cursor = c.req.query('cursor');
    try {
      return c.json((await recordedRequests(store, since, cursor || undefined)) satisfies RecordedRequests);
    } catch (err) {
      if (err instanceof StoreInputError) throw invalid(`Query parameter "cursor" is not one this server gave: ${err.message}`);
      throw err;
    }
  });

  return routes;
}
