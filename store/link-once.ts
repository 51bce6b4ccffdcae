/** Creating a file exactly once: the one primitive the file store's guarantees rest on (store/files.ts, store/file-log.ts). */
import { randomUUID } from 'node:crypto';
import { link, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writePrivateFile } from '../config/private-files';

/**
 * Writes `text` to `path` if nothing is there: a temporary file beside it, hard-linked to the name
 * (which fails if the name exists), then unlinked. True when this call created it.
 */
export async function linkOnce(folder: string, path: string, text: string | Uint8Array): Promise<boolean> {
  const temp = join(folder, `.${process.pid}.${randomUUID()}.tmp`);
  writePrivateFile(temp, text); // 0600, and so is the name it is linked to
  try {
    await link(temp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    await unlink(temp);
  }
}

/** A `.catch` that turns one error code into undefined and lets any other through. */
export const ignore =
  (code: string) =>
  (err: unknown): undefined => {
    if ((err as NodeJS.ErrnoException).code === code) return undefined;
    throw err;
  };
