import { ExitCode } from '../../common/codes';
import { PolicyLoadError } from '../../activities/policy/load';
import { SearchAttributeConflict } from '../../worker/cluster';
import { ConfigError, TemporalUnreachable } from '../../worker/config';
import { TemporalCliMissing } from '../../worker/temporal-cli';
import { MissingKeyError } from '../../activities/keys';
import { AmbiguousRequestIdError, ForbiddenError, InvalidRequestError, RequestNotFoundError, ServerProblem, ServerUnreachableError, UnauthenticatedError } from '../sdk';
import { policyCommand, policyHelp } from './commands/policy';
import { reviewCommand, reviewHelp } from './commands/review';
import { clusterHelp, setupCommand, statusCommand } from './commands/cluster';
import { evidenceCommand, evidenceHelp, verifyCommand } from './commands/evidence';
import { keysCommand, keysHelp } from './commands/keys';
import { reviewersCommand, reviewersHelp } from './commands/reviewers';
import { mcpHelp, mcpProxyCommand } from './commands/mcp';
import { submitCommand, submitHelp } from './commands/submit';
import { consumeCommand, reportCommand, tokenHelp } from './commands/token';
import { CliError, usage } from './errors';
import { out, parseFlags } from './io';

const HELP = `countersign — human approval for AI agent actions, on Temporal

Usage:
Operators (hold the Temporal credentials):
  countersign dev                       start the local stack: Temporal server + UI, a worker, the server
  countersign worker [--policy FILE]    run a worker (COUNTERSIGN_POLICY, default policy.yaml)
  countersign server [--listen HOST:PORT] [--policy FILE] [--tls-cert FILE --tls-key FILE]
                                        the front door for agents and reviewers (default 127.0.0.1:7280)

Agents, reviewers and auditors (through the server; no Temporal credentials):
${submitHelp.replace(/^/gm, '  ')}
${reviewHelp.replace(/^/gm, '  ')}
${tokenHelp.replace(/^/gm, '  ')}
${policyHelp.replace(/^/gm, '  ')}
${evidenceHelp.replace(/^/gm, '  ')}
${keysHelp.replace(/^/gm, '  ')}
${clusterHelp.replace(/^/gm, '  ')}
${reviewersHelp.replace(/^/gm, '  ')}
${mcpHelp.replace(/^/gm, '  ')}

Environment: agents COUNTERSIGN_URL (http://127.0.0.1:7280), COUNTERSIGN_API_KEY; reviewers
  COUNTERSIGN_REVIEWER; operators TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default),
  COUNTERSIGN_TASK_QUEUE (countersign), COUNTERSIGN_POLICY, COUNTERSIGN_SESSION_SECRET; all COUNTERSIGN_HOME.
Exit codes: 0 ok, 1 refused or denied, 2 usage or invalid input, 3 not found, 4 cannot reach the server or Temporal.`;

async function run(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'submit':
      return submitCommand(args);
    case 'review':
      return reviewCommand(args);
    case 'policy':
      return policyCommand(args);
    case 'consume':
      return consumeCommand(args);
    case 'report':
      return reportCommand(args);
    case 'evidence':
      return evidenceCommand(args);
    case 'verify':
      return verifyCommand(args);
    case 'keys':
      return keysCommand(args);
    case 'setup':
      return setupCommand(args);
    case 'reviewers':
      return reviewersCommand(args);
    case 'status':
      return statusCommand(args);
    case 'mcp-proxy':
      return mcpProxyCommand(args);
    case 'worker': {
      // Loaded on demand: the worker and dev server pull in much more than the CLI's other commands need
      // (a dynamic import() would bypass tsx's CommonJS hook).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runWorker } = require('../../worker/main') as typeof import('../../worker/main');
      const policy = args[0] === '--policy' ? args[1] : undefined;
      if (args.length && !policy) throw usage('worker takes only --policy FILE.');
      await runWorker({ policyFile: policy });
      return ExitCode.ok;
    }
    case 'server': {
      const { values } = parseFlags(args, { listen: { type: 'string' }, policy: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' } });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runServer } = require('../../server/main') as typeof import('../../server/main');
      await runServer({ listen: values.listen, policyFile: values.policy, tlsCert: values['tls-cert'], tlsKey: values['tls-key'] });
      return ExitCode.ok;
    }
    case 'dev': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runDev } = require('../../worker/dev') as typeof import('../../worker/dev');
      await runDev();
      return ExitCode.ok;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(HELP);
      return command ? ExitCode.ok : ExitCode.usage;
    default:
      throw usage(`Unknown command "${command}". Run "countersign help".`);
  }
}

/** Results to stdout, errors to stderr, exit codes of DESIGN §7. */
export async function main(argv: string[]): Promise<void> {
  let code: number;
  try {
    code = await run(argv);
  } catch (err) {
    code = exitCodeFor(err);
    const message = err instanceof PolicyLoadError ? err.message : (err as Error).message;
    process.stderr.write(`countersign: ${message}\n`);
  }
  process.exitCode = code;
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof MissingKeyError || err instanceof SearchAttributeConflict) return ExitCode.usage;
  if (err instanceof InvalidRequestError || err instanceof ConfigError || err instanceof PolicyLoadError || err instanceof AmbiguousRequestIdError) return ExitCode.usage;
  if (err instanceof RequestNotFoundError) return ExitCode.notFound;
  if (err instanceof TemporalCliMissing || err instanceof TemporalUnreachable || err instanceof ServerUnreachableError) return ExitCode.unreachable;
  if (err instanceof UnauthenticatedError || err instanceof ForbiddenError) return ExitCode.refused;
  if (err instanceof ServerProblem) return err.status === 422 || err.status === 400 ? ExitCode.usage : ExitCode.refused;
  const { name, code } = (err ?? {}) as { name?: string; code?: number };
  if (name === 'WorkflowNotFoundError' || name === 'NamespaceNotFoundError' || code === 5 /* gRPC NOT_FOUND */) return ExitCode.notFound;
  if (name === 'TransportError' || code === 14 /* gRPC UNAVAILABLE */ || code === 4 /* DEADLINE_EXCEEDED */) return ExitCode.unreachable;
  return ExitCode.refused;
}
