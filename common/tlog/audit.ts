/**
 * The audit of the log as a library: `countersign log audit` runs it over HTTP, the tests over an
 * in-memory log. It checks the latest checkpoint is the layer key's and extends the one the auditor
 * saved (else the log was truncated or forked), that the leaves served hash to its root, that
 * every leaf's bundle is in the store, verifies, and is the one logged, and that every bundle the store
 * lists has a leaf. Pure over the fetchers.
 */
import { leafFor, verifyBundle, type EvidenceBundle } from '../bundle';
import { openLogCheckpoint, type Checkpoint } from './checkpoint';
import { appendLeaf, EMPTY_FRONTIER, fromHex, frontierRoot, hashesEqual, leafHash, toHex, verifyConsistency, type Hash } from './merkle';
import { logLeafData, parseLogLeaf, type LogLeaf } from './leaf';
import { NoteError } from './note';

export interface AuditSources {
  /** The layer's public key (base64) the auditor trusts. */
  publicKey: string;
  /** The edge key (base64) the auditor trusts for allows decided at the front door (issue 29); without it, their bundles are findings. */
  edgeKey?: string;
  /** The checkpoint note the auditor kept from the last audit, if any. */
  savedCheckpoint?: string;
  /** The log's latest signed checkpoint note. */
  fetchCheckpoint(): Promise<string>;
  /** The data of leaves start, start+1, … (at most `count`; fewer when the log holds fewer). */
  fetchLeaves(start: number, count: number): Promise<readonly Uint8Array[]>;
  /** The sealed bundle the store holds for this leaf's workflow and run, or undefined. */
  fetchBundle(leaf: LogLeaf): Promise<EvidenceBundle | undefined>;
  /** A page of the bundles the store holds, each named by the fields of its leaf, from the cursor `after`; without it, bundles with no leaf go unchecked. */
  fetchBundleList?(after: string | undefined): Promise<{ bundles: readonly Omit<LogLeaf, 'format'>[]; next?: string }>;
  /** The consistency proof (hex hashes) between the trees of `from` and `to` leaves. */
  fetchConsistency(from: number, to: number): Promise<readonly string[]>;
  /** Leaves per fetchLeaves call (default 1000). */
  pageSize?: number;
  /** Bundles fetched at once (default 8). */
  concurrency?: number;
}

export type AuditFindingKind = 'bad-checkpoint' | 'bad-saved-checkpoint' | 'truncated' | 'fork' | 'leaves' | 'bad-leaf' | 'missing-bundle' | 'altered-bundle' | 'unlogged-bundle';

/** Bundles with no leaf an audit names one by one, at most; past it, it counts them. */
const MAX_UNLOGGED_NAMED = 1000;

export interface AuditFinding {
  kind: AuditFindingKind;
  /** One sentence for the auditor, naming the request when there is one. */
  message: string;
  /** The leaf it concerns, if one. */
  index?: number;
  request?: { workflowId: string; runId: string; requestId: string };
}

export interface AuditReport {
  ok: boolean;
  findings: AuditFinding[];
  /** The log's latest checkpoint, once it verified against the key. */
  checkpoint?: { note: string; size: number; root: string };
  /**
   * The checkpoint to keep for the next audit: the new one when it verified, extends the saved one
   * and its leaves hash to its root; otherwise the saved one, unchanged (so a truncation or a fork is
   * found again next time).
   */
  keep?: string;
  /** Leaves read and bundles checked. */
  leaves: number;
}

const bytesEqual = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Checks one leaf against the bundle the store holds for it: undefined when it is the one logged and verifies. */
async function checkLeaf(sources: AuditSources, index: number, data: Uint8Array): Promise<AuditFinding | undefined> {
  const leaf = parseLogLeaf(data);
  if (!leaf) return { kind: 'bad-leaf', index, message: `leaf ${index} is not a countersign log leaf` };
  const request = { workflowId: leaf.workflowId, runId: leaf.runId, requestId: leaf.requestId };
  const who = `request ${leaf.requestId} (workflow ${leaf.workflowId}, run ${leaf.runId}, leaf ${index})`;
  const bundle = await sources.fetchBundle(leaf);
  if (!bundle) return { kind: 'missing-bundle', index, request, message: `${who}: its evidence bundle is missing from the store` };
  const verified = verifyBundle(bundle, { publicKey: sources.publicKey, ...(sources.edgeKey ? { edgeKey: sources.edgeKey } : {}) });
  if (!verified.ok) return { kind: 'altered-bundle', index, request, message: `${who}: its evidence bundle does not verify (at ${verified.link}: ${verified.reason})` };
  let logged = false;
  try {
    logged = bytesEqual(leafFor(bundle, leaf.runId), data);
  } catch {
    logged = false;
  }
  if (!logged) return { kind: 'altered-bundle', index, request, message: `${who}: the store holds another bundle than the one the log recorded (digest ${leaf.bundleDigest})` };
  return undefined;
}

function open(note: string, publicKey: string): Checkpoint | string {
  try {
    return openLogCheckpoint(note, publicKey);
  } catch (err) {
    if (err instanceof NoteError) return err.message;
    throw err;
  }
}

