import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { agentKeyPath, edgeKeyPath, layerKeyPath, reviewerKeyPath, serverStartKeyPath } from '../../config/home';
import { createKeyFile, loadKeyFile } from '../../crypto/keys';
import { ExitCode } from '../../common/codes';
import { apiKeyHash, newApiKey } from '../../server/credentials';
import { loadConfig } from '../../config/env';
import { usage } from '../errors';
import { out, parseFlags, printJson } from '../io';
import { groupHelp } from '../help';


export async function keysCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'init' && sub !== 'reviewer' && sub !== 'agent' && sub !== 'auditor' && sub !== 'server' && sub !== 'edge' && sub !== 'show') throw usage(groupHelp('keys'));
  // Each subcommand takes its own flags: --gateway and --save only keys agent.
  const parsed = sub === 'agent' ? parseFlags(rest, 'keys agent') : parseFlags(rest, `keys ${sub}`);
  const values: { json?: boolean; gateway?: boolean; save?: boolean } = parsed.values;
  const [name] = parsed.positionals;
  const { home } = loadConfig();
  if (sub === 'agent' || sub === 'auditor') return apiKey(sub, checkName(name, sub), home, { gateway: values.gateway === true, save: values.save === true, json: values.json === true });
  if (sub === 'server') {
    if (name) throw usage('keys server takes no NAME (see countersign keys server --help).');
    const path = serverStartKeyPath(home);
    if (existsSync(path)) throw usage(`A key already exists at ${path} (public key ${loadKeyFile(path).publicKey}).`);
    const signer = createKeyFile(path);
    if (values.json) printJson({ keyId: signer.keyId, publicKey: signer.publicKey, path, directory: { server: { startKey: signer.publicKey } } });
    else out(`Created the server's start key at ${path}: only the server reads it (the workers need only its public key).\nAdd to the policy's directory:\ndirectory:\n  server: { startKey: "${signer.publicKey}" }`);
    return ExitCode.ok;
  }
  if (sub === 'edge') {
    if (name) throw usage('keys edge takes no NAME (see countersign keys edge --help).');
    const path = edgeKeyPath(home);
    if (existsSync(path)) throw usage(`A key already exists at ${path} (public key ${loadKeyFile(path).publicKey}).`);
    const signer = createKeyFile(path);
    if (values.json) printJson({ keyId: signer.keyId, publicKey: signer.publicKey, path });
    else out(`Created the edge key at ${path}: only the server reads it, and signs with it only allows decided at the edge.\nGive auditors its public key (${path.replace(/\.key$/, '.pub')}): verify --edge-key and log audit --edge-key check edge bundles with it.`);
    return ExitCode.ok;
  }
  if (sub === 'reviewer' && !name) throw usage(`keys reviewer needs a NAME (see countersign keys reviewer --help).`);
  const path = sub === 'init' || (sub === 'show' && !name) ? layerKeyPath(home) : reviewerKeyPath(home, checkName(name, sub));
  if (sub === 'show') {
    const signer = loadKeyFile(path);
    if (values.json) printJson({ keyId: signer.keyId, publicKey: signer.publicKey });
    else out(signer.publicKey);
    return ExitCode.ok;
  }
  if (existsSync(path)) throw usage(`A key already exists at ${path} (public key ${readFileSync(path.replace(/\.key$/, '.pub'), 'utf8').trim()}).`);
  const signer = createKeyFile(path);
  if (values.json) printJson({ keyId: signer.keyId, publicKey: signer.publicKey, path, ...(sub === 'reviewer' ? { directory: { reviewers: { [name!]: { key: signer.publicKey } } } } : {}) });
  else if (sub === 'init') out(`Created the layer signing key ${signer.keyId} at ${path}\nPublic key (verify evidence with it): ${signer.publicKey}`);
  else out(`Created ${name}'s signing key at ${path} (it never leaves this machine).\nAdd to the policy's directory, and ${name} to their groups' members:\ndirectory:\n  reviewers:\n    ${name}: { key: "${signer.publicKey}" }`);
  return ExitCode.ok;
}

function apiKey(kind: 'agent' | 'auditor', name: string, home: string, o: { gateway: boolean; save: boolean; json: boolean }): number {
  if (o.gateway && kind !== 'agent') throw usage('--gateway applies to keys agent only.');
  const key = newApiKey(o.gateway ? 'gateway' : kind);
  const hash = apiKeyHash(key);
  let saved: string | undefined;
  if (o.save) {
    saved = agentKeyPath(home, name);
    if (existsSync(saved)) throw usage(`A key for ${name} is already saved at ${saved}; remove it first to replace it.`);
    mkdirSync(dirname(saved), { recursive: true, mode: 0o700 });
    writeFileSync(saved, `${key}\n`, { mode: 0o600 });
    chmodSync(saved, 0o600);
  }
  const section = kind === 'auditor' ? 'auditors' : 'agents';
  const entry = kind === 'auditor' ? { keyHash: hash } : { keyHash: hash, ...(o.gateway ? { kind: 'gateway' } : {}) };
  if (o.json) {
    printJson({ name, key, keyHash: hash, directory: { [section]: { [name]: entry } }, ...(saved ? { path: saved } : {}) });
    return ExitCode.ok;
  }
  out(`API key for ${kind === 'auditor' ? 'auditor' : o.gateway ? 'gateway' : 'agent'} ${name} (shown once; countersign keeps only its hash):\n  ${key}`);
  if (saved) out(`Saved at ${saved} (mode 0600).`);
  out(`Add to the policy's directory:\ndirectory:\n  ${section}:\n    ${name}: { keyHash: "${hash}"${o.gateway ? ', kind: gateway' : ''} }`);
  return ExitCode.ok;
}

function checkName(name: string | undefined, sub: string): string {
  if (!name) throw usage(`keys ${sub} needs a NAME (see countersign keys ${sub} --help).`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(name)) throw usage(`"${name}" is not a name (letters, digits and . _ : @ -).`);
  return name;
}
