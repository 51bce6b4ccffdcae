/**
 * The front door: createApp builds what the routes share (server/deps.ts), then the app in the
 * order every request meets it: the error and not-found answers, the access log, the Host and
 * Origin check, then the routes per resource (server/routes/), each authenticating as it needs
 * (server/auth.ts) after its body limit, and the web inbox (server/inbox.ts).
 */
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { CompiledPolicy } from '../policy/load';
import type { Approvals } from './approvals';
import { clientAddress } from './auth';
import type { Deps } from './deps';
import type { EdgeDesk } from './edge';
import type { Enrollments } from './enrollments';
import { TrustedProxies } from './forwarded';
import { Holds } from './holds';
import { bodyUpTo, jsonBody, parse, rateLimited, toProblem, type Env } from './http';
import { registerInbox } from './inbox';
import { LogService } from './log';
import { memoryLedger, type DoorLedger } from './ledger';
import { DEFAULT_MAX_OPEN_REQUESTS, OpenRequestCap } from './open-requests';
import { forbidden, HttpProblem, notFound, problemBody } from './problems';
import { createRateLimiter } from './rate-limit';
import { authRoutes } from './routes/auth';
import { batchRoutes } from './routes/batches';
import { insightsRoutes } from './routes/insights';
import { logRoutes } from './routes/log';
import { metaRoutes } from './routes/meta';
import { requestRoutes } from './routes/requests';
import { reviewRoutes } from './routes/reviews';
import { slackRoutes } from './routes/slack';
import type { Sessions } from './sessions';
import { SignCounts } from './sign-counts';
import type { SlackApp } from './slack';
import type { StoreReader } from '../store/types';

export { MAX_OPEN_WAITS_PER_CREDENTIAL, MAX_WAITS_PER_REQUEST } from './holds';
export { MAX_LARGE_BODY_BYTES, MAX_SMALL_BODY_BYTES } from './http';

export interface AppOptions {
  backend: Approvals;
  policy: CompiledPolicy;
  sessions: Sessions;
  logger: Logger;
  /** Host header values accepted (host:port); ['*'] accepts any, for a proxy that checks it. */
  allowedHosts: string[];
  /** Per credential (or per address before authentication). */
  rateLimit?: { perSecond: number; burst: number };
  /** Per credential, for the listings (GET /v1/reviews, GET /v1/requests): visibility queries. */
  listRateLimit?: { perSecond: number; burst: number };
  /** How often the event stream looks for a change. */
  streamPollMs?: number;
  /** Proxies whose X-Forwarded-For is believed (COUNTERSIGN_TRUSTED_PROXIES); none by default. */
  trustedProxies?: TrustedProxies;
  /** Where answered challenges, ended sessions and passkey counts are recorded across instances (the one the sessions use). */
  ledger?: DoorLedger;
  /** Reviewers' passkey enrolments (the web inbox). */
  enrollments: Enrollments;
  /** Served over TLS: the inbox cookie is Secure. */
  secure?: boolean;
  /** Requests one agent may have waiting for a reviewer at once (COUNTERSIGN_MAX_OPEN_REQUESTS); server/open-requests.ts. */
  maxOpenRequestsPerAgent?: number;
  /** The Slack app (server/slack/): its endpoints under /v1/slack are mounted only with it; 404 otherwise. */
  slack?: SlackApp;
  /** Sealed evidence and the log, read only: closed requests' evidence is served from it (server/evidence.ts). */
  store?: StoreReader;
  /** Allows decided at the front door (server/edge.ts): only with an edge key and a store it may record them in. */
  edge?: EdgeDesk;
}

