/** Every command's usage, in one light module: `countersign help` loads nothing else (common/paging.ts imports nothing). */
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../common/paging';

export const submitHelp = `countersign submit --file action.json [--wait 30s] [--agent NAME] [--json]
  Submits an action request and prints the decision, or the pending state with the request id
  when --wait runs out. On approval it prints the single-use token once (opened with the
  request's key, kept meanwhile in $COUNTERSIGN_HOME/agent-keys). Goes through the server
  (COUNTERSIGN_URL) as the agent whose key is COUNTERSIGN_API_KEY, else $COUNTERSIGN_HOME/agents/NAME.key
  for the file's agentId. Exit 0 only when approved;
  1 when denied, expired, changes were requested, already used or still pending; 2 for invalid input.`;

export const reviewHelp = `countersign review <command>       (every command takes --as NAME or COUNTERSIGN_REVIEWER)
  list [--group G] [--limit N] [--cursor C] [--json]
                                                 your queue: open requests routed to your groups, newest first,
                                                 N (default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE}) per page; when more wait, stderr
                                                 gives the command for the next page (--cursor)
  show <id> [--as NAME] [--json]                 everything needed to decide; remembers the version NAME was shown
  approve <id> [--edit payload.json] [--comment C]
  deny <id> --reason CODE --message "..."
  request-changes <id> --comment "..." [--propose payload.json]
  Decisions take --as NAME (or COUNTERSIGN_REVIEWER) and --json. A refused decision exits 1.
  A decision is on the version NAME was last shown by review show; --digest DIGEST (all 64 hex
  digits) names it instead, for scripts; on a terminal without either, the version is shown and
  confirmed. A payload changed since is refused STALE_VERSION: look again.
  --as NAME logs in to the server with NAME's key ($COUNTERSIGN_HOME/keys/reviewers/NAME.key, or
  --key FILE) and signs each decision with it; a request outside NAME's groups is not found (exit 3).`;

export const tokenHelp = `countersign consume <id> --token T --action action.json [--agent NAME] [--json]
  Spends the single-use token on the exact action about to run; prints the signed receipt.
countersign report <id> --status succeeded|failed [--message M] [--result-digest HEX] [--agent NAME] [--json]
  Reports how execution went, after consuming.`;

export const policyHelp = `countersign policy <command>
  check FILE [--json]                 validate a policy: every error with file, line and field path
  test FILE --action action.json      print the decision for one action as JSON, with its catalog entry and derived resource
                                      (starts nothing; exits 1 when the catalog refuses the action)`;

export const evidenceHelp = `countersign evidence <id> [--out FILE] [--agent NAME]
                                          export the evidence bundle (signed once the request has ended), through
                                          the server: an agent its own requests', an auditor's key any request's
countersign verify FILE --key PUB [--policy FILE]
                                          check chain, signatures and digests offline against the layer key you trust
                                          (and, with --policy, every reviewer signature against its directory);
                                          exit 1 names the first broken link, or an untrusted signer`;

export const keysHelp = `countersign keys init                 create the layer's Ed25519 signing key in $COUNTERSIGN_HOME/keys
countersign keys reviewer NAME        create a reviewer's Ed25519 key on this machine; prints the directory entry
countersign keys agent NAME [--gateway] [--save]
                                      a new API key for an agent (an MCP gateway with --gateway), printed once,
                                      and its directory entry (only the hash); --save also keeps it in
                                      $COUNTERSIGN_HOME/agents/NAME.key for the CLI
countersign keys auditor NAME         a new API key for an auditor (reads and verifies any evidence)
countersign keys server               create the server's start key ($COUNTERSIGN_HOME/keys/server-start.key, or
                                      COUNTERSIGN_START_KEY_FILE): it vouches for every workflow start; prints the
                                      directory entry (directory.server.startKey) the workers check it against
countersign keys show [NAME]          print the layer's (or a reviewer's) public key`;

export const clusterHelp = `countersign setup [--json]             register the countersign search attributes (idempotent)
countersign status [--json] [--quiet]  server reachable (exit 4 if not), namespace, search attributes, a worker polling`;

export const reviewersHelp = `countersign reviewers invite NAME [--expires 24h] [--replace] [--url URL]
                                      a one-time link for NAME to create a passkey in the web inbox (operators)
countersign reviewers confirm NAME --fingerprint XXXX-XXXX-XXXX-XXXX --policy FILE
                                      put NAME's registered passkey into FILE's directory: only then does it count.
                                      The fingerprint is the one NAME's enrol page showed them: ask NAME for it
                                      yourself, so that a passkey made from an intercepted link is never confirmed
countersign reviewers status NAME     where NAME's enrolment is (invited, registered, confirmed, expired)`;

export const mcpHelp = `countersign mcp-proxy [--policy FILE] [--agent-id ID] [--server-name NAME] [--hold 50s] -- <upstream command and args>
  An MCP gateway: serves the agent over stdio (or --listen [HOST:]PORT: Streamable HTTP at /mcp) and
  gates every tools/call to the upstream (a command, or --upstream-url URL) through countersign.
  Also --task-id ID (default: one per gateway process), --on-behalf-of NAME, and --print-pins
  (print the policy's mcp section with the upstream's current tool digests, then exit).
  Runs with a gateway API key (COUNTERSIGN_API_KEY, or --agent-id NAME's key in $COUNTERSIGN_HOME/agents)
  and no Temporal credentials: its requests go through the server as that gateway.`;
