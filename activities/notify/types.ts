import type { Resource, Risk } from '../../common/inputs';

/** What a reviewer group is told when a request needs it. Carries no payload: reviewers open it with the CLI. */
export interface GroupNotification {
  event: 'review_requested' | 'escalated';
  group: string;
  requestId: string;
  workflowId: string;
  action: string;
  summary: string;
  resource: Resource;
  agentId: string;
  risk: Risk;
  ruleIds: string[];
  reason: string;
  deadline?: string;
}
