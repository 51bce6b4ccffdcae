import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What each reviewer was last shown of each request, by `review show --as NAME`: decisions bind to
 * that version (DESIGN §4, invariant 4), so several reviewers can share one machine and each decides
 * on what they looked at, not on whatever is current when they press enter.
 */
export interface SeenVersion {
  workflowId: string;
  /** Absent for runs started before 'integrity-v2'. */
  runId?: string;
  requestId: string;
  versionDigest: string;
  policyDigest: string;
  shownAt: string;
}

/** A file of ours, read back: anything not shaped like one (edited, truncated) counts as never seen. */
function asSeenVersion(value: unknown): SeenVersion | undefined {
  const v = value as Record<string, unknown> | null;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const known = new Set(['workflowId', 'runId', 'requestId', 'versionDigest', 'policyDigest', 'shownAt']);
  if (Object.keys(v).some((k) => !known.has(k))) return undefined;
  const strings = ['workflowId', 'requestId', 'versionDigest', 'policyDigest', 'shownAt'].every((k) => typeof v[k] === 'string');
  if (!strings || (v.runId !== undefined && typeof v.runId !== 'string') || !/^[0-9a-f]{64}$/.test(v.versionDigest as string)) return undefined;
  return v as unknown as SeenVersion;
}

const safe = (name: string) => encodeURIComponent(name).replace(/\./g, '%2E');
const seenPath = (home: string, reviewer: string, workflowId: string) => join(home, 'seen', safe(reviewer), `${safe(workflowId)}.json`);

export function rememberSeen(home: string, reviewer: string, seen: SeenVersion): void {
  const path = seenPath(home, reviewer, seen.workflowId);
  mkdirSync(join(home, 'seen', safe(reviewer)), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(seen)}\n`, { mode: 0o600 });
  renameSync(temp, path);
}

export function lastSeen(home: string, reviewer: string, workflowId: string): SeenVersion | undefined {
  const path = seenPath(home, reviewer, workflowId);
  if (!existsSync(path)) return undefined;
  try {
    return asSeenVersion(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return undefined;
  }
}
