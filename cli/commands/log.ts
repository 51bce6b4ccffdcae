/**
 * `countersign log audit` (issue 27): the audit of common/tlog/audit.ts over the front door, as an
 * auditor runs it with an auditor key. It checks the log's latest checkpoint against the layer key and
 * the checkpoint kept from the last audit, every leaf against the bundle the store holds for it, every
 * bundle the store lists against the leaves, and keeps the new checkpoint for next time. Exit 1 on any finding.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EvidenceBundle } from '../../common/bundle';
import { ExitCode } from '../../common/codes';
import { RequestNotFoundError } from '../../common/refusals';
import { keyId } from '../../common/signing';
import { auditLog, type AuditReport } from '../../common/tlog/audit';
import type { LogLeaf } from '../../common/tlog/leaf';
import { LogBundles, type ConsistencyProof, type LogLeaves } from '../../common/responses';
import type { HttpClient } from '../../client/http';
import { connectAgent } from '../connect';
import { CliError, usage } from '../errors';
import { groupHelp } from '../help';
import { out, parseFlags, printJson } from '../io';

export async function logCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'audit') throw usage(groupHelp('log'));
  const { values, positionals } = parseFlags(rest, 'log audit');
  if (positionals.length) throw usage(`log audit takes no argument, got "${positionals[0]!.slice(0, 100)}" (see countersign log audit --help).`);
  const publicKey = layerKey(values.key, 'key');
  const edgeKey = values['edge-key'] ? layerKey(values['edge-key'], 'edge-key') : undefined;
  const { cs, home, close } = await connectAgent();
  const saveTo = values.checkpoint ?? join(home, 'audit', `${keyId(publicKey)}.checkpoint`);
  const saved = existsSync(saveTo) ? readFileSync(saveTo, 'utf8') : undefined;
  let report: AuditReport;
  try {
    if (cs.role !== 'auditor') throw usage(`log audit needs an auditor's API key in COUNTERSIGN_API_KEY (countersign keys auditor NAME); this one is ${cs.role} ${cs.agentId}'s.`);
    report = await auditOver(cs.http, publicKey, saved, edgeKey);
  } finally {
    await close();
  }
  const kept = report.keep !== undefined && report.keep !== saved;
  if (kept) keep(saveTo, report.keep!);
  if (values.json) printJson({ ...report, checkpointFile: saveTo });
  else {
    const where = report.checkpoint ? `the log's checkpoint of ${report.checkpoint.size} leaves (root ${report.checkpoint.root})` : "the log's checkpoint";
    for (const finding of report.findings) out(`FINDING ${finding.kind}: ${finding.message}`);
    if (report.ok) out(`OK — ${report.leaves} leaves, every bundle in the store, verified and the one logged; ${where} ${saved === undefined ? 'is the first you keep' : 'extends the one you kept'}.`);
    out(kept ? `Kept ${where} in ${saveTo} for the next audit.` : `The checkpoint in ${saveTo} is unchanged${report.ok ? '' : ': the next audit checks against it again'}.`);
  }
  if (!report.ok) throw new CliError(`log audit: ${report.findings.length} finding${report.findings.length === 1 ? '' : 's'}.`, ExitCode.refused);
  return ExitCode.ok;
}

/** The layer's (or the edge's) public key, given as base64 or as a file holding it. */
function layerKey(given: string | undefined, flag: 'key' | 'edge-key'): string {
  if (!given) throw usage('log audit needs --key: the layer\'s public key you trust, or a file holding it (countersign keys show prints it).');
  const key = existsSync(given) ? readFileSync(given, 'utf8').trim() : given;
  if (Buffer.from(key, 'base64').length !== 32 || !/^[A-Za-z0-9+/]{43}=$/.test(key)) throw usage(`--${flag} must be a 32-byte Ed25519 public key in base64, or a file holding one.`);
  return key;
}

/** Written whole, then renamed over the old one: an interrupted save never leaves half a checkpoint. */
function keep(path: string, note: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const draft = `${path}.${process.pid}.tmp`;
  writeFileSync(draft, note);
  renameSync(draft, path);
}

/** The audit, fetching from the front door's /v1/log routes. */
function auditOver(http: HttpClient, publicKey: string, savedCheckpoint: string | undefined, edgeKey: string | undefined): Promise<AuditReport> {
  const q = (params: Record<string, string | number>) => new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
  return auditLog({
    publicKey,
    ...(edgeKey ? { edgeKey } : {}),
    ...(savedCheckpoint !== undefined ? { savedCheckpoint } : {}),
    async fetchCheckpoint() {
      try {
        return await http.text('/v1/log/checkpoint');
      } catch (err) {
        if (!(err instanceof RequestNotFoundError)) throw err;
        if (savedCheckpoint !== undefined) throw new CliError(`The log has no checkpoint, yet you kept one: it has been emptied or its checkpoints deleted (${err.message})`, ExitCode.refused);
        throw new CliError(`Nothing to audit: ${err.message}`, ExitCode.notFound);
      }
    },
    async fetchLeaves(start, count) {
      const page = await http.request<LogLeaves>('GET', `/v1/log/leaves?${q({ start, count })}`);
      return page.leaves.map((l) => new Uint8Array(Buffer.from(l.data, 'base64')));
    },
    async fetchBundle(leaf: LogLeaf) {
      let text: string;
      try {
        text = await http.text(`/v1/log/bundle?${q({ workflowId: leaf.workflowId, runId: leaf.runId })}`, 'application/json');
      } catch (err) {
        if (err instanceof RequestNotFoundError) return undefined;
        throw err;
      }
      try {
        return JSON.parse(text) as EvidenceBundle;
      } catch {
        return {} as EvidenceBundle; // not JSON: it verifies as no bundle, an altered one
      }
    },
    async fetchBundleList(after) {
      const page = LogBundles.safeParse(await http.request<unknown>('GET', `/v1/log/bundles?${q(after === undefined ? {} : { after })}`));
      if (!page.success) throw new CliError('The server answered /v1/log/bundles with something that is not a page of bundles.', ExitCode.refused);
      return page.data;
    },
    async fetchConsistency(from, to) {
      return (await http.request<ConsistencyProof>('GET', `/v1/log/proof/consistency?${q({ from, to })}`)).consistency;
    },
  });
}