export function createApp(options: AppOptions): Hono<Env> {
  const { backend, policy, logger } = options;
  const allowed = new Set(options.allowedHosts.map((h) => h.toLowerCase()));
  const deps: Deps = {
    backend,
    policy,
    sessions: options.sessions,
    enrollments: options.enrollments,
    logger,
    limiter: createRateLimiter(options.rateLimit ?? { perSecond: 50, burst: 200 }),
    // Listings are visibility queries, which PostgreSQL (or Temporal Cloud's namespace limit) pays for:
    // a budget of their own per credential, well under the general one. An open inbox uses 0.5 a second.
    listLimiter: createRateLimiter(options.listRateLimit ?? { perSecond: 10, burst: 40 }),
    signCounts: new SignCounts(options.slack?.ledger ?? options.ledger ?? memoryLedger()),
    openRequests: new OpenRequestCap(backend, options.maxOpenRequestsPerAgent ?? DEFAULT_MAX_OPEN_REQUESTS),
    holds: new Holds(),
    proxies: options.trustedProxies ?? new TrustedProxies([]),
    // A login proof names the origin the reviewer's CLI connected to: one whose host this server answers for by name.
    loginAudiences: [...allowed].filter((h) => h !== '*').flatMap((h) => ['http', 'https'].map((scheme) => originOf(`${scheme}://${h}`))).filter((o): o is string => Boolean(o)),
    // The inbox is https when this server terminates TLS or its public origins (behind a proxy) are https.
    secure: Boolean(options.secure) || Boolean(policy.webauthn?.origins.length && policy.webauthn.origins.every((o) => o.startsWith('https://'))),
    streamPollMs: options.streamPollMs ?? 1000,
    ...(options.slack ? { slack: options.slack } : {}),
    ...(options.store ? { store: options.store, log: new LogService(options.store) } : {}),
    ...(options.edge ? { edge: options.edge } : {}),
  };
  const app = new Hono<Env>();

  // Errors and unknown paths, here and in every mounted route, answer problem+json.
  app.onError((err, c) => {
    const problem = toProblem(err);
    if (problem.status >= 500) logger.error({ err: (err as Error).message, name: (err as Error).name, path: c.req.routePath }, 'request failed');
    for (const [k, v] of Object.entries(problem.headers)) c.header(k, v);
    return c.json(problemBody(problem, c.req.path), problem.status as 400, { 'content-type': 'application/problem+json' });
  });
  app.notFound((c) => c.json(problemBody(notFound(`There is no ${c.req.method} ${c.req.path}.`), c.req.path), 404, { 'content-type': 'application/problem+json' }));

  // Access log: who, what, how it ended. Never a header, a body or a query string.
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const who = c.get('principal');
    logger.info({ method: c.req.method, path: c.req.routePath, status: c.res.status, principal: who ? `${who.role}:${who.name}` : undefined, ms: Math.round(performance.now() - started) }, 'http');
  });

  // Host and Origin: a DNS-rebinding page or another site's script is refused before anything runs.
  app.use('*', async (c, next) => {
    const host = (c.req.header('host') ?? '').toLowerCase();
    if (!allowed.has('*') && !allowed.has(host)) throw new HttpProblem(421, 'HOST_NOT_ALLOWED', `This server does not answer for the host "${host.slice(0, 100)}".`);
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      let originHost = '';
      try {
        originHost = new URL(origin).host.toLowerCase();
      } catch {
        /* an unparseable origin matches nothing */
      }
      if (originHost !== host) throw forbidden('Cross-origin requests are refused.');
    }
    c.header('cache-control', 'no-store');
    c.header('x-content-type-options', 'nosniff');
    await next();
  });

  // Each route authenticates itself (signedIn, after its body limit): an unknown path is 404 whoever asks.
  app.route('/', metaRoutes(deps.edge));
  app.route('/v1', authRoutes(deps));
  app.route('/v1/requests', requestRoutes(deps));
  app.route('/v1/reviews', reviewRoutes(deps));
  app.route('/v1/batches', batchRoutes(deps));
  app.route('/v1/log', logRoutes(deps));
  app.route('/v1/insights', insightsRoutes(deps));
  // Slack's requests carry Slack's signature, not a credential of ours: only when the app has a signing secret.
  if (deps.slack) app.route('/v1/slack', slackRoutes(deps));
  registerInbox(app, {
    policy,
    sessions: deps.sessions,
    enrollments: deps.enrollments,
    logger,
    secure: deps.secure,
    rateLimited: (key) => rateLimited(deps.limiter, key),
    clientAddress: (c) => clientAddress(c, deps),
    signCounts: deps.signCounts,
    jsonBody,
    parse: parse as never,
    limit: bodyUpTo(64 * 1024),
  });

  return app;
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
