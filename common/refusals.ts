/** The refusals every surface reports the same way: the SDK over HTTP, the server's backend, the CLI. Pure. */
import { ReasonCode } from './codes';

/** Bad input: one sentence naming the field; nothing was started. */
export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError';
  readonly code = ReasonCode.INVALID_REQUEST;
}

/** A decision refused: a reviewer's (not eligible, self-approval, already decided, bad edit), or an agent's withdrawal of a request already decided. */
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

