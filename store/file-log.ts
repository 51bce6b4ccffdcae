/**
 * The transparency log as files on one machine (COUNTERSIGN_HOME/evidence/log):
 *
 *   leaves/0000000000000000 …   one file per leaf, named by its index, holding the leaf's data
 *   hashes/<leaf hash, hex>     the index of that leaf: how an append finds it is there already
 *   checkpoints/<tree size>.json  each signed checkpoint, once per size
 *
 * Why a file per leaf and no lock file. A leaf is written whole to a temporary file and hard-linked
 * to `leaves/<size>`; link(2) fails when the name exists, so the exclusive create IS the lock, held
 * for exactly one index and never released: two sealers that both read size n both try n, one wins,
 * the other tries n+1. No index is ever taken twice, none is skipped (a sealer only moves to n+1
 * after n exists), and nothing is ever half written (the name appears with its whole content). A
 * lock file (O_EXCL or flock) would serialise the same appends but can be left behind by a sealer
 * killed while holding it; breaking a stale lock safely needs a pid check and still races, and a
 * wrong break could hand one index to two writers. Here a killed sealer leaves at most a temporary
 * file. The price: an append that dies between its leaf and its hashes/ entry, retried after more
 * than RETRY_WINDOW other appends, appends its leaf a second time — a duplicate leaf naming the same
 * bundle, which every check of the log still passes. PostgreSQL's store has no such window (a unique
 * leaf hash).
 *
 * Why appends queue within a process. Racing for an index costs a link(2) per index lost, and 32
 * sealers of one process that all read size n lose 1 + 2 + … + 31 of them per 32 appends (at 32
 * sealers, 30 links and 16 leaf reads an append: 90 appends/s). One process's appends run one at a
 * time, each with no race but another process's; the leaf is written once however many indexes it
 * tries, and the leaves a look-back needs are remembered, not read again.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { privateDir } from '../config/private-files';
import { checkCheckpoint, checkLeafData, checkRange } from './bounds';
import { ignore, linkOnce, staged } from './link-once';
import { leafHash } from '../common/tlog/merkle';
import { CheckpointConflictError, LogDamagedError, type LogCheckpoint, type LogReader, type LogWriter } from './types';

/** Leaves an append looks back through when the hashes/ entry is missing (a sealer that died between the two links). */
const RETRY_WINDOW = 16;
const pad = (n: number) => String(n).padStart(16, '0');
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

