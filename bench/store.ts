/**
 * The store's own costs (issue 27, "Benchmark"): log append throughput with 32 concurrent sealers —
 * a bundle-sized text and its leaf, sealed as the worker's sealEvidence does —
 * on the file store and, given one, on PostgreSQL; and the time `auditLog` takes over a log of
 * AUDIT_N (10,000) sealed bundles, each verified, read in process from a file store.
 *
 * Wired into bench/run.ts as a phase (PostgreSQL on the cluster: the stack provisions the database);
 * on its own, file store only, or PostgreSQL too when COUNTERSIGN_DATABASE_* is set:
 *   node --import tsx bench/store.ts
 * Sizes: BENCH_APPEND_N (2000 appends per store), BENCH_AUDIT_N (10000 bundles).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { signEvidence } from '../activities/evidence';
import { BUNDLE_FORMAT, leafFor, requestDigest, verifyBundle, type EvidenceBody, type EvidenceBundle } from '../common/bundle';
import { canonicalJson } from '../common/canonical';
import { actionDigest, requestIdFor, sha256Hex } from '../common/digest';
import { appendEvent, type EvidenceEvent } from '../common/evidence';
import { auditLog } from '../common/tlog/audit';
import { signCheckpoint } from '../common/tlog/checkpoint';
import { parseLogLeaf, logLeafData } from '../common/tlog/leaf';
import { appendLeaf as extend, EMPTY_FRONTIER, frontierRoot } from '../common/tlog/merkle';
import { newEd25519Key, signerFromKey, type Signer } from '../crypto/keys';
import { MAX_LEAVES_PAGE } from '../store/bounds';
import { fileStore } from '../store/files';
import type { Store } from '../store/types';
import { runStandalone } from './standalone';
import { concurrent, summarize, type Summary } from './stats';

export const SEALERS = 32;
const APPEND_N = Number(process.env.BENCH_APPEND_N ?? 2000);
const AUDIT_N = Number(process.env.BENCH_AUDIT_N ?? 10_000);

/**
 * A sealed bundle as an auto-allowed, consumed and reported refund leaves it: the request, six chained
 * events, the signed approval record and receipt, signed by the layer key (about 5 KB of text).
 */
export function sampleBundle(signer: Signer, i: number): { workflowId: string; runId: string; requestId: string; digest: string; text: string } {
  const taskId = `t-${randomUUID()}`;
  const request = { agentId: 'bench-agent', taskId, action: 'payments.refund', summary: `Benchmark refund ${i}`, resource: { type: 'customer', id: `C-${i}` }, payload: { amount: 10, currency: 'EUR', reason: 'duplicate charge', orderId: `O-${i}` } };
  const aDigest = actionDigest(request);
  const rDigest = requestDigest(request as Parameters<typeof requestDigest>[0]);
  const requestId = requestIdFor(request.agentId, taskId, aDigest);
  const workflowId = `countersign-${request.agentId}-${taskId}-${requestId}`;
  const runId = randomUUID();
  const at = new Date().toISOString();
  const tokenId = randomUUID();
  const tokenHash = sha256Hex(tokenId);
  const record = signer.sign('countersign/approval-record/v1', {
    workflowId,
    requestId,
    requestDigest: rDigest,
    actionDigest: aDigest,
    policyDigest: sha256Hex('policy'),
    ruleIds: ['small'],
    decidedBy: 'policy' as const,
    decisions: [],
    tokenId,
    tokenHash,
    binding: { agentId: request.agentId, taskId, actionDigest: aDigest, workflowId },
    expiresAt: at,
    issuedAt: at,
  });
  const receipt = signer.sign('countersign/execution-receipt/v1', {
    receiptId: randomUUID(),
    workflowId,
    requestId,
    tokenId,
    approvalRecordDigest: sha256Hex(canonicalJson(record.body)),
    actionDigest: aDigest,
    agentId: request.agentId,
    taskId,
    consumedAt: at,
  });
  const events: EvidenceEvent[] = [];
  appendEvent(events, { at, type: 'requested', actor: request.agentId, detail: 'requested payments.refund on customer C', data: { requestDigest: rDigest, actionDigest: aDigest } });
  appendEvent(events, { at, type: 'evaluated', detail: 'policy: allow (rule small)', data: { decision: null, ruleIds: ['small'], policyDigest: sha256Hex('policy') } as never });
  appendEvent(events, { at, type: 'token_minted', detail: 'token minted', data: { tokenId, tokenHash, expiresAt: at } });
  appendEvent(events, { at, type: 'consumed', actor: request.agentId, detail: 'token consumed', data: { tokenId, receiptId: receipt.body.receiptId } });
  appendEvent(events, { at, type: 'reported', actor: request.agentId, detail: 'reported succeeded', data: { status: 'succeeded' } });
  appendEvent(events, { at, type: 'closed', detail: 'executed', data: { status: 'executed' } });
  const body: Omit<EvidenceBody, 'signer'> = {
    format: BUNDLE_FORMAT,
    workflowId,
    requestId,
    request,
    requestDigest: rDigest,
    outcome: { requestId, workflowId, status: 'executed', decidedBy: 'policy', reviewers: [], payload: request.payload, edited: false, actionDigest: aDigest, ruleIds: ['small'], risk: 'low', decidedAt: at, execution: { status: 'succeeded', receiptId: receipt.body.receiptId } } as unknown as EvidenceBody['outcome'],
    events,
    approvalRecord: record,
    receipt,
  };
  const sealed = signEvidence(signer, body);
  return { workflowId, runId, requestId, digest: sealed.digest, text: sealed.text };
}

