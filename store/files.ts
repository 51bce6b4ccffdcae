/**
 * The store as files under one folder (COUNTERSIGN_HOME/evidence): what `npm run dev` and a single
 * machine use. Every file is created once and never rewritten: a spend is a file created with
 * O_EXCL; a bundle, a leaf or a checkpoint is written whole to a temporary file and hard-linked to
 * its name, which fails if the name exists — so a reader never sees half a file, and of two writers
 * exactly one wins. The log's layout and why it needs no lock: store/file-log.ts.
 */
import { link, open, readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { bundleDigest, type EvidenceBody, type EvidenceBundle } from '../common/bundle';
import { PRIVATE_FILE, privateDir } from '../config/private-files';
import { nativeSha256Hex } from '../crypto/sha256';
import { parseLogLeaf } from '../common/tlog/leaf';
import { checkCursor, checkEdgeToken, checkEvidence, checkId, checkPage, checkSpend, cursorAfter, MAX_LEAVES_PAGE } from './bounds';
import { fileLog } from './file-log';
import { ignore, linkOnce } from './link-once';
import { EvidenceConflictError, StoreInputError, type EdgeTokenEntry, type EvidenceEntry, type SpendEntry, type StoredEvidence, type Store } from './types';

/** Where the bundle of one run lives: named by a hash of workflow id and run id, so ids a file name cannot hold never share a file, and a reset run never replaces the first. */
export const evidencePath = (dir: string, workflowId: string, runId: string) => join(dir, `${name(`${workflowId}\n${runId}`)}.json`);

const name = (text: string) => nativeSha256Hex(text).slice(0, 32);
/** A workflow's runs, and a request id's, as hard links to their bundles: how the server finds a bundle without Temporal. */
const byWorkflow = (dir: string, workflowId: string) => join(dir, 'workflows', name(workflowId));
const byRequest = (dir: string, requestId: string) => join(dir, 'requests', name(requestId));
/** A run's entry in its workflow's folder: the run id itself, base64url (at most 128 characters become 171). */
const runFile = (runId: string) => `${Buffer.from(runId, 'utf8').toString('base64url')}.json`;
const runOf = (file: string) => Buffer.from(file.replace(/\.json$/, ''), 'base64url').toString('utf8');
/** A bundle sealed this long before a listing's `since` ends it: the log's order is the sealing order, but for sealers that raced. */
const SEALING_SKEW_MS = 60_000;
/** Runs of one workflow id (or one request id) a lookup looks at, at most. */
const MAX_RUNS_LOOKED_AT = 100;

export function fileStore(dir: string): Store {
  const log = fileLog(join(dir, 'log'));
  const store: Store = {
    description: `files in ${dir}`,
    ...log,

    async recordSpend(entry) {
      checkSpend(entry);
      const spent = join(dir, 'spent');
      privateDir(dir);
      privateDir(spent);
      const path = join(spent, `${name(entry.workflowId)}.json`);
      let file;
      try {
        file = await open(path, 'wx', PRIVATE_FILE);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const first = await readSpend(path);
        if (first?.runId === entry.runId && first.tokenId === entry.tokenId && first.workflowId === entry.workflowId) return { recorded: true };
        return { recorded: false, runId: first?.runId ?? 'unknown', spentAt: first?.spentAt ?? 'unknown' };
      }
      try {
        await file.chmod(PRIVATE_FILE);
        await file.writeFile(`${JSON.stringify(entry)}\n`);
      } finally {
        await file.close();
      }
      return { recorded: true };
    },

    async getSpend(workflowId) {
      checkId('the workflow id', workflowId);
      const entry = await readSpend(join(dir, 'spent', `${name(workflowId)}.json`)).catch(ignore('ENOENT'));
      return entry?.workflowId === workflowId ? entry : undefined;
    },

    async putEdgeToken(entry) {
      checkEdgeToken(entry);
      privateDir(dir);
      privateDir(join(dir, 'edge'));
      if (!(await linkOnce(dir, edgePath(dir, entry.tokenHash), `${JSON.stringify(entry)}\n`))) throw new EvidenceConflictError(`An edge token with this hash is already stored (token ${entry.tokenId}).`);
      privateDir(join(dir, 'edge', 'workflows'));
      await linkOnce(dir, join(dir, 'edge', 'workflows', `${name(entry.workflowId)}.json`), `${JSON.stringify({ workflowId: entry.workflowId })}\n`);
    },

    async edgeMinted(workflowId) {
      checkId('the workflow id', workflowId);
      const text = await readFile(join(dir, 'edge', 'workflows', `${name(workflowId)}.json`), 'utf8').catch(ignore('ENOENT'));
      return text !== undefined && (JSON.parse(text) as { workflowId?: unknown }).workflowId === workflowId;
    },

    async getEdgeToken(tokenHash) {
      if (!/^[0-9a-f]{64}$/.test(tokenHash)) return undefined;
      const text = await readFile(edgePath(dir, tokenHash), 'utf8').catch(ignore('ENOENT'));
      if (text === undefined) return undefined;
      const entry = JSON.parse(text) as EdgeTokenEntry;
      return entry.tokenHash === tokenHash ? entry : undefined;
    },

    async putEvidence(evidence) {
      checkEvidence(evidence);
      privateDir(dir); // 0700 whichever writer (evidence or the spend ledger inside it) comes first
      const path = evidencePath(dir, evidence.workflowId, evidence.runId);
      const created = await linkOnce(dir, path, evidence.text);
      if (!created && (await readFile(path, 'utf8').catch(() => undefined)) !== evidence.text) {
        throw new EvidenceConflictError(`Evidence for run ${evidence.runId} of ${evidence.workflowId} is already written at ${path} and differs: it is never overwritten.`);
      }
      // Linked every time, so a writer that died between the bundle and its index leaves no bundle unfound.
      const indexes = [join(byWorkflow(dir, evidence.workflowId), runFile(evidence.runId)), join(byRequest(dir, evidence.requestId), `${name(`${evidence.workflowId}\n${evidence.runId}`)}.json`)];
      for (const index of indexes) {
        privateDir(dirname(index));
        await link(path, index).catch(ignore('EEXIST'));
      }
      return { created, location: path };
    },

    // The bundle first: a seal that dies before its leaf leaves a bundle that log audit names (listBundles), and the retry appends the leaf.
    async sealEvidence(evidence, leafData) {
      const written = await store.putEvidence(evidence);
      return { ...written, leaf: await store.appendLeaf(leafData) };
    },

    // Every bundle by its workflow's folder: folders, then runs, in name order; a file that is not its folder's workflow's bundle is passed over.
    async listBundles(after, limit) {
      const from = checkCursor(after, limit);
      const root = join(dir, 'workflows');
      const entries: EvidenceEntry[] = [];
      let last: [string, string] | undefined;
      for (const folder of ((await readdir(root).catch(ignore('ENOENT'))) ?? []).sort()) {
        if (from && folder < from[0]) continue;
        const files = ((await readdir(join(root, folder)).catch(ignore('ENOENT'))) ?? []).filter((f) => f.endsWith('.json')).sort();
        for (const file of files) {
          if (from && folder === from[0] && file <= from[1]) continue;
          if (entries.length === limit) return { entries, next: cursorAfter(last!) };
          const entry = entryOf((await readFile(join(root, folder, file), 'utf8').catch(ignore('ENOENT'))) ?? '', runOf(file));
          if (entry && name(entry.workflowId) === folder) entries.push(entry);
          last = [folder, file];
        }
      }
      return { entries };
    },

    async getEvidence(workflowId, runId) {
      checkId('the workflow id', workflowId);
      if (runId !== undefined) {
        checkId('the run id', runId, 128);
        return readBundle(evidencePath(dir, workflowId, runId), workflowId, runId);
      }
      const folder = byWorkflow(dir, workflowId);
      const entries = (await readdir(folder).catch(ignore('ENOENT'))) ?? [];
      const dated = await Promise.all(entries.slice(0, MAX_RUNS_LOOKED_AT).map(async (f) => ({ f, at: (await stat(join(folder, f))).mtimeMs })));
      // The run sealed last first; a file that is not this workflow's (a hash collision, a stray file) is passed over.
      for (const { f } of dated.sort((a, b) => b.at - a.at || (a.f < b.f ? -1 : 1))) {
        const found = await readBundle(join(folder, f), workflowId, runOf(f));
        if (found) return found;
      }
      return undefined;
    },

    async workflowsOfRequest(requestId, limit) {
      checkId('the request id', requestId, 128);
      const folder = byRequest(dir, requestId);
      const found = new Set<string>();
      for (const f of ((await readdir(folder).catch(ignore('ENOENT'))) ?? []).slice(0, MAX_RUNS_LOOKED_AT)) {
        const bundle = parseBundle(await readFile(join(folder, f), 'utf8'));
        if (bundle?.requestId === requestId && typeof bundle.workflowId === 'string') found.add(bundle.workflowId);
        if (found.size >= Math.min(limit, 10)) break;
      }
      return [...found].sort();
    },

    async listEvidence(page) {
      const since = checkPage(page);
      const size = await log.logSize();
      let below = size;
      if (page.cursor !== undefined) {
        if (!/^(0|[1-9][0-9]{0,15})$/.test(page.cursor) || Number(page.cursor) > size) throw new StoreInputError("A listing's cursor is not one this store gave.");
        below = Number(page.cursor);
      }
      // Through the log, newest leaf first: each names the bundle it logs, and no folder is read whole.
      const items: StoredEvidence[] = [];
      const seen = new Set<string>();
      for (let looked = 0; below > 0 && looked < MAX_LEAVES_PAGE; ) {
        const leaves = await log.readLeaves(Math.max(0, below - 100), below);
        for (const leaf of leaves.reverse()) {
          below = leaf.index;
          looked += 1;
          const named = parseLogLeaf(leaf.data);
          const bundle = named && !seen.has(`${named.workflowId}\n${named.runId}`) ? await readBundle(evidencePath(dir, named.workflowId, named.runId), named.workflowId, named.runId, named.bundleDigest) : undefined;
          if (!named || !bundle) continue;
          seen.add(`${named.workflowId}\n${named.runId}`);
          const at = Date.parse(bundle.sealedAt);
          if (at < since - SEALING_SKEW_MS) return { items };
          if (at >= since) items.push(bundle);
          if (items.length === page.limit) return below > 0 ? { items, next: String(below) } : { items };
        }
      }
      return below > 0 ? { items, next: String(below) } : { items };
    },

    async close() {},
  };
  return store;
}

/** What names a bundle's leaf, from its text: its workflow, request and the digest of its signed body (the run is the caller's). */
function entryOf(text: string, runId: string): EvidenceEntry | undefined {
  const bundle = parseBundle(text);
  if (!bundle || typeof bundle.workflowId !== 'string') return undefined;
  const { signature: _signature, log: _log, ...body } = bundle; // the signed body, as common/bundle.ts signs it
  return { workflowId: bundle.workflowId, runId, requestId: String(bundle.requestId), bundleDigest: bundleDigest(body as EvidenceBody) };
}

/** An edge token's entry, named by its hash (the token itself is never written). */
const edgePath = (dir: string, tokenHash: string) => join(dir, 'edge', `${tokenHash}.json`);

async function readSpend(path: string): Promise<SpendEntry | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
    return undefined;
  }
  try {
    return JSON.parse(text) as SpendEntry;
  } catch {
    return undefined; // a half-written entry still marks the token spent
  }
}

function parseBundle(text: string): EvidenceBundle | undefined {
  try {
    const bundle = JSON.parse(text) as EvidenceBundle;
    return bundle && typeof bundle === 'object' ? bundle : undefined;
  } catch {
    return undefined;
  }
}

/** A bundle file as the store returns it, if it is there and is this workflow's; its digest is computed from the text. */
async function readBundle(path: string, workflowId: string, runId: string, loggedDigest?: string): Promise<StoredEvidence | undefined> {
  let text: string;
  let mtime: Date;
  try {
    [text, mtime] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mtime)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const bundle = parseBundle(text);
  if (!bundle || bundle.workflowId !== workflowId) return undefined;
  const { signature: _signature, log: _log, ...body } = bundle; // the signed body, as common/bundle.ts signs it
  return {
    workflowId,
    runId,
    requestId: String(bundle.requestId),
    // A listing takes the digest its leaf names (hashing every bundle again is the audit's work, not a listing's).
    bundleDigest: loggedDigest ?? bundleDigest(body as EvidenceBody),
    text,
    sealedAt: mtime.toISOString(),
  };
}
