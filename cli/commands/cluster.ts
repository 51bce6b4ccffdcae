import { ExitCode } from '../../common/codes';
import { Ok } from '../../common/responses';
import { clusterStatus, registerSearchAttributes } from '../../worker/cluster';
import { connectTemporal, serverUrl } from '../connect';
import { adminDatabaseSettings, databaseSettings } from '../../config/database';
import { setupDatabase, type SetupReport } from '../../store/migrate';
import { usage } from '../errors';
import { out, parseFlags, printJson } from '../io';


export async function setupCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, 'setup');
  // The store first: a database that cannot be set up stops here, before anything is registered in Temporal.
  const database = await setupStore(values.writer, values.reader, values.edge, values.json ? () => undefined : out);
  const { connection, config, close } = await connectTemporal();
  try {
    const report = await registerSearchAttributes(connection, config.namespace);
    if (values.json) printJson({ ...report, ...(database ? { database } : {}) });
    else {
      out(`Namespace ${report.namespace} at ${config.address}:`);
      for (const name of report.created) out(`  created  ${name}`);
      for (const name of report.present) out(`  present  ${name}`);
      out(report.created.length ? `Registered ${report.created.length} search attribute(s).` : 'Nothing to do: every search attribute was already registered.');
    }
    return ExitCode.ok;
  } finally {
    await close();
  }
}

/** The store's migrations and grants, when a database is configured; undefined when the store is files. */
async function setupStore(writer: string | undefined, reader: string | undefined, edge: string | undefined, print: (line: string) => void): Promise<SetupReport | undefined> {
  const processes = databaseSettings();
  const admin = adminDatabaseSettings();
  if (!admin) {
    if (processes || writer || reader || edge) throw usage('countersign setup applies the store\'s migrations as the database\'s owner: set COUNTERSIGN_DATABASE_ADMIN_URL, or COUNTERSIGN_DATABASE_ADMIN_USER and COUNTERSIGN_DATABASE_ADMIN_PASSWORD_FILE.');
    return undefined;
  }
  const roles = (text: string | undefined) => (text ?? '').split(',').map((r) => r.trim()).filter(Boolean);
  const processUser = processes?.connection.user;
  const writers = writer !== undefined ? roles(writer) : processUser && processUser !== admin.connection.user ? [processUser] : [];
  const report = await setupDatabase(admin, { writers, readers: roles(reader), edges: roles(edge) });
  print(`Database ${report.database}:`);
  for (const name of report.applied) print(`  applied  ${name}`);
  for (const name of report.present) print(`  present  ${name}`);
  for (const grant of report.granted) print(`  granted  ${grant}`);
  print(report.applied.length ? `Applied ${report.applied.length} migration(s).` : 'Nothing to apply: every migration was already applied.');
  return report;
}

/**
 * The server first (what agents and reviewers reach), printed before Temporal is tried, so a
 * terminal without TEMPORAL_ADDRESS still learns what answers; then Temporal, probed for at most a
 * few seconds (a refused port at once), then its namespace, search attributes and workers.
 */
export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, 'status');
  const server = await serverHealth();
  const text = !values.json && !values.quiet;
  if (text) out(`Server        ${server.url}: ${server.ok ? 'answering' : `not answering (${server.error})`}${process.env.COUNTERSIGN_URL ? '' : '; COUNTERSIGN_URL is not set, so this is the default'}`);
  // Edge allows have no workflow: Temporal cannot count them, the server that decided them does.
  if (text && server.edge) out(`Edge allows   ${server.edge.allowed} decided, ${server.edge.consumed} consumed, ${server.edge.reported} reported, ${server.edge.refused} consumes refused (this server instance, since it started; not in the Temporal UI)`);
  let temporal: Awaited<ReturnType<typeof connectTemporal>>;
  try {
    temporal = await connectTemporal();
  } catch (err) {
    if ((err as Error).name !== 'TemporalUnreachable') throw err;
    const address = (err as Error).message.match(/^Cannot reach Temporal at (\S+) /)?.[1] ?? '';
    if (values.json) printJson({ address, reachable: false, error: (err as Error).message, server, ready: false });
    else if (text) out(`Temporal      ${address}: not reachable${process.env.TEMPORAL_ADDRESS ? '' : '; TEMPORAL_ADDRESS is not set, so this is the default'}`);
    throw err;
  }
  const { connection, config, close } = temporal;
  try {
    const status = await clusterStatus(connection, config.address, config.namespace, config.taskQueue);
    // The front door counts towards ready when COUNTERSIGN_URL names it; otherwise it is only reported.
    const ready = status.namespaceExists && status.searchAttributes.missing.length === 0 && status.workerPolling && (server.ok || !process.env.COUNTERSIGN_URL);
    if (values.json) printJson({ ...status, server, ready });
    else if (text) {
      out(`Temporal      ${status.address}: reachable`);
      out(`Namespace     ${status.namespace}: ${status.namespaceExists ? 'exists' : `missing (${status.error})`}`);
      out(`Search attrs  ${status.searchAttributes.missing.length ? `missing ${status.searchAttributes.missing.join(', ')} (run countersign setup)` : `all ${status.searchAttributes.present.length} present`}`);
      out(`Task queue    ${status.taskQueue}: ${status.workerPolling ? `${status.pollers.length} worker poller(s): ${status.pollers.join(', ')}` : 'no worker polling'}`);
    }
    // --quiet is the container healthcheck: Temporal answers and the namespace exists.
    if (values.quiet) return status.namespaceExists ? ExitCode.ok : ExitCode.refused;
    return ready ? ExitCode.ok : ExitCode.refused;
  } finally {
    await close();
  }
}

/** Whether countersign server answers its health check at COUNTERSIGN_URL. */
async function serverHealth(): Promise<{ url: string; ok: boolean; error?: string; edge?: NonNullable<Ok['edge']> }> {
  const url = serverUrl();
  try {
    const res = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return { url, ok: false, error: `HTTP ${res.status}` };
    const health = Ok.safeParse(await res.json().catch(() => undefined));
    return { url, ok: true, ...(health.success && health.data.edge ? { edge: health.data.edge } : {}) };
  } catch (err) {
    return { url, ok: false, error: ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message };
  }
}
