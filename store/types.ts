/**
 * The store (DESIGN §5, §6; issue 27): what countersign keeps outside Temporal — spends, sealed
 * evidence bundles and the transparency log's leaves and checkpoints. Two implementations behind
 * this one interface: files under one machine's COUNTERSIGN_HOME (store/files.ts, the dev default)
 * and PostgreSQL (store/postgres.ts), chosen by store/open.ts. Every write is insert-only: nothing
 * here updates or deletes what it wrote.
 */

/** One spend of a token, as the ledger keeps it. */
export interface SpendEntry {
  tokenId: string;
  workflowId: string;
  runId: string;
  requestId: string;
  actionDigest: string;
  spentAt: string;
}

export type SpendResult = { recorded: true } | { recorded: false; runId: string; spentAt: string };

/**
 * Where spends are recorded, outside workflow state (DESIGN §5): a reset workflow replays its state,
 * not this. One spend per workflow id — one action of one agent's task — whatever token a run holds:
 * a reset to before the mint, or a new run of the same workflow id, mints a fresh token, and that one
 * must not run the action a second time either. `recordSpend` is an atomic create-if-absent: the
 * first spend wins; a retry from the same run with the same token is the same spend; any other is refused.
 */
export interface SpendLedger {
  recordSpend(entry: SpendEntry): Promise<SpendResult>;
}

/**
 * An edge allow's token (issue 29), as the front door keeps it: found by the token's SHA-256, never by
 * the token. `record` is the JSON text of the decision (common/edge.ts EdgeDecision) its bundle is sealed from.
 */
export interface EdgeTokenEntry {
  tokenHash: string;
  tokenId: string;
  workflowId: string;
  requestId: string;
  expiresAt: string;
  record: string;
}

/** Edge tokens, written once each, and the spend ledger read back (what the front door needs to decide at the edge). */
export interface EdgeTokens {
  /** Writes the token's entry once; a second entry for the same hash is refused (EvidenceConflictError). */
  putEdgeToken(entry: EdgeTokenEntry): Promise<void>;
  getEdgeToken(tokenHash: string): Promise<EdgeTokenEntry | undefined>;
  /** Whether any edge token was minted for this workflow id (a token from elsewhere is then TOKEN_INVALID, not a request not found). */
  edgeMinted(workflowId: string): Promise<boolean>;
  /** The spend recorded for this workflow id, if any. */
  getSpend(workflowId: string): Promise<SpendEntry | undefined>;
}

/** A signed bundle as it is sealed: the exact text (what `verify` reads) and what it is found by. */
export interface SealedEvidence {
  workflowId: string;
  runId: string;
  requestId: string;
  /** bundleDigest of the signed body (common/bundle.ts), hex. */
  bundleDigest: string;
  /** The bundle's JSON text, byte for byte as written. */
  text: string;
}

export interface StoredEvidence extends SealedEvidence {
  /** When the store took it (ISO 8601). */
  sealedAt: string;
}

/** What names a stored bundle's leaf: the fields of its log leaf (common/tlog/leaf.ts). */
export type EvidenceEntry = Omit<SealedEvidence, 'text'>;

export interface BundlePage {
  entries: EvidenceEntry[];
  /** Where the next page starts (opaque); absent on the last page. */
  next?: string;
}

export interface EvidenceReader {
  /** The bundle of one run; without a run id, the one sealed last for the workflow id. */
  getEvidence(workflowId: string, runId?: string): Promise<StoredEvidence | undefined>;
  /** Workflow ids with a sealed bundle for this full request id (16 hex), at most `limit` (≤ 10). */
  workflowsOfRequest(requestId: string, limit: number): Promise<string[]>;
  /**
   * Sealed bundles newest first, those sealed at or after `since` (ISO 8601), at most `limit` (≤
   * MAX_LIST_PAGE) a call; `next` continues below the last one, absent once there is no more. What
   * insights and policy simulation read: the evidence itself, never a copy of it. (The file store gives
   * each bundle the digest its log leaf names, rather than hashing every bundle again: the audit does that.)
   */
  listEvidence(page: EvidencePage): Promise<{ items: StoredEvidence[]; next?: string }>;
  /** Every stored bundle, a page (at most MAX_EVIDENCE_PAGE) at a time from the cursor `after`, without its text: what log audit checks against the leaves, so a bundle with no leaf is named. */
  listBundles(after: string | undefined, limit: number): Promise<BundlePage>;
}

