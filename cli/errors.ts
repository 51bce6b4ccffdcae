import { ExitCode } from '../common/codes';

/** A CLI failure with the exit code DESIGN §7 gives it; the message goes to stderr. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export const usage = (message: string) => new CliError(message, ExitCode.usage);
