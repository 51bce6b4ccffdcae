/**
 * Which store a process uses: PostgreSQL when a database is configured (config/database.ts), else
 * the files under COUNTERSIGN_HOME/evidence — the dev default, unchanged. Workers open it to write;
 * the server opens it to read evidence and the log, and nothing else.
 */
import { databaseSettings } from '../config/database';
import { evidenceDir } from '../config/home';
import { fileStore } from './files';
import { postgresStore } from './postgres';
import type { EdgeWriter, Store, StoreReader } from './types';

export interface OpenOptions {
  home: string;
  env?: NodeJS.ProcessEnv;
  /** An idle database connection failed: said with no secret in it. */
  onError?: (message: string) => void;
}

/** The workers' store: spends, evidence and the log, to write and read. */
export async function openStore(options: OpenOptions): Promise<Store> {
  const settings = databaseSettings(options.env ?? process.env);
  if (!settings) return fileStore(evidenceDir(options.home));
  return postgresStore(settings, { applicationName: 'countersign-worker', access: 'write', ...(options.onError ? { onError: options.onError } : {}) });
}

/** The front door's store: evidence and the log, read only (the files of its own home when no database is configured). */
export async function openStoreReader(options: OpenOptions): Promise<StoreReader> {
  const settings = databaseSettings(options.env ?? process.env);
  if (!settings) return fileStore(evidenceDir(options.home));
  return postgresStore(settings, { applicationName: 'countersign-server', access: 'read', ...(options.onError ? { onError: options.onError } : {}) });
}

/** A front door that decides edge allows (issue 29): the reader, and what it records of its edge tokens (role countersign_edge on PostgreSQL). */
export async function openStoreEdge(options: OpenOptions): Promise<StoreReader & EdgeWriter> {
  const settings = databaseSettings(options.env ?? process.env);
  if (!settings) return fileStore(evidenceDir(options.home));
  return postgresStore(settings, { applicationName: 'countersign-server', access: 'edge', ...(options.onError ? { onError: options.onError } : {}) });
}
