/* eslint-disable @typescript-eslint/no-require-imports -- each command is loaded when it runs (see RUN) */
import { ExitCode } from '../common/codes';
import { CliError, usage } from './errors';
import { helpFor, overview, type TopCommand } from './help';
import { out } from './io';
import { packageVersion } from '../client/version';

type Runner = (args: string[]) => Promise<number>;

/**
 * One runner per command of the table in help.ts (the type makes both lists the same), each
 * module required when its command runs, never before: `review list` loads the HTTP client and not
 * the worker, the policy engine, the Temporal client or the MCP SDK, so the CLI starts in a blink
 * (npm run bench measures it). A dynamic import() would bypass tsx's CommonJS hook.
 */
const RUN: Record<TopCommand, Runner> = {
  submit: (args) => (require('./commands/submit') as typeof import('./commands/submit')).submitCommand(args),
  review: (args) => (require('./commands/review') as typeof import('./commands/review')).reviewCommand(args),
  policy: (args) => (require('./commands/policy') as typeof import('./commands/policy')).policyCommand(args),
  consume: (args) => (require('./commands/token') as typeof import('./commands/token')).consumeCommand(args),
  report: (args) => (require('./commands/token') as typeof import('./commands/token')).reportCommand(args),
  evidence: (args) => (require('./commands/evidence') as typeof import('./commands/evidence')).evidenceCommand(args),
  verify: (args) => (require('./commands/evidence') as typeof import('./commands/evidence')).verifyCommand(args),
  insights: (args) => (require('./commands/insights') as typeof import('./commands/insights')).insightsCommand(args),
  log: (args) => (require('./commands/log') as typeof import('./commands/log')).logCommand(args),
  keys: (args) => (require('./commands/keys') as typeof import('./commands/keys')).keysCommand(args),
  setup: (args) => (require('./commands/cluster') as typeof import('./commands/cluster')).setupCommand(args),
  status: (args) => (require('./commands/cluster') as typeof import('./commands/cluster')).statusCommand(args),
  reviewers: (args) => (require('./commands/reviewers') as typeof import('./commands/reviewers')).reviewersCommand(args),
  'mcp-proxy': (args) => (require('./commands/mcp') as typeof import('./commands/mcp')).mcpProxyCommand(args),
  worker: async (args) => {
    const { parseFlags } = require('./io') as typeof import('./io');
    const { values, positionals } = parseFlags(args, 'worker');
    if (positionals.length) throw usage(`worker takes only --policy FILE, got "${positionals[0]}" (see countersign worker --help).`);
    const { runWorker } = require('../worker/main') as typeof import('../worker/main');
    await runWorker({ policyFile: values.policy });
    return ExitCode.ok;
  },
  server: async (args) => {
    const { parseFlags } = require('./io') as typeof import('./io');
    const { values } = parseFlags(args, 'server');
    const { runServer } = require('../server/main') as typeof import('../server/main');
    await runServer({ listen: values.listen, policyFile: values.policy, tlsCert: values['tls-cert'], tlsKey: values['tls-key'] });
    return ExitCode.ok;
  },
  dev: async (args) => {
    const { parseFlags } = require('./io') as typeof import('./io');
    parseFlags(args, 'dev');
    const { runDev } = require('./dev') as typeof import('./dev');
    await runDev();
    return ExitCode.ok;
  },
  version: async () => {
    out(packageVersion());
    return ExitCode.ok;
  },
  help: async (args) => {
    if (!args.length) {
      out(overview());
      return ExitCode.ok;
    }
    const help = helpFor(args);
    if (!help) throw usage(`There is no command "${args.join(' ')}". Run "countersign help".`);
    out(help);
    return ExitCode.ok;
  },
};

/** `--help` or `-h` anywhere before a `--` (after it come an upstream's own arguments). */
function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

async function run(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined) {
    out(overview());
    return ExitCode.usage;
  }
  if (command === '--help' || command === '-h') return RUN.help([]);
  if (command === '--version') return RUN.version([]);
  if (!Object.hasOwn(RUN, command)) throw usage(`Unknown command "${command}". Run "countersign help".`);
  // Any command's --help is its entry in the table, whatever else the line holds: exit 0, nothing run.
  if (asksForHelp(argv)) {
    const words = argv.filter((a) => !a.startsWith('-'));
    return RUN.help(words[0] === 'help' && words.length > 1 ? words.slice(1) : words);
  }
  return RUN[command as TopCommand](args);
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
  StoreNotReady: ExitCode.usage,
  StoreUnavailable: ExitCode.unreachable,
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
