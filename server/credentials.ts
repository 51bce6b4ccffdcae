import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CompiledDirectory } from '../policy/load';

/** Who a credential or a session names: identity is derived from it, never from a request body. */
export type Principal =
  | { role: 'agent'; name: string; gateway: boolean }
  | { role: 'auditor'; name: string }
  | { role: 'reviewer'; name: string; groups: string[] };

export type ApiKeyKind = 'agent' | 'gateway' | 'auditor';

/** `cs_<kind>_` and 256 random bits, base64url: recognisable in a leak scanner, useless without the directory entry. */
export const API_KEY_PATTERN = /^cs_(agent|gateway|auditor)_[A-Za-z0-9_-]{43}$/;

export function newApiKey(kind: ApiKeyKind): string {
  return `cs_${kind}_${randomBytes(32).toString('base64url')}`;
}

/** What the directory keeps of a key: its SHA-256 (a key has 256 random bits, so no slow hash is needed). */
export function apiKeyHash(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/**
 * The principal an API key names, or undefined. Every directory entry is compared, in constant
 * time, whatever matches first: how long this takes says nothing about which hash came close.
 */
export function authenticateApiKey(directory: CompiledDirectory, presented: string): Principal | undefined {
  if (!API_KEY_PATTERN.test(presented)) return undefined;
  const hash = Buffer.from(apiKeyHash(presented));
  let found: Principal | undefined;
  const compare = (keyHash: string, principal: Principal) => {
    const stored = Buffer.from(keyHash);
    if (stored.length === hash.length && timingSafeEqual(stored, hash) && !found) found = principal;
  };
  for (const [name, agent] of directory.agents) compare(agent.keyHash, { role: 'agent', name, gateway: agent.kind === 'gateway' });
  for (const [name, auditor] of directory.auditors) compare(auditor.keyHash, { role: 'auditor', name });
  // The key's kind prefix must agree with the directory entry: an auditor key is never an agent's.
  const kind = presented.split('_')[1];
  if (found?.role === 'auditor' && kind !== 'auditor') return undefined;
  if (found?.role === 'agent' && kind !== (found.gateway ? 'gateway' : 'agent')) return undefined;
  return found;
}
