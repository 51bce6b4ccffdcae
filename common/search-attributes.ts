import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The countersign search attributes (DESIGN §7): ops filter the queue by these in the Temporal UI. */
export const SA = {
  status: defineSearchAttributeKey('CountersignStatus', SearchAttributeType.KEYWORD),
  group: defineSearchAttributeKey('CountersignGroup', SearchAttributeType.KEYWORD_LIST),
  risk: defineSearchAttributeKey('CountersignRisk', SearchAttributeType.KEYWORD),
  agent: defineSearchAttributeKey('CountersignAgent', SearchAttributeType.KEYWORD),
  action: defineSearchAttributeKey('CountersignAction', SearchAttributeType.KEYWORD),
  deadline: defineSearchAttributeKey('CountersignDeadline', SearchAttributeType.DATETIME),
  requestId: defineSearchAttributeKey('CountersignRequestId', SearchAttributeType.KEYWORD),
} as const;

export const ALL_SEARCH_ATTRIBUTES = Object.values(SA);
