/** The refusals every surface reports the same way: the SDK over HTTP, the server's backend, the CLI. Pure. */
import { ReasonCode } from './codes';
import { describeIssues } from './errors';
import { ActionRequest } from './schema';

/** Bad input: one sentence naming the field; nothing was started. */
export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError';
  readonly code = ReasonCode.INVALID_REQUEST;
}

/** A reviewer decision the workflow refused (not eligible, self-approval, already decided, bad edit). */
export class DecisionRefusedError extends Error {
  override name = 'DecisionRefusedError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The workflow refused a token consumption or an outcome report; nothing was executed. */
export class ConsumeRefusedError extends Error {
  override name = 'ConsumeRefusedError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class RequestNotFoundError extends Error {
  override name = 'RequestNotFoundError';
}

export class AmbiguousRequestIdError extends Error {
  override name = 'AmbiguousRequestIdError';
}


/** Parses an action request or throws InvalidRequestError naming the field (SDK, server, CLI alike). */
export function parseActionRequest(input: unknown): ActionRequest {
  const parsed = ActionRequest.safeParse(input);
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error));
  return parsed.data;
}
