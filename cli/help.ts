/**
 * Every command of the CLI, in one light module: its usage, what it does, its flags (the very spec its
 * parser reads, so --help cannot drift from what is accepted) and an example. main.ts dispatches by
 * this table, so a command without an entry here does not run. Loads nothing but common/paging.ts.
 */
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../common/paging';

/** A flag as node:util parseArgs takes it, with the placeholder and the line --help shows for it. */
export interface Flag {
  type: 'string' | 'boolean';
  short?: string;
  /** What the value is called in help (FILE, NAME, 30s…); string flags only. */
  value?: string;
  help: string;
}

export interface Command {
  /** The command line after `countersign`, with its positionals and main flags. */
  usage: string;
  /** What it does, in a line or a few. */
  about: string;
  flags: Readonly<Record<string, Flag>>;
  examples: readonly string[];
  /** Holds Temporal credentials (TEMPORAL_ADDRESS…) rather than going through the server. */
  operator?: true;
}

const json = { type: 'boolean', help: 'print JSON instead of text' } as const;
const agent = { type: 'string', value: 'NAME', help: "use NAME's API key from $COUNTERSIGN_HOME/agents/NAME.key (else COUNTERSIGN_API_KEY)" } as const;
const as = { type: 'string', value: 'NAME', help: "who is reviewing (else COUNTERSIGN_REVIEWER); logs in and signs with NAME's key" } as const;
const key = { type: 'string', value: 'FILE', help: 'sign with this Ed25519 key instead of $COUNTERSIGN_HOME/keys/reviewers/NAME.key' } as const;
const digest = { type: 'string', value: 'DIGEST', help: 'decide on this version (all 64 hex digits review show prints), for scripts' } as const;
const policy = { type: 'string', value: 'FILE', help: 'the policy file (else COUNTERSIGN_POLICY, default policy.yaml)' } as const;

const DECISION = `A decision is on the version you were last shown by review show; --digest names it instead. On a
terminal without either, the version is shown and confirmed. A payload changed since is refused
STALE_VERSION: look again. Exit 0 when accepted, 1 when refused, 3 when the request is not in your queue.`;

