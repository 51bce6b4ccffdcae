import { describeIssues } from './errors';
import { InvalidRequestError } from './refusals';
import { ActionRequest } from './inputs';

/** Parses an action request or throws InvalidRequestError naming the field (SDK, server, CLI alike). */
export function parseActionRequest(input: unknown): ActionRequest {
  const parsed = ActionRequest.safeParse(input);
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error));
  return parsed.data;
}
