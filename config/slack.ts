import { readFileSync } from 'node:fs';

/**
 * The Slack app's secrets and where its Web API is: from the environment or from files (a mounted
 * secret), never from the policy, and never logged. Both the server (request signatures, modals,
 * ephemeral replies) and the worker (posting and updating messages) read them.
 */
export interface SlackSettings {
  /** The bot token (xoxb-…): posts and updates messages, opens modals. */
  botToken: string;
  /** The app's signing secret: every request Slack sends is HMAC-signed with it. */
  signingSecret?: string;
  /** Slack's Web API base, https://slack.com/api/ unless set (a local stand-in in tests). */
  apiUrl?: string;
}

export class SlackConfigError extends Error {
  override name = 'SlackConfigError';
}

/** A secret from NAME or from the file NAME_FILE names (not both); undefined when neither is set. */
function secret(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct && file) throw new SlackConfigError(`Set ${name} or ${name}_FILE, not both.`);
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new SlackConfigError(`${name}_FILE names ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`);
    }
    if (!text) throw new SlackConfigError(`${name}_FILE names ${file}, which is empty.`);
    return text;
  }
  return direct || undefined;
}

/** Slack is on when COUNTERSIGN_SLACK_BOT_TOKEN (or its _FILE) is set; undefined otherwise. */
export function loadSlackSettings(env: NodeJS.ProcessEnv = process.env): SlackSettings | undefined {
  const botToken = secret(env, 'COUNTERSIGN_SLACK_BOT_TOKEN');
  const signingSecret = secret(env, 'COUNTERSIGN_SLACK_SIGNING_SECRET');
  const apiUrl = env.COUNTERSIGN_SLACK_API_URL || undefined;
  if (!botToken) {
    if (signingSecret) throw new SlackConfigError('COUNTERSIGN_SLACK_SIGNING_SECRET is set without COUNTERSIGN_SLACK_BOT_TOKEN: set both, or neither.');
    return undefined;
  }
  if (!/^xox[bp]-[A-Za-z0-9-]{8,}$/.test(botToken)) throw new SlackConfigError('COUNTERSIGN_SLACK_BOT_TOKEN must be a Slack bot token (xoxb-…).');
  if (apiUrl && !/^https?:\/\/[^/]+(\/.*)?\/$/.test(apiUrl)) throw new SlackConfigError(`COUNTERSIGN_SLACK_API_URL must be an http(s) URL ending in /, got "${apiUrl.slice(0, 100)}".`);
  return { botToken, ...(signingSecret ? { signingSecret } : {}), ...(apiUrl ? { apiUrl } : {}) };
}
