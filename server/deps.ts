/**
 * What the routes share, built once by createApp (server/app.ts) and handed to each route file:
 * the backend, the policy and sessions, and this instance's rate limits, counts and holds.
 */
import type { Logger } from 'pino';
import type { CompiledPolicy } from '../policy/load';
import type { StoreReader } from '../store/types';
import type { LogService } from './log';
import type { Approvals } from './approvals';
import type { EdgeDesk } from './edge';
import type { Enrollments } from './enrollments';
import type { TrustedProxies } from './forwarded';
import type { Holds } from './holds';
import type { Lookup } from './lookup';
import type { OpenRequestCap } from './open-requests';
import type { RateLimiter } from './rate-limit';
import type { Sessions } from './sessions';
import type { SignCounts } from './sign-counts';
import type { SlackApp } from './slack';

export interface Deps {
  backend: Approvals;
  policy: CompiledPolicy;
  sessions: Sessions;
  enrollments: Enrollments;
  logger: Logger;
  /** Per credential (or per address before authentication). */
  limiter: RateLimiter;
  /** Per credential, for the listings (visibility queries): a budget of their own. */
  listLimiter: RateLimiter;
  /** Each passkey's signature counter, which must move forward. */
  signCounts: SignCounts;
  /** Requests one agent may have waiting for a reviewer at once. */
  openRequests: OpenRequestCap;
  /** Long-polls and event streams held open. */
  holds: Holds;
  /** Proxies whose X-Forwarded-For is believed. */
  proxies: TrustedProxies;
  /** Origins a login proof may name: http and https for each host this server answers for by name. */
  loginAudiences: string[];
  /** The inbox is https: its cookie is Secure. */
  secure: boolean;
  /** How often the event stream looks for a change. */
  streamPollMs: number;
  /** The Slack app, when it has a signing secret: /v1/slack answers only then (server/routes/slack.ts). */
  slack?: SlackApp;
  /** Sealed evidence and the log, read only (store/open.ts): a closed request's evidence is served from it. */
  store?: StoreReader;
  /** The transparency log over that store: checkpoints, leaves and proofs (server/log.ts). */
  log?: LogService;
  /** Allows decided at the front door, when this server holds an edge key (server/edge.ts). */
  edge?: EdgeDesk;
}

/** How the caller's id is looked up (server/lookup.ts): an agent only among its own; a retry spends its listing budget. */
export const lookupFor = (deps: Deps, p: { role: string; name: string }): Lookup => ({
  ...(p.role === 'agent' ? { agent: p.name } : {}),
  agents: () => deps.policy.directory.agents.keys(),
  mayAskAgain: () => deps.listLimiter.take(`list:${p.role}:${p.name}`).ok,
});
