import { ExitCode, ReasonCode } from '../../common/codes';
import { checkCatalog } from '../../policy/catalog';
import { evaluatePolicy, policyWarnings } from '../../policy/evaluate';
import { formatPolicyError, loadPolicyFile, PolicyLoadError } from '../../policy/load';
import { parseActionRequest } from '../../client/sdk';
import { CliError, usage } from '../errors';
import { out, parseFlags, printJson, readJsonFile } from '../io';
import { groupHelp } from '../help';
import { simulateCommand } from './insights';

export async function policyCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'simulate') return simulateCommand(rest);
  if (sub !== 'check' && sub !== 'test') throw usage(sub ? `Unknown policy command "${sub}".\n${groupHelp('policy')}` : groupHelp('policy'));
  const parsed = sub === 'check' ? parseFlags(rest, 'policy check') : parseFlags(rest, 'policy test');
  const { positionals } = parsed;
  const values: { json?: boolean; action?: string } = parsed.values;
  const file = positionals[0];
  if (!file) throw usage(`policy ${sub} needs a policy FILE.`);

  let policy;
  try {
    policy = loadPolicyFile(file);
  } catch (err) {
    if (!(err instanceof PolicyLoadError)) throw err;
    if (values.json) printJson({ ok: false, errors: err.errors });
    for (const e of err.errors) process.stderr.write(`${formatPolicyError(e)}\n`);
    throw new CliError(`${file}: ${err.errors.length} error${err.errors.length > 1 ? 's' : ''}.`, ExitCode.usage);
  }

  if (sub === 'check') {
    const warnings = policyWarnings(policy);
    const summary = { ok: true, file, digest: policy.digest, rules: policy.rules.length, groups: Object.keys(policy.config.groups).length, actions: Object.keys(policy.config.actions).length, warnings };
    for (const w of warnings) process.stderr.write(`warning: ${formatPolicyError(w)}\n`);
    if (values.json) printJson(summary);
    else out(`${file}: OK — ${summary.rules} rules, ${summary.groups} groups, ${summary.actions} catalogued actions, digest ${policy.digest.slice(0, 16)}${warnings.length ? `; ${warnings.length} warning${warnings.length > 1 ? 's' : ''} (stderr)` : ''}`);
    return ExitCode.ok;
  }
  if (!values.action) throw usage('policy test needs --action action.json.');
  const request = parseActionRequest(readJsonFile(values.action, '--action'));
  const catalog = checkCatalog(policy.catalog, request, policy.environment);
  if (!catalog.ok) {
    printJson({ decision: 'deny', code: ReasonCode.INVALID_REQUEST, reason: catalog.message });
    return ExitCode.refused;
  }
  printJson({ ...evaluatePolicy(policy, request), catalog: { entry: catalog.entry ?? null, resource: catalog.resource ?? null } });
  return ExitCode.ok;
}
