import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadPolicyFile } from '../../policy/load';
import { verifyBundle, type EvidenceBundle, type TrustedDirectory } from '../../common/bundle';
import { ExitCode } from '../../common/codes';
import { connectAgent } from '../connect';
import { CliError, usage } from '../errors';
import { out, parseFlags, printJson, readJsonFile } from '../io';


export async function evidenceCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, 'evidence');
  const id = positionals[0];
  if (!id) throw usage('evidence needs a request id.');
  const { cs, close } = await connectAgent({ agent: values.agent ?? /^cs-(.+)-[0-9a-f]{16}$/.exec(id)?.[1] });
  let text: string;
  try {
    const view = await cs.evidence(id);
    if (!view.sealed) process.stderr.write('countersign: the request is still open: this is the evidence so far, not yet signed.\n');
    text = `${JSON.stringify(view.bundle, null, 2)}\n`;
  } finally {
    await close();
  }
  if (values.out) writeFileSync(values.out, text);
  else out(text);
  return ExitCode.ok;
}

/** What the policy's directory registers for each reviewer: keys, passkeys and the inbox's relying party. */
function directoryOf(policyFile: string): TrustedDirectory {
  const policy = loadPolicyFile(policyFile);
  return {
    keys: new Map([...policy.reviewerKeys].map(([reviewer, key]) => [reviewer, [key]])),
    passkeys: policy.reviewerPasskeys,
    ...(policy.webauthn ? { webauthn: { rpId: policy.webauthn.rpId, origins: policy.webauthn.origins } } : {}),
    ...(policy.config.directory.server ? { attestationKey: policy.config.directory.server.startKey } : {}),
  };
}

export async function verifyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, 'verify');
  const file = positionals[0];
  if (!file) throw usage('verify needs a bundle FILE.');
  let key = values.key;
  if (key && existsSync(key)) key = readFileSync(key, 'utf8').trim();
  let edgeKey = values['edge-key'];
  if (edgeKey && existsSync(edgeKey)) edgeKey = readFileSync(edgeKey, 'utf8').trim();
  if (values.policy && !existsSync(values.policy)) throw usage(`--policy ${values.policy}: no such file.`);
  const result = verifyBundle(readJsonFile(file, 'verify') as EvidenceBundle, {
    ...(key ? { publicKey: key } : {}),
    ...(edgeKey ? { edgeKey } : {}),
    ...(values.policy ? { directory: directoryOf(values.policy) } : {}),
  });
  if (values.json) printJson(result);
  if (!result.ok) throw new CliError(`${file}: ${result.link === 'signer' ? 'NOT TRUSTED' : 'BROKEN'} at ${result.link}: ${result.reason}`, ExitCode.refused);
  if (!values.json) {
    out(`${file}: OK — ${result.checks.join('; ')}`);
    if (result.checks.some((c) => c.startsWith('decided at the edge'))) out(`${file}: decided at the edge — a policy allow with no workflow and no reviewer, signed by the edge key (not the layer key)`);
    if (!result.log) out(`${file}: not proven to be in a log: it carries no inclusion proof (export it from a server that keeps the evidence log)`);
  }
  return ExitCode.ok;
}
