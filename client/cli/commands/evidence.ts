import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evidencePath } from '../../../activities/evidence';
import { verifyBundle, type EvidenceBundle } from '../../../common/bundle';
import { ExitCode } from '../../../common/codes';
import { loadConfig } from '../../../worker/config';
import { connectCli } from '../connect';
import { CliError, usage } from '../errors';
import { out, parseFlags, printJson, readJsonFile } from '../io';

export const evidenceHelp = `countersign evidence <id> [--out FILE]   export the evidence bundle (signed once the request has ended)
countersign verify FILE [--key PUB]       check chain, signatures and digests offline; exit 1 names the first broken link`;

export async function evidenceCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { out: { type: 'string', short: 'o' } });
  const id = positionals[0];
  if (!id) throw usage('evidence needs a request id.');
  const { home } = loadConfig();
  let text: string | undefined;
  if (id.startsWith('cs-')) {
    const local = evidencePath(join(home, 'evidence'), id);
    if (existsSync(local)) text = readFileSync(local, 'utf8');
  }
  if (!text) {
    const { cs, close } = await connectCli();
    try {
      const view = await cs.evidence(id);
      if (!view.sealed) process.stderr.write('countersign: the request is still open: this is the evidence so far, not yet signed.\n');
      text = `${JSON.stringify(view.bundle, null, 2)}\n`;
    } finally {
      await close();
    }
  }
  if (values.out) writeFileSync(values.out, text);
  else out(text);
  return ExitCode.ok;
}

export async function verifyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { key: { type: 'string' }, json: { type: 'boolean' } });
  const file = positionals[0];
  if (!file) throw usage('verify needs a bundle FILE.');
  let key = values.key;
  if (key && existsSync(key)) key = readFileSync(key, 'utf8').trim();
  const result = verifyBundle(readJsonFile(file, 'verify') as EvidenceBundle, key ? { publicKey: key } : {});
  if (values.json) printJson(result);
  if (!result.ok) throw new CliError(`${file}: BROKEN at ${result.link}: ${result.reason}`, ExitCode.refused);
  if (!values.json) out(`${file}: OK — ${result.checks.join('; ')}`);
  return ExitCode.ok;
}