/** What the worker's sealEvidence does to the store for one bundle: the bundle and its leaf (one transaction on PostgreSQL). */
async function seal(store: Store, b: ReturnType<typeof sampleBundle>): Promise<number> {
  const entry = { workflowId: b.workflowId, runId: b.runId, requestId: b.requestId, bundleDigest: b.digest };
  return (await store.sealEvidence({ ...entry, text: b.text }, logLeafData(entry))).leaf.index;
}

/** APPEND_N seals over 32 concurrent sealers: appends/s and per-append latency. Bundles are signed beforehand, outside the timing. */
export async function appendThroughput(store: Store, signer: Signer, n = APPEND_N): Promise<Summary & { bundleBytes: number }> {
  const bundles = Array.from({ length: n + SEALERS }, (_, i) => sampleBundle(signer, i));
  await Promise.all(bundles.slice(n).map((b) => seal(store, b))); // warm: connections, folders
  const { samples, wallMs } = await concurrent(n, SEALERS, (i) => seal(store, bundles[i]!));
  return { ...summarize(samples, wallMs), bundleBytes: Buffer.byteLength(bundles[0]!.text) };
}

/** Fills a file store with `n` sealed bundles, their leaves and a signed checkpoint; times auditLog over it, read in process. */
export async function auditTime(dir: string, signer: Signer, n = AUDIT_N): Promise<Record<string, number | boolean>> {
  const store = fileStore(dir);
  const fillT = performance.now();
  await concurrent(n, SEALERS, (i) => seal(store, sampleBundle(signer, i)));
  let frontier = EMPTY_FRONTIER;
  for (let start = 0; start < n; start += MAX_LEAVES_PAGE) for (const leaf of await store.readLeaves(start, Math.min(n, start + MAX_LEAVES_PAGE))) frontier = extend(frontier, leaf.hash);
  const root = frontierRoot(frontier);
  await store.putCheckpoint({ treeSize: n, rootHash: root, note: signCheckpoint({ size: n, root }, signer) });
  const fillSeconds = (performance.now() - fillT) / 1000;
  const t0 = performance.now();
  const report = await auditLog({
    publicKey: signer.publicKey,
    async fetchCheckpoint() {
      return (await store.latestCheckpoint())!.note;
    },
    async fetchLeaves(start, count) {
      return (await store.readLeaves(start, Math.min(start + count, start + MAX_LEAVES_PAGE, await store.logSize()))).map((l) => l.data);
    },
    async fetchBundle(leaf) {
      const stored = await store.getEvidence(leaf.workflowId, leaf.runId);
      return stored ? (JSON.parse(stored.text) as EvidenceBundle) : undefined;
    },
    fetchConsistency() {
      return Promise.reject(new Error('no saved checkpoint: the audit asks for no consistency proof'));
    },
  });
  const auditSeconds = (performance.now() - t0) / 1000;
  if (!report.ok || report.leaves !== n) throw new Error(`the audit of the bench log failed: ${report.leaves} leaves, ${report.findings.slice(0, 3).map((f) => f.message).join('; ')}`);
  return { bundles: n, fillSeconds: Math.round(fillSeconds * 10) / 10, auditSeconds: Math.round(auditSeconds * 100) / 100, bundlesPerSecond: Math.round(n / auditSeconds), ok: report.ok };
}

/** The phase: appends on the file store (and on PostgreSQL when given its store), then the audit of AUDIT_N bundles. */
export async function benchStore(options: { postgres?: Store; log?: (line: string) => void } = {}): Promise<Record<string, unknown>> {
  const log = options.log ?? (() => undefined);
  const signer = signerFromKey(newEd25519Key());
  const one = sampleBundle(signer, 0);
  const checked = verifyBundle(JSON.parse(one.text) as EvidenceBundle, { publicKey: signer.publicKey });
  if (!checked.ok) throw new Error(`the bench's sample bundle does not verify: ${checked.link}: ${checked.reason}`);
  if (!parseLogLeaf(leafFor(JSON.parse(one.text) as EvidenceBundle, one.runId))) throw new Error('the sample bundle has no leaf');
  const dir = mkdtempSync(join(os.tmpdir(), 'countersign-bench-store-'));
  try {
    const results: Record<string, unknown> = { sealers: SEALERS };
    log(`  appends: ${APPEND_N} over ${SEALERS} sealers, file store`);
    results.appendFiles = await appendThroughput(fileStore(join(dir, 'append')), signer);
    if (options.postgres) {
      log(`  appends: ${APPEND_N} over ${SEALERS} sealers, PostgreSQL (${options.postgres.description})`);
      results.appendPostgres = await appendThroughput(options.postgres, signer);
    }
    log(`  audit: ${AUDIT_N} sealed bundles, file store, in process`);
    results.audit = await auditTime(join(dir, 'audit'), signer);
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) runStandalone(benchStore);
