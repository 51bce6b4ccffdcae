/**
 * Where the machine's CPU time went during a phase (Linux /proc): this process (agents, server,
 * worker), the Temporal processes, PostgreSQL, and what was left idle. On a 2-core box that shares
 * everything, the split says what limits throughput, which the throughput alone cannot.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux Node runs on

/** utime + stime of one process and all its threads, in seconds; 0 once it is gone. */
function processSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // fields 14 and 15 of proc(5)
  } catch {
    return 0;
  }
}

/** Every process whose command name is `comm` (PostgreSQL forks a backend per connection). */
export function pidsNamed(comm: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Busy and idle CPU seconds of the whole machine, all cores together. */
function machineSeconds(): { busy: number; idle: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0); // idle + iowait
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, idle: idle / TICKS_PER_SECOND };
}

export interface CpuGroups {
  /** Named groups of pids: the Temporal processes, the countersign workers. */
  [group: string]: number[];
}

type Reading = { pids: Record<string, Map<number, number>>; bench: number; machine: { busy: number; idle: number } };

function read(groups: CpuGroups): Reading {
  const usage = process.cpuUsage();
  const pids: Record<string, Map<number, number>> = {};
  for (const [name, list] of Object.entries({ ...groups, postgres: pidsNamed('postgres') })) pids[name] = new Map(list.map((pid) => [pid, processSeconds(pid)]));
  return { pids, bench: (usage.user + usage.system) / 1e6, machine: machineSeconds() };
}

/** CPU seconds a group used between two readings: per process, so one that exits or starts between them does not skew the sum. */
function used(before: Map<number, number> | undefined, after: Map<number, number>): number {
  let seconds = 0;
  for (const [pid, now] of after) seconds += Math.max(0, now - (before?.get(pid) ?? 0)); // a process started during the phase counts whole
  return seconds;
}

/**
 * Runs `phase` and returns CPU milliseconds per operation for each group ("bench" is this process,
 * "postgres" every PostgreSQL process, "other" the rest of the machine's busy time, "idle" its idle
 * time). A PostgreSQL backend that exits during the phase takes its share into "other".
 */
export async function cpuPerOperation<T>(groups: CpuGroups, operations: number, phase: () => Promise<T>): Promise<{ result: T; cpuMsPerOperation: Record<string, number> }> {
  const before = read(groups);
  const result = await phase();
  const after = read(groups);
  const perOp = (seconds: number) => Math.round((seconds * 1000 * 10) / operations) / 10;
  const out: Record<string, number> = { bench: perOp(after.bench - before.bench) };
  let accounted = after.bench - before.bench;
  for (const name of Object.keys(after.pids)) {
    const seconds = used(before.pids[name], after.pids[name]!);
    accounted += seconds;
    out[name] = perOp(seconds);
  }
  out.other = perOp(Math.max(0, after.machine.busy - before.machine.busy - accounted));
  out.idle = perOp(after.machine.idle - before.machine.idle);
  return { result, cpuMsPerOperation: out };
}
