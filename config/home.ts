import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * COUNTERSIGN_HOME and every key path under it: the one place that says where a file lives.
 * Read straight from the environment, without the Temporal settings the worker needs.
 */
export function cliHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.COUNTERSIGN_HOME || defaultHome());
}

/**
 * Without COUNTERSIGN_HOME: `~/.countersign`. Never a folder found in the current directory: whoever
 * controls that (an agent's workspace, a cloned repository) would then supply the keys the CLI signs
 * with and the versions a reviewer is bound to. `npm run dev` prints the export for its own.
 */
export function defaultHome(): string {
  return join(homedir(), '.countersign');
}

/** The layer's signing key (workers): it signs approval records, receipts and evidence. */
export const layerKeyPath = (home: string) => join(home, 'keys', 'layer.key');
export const reviewerKeyPath = (home: string, name: string) => join(home, 'keys', 'reviewers', `${name}.key`);
/** Agents' API keys, one `NAME.key` each (what `npm run dev` and `countersign keys agent` write). */
export const agentsDir = (home: string) => join(home, 'agents');
export const agentKeyPath = (home: string, name: string) => join(agentsDir(home), `${name}.key`);
/** Per-request X25519 keys of a CLI agent or gateway, so a restarted one can still open its token. */
export const agentKeysDir = (home: string) => join(home, 'agent-keys');
/**
 * The MCP gateway's secret: its per-request X25519 keys and the task ids it hands out are derived
 * from it (per gateway credential), so a restarted gateway still opens its tokens and reads its ids.
 */
export const gatewaySecretPath = (home: string) => join(home, 'mcp-gateway.secret');
/** The server's session secret when COUNTERSIGN_SESSION_SECRET is not set. */
export const sessionSecretPath = (home: string) => join(home, 'session.secret');
/** Signed evidence bundles, and the ledger of spent tokens under it. */
export const evidenceDir = (home: string) => join(home, 'evidence');

/** The front door's own key: it signs a voucher for each start; the workers never hold it. */
export const serverStartKeyPath = (home: string, env: NodeJS.ProcessEnv = process.env) => env.COUNTERSIGN_START_KEY_FILE || join(home, 'keys', 'server-start.key');

/** The front door's edge key (issue 29): it signs allows decided at the edge, and nothing else; never the layer key. */
export const edgeKeyPath = (home: string, env: NodeJS.ProcessEnv = process.env) => env.COUNTERSIGN_EDGE_KEY_FILE || join(home, 'keys', 'edge.key');