export function fileLog(dir: string): LogReader & LogWriter {
  const leaves = join(dir, 'leaves');
  const hashes = join(dir, 'hashes');
  const checkpoints = join(dir, 'checkpoints');
  const leafPath = (index: number) => join(leaves, pad(index));
  /** Leaves known to exist: every index below it does (files are never removed), so a size search starts here. */
  let known = 0;
  /** Leaf hashes (hex) of the last indexes this process appended or read: what a look-back compares with. Leaves are never rewritten. */
  const recent = new Map<number, string>();
  const seen = (index: number, hash: string) => {
    recent.set(index, hash);
    if (recent.size > 4 * RETRY_WINDOW) recent.delete(recent.keys().next().value!);
  };
  /** This process's appends, one at a time. */
  let appending: Promise<unknown> = Promise.resolve();
  const exists = async (index: number) => Boolean(await stat(leafPath(index)).catch(ignore('ENOENT')));

  async function size(): Promise<number> {
    // A leaf below what is known was removed (the log cut short under a running process): search again from 0.
    if (known > 0 && !(await exists(known - 1))) {
      known = 0;
      recent.clear(); // the hashes remembered may be of leaves that are gone
    }
    // Every index below `lo` exists, `hi` does not: gallop up from what is known, then halve.
    let lo = known;
    if (!(await exists(lo))) return lo;
    lo += 1;
    let step = 1;
    let hi = lo;
    while (await exists(hi)) {
      lo = hi + 1;
      hi = lo + step;
      step *= 2;
    }
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (await exists(mid)) lo = mid + 1;
      else hi = mid;
    }
    known = lo;
    return lo;
  }

  async function readLeaf(index: number): Promise<Uint8Array | undefined> {
    const data = await readFile(leafPath(index)).catch(ignore('ENOENT'));
    return data ? new Uint8Array(data) : undefined;
  }

  /** The index the hashes/ entry names, if that leaf is there and is this one. */
  async function indexOf(hash: Uint8Array): Promise<number | undefined> {
    const text = await readFile(join(hashes, hex(hash)), 'utf8').catch(ignore('ENOENT'));
    if (text === undefined || !/^\d{1,16}$/.test(text)) return undefined;
    const data = await readLeaf(Number(text));
    return data && Buffer.from(leafHash(data)).equals(hash) ? Number(text) : undefined;
  }

  const remember = (hash: Uint8Array, index: number) => linkOnce(hashes, join(hashes, hex(hash)), String(index));

  /** The hash of leaf `index`, hex: remembered, or read. */
  async function hashAt(index: number): Promise<string | undefined> {
    const remembered = recent.get(index);
    if (remembered) return remembered;
    const data = await readLeaf(index);
    if (!data) return undefined;
    seen(index, hex(leafHash(data)));
    return recent.get(index);
  }

  async function append(data: Uint8Array): Promise<{ index: number; hash: Uint8Array; appended: boolean }> {
    const hash = leafHash(data);
    const found = await indexOf(hash);
    if (found !== undefined) return { index: found, hash, appended: false };
    for (const d of [dir, leaves, hashes]) privateDir(d);
    let index = await size();
    for (let back = index - 1; back >= Math.max(0, index - RETRY_WINDOW); back--) {
      if ((await hashAt(back)) === hex(hash)) {
        await remember(hash, back);
        return { index: back, hash, appended: false };
      }
    }
    // Another process took `index`: on to the size now, which is past it.
    await staged(leaves, data, async (linkTo) => {
      while (!(await linkTo(leafPath(index)))) index = Math.max(index + 1, await size());
    });
    known = Math.max(known, index + 1);
    seen(index, hex(hash));
    // Two sealers of the same leaf at once (two processes): the one whose entry lands first is the leaf's index; the other leaf is a duplicate.
    if (!(await remember(hash, index))) return { index: (await indexOf(hash)) ?? index, hash, appended: true };
    return { index, hash, appended: true };
  }

  function readCheckpoint(text: string): LogCheckpoint {
    const c = JSON.parse(text) as { treeSize: number; rootHash: string; note: string };
    return { treeSize: c.treeSize, rootHash: new Uint8Array(Buffer.from(c.rootHash, 'hex')), note: c.note };
  }

  return {
    logSize: size,

    async readLeaves(start, end) {
      checkRange(start, end, await size());
      const out = [];
      for (let index = start; index < end; index++) {
        const data = await readLeaf(index);
        if (!data) throw new LogDamagedError(`Leaf ${index} of the log in ${dir} is missing: the log has been tampered with.`);
        out.push({ index, data, hash: leafHash(data) });
      }
      return out;
    },

    leafIndex: indexOf,

    async appendLeaf(data) {
      checkLeafData(data);
      const done = appending.then(() => append(data));
      appending = done.catch(() => undefined);
      return done;
    },

    async putCheckpoint(checkpoint) {
      checkCheckpoint(checkpoint);
      privateDir(checkpoints);
      const text = JSON.stringify({ treeSize: checkpoint.treeSize, rootHash: hex(checkpoint.rootHash), note: checkpoint.note });
      const path = join(checkpoints, `${pad(checkpoint.treeSize)}.json`);
      if (!(await linkOnce(checkpoints, path, text)) && (await readFile(path, 'utf8')) !== text) {
        throw new CheckpointConflictError(`A different checkpoint of tree size ${checkpoint.treeSize} is stored already: a checkpoint is never replaced.`);
      }
    },

    async latestCheckpoint() {
      const names = ((await readdir(checkpoints).catch(ignore('ENOENT'))) ?? []).filter((f) => /^\d{16}\.json$/.test(f)).sort();
      const last = names.at(-1);
      return last ? readCheckpoint(await readFile(join(checkpoints, last), 'utf8')) : undefined;
    },

    async checkpointAt(treeSize) {
      if (!Number.isSafeInteger(treeSize) || treeSize < 0) return undefined;
      const text = await readFile(join(checkpoints, `${pad(treeSize)}.json`), 'utf8').catch(ignore('ENOENT'));
      return text === undefined ? undefined : readCheckpoint(text);
    },
  };
}
