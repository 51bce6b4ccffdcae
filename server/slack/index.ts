/**
 * The Slack app on the front door, built once at startup from the app's settings (config/slack.ts):
 * the Web API client (the real @slack/web-api WebClient: ephemeral replies and modals; it honours
 * Slack's 429 Retry-After), the signed codes, the links, and the desk that handles each request.
 */
import { LogLevel, WebClient, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from 'pino';
import type { SlackSettings } from '../../config/slack';
import type { CompiledPolicy } from '../../policy/load';
import type { Approvals } from '../approvals';
import type { DoorLedger } from '../ledger';
import { SignedBlobs } from './codes';
import { SlackDesk, type SlackDeskDeps } from './desk';
import type { SlackLinks } from './links';

export interface SlackApp {
  desk: SlackDesk;
  signingSecret: string;
  blobs: SignedBlobs;
  links: SlackLinks;
  ledger: DoorLedger;
}

export interface SlackAppOptions {
  settings: SlackSettings & { signingSecret: string };
  backend: Pick<Approvals, 'view' | 'decide'>;
  policy: CompiledPolicy;
  logger: Logger;
  ledger: DoorLedger;
  links: SlackLinks;
  /** The session secret: the codes' keys are derived from it (HKDF), so every instance reads every code. */
  sessionSecret: Uint8Array;
  attester: SlackDeskDeps['attester'];
  /** Another Web API client (unit tests). */
  web?: SlackDeskDeps['web'];
}

export function createSlackApp(o: SlackAppOptions): SlackApp {
  const blobs = new SignedBlobs(o.sessionSecret);
  const web =
    o.web ??
    new WebClient(o.settings.botToken, {
      ...(o.settings.apiUrl ? { slackApiUrl: o.settings.apiUrl } : {}),
      logger: slackLogger(o.logger),
      logLevel: LogLevel.WARN,
      // A reply to a click is worth a few tries, not half an hour's: it is only a message.
      retryConfig: { retries: 3, factor: 2, minTimeout: 200, maxTimeout: 5_000, maxRetryTime: 60_000 },
      timeout: 10_000,
    });
  const desk = new SlackDesk({ backend: o.backend, policy: o.policy, logger: o.logger, ledger: o.ledger, links: o.links, blobs, web, attester: o.attester });
  return { desk, signingSecret: o.settings.signingSecret, blobs, links: o.links, ledger: o.ledger };
}

/** The WebClient's own log lines, into the server's log (warnings and errors only; they never carry the token). */
function slackLogger(logger: Logger): SlackLogger {
  const line = (level: 'warn' | 'error') => (...msg: unknown[]) => logger[level]({ slack: msg.map(String).join(' ').slice(0, 500) }, 'slack web api');
  return { debug: () => {}, info: () => {}, warn: line('warn'), error: line('error'), setLevel: () => {}, getLevel: () => LogLevel.WARN, setName: () => {} };
}
