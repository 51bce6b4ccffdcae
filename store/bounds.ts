/** What the store takes at most, and the checks every implementation runs before it writes or reads. */
import { StoreInputError, type EdgeTokenEntry, type EvidencePage, type LogCheckpoint, type SealedEvidence, type SpendEntry } from './types';

/** A bundle's text at most: the activity's input is bounded by Temporal's 2 MB payload limit, and its text is pretty-printed. */
export const MAX_BUNDLE_BYTES = 8 * 1024 * 1024;
/** One leaf's data at most (countersign's leaves are a few hundred bytes). */
export const MAX_LEAF_BYTES = 64 * 1024;
/** A checkpoint's note at most. */
export const MAX_NOTE_BYTES = 64 * 1024;
/** Leaves one readLeaves returns at most. */
export const MAX_LEAVES_PAGE = 1000;
/** Bundles one listBundles returns at most. */
export const MAX_LIST_PAGE = 500;
export const MAX_EVIDENCE_PAGE = 1000;
/** An evidence cursor at most (base64url of a workflow id and a run id, or of two file names). */
export const MAX_CURSOR_LENGTH = 2000;
/** Temporal's own limit on a workflow id (limit.maxIDLength). */
export const MAX_ID_LENGTH = 1000;

/** Refuses ids the store cannot keep faithfully (empty, too long, a NUL, which PostgreSQL text cannot hold). */
export function checkId(name: string, id: string, max = MAX_ID_LENGTH): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > max || id.includes('\0')) throw new StoreInputError(`The store refuses ${name}: it must be 1 to ${max} characters without NUL.`);
}

/** A listing's window and page size; the cursor is each store's own to check. */
export function checkPage(page: EvidencePage): number {
  if (typeof page.since !== 'string' || Number.isNaN(Date.parse(page.since))) throw new StoreInputError('A listing of evidence needs "since": a time (ISO 8601).');
  if (!Number.isSafeInteger(page.limit) || page.limit < 1 || page.limit > MAX_LIST_PAGE) throw new StoreInputError(`A listing of evidence takes 1 to ${MAX_LIST_PAGE} bundles a page, asked for ${page.limit}.`);
  if (page.cursor !== undefined && (typeof page.cursor !== 'string' || page.cursor.length > 4096)) throw new StoreInputError('A listing\'s cursor is not one this store gave.');
  return Date.parse(page.since);
}

export function checkEvidence(e: SealedEvidence): void {
  checkId('the workflow id', e.workflowId);
  checkId('the run id', e.runId, 128);
  checkId('the request id', e.requestId, 128);
  if (!/^[0-9a-f]{64}$/.test(e.bundleDigest)) throw new StoreInputError('The store refuses the bundle digest: it must be 64 hex digits.');
  if (Buffer.byteLength(e.text, 'utf8') > MAX_BUNDLE_BYTES) throw new StoreInputError(`The evidence bundle of ${e.workflowId.slice(0, 200)} is larger than ${MAX_BUNDLE_BYTES} bytes: the store refuses it.`);
  if (e.text.includes('\0')) throw new StoreInputError('The store refuses a bundle text with a NUL.');
}

export function checkSpend(s: SpendEntry): void {
  checkId('the workflow id', s.workflowId);
  checkId('the run id', s.runId, 128);
  checkId('the token id', s.tokenId, 128);
  checkId('the request id', s.requestId, 128);
  checkId('the action digest', s.actionDigest, 128);
  if (Number.isNaN(Date.parse(s.spentAt))) throw new StoreInputError('The store refuses the spend: spentAt is not a time.');
}

export function checkLeafData(data: Uint8Array): void {
  if (!(data instanceof Uint8Array) || data.length === 0 || data.length > MAX_LEAF_BYTES) throw new StoreInputError(`A log leaf must be 1 to ${MAX_LEAF_BYTES} bytes.`);
}

export function checkRange(start: number, end: number, size: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) throw new StoreInputError(`A leaf range must be whole numbers with 0 ≤ start ≤ end, got ${start}..${end}.`);
  if (end - start > MAX_LEAVES_PAGE) throw new StoreInputError(`At most ${MAX_LEAVES_PAGE} leaves a read, asked for ${end - start}.`);
  if (end > size) throw new StoreInputError(`The log holds ${size} leaves: there is no leaf ${end - 1}.`);
}

export function checkCheckpoint(c: LogCheckpoint): void {
  if (!Number.isSafeInteger(c.treeSize) || c.treeSize < 0) throw new StoreInputError('A checkpoint tree size must be a whole number ≥ 0.');
  if (!(c.rootHash instanceof Uint8Array) || c.rootHash.length !== 32) throw new StoreInputError('A checkpoint root hash must be 32 bytes.');
  if (typeof c.note !== 'string' || !c.note || Buffer.byteLength(c.note, 'utf8') > MAX_NOTE_BYTES || c.note.includes('\0')) throw new StoreInputError(`A checkpoint note must be 1 to ${MAX_NOTE_BYTES} bytes of text without NUL.`);
}

/** An edge token's decision record at most (the request in it is bounded at the front door). */
export const MAX_EDGE_RECORD_BYTES = 1024 * 1024;

export function checkEdgeToken(e: EdgeTokenEntry): void {
  if (!/^[0-9a-f]{64}$/.test(e.tokenHash)) throw new StoreInputError('The store refuses the token hash: it must be 64 hex digits.');
  checkId('the token id', e.tokenId, 128);
  checkId('the workflow id', e.workflowId);
  checkId('the request id', e.requestId, 128);
  if (Number.isNaN(Date.parse(e.expiresAt))) throw new StoreInputError('The store refuses the edge token: expiresAt is not a time.');
  if (typeof e.record !== 'string' || Buffer.byteLength(e.record, 'utf8') > MAX_EDGE_RECORD_BYTES || e.record.includes('\0')) throw new StoreInputError(`The store refuses the edge token's record: at most ${MAX_EDGE_RECORD_BYTES} bytes of text without NUL.`);
}
/**
 * A listBundles cursor as the caller gave it: base64url of a JSON pair of names (a workflow id and a
 * run id, or a folder and a file), bounded; undefined for the first page.
 */
export function checkCursor(after: string | undefined, limit: number): [string, string] | undefined {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_EVIDENCE_PAGE) throw new StoreInputError(`At most ${MAX_EVIDENCE_PAGE} bundles a page, at least 1, asked for ${limit}.`);
  if (after === undefined) return undefined;
  const refused = new StoreInputError(`The cursor "after" must be the "next" of an earlier page: 1 to ${MAX_CURSOR_LENGTH} base64url characters.`);
  if (typeof after !== 'string' || after.length === 0 || after.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(after)) throw refused;
  let pair: unknown;
  try {
    pair = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
  } catch {
    throw refused;
  }
  if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((p) => typeof p === 'string' && p.length > 0 && !p.includes('\0'))) throw refused;
  return pair as [string, string];
}

/** The cursor of the page after the one that ended with this pair. */
export const cursorAfter = (last: [string, string]): string => Buffer.from(JSON.stringify(last)).toString('base64url');