export interface EvidencePage {
  since: string;
  limit: number;
  /** The `next` of the page before: opaque, and refused (StoreInputError) when it is not one this store gave. */
  cursor?: string;
}

export interface EvidenceWriter {
  /** Writes a bundle once: the same text again is fine (`created: false`); other text for the same run is EvidenceConflictError. */
  putEvidence(evidence: SealedEvidence): Promise<{ created: boolean; location: string }>;
  /**
   * A bundle and its log leaf, as one: PostgreSQL writes both in one transaction, so no bundle is ever
   * stored without its leaf; files write the bundle, then the leaf, and a retry of the same seal
   * completes what a crash between them left (both steps are idempotent).
   */
  sealEvidence(evidence: SealedEvidence, leafData: Uint8Array): Promise<{ created: boolean; location: string; leaf: AppendedLeaf }>;
}

export interface AppendedLeaf {
  index: number;
  hash: Uint8Array;
  /** False when the log held this leaf already. */
  appended: boolean;
}

/** A leaf of the log: opaque data and its RFC 9162 leaf hash, SHA-256(0x00 ‖ data) (common/tlog/merkle.ts leafHash). */
export interface LogLeaf {
  index: number;
  data: Uint8Array;
  hash: Uint8Array;
}

/** A signed checkpoint of the log: its size, root hash and the signed note's text (C2SP tlog-checkpoint). */
export interface LogCheckpoint {
  treeSize: number;
  rootHash: Uint8Array;
  note: string;
}

export interface LogReader {
  /** How many leaves the log holds: indexes 0..size-1, every one present. */
  logSize(): Promise<number>;
  /** Leaves `start` to `end - 1`, in order; at most MAX_LEAVES_PAGE of them, and `end` at most the size. */
  readLeaves(start: number, end: number): Promise<LogLeaf[]>;
  /** The index of the leaf with this leaf hash, if the log holds it. */
  leafIndex(hash: Uint8Array): Promise<number | undefined>;
  /** The checkpoint stored with the largest tree size. */
  latestCheckpoint(): Promise<LogCheckpoint | undefined>;
  /** The checkpoint stored for this tree size. */
  checkpointAt(treeSize: number): Promise<LogCheckpoint | undefined>;
}

export interface LogWriter {
  /**
   * Appends a leaf at index = size, serialised with every other appender (the database, or the file
   * system's exclusive create), so no index is used twice or skipped. Idempotent per leaf: data
   * whose leaf hash is already in the log is not appended again; its index comes back, `appended: false`.
   */
  appendLeaf(data: Uint8Array): Promise<AppendedLeaf>;
  /** Stores a signed checkpoint once per tree size: the same again is fine; another for that size is CheckpointConflictError. */
  putCheckpoint(checkpoint: LogCheckpoint): Promise<void>;
}

/** Everything the worker writes and reads; the server is given only the readers (and, for edge allows, EdgeWriter). */
export interface Store extends SpendLedger, EdgeTokens, EvidenceReader, EvidenceWriter, LogReader, LogWriter {
  /** Files at a folder, or postgresql://user@host:port/db: for logs, never with a password. */
  readonly description: string;
  close(): Promise<void>;
}

/** What the front door reads: evidence and the log, nothing it could write. */
export type StoreReader = EvidenceReader & LogReader & { readonly description: string; close(): Promise<void> };

/** What the front door writes when it decides at the edge: its tokens, their spends, their bundles and leaves. Nothing else. */
export type EdgeWriter = EdgeTokens & SpendLedger & EvidenceWriter & Pick<EvidenceReader, 'getEvidence'> & Pick<LogWriter, 'appendLeaf'>;

export class EvidenceConflictError extends Error {
  override name = 'EvidenceConflictError';
}

export class CheckpointConflictError extends Error {
  override name = 'CheckpointConflictError';
}

/** The log is not what it was — a leaf it should hold is gone, or a stored checkpoint has another root than its leaves: it was tampered with, and `log audit` names it. */
export class LogDamagedError extends Error {
  override name = 'LogDamagedError';
}

/** A value the store will not take (too long, a NUL, a range out of bounds): never retried. */
export class StoreInputError extends Error {
  override name = 'StoreInputError';
}