export async function auditLog(sources: AuditSources): Promise<AuditReport> {
  const findings: AuditFinding[] = [];
  const saved = sources.savedCheckpoint === undefined ? undefined : open(sources.savedCheckpoint, sources.publicKey);
  if (typeof saved === 'string') {
    findings.push({ kind: 'bad-saved-checkpoint', message: `the saved checkpoint is not a checkpoint of this key's log: ${saved}` });
    return { ok: false, findings, keep: sources.savedCheckpoint, leaves: 0 };
  }
  const note = await sources.fetchCheckpoint();
  const latest = open(note, sources.publicKey);
  if (typeof latest === 'string') {
    findings.push({ kind: 'bad-checkpoint', message: `the log's checkpoint does not verify against the key: ${latest}` });
    return { ok: false, findings, keep: sources.savedCheckpoint, leaves: 0 };
  }

  let extendsSaved = true;
  if (saved && latest.size < saved.size) {
    extendsSaved = false;
    findings.push({ kind: 'truncated', message: `the log was truncated: it now signs ${latest.size} leaves, the checkpoint you saved signs ${saved.size} (leaves ${latest.size}..${saved.size - 1} are gone)` });
  } else if (saved && latest.size === saved.size && !hashesEqual(latest.root, saved.root)) {
    extendsSaved = false;
    findings.push({ kind: 'fork', message: `the log forked: two checkpoints of ${saved.size} leaves signed by this key have different roots (${toHex(saved.root)} saved, ${toHex(latest.root)} now)` });
  } else if (saved && latest.size > saved.size) {
    const proof = (await sources.fetchConsistency(saved.size, latest.size)).map(fromHex);
    const valid = proof.every((h): h is Hash => h !== undefined) && verifyConsistency(saved.size, latest.size, proof, saved.root, latest.root);
    if (!valid) {
      extendsSaved = false;
      findings.push({ kind: 'fork', message: `the log forked: its tree of ${latest.size} leaves is not an extension of the tree of ${saved.size} leaves you saved (the consistency proof does not verify)` });
    }
  }

  // Every leaf: hashed into the tree, and checked against its bundle.
  const pageSize = Math.max(1, sources.pageSize ?? 1000);
  const concurrency = Math.max(1, sources.concurrency ?? 8);
  let frontier = EMPTY_FRONTIER;
  const seen = new Set<string>();
  while (frontier.size < latest.size) {
    const start = frontier.size;
    const page = (await sources.fetchLeaves(start, Math.min(pageSize, latest.size - start))).slice(0, latest.size - start);
    if (page.length === 0) break;
    for (let i = 0; i < page.length; i += concurrency) {
      const checked = await Promise.all(page.slice(i, i + concurrency).map((data, j) => checkLeaf(sources, start + i + j, data)));
      findings.push(...checked.filter((f): f is AuditFinding => f !== undefined));
    }
    for (const data of page) {
      const hash = leafHash(data);
      if (sources.fetchBundleList) seen.add(toHex(hash));
      frontier = appendLeaf(frontier, hash);
    }
  }
  let leavesMatch = true;
  if (frontier.size < latest.size) {
    leavesMatch = false;
    findings.push({ kind: 'leaves', message: `the log serves ${frontier.size} leaves, its checkpoint signs ${latest.size}: leaves ${frontier.size}..${latest.size - 1} are missing` });
  } else if (!hashesEqual(frontierRoot(frontier), latest.root)) {
    leavesMatch = false;
    findings.push({ kind: 'leaves', message: `the ${latest.size} leaves the log serves do not hash to its checkpoint's root: leaves were changed, removed or reordered` });
  }

  if (sources.fetchBundleList) findings.push(...(await unloggedBundles(sources, seen, frontier.size, pageSize)));

  const consistent = extendsSaved && leavesMatch;
  return {
    ok: findings.length === 0,
    findings,
    checkpoint: { note, size: latest.size, root: toHex(latest.root) },
    ...(consistent ? { keep: note } : sources.savedCheckpoint !== undefined ? { keep: sources.savedCheckpoint } : {}),
    leaves: frontier.size,
  };
}

/**
 * Bundles the store lists that have no leaf in the log: a seal that stored its bundle and never its
 * leaf, or a bundle put in the store behind the log's back. Leaves appended since the checkpoint are
 * read too before one is named, so a bundle sealed during the audit is not.
 */
async function unloggedBundles(sources: AuditSources, seen: Set<string>, read: number, pageSize: number): Promise<AuditFinding[]> {
  const missing: { leaf: Omit<LogLeaf, 'format'>; hash?: string }[] = [];
  let unnamed = 0;
  let after: string | undefined;
  do {
    const page = await sources.fetchBundleList!(after);
    for (const leaf of page.bundles) {
      let hash: string | undefined;
      try {
        hash = toHex(leafHash(logLeafData(leaf)));
      } catch {
        hash = undefined; // ids no leaf can hold: no leaf has them
      }
      if (hash !== undefined && seen.has(hash)) continue;
      if (missing.length < MAX_UNLOGGED_NAMED) missing.push({ leaf, ...(hash ? { hash } : {}) });
      else unnamed += 1;
    }
    after = page.next !== undefined && page.next !== after && page.bundles.length > 0 ? page.next : undefined;
  } while (after !== undefined);
  if (missing.length === 0) return [];
  for (let start = read; ; ) {
    const page = await sources.fetchLeaves(start, pageSize);
    if (page.length === 0) break;
    for (const data of page) seen.add(toHex(leafHash(data)));
    start += page.length;
  }
  const findings: AuditFinding[] = missing
    .filter((m) => m.hash === undefined || !seen.has(m.hash))
    .map(({ leaf }) => ({
      kind: 'unlogged-bundle',
      request: { workflowId: leaf.workflowId, runId: leaf.runId, requestId: leaf.requestId },
      message: `request ${leaf.requestId} (workflow ${leaf.workflowId}, run ${leaf.runId}): its evidence bundle is in the store, but the log has no leaf for it`,
    }));
  if (unnamed > 0) findings.push({ kind: 'unlogged-bundle', message: `${unnamed} more bundles in the store have no leaf among the log's first ${read} (only the first ${MAX_UNLOGGED_NAMED} are named, and checked against later leaves)` });
  return findings;
}
