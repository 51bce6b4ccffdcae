import { createPrivateKey, hkdfSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentKeyFromSeed, type AgentKey } from '../crypto/tokens';

export { generateAgentKey, openToken, type AgentKey } from '../crypto/tokens';

/** Where an agent keeps its per-request keys: in memory, or in files so a restarted agent can still open its token. */
export interface AgentKeyStore {
  get(workflowId: string): AgentKey | undefined;
  put(workflowId: string, key: AgentKey): void;
  delete(workflowId: string): void;
}

export function memoryKeyStore(): AgentKeyStore {
  const keys = new Map<string, AgentKey>();
  return { get: (id) => keys.get(id), put: (id, key) => void keys.set(id, key), delete: (id) => void keys.delete(id) };
}

/**
 * Per-request keys derived from a secret the agent keeps (HKDF-SHA256, the workflow id as info):
 * nothing is written per request, and a restarted agent with the same secret opens its tokens.
 * `fallback` is asked first, for keys an earlier version stored (e.g. a fileKeyStore).
 */
export function derivedKeyStore(secret: Uint8Array, fallback?: AgentKeyStore): AgentKeyStore {
  if (secret.length < 32) throw new Error('The secret keys are derived from must be at least 32 bytes.');
  const derive = (workflowId: string) => agentKeyFromSeed(new Uint8Array(hkdfSync('sha256', secret, 'countersign/agent-key/v1', workflowId, 32)));
  return {
    get: (workflowId) => fallback?.get(workflowId) ?? derive(workflowId),
    put: () => undefined, // derived again whenever it is asked for
    delete: (workflowId) => fallback?.delete(workflowId),
  };
}

/** One PEM file per request (mode 0600) under `dir`, e.g. $COUNTERSIGN_HOME/agent-keys. */
export function fileKeyStore(dir: string): AgentKeyStore {
  const path = (workflowId: string) => join(dir, `${workflowId.replace(/[^A-Za-z0-9._-]/g, '_')}.pem`);
  return {
    get(workflowId) {
      if (!existsSync(path(workflowId))) return undefined;
      const privateKey = createPrivateKey(readFileSync(path(workflowId)));
      const jwk = privateKey.export({ format: 'jwk' });
      return { privateKey, publicKey: Buffer.from(jwk.x!, 'base64url').toString('base64') };
    },
    put(workflowId, key) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(path(workflowId), key.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
      chmodSync(path(workflowId), 0o600);
    },
    delete(workflowId) {
      rmSync(path(workflowId), { force: true });
    },
  };
}
