/**
 * A store phase of the bench run on its own (`node --import tsx bench/<phase>.ts`): on the file
 * store, and on PostgreSQL too when COUNTERSIGN_DATABASE_* is set; JSON on stdout, progress on stderr.
 */
import { databaseSettings } from '../config/database';
import { postgresStore } from '../store/postgres';
import type { Store } from '../store/types';

export function runStandalone(phase: (options: { postgres?: Store; log: (line: string) => void }) => Promise<Record<string, unknown>>): void {
  void (async () => {
    const settings = databaseSettings(process.env);
    const postgres = settings ? await postgresStore(settings, { applicationName: 'countersign-bench', access: 'write' }) : undefined;
    try {
      const results = await phase({ ...(postgres ? { postgres } : {}), log: (line) => process.stderr.write(`${line}\n`) });
      process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    } finally {
      await postgres?.close();
    }
  })().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
