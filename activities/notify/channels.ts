import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { WebhookConfig } from '../../policy/schema';
import type { GroupNotification } from './types';

/** A way to tell a reviewer group that something needs them. */
export interface NotificationChannel {
  readonly name: string;
  send(notification: GroupNotification): Promise<void>;
}

export class ChannelConfigError extends Error {
  override name = 'ChannelConfigError';
}

/** Always on: one structured log line per notification. */
export function logChannel(logger: Logger): NotificationChannel {
  return {
    name: 'log',
    async send(n) {
      logger.info(
        { requestId: n.requestId, workflowId: n.workflowId, ruleIds: n.ruleIds, group: n.group, event: n.event, action: n.action, risk: n.risk, deadline: n.deadline, channel: 'log' },
        `${n.event === 'escalated' ? 'escalated to' : 'review requested from'} ${n.group}: ${n.summary}`,
      );
    },
  };
}

export const SIGNATURE_HEADER = 'x-countersign-signature';
export const TIMESTAMP_HEADER = 'x-countersign-timestamp';

/** HMAC-SHA256 over "<timestamp>.<body>", hex, as sent in the signature header ("sha256=<hex>"). */
export function signWebhookBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** JSON POST to the group's webhook, signed so the receiver can trust it came from us. */
export function webhookChannel(config: WebhookConfig, env: NodeJS.ProcessEnv = process.env): NotificationChannel {
  return {
    name: 'webhook',
    async send(n) {
      const secret = env[config.secretEnv];
      if (!secret) throw new ChannelConfigError(`the webhook secret variable ${config.secretEnv} is not set`);
      const body = JSON.stringify(n);
      const timestamp = String(Math.floor(Date.now() / 1000));
      const host = new URL(config.url).host;
      let response: Response;
      try {
        response = await fetch(config.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signWebhookBody(secret, timestamp, body) },
          body,
          signal: AbortSignal.timeout(10_000),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
        throw new Error(`webhook ${host} unreachable (${cause})`);
      }
      if (!response.ok) throw new Error(`webhook ${host} answered HTTP ${response.status}`);
    },
  };
}