export const COMMANDS = {
  dev: {
    usage: 'dev',
    about: `Starts the local stack: a Temporal dev server and its UI, a worker with examples/policy.yaml, the
countersign server, and dev credentials in COUNTERSIGN_HOME; prints the exports the other commands need.
Ports: TEMPORAL_ADDRESS (127.0.0.1:7233), COUNTERSIGN_UI_PORT (the Temporal port + 1000, 8233),
COUNTERSIGN_LISTEN (127.0.0.1:7280).`,
    flags: {},
    examples: ['countersign dev', 'TEMPORAL_ADDRESS=127.0.0.1:17233 COUNTERSIGN_UI_PORT=18233 COUNTERSIGN_LISTEN=127.0.0.1:17280 countersign dev'],
    operator: true,
  },
  worker: {
    usage: 'worker [--policy FILE]',
    about: 'Runs a worker: polls the task queue (COUNTERSIGN_TASK_QUEUE) until SIGINT or SIGTERM; needs the layer key ($COUNTERSIGN_HOME/keys/layer.key).',
    flags: { policy },
    examples: ['TEMPORAL_ADDRESS=temporal:7233 countersign worker --policy /etc/countersign/policy.yaml'],
    operator: true,
  },
  server: {
    usage: 'server [--listen HOST:PORT] [--policy FILE] [--tls-cert FILE --tls-key FILE]',
    about: 'The front door for agents and reviewers: the HTTP API, the inbox, agent and reviewer authentication.',
    flags: {
      listen: { type: 'string', value: 'HOST:PORT', help: 'where to listen (else COUNTERSIGN_LISTEN, default 127.0.0.1:7280)' },
      policy,
      'tls-cert': { type: 'string', value: 'FILE', help: 'serve HTTPS with this certificate (PEM), with --tls-key' },
      'tls-key': { type: 'string', value: 'FILE', help: "the certificate's private key (PEM)" },
    },
    examples: ['countersign server --listen 0.0.0.0:7280 --policy /etc/countersign/policy.yaml'],
    operator: true,
  },
  setup: {
    usage: 'setup [--writer ROLE] [--reader ROLE] [--edge ROLE] [--json]',
    about: `With a database configured (COUNTERSIGN_DATABASE_URL or _HOST): applies the store's migrations as
its owner (COUNTERSIGN_DATABASE_ADMIN_URL, or _ADMIN_USER and _ADMIN_PASSWORD_FILE), each in one
transaction, and grants the workers' role countersign_writer (insert and read) and the server's
countersign_reader (read), or countersign_edge (read, and record edge allows) to a server that
decides them. Then registers the countersign search attributes in the namespace.
Running it again changes nothing.`,
    flags: {
      writer: { type: 'string', value: 'ROLE', help: "login role(s) the workers use, comma-separated (default: the user of COUNTERSIGN_DATABASE_URL or _USER)" },
      reader: { type: 'string', value: 'ROLE', help: 'login role(s) the server uses to read evidence and the log, comma-separated' },
      edge: { type: 'string', value: 'ROLE', help: 'login role(s) of a server that decides edge allows (reads, and records edge tokens, spends and bundles), comma-separated' },
      json,
    },
    examples: ['TEMPORAL_ADDRESS=127.0.0.1:7233 countersign setup', 'COUNTERSIGN_DATABASE_ADMIN_URL=postgresql://owner@db/countersign countersign setup --writer countersign --reader countersign_server'],
    operator: true,
  },
  status: {
    usage: 'status [--json] [--quiet]',
    about: `The countersign server (COUNTERSIGN_URL) answering, then Temporal (TEMPORAL_ADDRESS): reachable (exit 4
if not), the namespace, the search attributes and a worker polling. Exit 0 when all are ready.`,
    flags: { json, quiet: { type: 'boolean', short: 'q', help: 'print nothing; exit 0 once Temporal answers and the namespace exists (a healthcheck)' } },
    examples: ['countersign status', 'COUNTERSIGN_URL=http://127.0.0.1:17280 TEMPORAL_ADDRESS=127.0.0.1:17233 countersign status --json'],
    operator: true,
  },
  submit: {
    usage: 'submit --file action.json [--wait 30s] [--agent NAME] [--json]',
    about: `Submits an action request and prints the decision, or the pending state with the request id when
--wait runs out. On approval it prints the single-use token once (opened with the request's key, kept
meanwhile in $COUNTERSIGN_HOME/agent-keys). Goes through the server (COUNTERSIGN_URL) as the agent whose
key is COUNTERSIGN_API_KEY, else $COUNTERSIGN_HOME/agents/NAME.key for the file's agentId.
Exit 0 only when approved; 1 when denied, expired, changes were requested, already used or still
pending; 2 for invalid input.`,
    flags: {
      file: { type: 'string', short: 'f', value: 'FILE', help: 'the action request (JSON)' },
      wait: { type: 'string', value: 'DURATION', help: 'how long to wait for a decision, such as 30s or 5m (default: do not wait)' },
      agent,
      json,
    },
    examples: ['countersign submit --file examples/actions/refund-small.json --wait 10s'],
  },
  consume: {
    usage: 'consume <id> --token T --action action.json [--agent NAME] [--json]',
    about: 'Spends the single-use token on the exact action about to run; prints the signed receipt. Exit 1 when refused.',
    flags: {
      token: { type: 'string', value: 'T', help: 'the token submit printed once' },
      action: { type: 'string', value: 'FILE', help: 'the exact action about to run (JSON)' },
      agent,
      json,
    },
    examples: ['countersign consume 3ccffd4dc88873bc --token cst_… --action examples/actions/refund-small.json'],
  },
  report: {
    usage: 'report <id> --status succeeded|failed [--message M] [--result-digest HEX] [--agent NAME] [--json]',
    about: 'Reports how execution went, after consuming.',
    flags: {
      status: { type: 'string', value: 'succeeded|failed', help: 'how it went' },
      message: { type: 'string', value: 'M', help: 'a line about it, kept in the evidence' },
      'result-digest': { type: 'string', value: 'HEX', help: "a digest of the result, kept in the evidence" },
      agent,
      json,
    },
    examples: ['countersign report 3ccffd4dc88873bc --agent support-bot --status succeeded'],
  },
  'review list': {
    usage: 'review list [--group G] [--limit N] [--cursor C] [--as NAME] [--json]',
    about: `Your queue: open requests routed to your groups, newest first, N (default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE}) per
page; when more wait, stderr gives the command for the next page (--cursor).`,
    flags: {
      group: { type: 'string', short: 'g', value: 'G', help: 'only requests routed to group G' },
      limit: { type: 'string', value: 'N', help: `rows per page, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})` },
      cursor: { type: 'string', value: 'C', help: 'the next page, as the previous page named it' },
      as,
      key,
      json,
    },
    examples: ['countersign review list --as dave'],
  },
  'review show': {
    usage: 'review show <id> [--as NAME] [--json]',
    about: 'Everything needed to decide on a request; remembers the version NAME was shown, which a decision is then bound to. A request outside your groups is not found (exit 3).',
    flags: { as, key, json },
    examples: ['countersign review show 6bfc8b4a --as dave'],
  },
  'review approve': {
    usage: 'review approve <id> [<id> ...] [--edit payload.json] [--comment C] [--as NAME] [--json]',
    about: `Approves the request, signed with your key; --edit approves an edited payload instead (policy re-runs on it).
Several ids (up to 50) approve them as one batch with one signature; each answers alone (exit 1 if any
is refused), and one you may not decide, or whose rule says batch: false, refuses the whole batch.
${DECISION}`,
    flags: {
      edit: { type: 'string', value: 'FILE', help: 'approve this payload (JSON) instead of the one shown' },
      comment: { type: 'string', value: 'C', help: 'a comment, kept in the evidence' },
      as,
      key,
      digest,
      json,
    },
    examples: ['countersign review approve 6bfc8b4a --as dave', 'countersign review approve 6bfc8b4a 91c2d0e7 0f3a55b2 --as dave'],
  },
  'review deny': {
    usage: 'review deny <id> --reason CODE --message "..." [--as NAME] [--json]',
    about: `Denies the request, signed with your key; the agent sees REVIEWER_DENIED with your code and message.
${DECISION}`,
    flags: {
      reason: { type: 'string', value: 'CODE', help: 'why, as an upper-case code such as DUPLICATE' },
      message: { type: 'string', value: 'TEXT', help: 'why, in words the agent is shown' },
      as,
      key,
      digest,
      json,
    },
    examples: ['countersign review deny 6bfc8b4a --as dave --reason DUPLICATE --message "Refunded already."'],
  },
  'review request-changes': {
    usage: 'review request-changes <id> --comment "..." [--propose payload.json] [--as NAME] [--json]',
    about: `Sends the request back to the agent with what to change, and optionally a payload to submit instead.
${DECISION}`,
    flags: {
      comment: { type: 'string', value: 'TEXT', help: 'what to change' },
      propose: { type: 'string', value: 'FILE', help: 'a payload (JSON) the agent may submit instead' },
      as,
      key,
      digest,
      json,
    },
    examples: ['countersign review request-changes 6bfc8b4a --as dave --comment "Only the duplicate charge."'],
  },
  'policy check': {
    usage: 'policy check FILE [--json]',
    about: 'Validates a policy: every error with file, line and field path (exit 2).',
    flags: { json },
    examples: ['countersign policy check examples/policy.yaml'],
  },
  'policy test': {
    usage: 'policy test FILE --action action.json',
    about: 'Prints the decision for one action as JSON, with its catalog entry and derived resource. Starts nothing; exits 1 when the catalog refuses the action.',
    flags: { action: { type: 'string', short: 'a', value: 'FILE', help: 'the action request (JSON)' }, json },
    examples: ['countersign policy test examples/policy.yaml --action examples/actions/refund-large.json'],
  },
  'policy simulate': {
    usage: 'policy simulate CANDIDATE [--since 30d] [--json]',
    about: `Re-evaluates every request recorded in the window with a candidate policy, here, with an auditor's
API key (COUNTERSIGN_API_KEY): the worker's own checks (schema, catalog, directory, rules). Prints what
would change per kind (allow→review, review→deny, routed to another group, approvals 1→2), per action and
per rule, with example request ids; requests failing the candidate's schemas are counted apart. Starts
nothing and writes nothing.`,
    flags: { since: { type: 'string', value: 'DURATION', help: 'how far back to replay, e.g. 30d or 12h (default 30d, at most 366d)' }, json },
    examples: ['COUNTERSIGN_API_KEY=cs_auditor_… countersign policy simulate stricter.yaml --since 30d'],
  },
  insights: {
    usage: 'insights [--since 7d] [--json]',
    about: `What got automated, blocked and reviewed, from sealed evidence, with an auditor's API key
(COUNTERSIGN_API_KEY): outcomes by action, rule and agent; the share automated; time to decide per
group and reviewer (p50/p90); SLA breaches and escalations; per reviewer, approval rate, median time
from shown to decided and the share decided within 10 s, flagging what looks like rubber-stamping.`,
    flags: { since: { type: 'string', value: 'DURATION', help: 'the window back from now, e.g. 7d or 12h (default 7d, at most 366d)' }, json },
    examples: ['COUNTERSIGN_API_KEY=cs_auditor_… countersign insights --since 30d'],
  },
  evidence: {
    usage: 'evidence <id> [--out FILE] [--agent NAME]',
    about: `Exports the evidence bundle (signed once the request has ended) through the server: an agent its own
requests', an auditor's key any request's.`,
    flags: { out: { type: 'string', short: 'o', value: 'FILE', help: 'write the bundle to FILE instead of stdout' }, agent },
    examples: ['countersign evidence 3ccffd4dc88873bc --out refund.evidence.json'],
  },
  verify: {
    usage: 'verify FILE --key PUB [--edge-key PUB] [--policy FILE] [--json]',
    about: `Checks a bundle's chain, signatures and digests offline against the layer key you trust (and, with
--policy, every reviewer signature against its directory). A bundle that carries a log proof is also
proven to be in the evidence log (its checkpoint signed by the same key); one without says it is not.
A bundle decided at the edge (a policy allow the server made without a workflow) is signed by the
edge key: it verifies only with --edge-key, says "decided at the edge", and may hold no reviewer.
Exit 1 names the first broken link, or an untrusted signer.`,
    flags: {
      key: { type: 'string', value: 'PUB', help: "the layer's public key you trust, or a file holding it (keys show prints it)" },
      'edge-key': { type: 'string', value: 'PUB', help: "the edge's public key you trust (keys/edge.pub), for bundles decided at the edge" },
      policy: { type: 'string', value: 'FILE', help: 'check every reviewer signature against this policy\'s directory' },
      json,
    },
    examples: ['countersign verify refund.evidence.json --key .countersign/keys/layer.pub'],
  },
  'log audit': {
    usage: 'log audit --key PUB [--edge-key PUB] [--checkpoint FILE] [--json]',
    about: `Audits the evidence log with an auditor's API key (COUNTERSIGN_API_KEY): its latest checkpoint is
signed by the layer key and extends the one you kept (else the log was truncated or forked), its
leaves hash to that checkpoint, and every leaf's bundle is in the store, verifies and is the one
logged. Prints one line per finding, naming the request; exit 1 on any. Keeps the new checkpoint in
FILE (default $COUNTERSIGN_HOME/audit/<key id>.checkpoint) once it checks out, for the next audit.`,
    flags: {
      key: { type: 'string', value: 'PUB', help: "the layer's public key you trust, or a file holding it (keys show prints it)" },
      'edge-key': { type: 'string', value: 'PUB', help: "the edge's public key you trust: leaves of allows decided at the edge verify only with it" },
      checkpoint: { type: 'string', value: 'FILE', help: 'the checkpoint you kept from the last audit, read and then replaced (made if missing)' },
      json,
    },
    examples: ['COUNTERSIGN_API_KEY=cs_auditor_… countersign log audit --key layer.pub --checkpoint audit/countersign.checkpoint'],
  },
  'keys init': {
    usage: 'keys init [--json]',
    about: "Creates the layer's Ed25519 signing key in $COUNTERSIGN_HOME/keys (mode 0600); refuses to replace one.",
    flags: { json },
    examples: ['COUNTERSIGN_HOME=/var/lib/countersign countersign keys init'],
  },
  'keys reviewer': {
    usage: 'keys reviewer NAME [--json]',
    about: "Creates a reviewer's Ed25519 key on this machine and prints the directory entry to add to the policy.",
    flags: { json },
    examples: ['countersign keys reviewer dave'],
  },
  'keys agent': {
    usage: 'keys agent NAME [--gateway] [--save] [--json]',
    about: `A new API key for an agent (an MCP gateway with --gateway), printed once, and its directory entry
(only the hash).`,
    flags: {
      gateway: { type: 'boolean', help: 'a key for an MCP gateway' },
      save: { type: 'boolean', help: 'also keep it in $COUNTERSIGN_HOME/agents/NAME.key (mode 0600) for the CLI' },
      json,
    },
    examples: ['countersign keys agent billing-bot --save'],
  },
  'keys auditor': {
    usage: 'keys auditor NAME [--json]',
    about: 'A new API key for an auditor (reads and verifies any evidence), printed once, and its directory entry.',
    flags: { json },
    examples: ['countersign keys auditor audrey'],
  },
  'keys server': {
    usage: 'keys server [--json]',
    about: `Creates the server's Ed25519 start key ($COUNTERSIGN_HOME/keys/server-start.key, or COUNTERSIGN_START_KEY_FILE;
mode 0600), with which the server vouches for every workflow start, and prints the directory entry
(directory.server.startKey) the workers check each start against. Run it where the server runs;
refuses to replace a key.`,
    flags: { json },
    examples: ['countersign keys server'],
  },
  'keys edge': {
    usage: 'keys edge [--json]',
    about: `Creates the server's Ed25519 edge key ($COUNTERSIGN_HOME/keys/edge.key, or COUNTERSIGN_EDGE_KEY_FILE;
mode 0600). With it the server decides the allows of rules marked edge: true itself, without a
workflow, and signs their tokens' records and evidence with it, never with the layer key. Give
auditors keys/edge.pub. Run it where the server runs; refuses to replace a key.`,
    flags: { json },
    examples: ['countersign keys edge'],
  },
  'keys show': {
    usage: 'keys show [NAME] [--json]',
    about: "Prints the layer's public key, or reviewer NAME's.",
    flags: { json },
    examples: ['countersign keys show'],
  },
  'reviewers invite': {
    usage: 'reviewers invite NAME [--expires 24h] [--replace] [--url URL] [--json]',
    about: 'A one-time link for NAME to create a passkey in the web inbox. Talks to Temporal directly (TEMPORAL_ADDRESS).',
    flags: {
      expires: { type: 'string', value: 'DURATION', help: 'how long the link works (default 24h)' },
      replace: { type: 'boolean', help: 'withdraw an open enrolment of NAME and invite again' },
      url: { type: 'string', value: 'URL', help: "the server's public URL the link starts with (default COUNTERSIGN_URL, as localhost)" },
      json,
    },
    examples: ['countersign reviewers invite alice'],
    operator: true,
  },
  'reviewers confirm': {
    usage: 'reviewers confirm NAME --fingerprint XXXX-XXXX-XXXX-XXXX --policy FILE [--json]',
    about: `Puts NAME's registered passkey into FILE's directory: only then does it count. The fingerprint is the
one NAME's enrol page showed them: ask NAME for it yourself, so that a passkey made from an intercepted
link is never confirmed.`,
    flags: {
      fingerprint: { type: 'string', value: 'XXXX-XXXX-XXXX-XXXX', help: "the fingerprint NAME's enrol page showed" },
      policy: { type: 'string', value: 'FILE', help: 'the policy whose directory the passkey goes into' },
      json,
    },
    examples: ['countersign reviewers confirm alice --fingerprint 3F9C-1A2B-77E0-C4D1 --policy .countersign/dev-policy.yaml'],
    operator: true,
  },
  'reviewers status': {
    usage: 'reviewers status NAME [--json]',
    about: "Where NAME's enrolment is: invited, registered, confirmed, expired.",
    flags: { json },
    examples: ['countersign reviewers status alice'],
    operator: true,
  },
  'mcp-proxy': {
    usage: 'mcp-proxy [--policy FILE] [--agent-id ID] [--server-name NAME] [--hold 50s] -- <upstream command and args>',
    about: `An MCP gateway: serves the agent over stdio (or --listen: Streamable HTTP at /mcp) and gates every
tools/call to the upstream (a command, or --upstream-url URL) through countersign. Runs with a gateway
API key (COUNTERSIGN_API_KEY, or --agent-id NAME's key in $COUNTERSIGN_HOME/agents) and no Temporal
credentials: its requests go through the server as that gateway. Serves MCP 2025-11-25 (and older) and
2026-07-28, with the tasks extension: see docs/mcp.md.`,
    flags: {
      policy: { type: 'string', value: 'FILE', help: "the policy whose mcp section names trusted servers and pins (else COUNTERSIGN_POLICY)" },
      'agent-id': { type: 'string', value: 'ID', help: 'the gateway agent, whose key is in $COUNTERSIGN_HOME/agents/ID.key' },
      'server-name': { type: 'string', value: 'NAME', help: "the upstream's name in action names (default: from its command or URL)" },
      'task-id': { type: 'string', value: 'ID', help: 'the task the calls belong to (default: one per gateway process)' },
      'on-behalf-of': { type: 'string', value: 'NAME', help: 'the human the agent acts for' },
      hold: { type: 'string', value: 'DURATION', help: 'how long a call waits for a decision before answering pending (default 50s, at most 10m); a 2026-07-28 client with the tasks extension gets a task instead' },
      'upstream-url': { type: 'string', value: 'URL', help: 'an upstream MCP server over Streamable HTTP, instead of a command' },
      listen: { type: 'string', value: '[HOST:]PORT', help: 'serve Streamable HTTP at /mcp instead of stdio (0 picks a free port)' },
      'print-pins': { type: 'boolean', help: "print the policy's mcp section with the upstream's current tool digests, then exit" },
    },
    examples: ['countersign mcp-proxy --agent-id mcp-gateway -- npx @modelcontextprotocol/server-filesystem /tmp'],
  },
  version: {
    usage: 'version',
    about: "Prints countersign's version (also --version).",
    flags: {},
    examples: ['countersign version'],
  },
  help: {
    usage: 'help [COMMAND]',
    about: "Prints every command, or one command's usage, flags and an example (also COMMAND --help).",
    flags: {},
    examples: ['countersign help review approve'],
  },
} as const satisfies Record<string, Command>;

