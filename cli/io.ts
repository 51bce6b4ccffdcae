import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDuration } from '../common/duration';
import { parseStrictJson } from '../common/strict-json';
import { usage } from './errors';
import { COMMANDS, type CommandName } from './help';

export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

type ParsedFlags<T extends NonNullable<ParseArgsConfig['options']>> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

/**
 * Parses a command's flags by its entry in the command table (help.ts), so it accepts exactly the
 * flags its --help lists. An unknown flag or a missing value is one sentence naming it (exit 2).
 */
export function parseFlags<N extends CommandName>(args: string[], command: N): ParsedFlags<(typeof COMMANDS)[N]['flags']> {
  const options: NonNullable<ParseArgsConfig['options']> = COMMANDS[command].flags;
  try {
    // The table's entry is the spec; its type is the one parseArgs infers for that command's flags.
    return parseArgs({ args, options, allowPositionals: true, strict: true }) as unknown as ParsedFlags<(typeof COMMANDS)[N]['flags']>;
  } catch (err) {
    const { code, message } = err as { code?: string; message: string };
    const see = `see countersign ${command} --help`;
    // parseArgs quotes the flag: '--bogus', or '-f, --file <value>' for a flag with a short form.
    const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
    const flag = /--[^\s<]+/.exec(quoted)?.[0] ?? /-[^\s,<]+/.exec(quoted)?.[0];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) throw usage(`${command} has no flag ${flag} (${see}).`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) throw usage(`${flag} ${/does not take/.test(message) ? 'takes no value' : 'needs a value'} (${see}).`);
    throw usage(`${message.split('\n')[0]!.replace(/\.$/, '')} (${see}).`);
  }
}

/** Reads and parses a JSON file named by a flag; a bad file is a usage error naming it. */
export function readJsonFile(path: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw usage(`${flag} ${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
  }
  try {
    return parseStrictJson(text);
  } catch (err) {
    throw usage(`${flag} ${path}: not valid JSON (${(err as Error).message}).`);
  }
}

export function durationFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) throw usage(`${flag} must be a duration such as 30s, 5m or 1h, got "${value}".`);
  return ms;
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}
