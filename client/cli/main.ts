/* eslint-disable @typescript-eslint/no-require-imports -- each command is loaded when it runs (see run) */
import { ExitCode } from '../../common/codes';
import { CliError, usage } from './errors';
import { clusterHelp, evidenceHelp, keysHelp, mcpHelp, policyHelp, reviewersHelp, reviewHelp, submitHelp, tokenHelp } from './help';
import { out } from './io';
import { packageVersion } from '../version';

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

/**
 * Each command's module is required when that command runs, never before: `review list` loads the
 * HTTP client and not the worker, the policy engine, the Temporal client or the MCP SDK, so the CLI
 * starts in a blink (npm run bench measures it). A dynamic import() would bypass tsx's CommonJS hook.
 */
async function run(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'submit':
      return (require('./commands/submit') as typeof import('./commands/submit')).submitCommand(args);
    case 'review':
      return (require('./commands/review') as typeof import('./commands/review')).reviewCommand(args);
    case 'policy':
      return (require('./commands/policy') as typeof import('./commands/policy')).policyCommand(args);
    case 'consume':
      return (require('./commands/token') as typeof import('./commands/token')).consumeCommand(args);
    case 'report':
      return (require('./commands/token') as typeof import('./commands/token')).reportCommand(args);
    case 'evidence':
      return (require('./commands/evidence') as typeof import('./commands/evidence')).evidenceCommand(args);
    case 'verify':
      return (require('./commands/evidence') as typeof import('./commands/evidence')).verifyCommand(args);
    case 'keys':
      return (require('./commands/keys') as typeof import('./commands/keys')).keysCommand(args);
    case 'setup':
      return (require('./commands/cluster') as typeof import('./commands/cluster')).setupCommand(args);
    case 'status':
      return (require('./commands/cluster') as typeof import('./commands/cluster')).statusCommand(args);
    case 'reviewers':
      return (require('./commands/reviewers') as typeof import('./commands/reviewers')).reviewersCommand(args);
    case 'mcp-proxy':
      return (require('./commands/mcp') as typeof import('./commands/mcp')).mcpProxyCommand(args);
    case 'worker': {
      const { runWorker } = require('../../worker/main') as typeof import('../../worker/main');
      const policy = args[0] === '--policy' ? args[1] : undefined;
      if (args.length && !policy) throw usage('worker takes only --policy FILE.');
      await runWorker({ policyFile: policy });
      return ExitCode.ok;
    }
    case 'server': {
      const { parseFlags } = require('./io') as typeof import('./io');
      const { values } = parseFlags(args, { listen: { type: 'string' }, policy: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' } });
      const { runServer } = require('../../server/main') as typeof import('../../server/main');
      await runServer({ listen: values.listen, policyFile: values.policy, tlsCert: values['tls-cert'], tlsKey: values['tls-key'] });
      return ExitCode.ok;
    }
    case 'dev': {
      const { runDev } = require('../../worker/dev') as typeof import('../../worker/dev');
      await runDev();
      return ExitCode.ok;
    }
    case '--version':
    case 'version':
      out(packageVersion());
      return ExitCode.ok;
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
    process.stderr.write(`countersign: ${(err as Error).message}\n`);
  }
  process.exitCode = code;
}

/** By the error's name, so that mapping an error loads none of the modules that define them. */
const EXIT_CODES: Record<string, number> = {
  MissingKeyError: ExitCode.usage,
  SearchAttributeConflict: ExitCode.usage,
  InvalidRequestError: ExitCode.usage,
  ConfigError: ExitCode.usage,
  PolicyLoadError: ExitCode.usage,
  AmbiguousRequestIdError: ExitCode.usage,
  RequestNotFoundError: ExitCode.notFound,
  WorkflowNotFoundError: ExitCode.notFound,
  NamespaceNotFoundError: ExitCode.notFound,
  TemporalCliMissing: ExitCode.unreachable,
  TemporalUnreachable: ExitCode.unreachable,
  ServerUnreachableError: ExitCode.unreachable,
  TransportError: ExitCode.unreachable,
  UnauthenticatedError: ExitCode.refused,
  ForbiddenError: ExitCode.refused,
};

function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  const { name, code, status } = (err ?? {}) as { name?: string; code?: number; status?: number };
  if (name && Object.hasOwn(EXIT_CODES, name)) return EXIT_CODES[name]!;
  if (name === 'ServerProblem') return status === 422 || status === 400 ? ExitCode.usage : ExitCode.refused;
  if (code === 5 /* gRPC NOT_FOUND */) return ExitCode.notFound;
  if (code === 14 /* gRPC UNAVAILABLE */ || code === 4 /* DEADLINE_EXCEEDED */) return ExitCode.unreachable;
  return ExitCode.refused;
}
