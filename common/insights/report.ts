/**
 * What GET /v1/insights and GET /v1/insights/requests answer (issue 28), as zod schemas: the types
 * of common/insights/figures.ts are these, the server writes them, the CLI parses them.
 */
import { z } from 'zod';

export const OutcomeCounts = z.object({
  requests: z.number().int(),
  auto_allowed: z.number().int(),
  edge_allowed: z.number().int().describe('Of auto_allowed: allows decided at the front door, with no workflow (edge: true rules, docs/edge.md)'),
  policy_denied: z.number().int(),
  invalid: z.number().int().describe('Refused as invalid before or at evaluation (INVALID_REQUEST)'),
  reviewed: z.number().int().describe('Put in front of reviewers: approved + denied + changes_requested + expired, and those cancelled during review'),
  approved: z.number().int(),
  denied: z.number().int().describe('Denied by a reviewer'),
  changes_requested: z.number().int(),
  expired: z.number().int().describe('No decision within the SLA'),
  cancelled: z.number().int(),
  executed: z.number().int().describe('Approved, run, and reported succeeded'),
  failed: z.number().int().describe('Approved, run, and reported failed'),
});
export type OutcomeCounts = z.infer<typeof OutcomeCounts>;

export const Timing = z.object({ count: z.number().int(), p50Ms: z.number(), p90Ms: z.number() });
export type Timing = z.infer<typeof Timing>;

export const ReviewerFigures = Timing.extend({
  reviewer: z.string(),
  approved: z.number().int(),
  approvalRate: z.number(),
  medianMs: z.number().describe('Median time from the version being put up for review to this reviewer deciding it'),
  fastShare: z.number().describe('Share of decisions made within thresholds.fastDecisionMs of being shown'),
  flag: z.string().optional().describe('Why the decisions look like rubber-stamping, with the numbers; absent when they do not'),
});
export type ReviewerFigures = z.infer<typeof ReviewerFigures>;

export const Figures = z.object({
  outcomes: OutcomeCounts,
  automatedShare: z.number().describe('Decided by policy alone (auto-allowed, denied by policy, refused as invalid), as a share of all'),
  byAction: z.array(OutcomeCounts.extend({ action: z.string() })),
  byRule: z.array(OutcomeCounts.extend({ rule: z.string() })),
  byAgent: z.array(OutcomeCounts.extend({ agent: z.string() })),
  timeToDecideByGroup: z.array(Timing.extend({ group: z.string(), slaBreaches: z.number().int(), escalations: z.number().int() })),
  reviewers: z.array(ReviewerFigures),
  slaBreaches: z.number().int(),
  escalatedRequests: z.number().int(),
  escalations: z.number().int(),
  thresholds: z.object({ fastDecisionMs: z.number(), minDecisionsJudged: z.number(), approvalRate: z.number(), fastShare: z.number() }),
});
export type Figures = z.infer<typeof Figures>;

export const InsightsWindow = z.object({
  since: z.string(),
  until: z.string(),
  /** Bundles read, and those not recognised as countersign's (left out of every figure). */
  bundles: z.number().int(),
  unreadable: z.number().int(),
  /** False when the window holds more than the server reads at once: the figures are of the newest bundles only. */
  complete: z.boolean(),
});

export const InsightsReport = Figures.extend({
  window: InsightsWindow,
  /** Server-rendered SVG charts (only with charts=svg), for the inbox's Insights page. */
  charts: z.record(z.string(), z.string()).optional(),
});
export type InsightsReport = z.infer<typeof InsightsReport>;

/** A recorded request as policy simulation reads it: what the agent asked, and policy's verdict then. */
export const RecordedRequest = z.object({
  workflowId: z.string(),
  requestId: z.string(),
  sealedAt: z.string(),
  request: z.record(z.string(), z.unknown()).describe('The request as recorded in the evidence (without the agent key)'),
  verdict: z
    .object({ decision: z.enum(['allow', 'deny', 'review']), ruleIds: z.array(z.string()), risk: z.string().optional(), group: z.string().optional(), approvals: z.number().optional() })
    .optional()
    .describe('Absent when the request was refused before policy evaluated it'),
});
export type RecordedRequest = z.infer<typeof RecordedRequest>;

export const RecordedRequests = z.object({
  items: z.array(RecordedRequest),
  next: z.string().optional().describe('Pass as cursor for the next page; absent on the last'),
});
export type RecordedRequests = z.infer<typeof RecordedRequests>;
