import { existsSync, readFileSync } from 'node:fs';
import { createKeyFile, layerKeyPath, loadKeyFile, reviewerKeyPath } from '../../../activities/keys';
import { ExitCode } from '../../../common/codes';
import { loadConfig } from '../../../worker/config';
import { usage } from '../errors';
import { out, parseFlags, printJson } from '../io';

export const keysHelp = `countersign keys init                 create the layer's Ed25519 signing key in $COUNTERSIGN_HOME/keys
countersign keys reviewer NAME        create a reviewer's Ed25519 key; prints the public key for the policy
countersign keys show [NAME]          print the layer's (or a reviewer's) public key`;

export async function keysCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { json: { type: 'boolean' } });
  const [sub, name] = positionals;
  const { home } = loadConfig();
  const path = sub === 'init' || (sub === 'show' && !name) ? layerKeyPath(home) : name ? reviewerKeyPath(home, checkName(name)) : undefined;
  if (!path || !['init', 'reviewer', 'show'].includes(sub ?? '')) throw usage(keysHelp);
  if (sub === 'show') {
    const signer = loadKeyFile(path);
    if (values.json) printJson({ keyId: signer.keyId, publicKey: signer.publicKey });
    else out(signer.publicKey);
    return ExitCode.ok;
  }
  if (existsSync(path)) throw usage(`A key already exists at ${path} (public key ${readFileSync(path.replace(/\.key$/, '.pub'), 'utf8').trim()}).`);
  const signer = createKeyFile(path);
  if (values.json) printJson({ keyId: signer.keyId, publicKey: signer.publicKey, path });
  else if (sub === 'init') out(`Created the layer signing key ${signer.keyId} at ${path}\nPublic key (verify evidence with it): ${signer.publicKey}`);
  else out(`Created ${name}'s key at ${path}\nAdd to the policy, in each group ${name} belongs to:\n  reviewerKeys: { ${name}: "${signer.publicKey}" }`);
  return ExitCode.ok;
}

function checkName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(name)) throw usage(`"${name}" is not a reviewer name (letters, digits and . _ : @ -).`);
  return name;
}
