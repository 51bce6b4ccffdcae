import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * What each reviewer was last shown of each request, by `review show --as NAME`: decisions bind to
 * that version (DESIGN §4, invariant 4), so several reviewers can share one machine and each decides
 * on what they looked at, not on whatever is current when they press enter.
 */
export const SeenVersion = z.strictObject({
  workflowId: z.string(),
  /** Absent for runs started before 'integrity-v2'. */
  runId: z.string().optional(),
  requestId: z.string(),
  versionDigest: z.string().regex(/^[0-9a-f]{64}$/),
  policyDigest: z.string(),
  shownAt: z.string(),
});
export type SeenVersion = z.infer<typeof SeenVersion>;

const safe = (name: string) => encodeURIComponent(name).replace(/\./g, '%2E');
const seenPath = (home: string, reviewer: string, workflowId: string) => join(home, 'seen', safe(reviewer), `${safe(workflowId)}.json`);

export function rememberSeen(home: string, reviewer: string, seen: SeenVersion): void {
  const path = seenPath(home, reviewer, seen.workflowId);
  mkdirSync(join(home, 'seen', safe(reviewer)), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(seen)}\n`);
  renameSync(temp, path);
}

export function lastSeen(home: string, reviewer: string, workflowId: string): SeenVersion | undefined {
  const path = seenPath(home, reviewer, workflowId);
  if (!existsSync(path)) return undefined;
  const parsed = SeenVersion.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  return parsed.success ? parsed.data : undefined;
}
