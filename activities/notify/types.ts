import type { ApprovalStatus } from '../../common/codes';
import type { Payload } from '../../common/json';
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

/**
 * What a chat message about a request shows (Slack): built by the workflow from its own state after
 * every transition, rendered by the worker's Slack channel. The exact payload is here: the message
 * shows it (cut when long, with a link to the inbox for the whole).
 */
export interface RequestMessage {
  requestId: string;
  workflowId: string;
  status: ApprovalStatus;
  action: string;
  /** The agent's own words. */
  summary: string;
  resource: Resource;
  agentId: string;
  onBehalfOf?: string;
  risk: Risk;
  ruleIds: string[];
  reason: string;
  /** The catalog's display fields for the current version: countersign's words. */
  display?: { name: string; value: string }[];
  payload: Payload;
  /** Digest of the version on show: a decision names it. */
  versionDigest: string;
  /** 1 for the agent's own payload; more after edits. */
  version: number;
  editedBy?: string;
  /** The payload the current version replaced, to show what changed. */
  previousPayload?: Payload;
  approvals: string[];
  approvalsNeeded: number;
  eligibleGroups: string[];
  deadline?: string;
  /** What a decision must prove here: with `passkey`, the buttons open the inbox instead of deciding in chat. */
  assurance: 'chat' | 'passkey';
  outcome?: { status: string; code?: string; message?: string; decidedBy?: string; reviewers?: string[] };
}

/** A message posted to a group's channel, so later transitions update it in place. */
export interface ChatMessageRef {
  group: string;
  channel: string;
  ts: string;
}

/** One update of the request's messages: each ref is re-rendered; `live` says whether its group may still decide (buttons) or not. */
export interface MessageUpdate {
  message: RequestMessage;
  refs: (ChatMessageRef & { live: boolean })[];
}
