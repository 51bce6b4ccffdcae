import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isMap, parseDocument } from 'yaml';
import { agentKeyPath, reviewerKeyPath, serverStartKeyPath } from '../config/home';
import { createKeyFile, loadKeyFile } from '../crypto/keys';
import { privateDir, writePrivateFile } from '../config/private-files';
import { apiKeyHash, newApiKey } from '../server/credentials';

export interface DevCredentials {
  /** The policy text with a directory naming every credential below. */
  policyText: string;
  /** Agent name → API key, as kept in $COUNTERSIGN_HOME/agents/NAME.key. */
  agentKeys: Map<string, string>;
  /** Reviewer name → path of their Ed25519 private key. */
  reviewerKeys: Map<string, string>;
  auditorKeys: Map<string, string>;
  /** The server's start key, $COUNTERSIGN_HOME/keys/server-start.key. */
  startKeyPath: string;
}

function readOrCreateApiKey(path: string, kind: 'agent' | 'gateway' | 'auditor'): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const key = newApiKey(kind);
  privateDir(dirname(path));
  writePrivateFile(path, `${key}\n`);
  return key;
}

/**
 * Local credentials for a development or test stack, made once under `home` and reused: an API key
 * per agent (gateways and auditors too), a signing key per reviewer the policy's groups name (unless
 * the policy already registers one), and the policy text with all of them in its directory.
 * Never for production: there, each principal makes their own key and the operator adds the entry.
 */
export function withDevCredentials(
  policyText: string,
  home: string,
  who: {
    agents: string[];
    gateways?: string[];
    auditors?: string[];
    /** The inbox's relying party, unless the policy names one. */
    webauthn?: { rpId: string; origins: string[] };
    /** A policy file written before (the last dev run's): reviewers' confirmed passkeys carry over from it. */
    passkeysFrom?: string;
    /** The server's own home, for its start key, when it is not `home` (a cluster keeps the server apart from the workers' keys). */
    serverHome?: string;
  },
): DevCredentials {
  const doc = parseDocument(policyText);
  if (who.webauthn && !doc.hasIn(['directory', 'webauthn'])) doc.setIn(['directory', 'webauthn'], doc.createNode(who.webauthn, { flow: true }));
  const groups = (doc.toJS() as { groups?: Record<string, { members?: string[]; reviewerKeys?: Record<string, string> }> }).groups ?? {};
  const registered = new Set(Object.values(groups).flatMap((g) => Object.keys(g.reviewerKeys ?? {})));
  const existing = doc.getIn(['directory', 'reviewers']);
  if (isMap(existing)) for (const item of existing.items) registered.add(String((item.key as { value?: unknown }).value ?? item.key));
  const agentKeys = new Map<string, string>();
  const reviewerKeys = new Map<string, string>();
  const auditorKeys = new Map<string, string>();
  const gateways = new Set(who.gateways ?? []);
  for (const name of [...new Set([...who.agents, ...gateways])]) {
    const kind = gateways.has(name) ? 'gateway' : 'agent';
    const key = readOrCreateApiKey(agentKeyPath(home, name), kind);
    agentKeys.set(name, key);
    doc.setIn(['directory', 'agents', name], doc.createNode({ keyHash: apiKeyHash(key), ...(kind === 'gateway' ? { kind } : {}) }, { flow: true }));
  }
  for (const name of who.auditors ?? []) {
    const key = readOrCreateApiKey(agentKeyPath(home, `auditor-${name}`), 'auditor');
    auditorKeys.set(name, key);
    doc.setIn(['directory', 'auditors', name], doc.createNode({ keyHash: apiKeyHash(key) }, { flow: true }));
  }
  for (const name of new Set(Object.values(groups).flatMap((g) => g.members ?? []))) {
    if (registered.has(name)) continue;
    const path = reviewerKeyPath(home, name);
    const signer = existsSync(path) ? loadKeyFile(path) : createKeyFile(path);
    reviewerKeys.set(name, path);
    doc.setIn(['directory', 'reviewers', name], doc.createNode({ key: signer.publicKey }, { flow: true }));
  }
  if (who.passkeysFrom && existsSync(who.passkeysFrom)) {
    const before = parseDocument(readFileSync(who.passkeysFrom, 'utf8')).toJS() as { directory?: { reviewers?: Record<string, { passkeys?: unknown[] }> } } | null;
    for (const [name, entry] of Object.entries(before?.directory?.reviewers ?? {})) {
      if (Array.isArray(entry?.passkeys) && entry.passkeys.length && doc.hasIn(['directory', 'reviewers', name])) {
        doc.setIn(['directory', 'reviewers', name, 'passkeys'], doc.createNode(entry.passkeys, { flow: true }));
      }
    }
  }
  // The front door's start key: the workers run only starts it vouched for.
  const startKeyPath = serverStartKeyPath(who.serverHome ?? home, {});
  const start = existsSync(startKeyPath) ? loadKeyFile(startKeyPath) : createKeyFile(startKeyPath);
  if (!doc.hasIn(['directory', 'server'])) doc.setIn(['directory', 'server'], doc.createNode({ startKey: start.publicKey }, { flow: true }));
  return { policyText: doc.toString(), agentKeys, reviewerKeys, auditorKeys, startKeyPath };
}
