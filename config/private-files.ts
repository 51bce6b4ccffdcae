import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, fchmodSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { agentKeysDir, agentsDir, gatewaySecretPath, layerKeyPath, reviewerKeyPath, sessionSecretPath } from './home';

/**
 * What countersign keeps in COUNTERSIGN_HOME — keys, the session secret, evidence, the spend ledger,
 * the dev server's database — is its owner's alone: folders 0700, files 0600. Modes are set outright
 * (chmod), never left to the umask, and looser ones from before are tightened on start.
 */
export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;

/** Takes group and other access off a file or folder that has any; false if it was already private, is absent, or is not ours to change. */
export function tighten(path: string, mode: number): boolean {
  let current: number;
  try {
    current = statSync(path).mode;
  } catch {
    return false;
  }
  if ((current & 0o077) === 0 && (current & mode & 0o700) === (mode & 0o700)) return false;
  try {
    chmodSync(path, mode);
    return true;
  } catch {
    return false; // another user's folder or a read-only mount: what we cannot change we leave, and report nothing
  }
}

const ensured = new Set<string>();

/** Creates `dir` and any missing parents as 0700, or tightens `dir` if it exists looser; once per folder per process. */
export function privateDir(dir: string): void {
  if (ensured.has(dir)) return;
  const first = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
  if (first) {
    // mkdir's mode goes through the umask: set it outright on each folder this call created.
    for (let d = dir; ; d = dirname(d)) {
      chmodSync(d, PRIVATE_DIR);
      if (d === first || d === dirname(d)) break;
    }
  } else tighten(dir, PRIVATE_DIR);
  ensured.add(dir);
}

/** Writes a file only its owner may read (`flag: 'wx'` to refuse an existing one). */
export function writePrivateFile(path: string, data: string | Uint8Array, flag: 'w' | 'wx' = 'w'): void {
  writeFileSync(path, data, { mode: PRIVATE_FILE, flag });
  chmodSync(path, PRIVATE_FILE);
}

/**
 * A 32-byte random secret kept in `path` (base64url; the file 0600, its folder 0700): read, or made
 * the first time. Made under another name and linked into place, so processes starting together all
 * read the one that won, never a half-written file.
 */
export function privateSecret(path: string): Uint8Array {
  privateDir(dirname(path));
  if (!existsSync(path)) {
    const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writePrivateFile(draft, `${randomBytes(32).toString('base64url')}\n`, 'wx');
    try {
      linkSync(draft, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      rmSync(draft, { force: true });
    }
  }
  tighten(path, PRIVATE_FILE);
  const secret = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url');
  if (secret.length < 32) throw new Error(`${path} does not hold a 32-byte secret (base64url): remove it, and a new one is made.`);
  return secret;
}

/** Sets an open file's mode outright (the one open() gave it went through the umask). */
export const privateFd = (fd: number) => fchmodSync(fd, PRIVATE_FILE);

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The dev server's SQLite file and the journal files SQLite keeps beside it. */
export const devDatabaseFiles = (home: string) => ['temporal.db', 'temporal.db-wal', 'temporal.db-shm', 'temporal.db-journal'].map((f) => join(home, f));

/**
 * On start (worker, dev stack): COUNTERSIGN_HOME, its state folders and the secrets in them made
 * private, whichever version or umask created them. Returns what it had to tighten.
 */
export function securePrivateState(home: string): string[] {
  privateDir(home);
  const changed: string[] = [];
  const dirs = ['keys', join('keys', 'reviewers'), 'evidence', join('evidence', 'spent'), 'agents', 'agent-keys', 'seen'].map((d) => join(home, d));
  for (const dir of [home, ...dirs]) if (tighten(dir, PRIVATE_DIR)) changed.push(dir);
  const files = [sessionSecretPath(home), gatewaySecretPath(home), join(home, 'dev-policy.yaml'), ...devDatabaseFiles(home)];
  // Private keys and API keys; the .pub files beside them are public.
  for (const dir of [dirname(layerKeyPath(home)), dirname(reviewerKeyPath(home, 'x')), agentsDir(home), agentKeysDir(home)]) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    files.push(...names.filter((n) => !n.endsWith('.pub')).map((n) => join(dir, n)));
  }
  for (const file of files) if (isFile(file) && tighten(file, PRIVATE_FILE)) changed.push(file);
  return changed;
}
