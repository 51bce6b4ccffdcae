/**
 * Which reviewer a Slack user is: a link the reviewer confirmed with their passkey (POST
 * /v1/slack/link). Never a display name or an email: a Slack user with no link is nobody.
 *
 * The shared store keeps each link as a Temporal workflow that no worker runs (a task queue of its
 * own), one workflow id per Slack user, with the reviewer in its memo — like server/ledger.ts, so
 * every server instance sees the same links without a database. A relink starts a new run in place
 * of the old (TERMINATE_EXISTING); an unlink terminates it. Only a RUNNING run is a link.
 */
import { createHash } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';

export interface SlackLinks {
  /** The reviewer this Slack user is linked to, if any. */
  reviewerOf(teamId: string, userId: string): Promise<string | undefined>;
  /** Links the Slack user to `reviewer`, replacing any earlier link. */
  link(teamId: string, userId: string, reviewer: string): Promise<void>;
  /** Removes the Slack user's link; false when there was none. */
  unlink(teamId: string, userId: string): Promise<boolean>;
}

/** One process's memory: for unit tests. */
export function memoryLinks(): SlackLinks {
  const links = new Map<string, string>();
  const key = (t: string, u: string) => `${t}:${u}`;
  return {
    async reviewerOf(t, u) {
      return links.get(key(t, u));
    },
    async link(t, u, reviewer) {
      links.set(key(t, u), reviewer);
    },
    async unlink(t, u) {
      return links.delete(key(t, u));
    },
  };
}

export const SLACK_LINK_WORKFLOW_TYPE = 'countersign.slackLink';

/** Shared by every server instance on the same Temporal namespace and task queue. */
export function temporalLinks(client: Client, taskQueue: string): SlackLinks {
  const id = (t: string, u: string) => `cs-slack-link-${createHash('sha256').update(`countersign/slack-link:${taskQueue}:${t}:${u}`, 'utf8').digest('hex').slice(0, 40)}`;
  return {
    async reviewerOf(t, u) {
      try {
        const d = await client.workflow.getHandle(id(t, u)).describe();
        if (d.status.name !== 'RUNNING' || d.type !== SLACK_LINK_WORKFLOW_TYPE) return undefined;
        const memo = d.memo as { reviewer?: unknown; teamId?: unknown; userId?: unknown } | undefined;
        // The memo names the Slack user too: a record for anyone else (a collision, a hand-made run) is no link.
        if (memo?.teamId !== t || memo.userId !== u || typeof memo.reviewer !== 'string') return undefined;
        return memo.reviewer;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
    },
    async link(t, u, reviewer) {
      await client.workflow.start(SLACK_LINK_WORKFLOW_TYPE, {
        workflowId: id(t, u),
        taskQueue: `${taskQueue}-slack-links`,
        args: [],
        memo: { reviewer, teamId: t, userId: u },
        workflowIdConflictPolicy: 'TERMINATE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        staticSummary: 'A countersign Slack link (a Slack user confirmed as a reviewer by passkey); no worker runs it.',
      });
    },
    async unlink(t, u) {
      try {
        await client.workflow.getHandle(id(t, u)).terminate('unlinked');
        return true;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
  };
}