export type CommandName = keyof typeof COMMANDS;
/** The first word of each command: what main.ts dispatches on. */
export type TopCommand = CommandName extends infer N ? (N extends `${infer Top} ${string}` ? Top : N) : never;

/** Commands with subcommands, and what the group is for. */
const GROUPS: Record<string, string> = {
  review: 'Reviewers: your queue, a request in full, and signed decisions (--as NAME or COUNTERSIGN_REVIEWER).',
  policy: 'Check a policy file, test one action against it, or simulate it on recorded requests; starts nothing.',
  keys: 'Keys for the layer, reviewers, agents and auditors, kept in $COUNTERSIGN_HOME.',
  log: 'The evidence log, for auditors: every sealed bundle is one leaf of a signed Merkle tree.',
  reviewers: 'Passkey enrolment for the web inbox (operators: talks to Temporal directly).',
};

const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);

/** The flag's spelling in help: `-f, --file FILE`. */
function flagLabel(name: string, flag: Flag): string {
  return `${flag.short ? `-${flag.short}, ` : ''}--${name}${flag.type === 'string' ? ` ${flag.value ?? 'VALUE'}` : ''}`;
}

/** One command's help: usage, what it does, every flag it takes, an example. */
export function commandHelp(name: CommandName): string {
  const c: Command = COMMANDS[name];
  const rows = [...Object.entries(c.flags).map(([f, spec]) => [flagLabel(f, spec), spec.help] as const), ['-h, --help', 'show this help'] as const];
  const width = Math.max(...rows.map(([label]) => label.length));
  return [
    `Usage: countersign ${c.usage}`,
    '',
    c.about,
    '',
    'Flags:',
    ...rows.map(([label, help]) => `  ${label.padEnd(width)}  ${help}`),
    '',
    c.examples.length > 1 ? 'Examples:' : 'Example:',
    ...c.examples.map((e) => `  ${e}`),
  ].join('\n');
}

