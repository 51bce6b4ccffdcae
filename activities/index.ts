import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { ReasonCode } from '../common/codes';
import { describeIssues } from '../common/errors';
import { ActionRequest, type Evaluation } from '../common/schema';
import { ChannelConfigError, logChannel, webhookChannel, type NotificationChannel } from './notify/channels';
import type { GroupNotification } from './notify/types';
import { evaluatePolicy } from './policy/evaluate';
import type { CompiledPolicy } from './policy/load';

export type { GroupNotification };

export interface ActivityDeps {
  policy: CompiledPolicy;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
}

/** Activities close over the worker's loaded policy and logger. */
export function createActivities({ policy, logger, env = process.env }: ActivityDeps) {
  /** Every line names the workflow and request it belongs to. */
  function requestLogger(): Logger {
    const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
    return logger.child({ workflowId, requestId: workflowId.slice(-16) });
  }

  /** Authoritative validation, then policy: invalid input never reaches a reviewer. */
  function evaluate(raw: unknown, step: string): Evaluation {
    const log = requestLogger();
    const parsed = ActionRequest.safeParse(raw);
    if (!parsed.success) {
      const message = describeIssues(parsed.error);
      log.warn({ step, code: ReasonCode.INVALID_REQUEST, ruleIds: [] }, message);
      return { ok: false, code: ReasonCode.INVALID_REQUEST, message };
    }
    const decision = evaluatePolicy(policy, parsed.data);
    log.info(
      {
        step,
        agentId: parsed.data.agentId,
        action: parsed.data.action,
        ruleIds: decision.ruleIds,
        decision: decision.decision,
        risk: decision.risk,
        group: decision.route?.group.name,
        policyDigest: decision.policyDigest,
      },
      `policy ${decision.decision}: ${decision.reason}`,
    );
    return { ok: true, decision };
  }

  return {
    async evaluateRequest({ request }: { request: unknown }): Promise<Evaluation> {
      return evaluate(request, 'evaluate');
    },

    /** Second validation of a reviewer's edited or proposed payload. */
    async evaluateEdit({ request }: { request: unknown }): Promise<Evaluation> {
      return evaluate(request, 'revalidate');
    },

    async notifyGroup(notification: GroupNotification): Promise<{ channels: string[] }> {
      const group = policy.config.groups[notification.group];
      const log = requestLogger().child({ ruleIds: notification.ruleIds, group: notification.group, event: notification.event });
      const channels: NotificationChannel[] = [logChannel(log)];
      if (group?.webhook) channels.push(webhookChannel(group.webhook, env));
      for (const channel of channels) {
        try {
          await channel.send(notification);
        } catch (err) {
          log.warn({ channel: channel.name, err: (err as Error).message, attempt: Context.current().info.attempt }, `notification to ${notification.group} failed`);
          if (err instanceof ChannelConfigError) throw ApplicationFailure.nonRetryable(err.message, 'NOTIFICATION_CONFIG');
          throw err;
        }
      }
      return { channels: channels.map((c) => c.name) };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
