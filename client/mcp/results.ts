import type { CallToolResult } from '@modelcontextprotocol/server';
import { ReasonCode } from '../../common/codes';
import type { ApprovalOutcome } from '../../common/views';

/**
 * What the agent's model reads back from a gated tools/call. Every result that did not come from
 * the upstream says whether the call ran and what to do next, and carries
 * `_meta["countersign/request"]` ({id, status, code?}) for programs.
 */

const META = 'countersign/request';

function notice(text: string, meta: { id?: string; status: string; code?: string; deadline?: string }, isError: boolean): CallToolResult {
  return { content: [{ type: 'text', text }], ...(isError ? { isError: true } : {}), _meta: { [META]: meta } };
}

export interface Pending {
  requestId: string;
  status: string;
  deadline?: string;
}

/**
 * Still awaiting a reviewer. A non-error result when the tool has no outputSchema; a tool with one
 * must return structured content matching it on success (clients reject anything else), so there
 * the same notice is an error result.
 */
export function pendingResult(tool: string, pending: Pending, hasOutputSchema: boolean): CallToolResult {
  const deadline = pending.deadline ? ` Reviewers have until ${pending.deadline}.` : '';
  return notice(
    `Awaiting human approval: countersign request ${pending.requestId} for ${tool} is ${pending.status === 'escalated' ? 'escalated to more reviewers' : 'waiting for a reviewer'}, and nothing has run yet.${deadline} ` +
      `To continue, call ${tool} again later with exactly the same arguments: it runs once approved, and only once. Different arguments start a new request.`,
    { id: pending.requestId, status: pending.status, ...(pending.deadline ? { deadline: pending.deadline } : {}) },
    hasOutputSchema,
  );
}

export function deniedResult(tool: string, outcome: ApprovalOutcome): CallToolResult {
  const code = `${outcome.code ?? ReasonCode.POLICY_DENIED}${outcome.reviewerReason ? `/${outcome.reviewerReason}` : ''}`;
  const by = outcome.decidedBy === 'policy' ? 'by policy' : `by ${outcome.reviewers.join(', ') || 'a reviewer'}`;
  return notice(
    `Denied ${by} (${code}): ${outcome.message ?? 'no reason given'} — countersign request ${outcome.requestId}. ${tool} did not run. Calling it again with the same arguments gets the same answer.`,
    { id: outcome.requestId, status: outcome.status, code },
    true,
  );
}

export function changesRequestedResult(tool: string, outcome: ApprovalOutcome): CallToolResult {
  const proposed = outcome.proposedPayload ? ` Proposed arguments: ${JSON.stringify(outcome.proposedPayload)}.` : '';
  return notice(
    `Changes requested (${ReasonCode.CHANGES_REQUESTED}) by ${outcome.reviewers.join(', ') || 'a reviewer'}: ${outcome.comment ?? ''}${proposed} ` +
      `${tool} did not run (countersign request ${outcome.requestId}); call it again with revised arguments.`,
    { id: outcome.requestId, status: outcome.status, code: ReasonCode.CHANGES_REQUESTED },
    true,
  );
}

export function expiredResult(tool: string, outcome: ApprovalOutcome): CallToolResult {
  return notice(
    `Expired (${outcome.code ?? ReasonCode.SLA_EXPIRED}): ${outcome.message ?? 'no reviewer decided in time'} — countersign request ${outcome.requestId}. ${tool} did not run; calling it again asks for approval again.`,
    { id: outcome.requestId, status: outcome.status, code: outcome.code ?? ReasonCode.SLA_EXPIRED },
    true,
  );
}

/** Approved, but the token was not (or could not be) spent: nothing ran. */
export function notRunResult(tool: string, requestId: string, status: string, code: string, why: string): CallToolResult {
  return notice(`${why} (${code}) — countersign request ${requestId}. ${tool} did not run.`, { id: requestId, status, code }, true);
}

/** The request ran before, but this gateway does not hold its result (another process, or before a restart). */
export function ranElsewhereResult(tool: string, outcome: ApprovalOutcome): CallToolResult {
  return notice(
    `This exact call already ran under countersign request ${outcome.requestId} (status ${outcome.status}); its result is not available to this gateway, and ${tool} did not run again.`,
    { id: outcome.requestId, status: outcome.status },
    true,
  );
}

export function invalidResult(tool: string, message: string): CallToolResult {
  return notice(`countersign refused the call as invalid (${ReasonCode.INVALID_REQUEST}): ${message} ${tool} did not run.`, { status: 'invalid', code: ReasonCode.INVALID_REQUEST }, true);
}

export function unavailableResult(tool: string, message: string): CallToolResult {
  return notice(`countersign could not decide on this call (${message}), so ${tool} did not run. Try again later.`, { status: 'unavailable' }, true);
}

/** The upstream threw instead of answering (transport closed, protocol error, timeout). */
export function upstreamFailedResult(tool: string, message: string): CallToolResult {
  return { content: [{ type: 'text', text: `The MCP server failed to run ${tool}: ${message}` }], isError: true };
}

/** The upstream's result with one more text item after its own content. */
export function withNote(result: CallToolResult, note: string): CallToolResult {
  return { ...result, content: [...(result.content ?? []), { type: 'text', text: note }] };
}

export function editedNote(outcome: ApprovalOutcome): string {
  return `Note: a reviewer (${outcome.reviewers.join(', ') || 'countersign'}) changed the arguments before this call ran; it ran with: ${JSON.stringify(outcome.payload)}`;
}

export function replayNote(requestId: string, ranAt: string): string {
  return `Note: this exact call already ran at ${ranAt} (countersign request ${requestId}); this is its recorded result, and it did not run again.`;
}

/** The text of a result, for an outcome report. */
export function resultText(result: CallToolResult): string {
  return (result.content ?? [])
    .map((c) => (c.type === 'text' ? c.text : `[${c.type}]`))
    .join('\n');
}
