import { createDecipheriv, createPrivateKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sealAad, sealKey, x25519PublicKey } from '../activities/tokens';
import type { SealedToken } from '../common/schema';

/** An agent's X25519 key pair for one request: the private half never leaves the agent. */
export interface AgentKey {
  privateKey: KeyObject;
  /** Raw 32-byte public key, base64: the request's agentKey. */
  publicKey: string;
}

export function generateAgentKey(): AgentKey {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicKey: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64') };
}

/** Opens a token sealed to this key; throws when the box was not sealed to it or was altered. */
export function openToken(key: AgentKey, sealed: SealedToken, workflowId: string, tokenId: string): string {
  const epk = Buffer.from(sealed.epk, 'base64');
  const shared = diffieHellman({ privateKey: key.privateKey, publicKey: x25519PublicKey(sealed.epk) });
  const decipher = createDecipheriv('aes-256-gcm', sealKey(shared, epk, Buffer.from(key.publicKey, 'base64')), Buffer.from(sealed.iv, 'base64'));
  decipher.setAAD(Buffer.from(sealAad(workflowId, tokenId), 'utf8'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]).toString('utf8');
}

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
