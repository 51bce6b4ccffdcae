/** Creating a file exactly once: the one primitive the file store's guarantees rest on (store/files.ts, store/file-log.ts). */
import { randomUUID } from 'node:crypto';
import { link, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writePrivateFile } from '../config/private-files';

/**
 * Writes `text` once to a temporary file in `folder` and offers it to `place`, which hard-links it to
 * names of its choosing (`linkTo`: true when the name was free, false when it exists); the temporary
 * file is unlinked after. Written once however many names are tried: a sealer that loses a race for
 * an index tries the next one with a link(2), not with a new file.
 */
export async function staged<T>(folder: string, text: string | Uint8Array, place: (linkTo: (path: string) => Promise<boolean>) => Promise<T>): Promise<T> {
  const temp = join(folder, `.${process.pid}.${randomUUID()}.tmp`);
  writePrivateFile(temp, text); // 0600, and so is every name it is linked to
  try {
    return await place(async (path) => {
      try {
        await link(temp, path);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        return false;
      }
    });
  } finally {
    await unlink(temp);
  }
}

/** Writes `text` to `path` if nothing is there (link(2) fails if the name exists). True when this call created it. */
export const linkOnce = (folder: string, path: string, text: string | Uint8Array): Promise<boolean> => staged(folder, text, (linkTo) => linkTo(path));

/** A `.catch` that turns one error code into undefined and lets any other through. */
export const ignore =
  (code: string) =>
  (err: unknown): undefined => {
    if ((err as NodeJS.ErrnoException).code === code) return undefined;
    throw err;
  };