/** A group's help: what it is for and each subcommand's usage. */
export function groupHelp(group: string): string {
  const subs = (Object.keys(COMMANDS) as CommandName[]).filter((n) => n.startsWith(`${group} `));
  return [
    `Usage: countersign ${group} <command>`,
    '',
    GROUPS[group] ?? '',
    '',
    'Commands:',
    ...subs.map((n) => `  countersign ${COMMANDS[n].usage}`),
    '',
    `Run countersign ${group} <command> --help for a command's flags and an example.`,
  ].join('\n');
}

export const isGroup = (name: string) => Object.hasOwn(GROUPS, name);

/** The help for the longest command or group the words name (`review approve 1234` → review approve), if any. */
export function helpFor(words: string[]): string | undefined {
  const [first, second] = words;
  if (first && second && isCommand(`${first} ${second}`)) return commandHelp(`${first} ${second}` as CommandName);
  if (first && isGroup(first)) return groupHelp(first);
  if (first && isCommand(first)) return commandHelp(first);
  return undefined;
}

/** Every command on one page: `countersign help`. */
export function overview(): string {
  const line = (n: CommandName) => {
    const usage = `countersign ${COMMANDS[n].usage}`;
    const summary = COMMANDS[n].about.split('\n')[0]!.replace(/:.*$|\. .*$/, '').replace(/\.$/, '');
    return usage.length <= 44 ? `  ${usage.padEnd(44)}  ${summary}` : `  ${usage}\n  ${' '.repeat(44)}  ${summary}`;
  };
  const names = Object.keys(COMMANDS) as CommandName[];
  return `countersign — human approval for AI agent actions, on Temporal

Operators (hold the Temporal credentials):
${names.filter((n) => 'operator' in COMMANDS[n]).map(line).join('\n')}

Agents, reviewers and auditors (through the server; no Temporal credentials):
${names.filter((n) => !('operator' in COMMANDS[n])).map(line).join('\n')}

Run countersign COMMAND --help (or countersign help COMMAND) for its flags and an example.
Environment: agents COUNTERSIGN_URL (http://127.0.0.1:7280), COUNTERSIGN_API_KEY; reviewers
  COUNTERSIGN_REVIEWER; operators TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default),
  COUNTERSIGN_TASK_QUEUE (countersign), COUNTERSIGN_POLICY, COUNTERSIGN_SESSION_SECRET; countersign dev
  also COUNTERSIGN_LISTEN (127.0.0.1:7280) and COUNTERSIGN_UI_PORT (the Temporal port + 1000); all COUNTERSIGN_HOME.
Exit codes: 0 ok, 1 refused or denied, 2 usage or invalid input, 3 not found, 4 cannot reach the server or Temporal.`;
}
