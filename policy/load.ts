import { readFileSync } from 'node:fs';
import { parse as parseCel } from '@marcbachmann/cel-js';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { canonicalJson } from '../common/canonical';
import { parseDuration } from '../common/duration';
import { escapeName, isMissing } from '../common/errors';
import { coseKeyAlgorithm } from '../common/webauthn';
import { nativeSha256Hex } from '../crypto/sha256';
import { actionPatternToRegExp, foldAction, globToRegExp, isGlob } from './glob';
import { compileCatalog, type CompiledCatalog } from './catalog';
import { PolicyFile, type RuleConfig } from './schema';


/** Rule ids the evaluator gives verdicts of its own (policy/evaluate.ts): a rule named so would pass for them. */
const RESERVED_RULE_IDS: ReadonlySet<string> = new Set(['defaults', 'uncatalogued']);
export interface PolicyError {
  file: string;
  path: string;
  line?: number;
  /** The id of the rule the path is in (path rules[N]...), when it has one. */
  rule?: string;
  message: string;
}

/** `file:line: path: message`, a rule named by its id too: `rules[3] (refund-large).when`. */
export function formatPolicyError(e: PolicyError): string {
  const path = e.rule !== undefined ? e.path.replace(/^rules\[\d+\]/, (at) => `${at} (${escapeName(e.rule!)})`) : e.path;
  return `${e.file}${e.line ? `:${e.line}` : ''}: ${path ? `${path}: ` : ''}${e.message}`;
}

export class PolicyLoadError extends Error {
  constructor(readonly errors: PolicyError[]) {
    super(`${errors.length === 1 ? 'The policy has an error' : `The policy has ${errors.length} errors`}:\n${errors.map(formatPolicyError).join('\n')}`);
    this.name = 'PolicyLoadError';
  }
}

type CelProgram = ((context: Record<string, unknown>) => unknown) & { ast?: unknown };

export interface CompiledRule extends RuleConfig {
  index: number;
  actionPatterns: string[];
  resourcePatterns?: RegExp[];
  environments?: string[];
  condition?: CelProgram;
  slaMs?: number;
  escalateAfterMs?: number;
  tokenTtlMs?: number;
  reportWithinMs?: number;
}

export interface CompiledDirectory {
  agents: Map<string, { keyHash: string; kind: 'agent' | 'gateway' }>;
  auditors: Map<string, { keyHash: string }>;
  /** The server's Ed25519 start key (base64): every start must carry a voucher it signed. */
  startKey?: string;
  /** SHA-256 of the canonical directory (agents' key hashes, reviewers' keys, auditors). */
  digest: string;
}

export interface CompiledPolicy {
  file: string;
  digest: string;
  config: PolicyFile;
  defaults: PolicyFile['defaults'] & { slaMs: number; tokenTtlMs: number; reportWithinMs: number };
  rules: CompiledRule[];
  /** Rules by exact action name, plus the wildcard rules tried against every action. */
  exact: Map<string, CompiledRule[]>;
  wildcard: { pattern: RegExp; rule: CompiledRule }[];
  owners: { pattern: RegExp; group: string }[];
  /** Each reviewer's registered key, from the directory or whichever group lists it (one key per reviewer). */
  reviewerKeys: Map<string, string>;
  /** Each reviewer's confirmed passkeys (credential id, COSE public key; base64url). */
  reviewerPasskeys: Map<string, { credentialId: string; publicKey: string }[]>;
  /** The relying party and origins of the web inbox, when the directory has passkeys. */
  webauthn?: { rpId: string; origins: string[]; rpName: string };
  /** Who may come through the front door, and the digest recorded with every decision. */
  directory: CompiledDirectory;
  catalog: CompiledCatalog;
  /** An environment as policy compares it: lower-case, trimmed, aliases folded into their canonical name. */
  environment(name: string): string;
  /** The file's line for a field path, for messages about the policy (policy check's warnings). */
  lineOf(path: (string | number)[]): number | undefined;
}

/** Reads, validates and compiles a policy file; throws PolicyLoadError listing every error. */
export function loadPolicyFile(file: string): CompiledPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicyLoadError([{ file, path: '', message: `cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
  return compilePolicy(text, file);
}

export function compilePolicy(text: string, file = 'policy.yaml'): CompiledPolicy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const errors: PolicyError[] = [];
  for (const e of doc.errors) {
    errors.push({ file, path: '', line: lines.linePos(e.pos[0]).line, message: `YAML: ${firstLine(e.message)}` });
  }
  if (errors.length) throw new PolicyLoadError(errors);

  const lineOf = (path: (string | number)[]) => lineAt(doc, lines, path);
  let raw: unknown;
  const ruleOf = (path: (string | number)[]): { rule?: string } => {
    const id = path[0] === 'rules' && typeof path[1] === 'number' ? asObject(asArray(asObject(raw).rules)[path[1]]).id : undefined;
    return typeof id === 'string' && id.length > 0 && id.length <= 128 ? { rule: id } : {};
  };
  const err = (path: (string | number)[], message: string) => errors.push({ file, path: pathText(path), line: lineOf(path), ...ruleOf(path), message });
  try {
    raw = doc.toJS();
  } catch (e) {
    // toJS refuses a document whose aliases expand too far (a "billion laughs" bomb): a YAML error like the others.
    throw new PolicyLoadError([{ file, path: '', message: `YAML: ${firstLine((e as Error).message)}` }]);
  }
  const parsed = PolicyFile.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
      errors.push({ file, path: pathText(path), line: lineOf(keys.length ? [...path, keys[0]!] : path), ...ruleOf(path), message: issueText(issue) });
    }
  }
  // Cross-references and CEL are checked even when the shape is wrong, so one run reports every error.
  const conditions = checkReferences(raw, err);
  if (errors.length || !parsed.success) throw new PolicyLoadError(errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
  const config = parsed.data;
  const catalog = compileCatalog(config, err);
  checkCatalogMappings(config, err);
  const aliases = new Map<string, string>();
  for (const [canonical, others] of Object.entries(config.environments)) {
    for (const name of [canonical, ...others]) {
      const taken = aliases.get(name);
      if (taken !== undefined && taken !== canonical) err(['environments', canonical], `"${escapeName(name)}" already stands for ${escapeName(taken)}`);
      else aliases.set(name, canonical);
    }
  }
  const reviewerKeys = new Map(Object.values(config.groups).flatMap((g) => Object.entries(g.reviewerKeys ?? {})));
  for (const [name, entry] of Object.entries(config.directory.reviewers)) {
    if (entry.key === undefined) continue;
    const other = reviewerKeys.get(name);
    if (other !== undefined && other !== entry.key) err(['directory', 'reviewers', name, 'key'], `differs from the key a group's reviewerKeys registers for ${escapeName(name)}: a reviewer has one key`);
    reviewerKeys.set(name, entry.key);
  }
  // One person, one reviewer: a key registered for two names, or two names that differ only in
  // letter case, would let one human count twice towards approvals.
  const keyNames = new Map<string, string>();
  for (const [name, key] of reviewerKeys) {
    const other = keyNames.get(key);
    if (other !== undefined) err(['directory', 'reviewers', name], `has the same key as ${escapeName(other)}: each reviewer has a key of their own`);
    else keyNames.set(key, name);
  }
  // Passkeys: each credential belongs to one reviewer, its key is one countersign can verify, and the inbox's relying party is named.
  const reviewerPasskeys = new Map<string, { credentialId: string; publicKey: string }[]>();
  const credentialOwners = new Map<string, string>();
  for (const [name, entry] of Object.entries(config.directory.reviewers)) {
    for (const [i, passkey] of (entry.passkeys ?? []).entries()) {
      const owner = credentialOwners.get(passkey.id);
      if (owner !== undefined) err(['directory', 'reviewers', name, 'passkeys', i, 'id'], `is the same passkey as one of ${escapeName(owner)}'s: a passkey belongs to one reviewer`);
      else credentialOwners.set(passkey.id, name);
      if (!coseKeyAlgorithm(passkey.publicKey)) err(['directory', 'reviewers', name, 'passkeys', i, 'publicKey'], 'is not a COSE public key countersign accepts (ES256 on P-256, or EdDSA on Ed25519)');
      reviewerPasskeys.set(name, [...(reviewerPasskeys.get(name) ?? []), { credentialId: passkey.id, publicKey: passkey.publicKey }]);
    }
  }
  if (Object.keys(config.directory.agents).length && !config.directory.server) {
    err(['directory', 'server'], 'is required when the directory lists agents: { startKey: <the public key of the server\'s keys/server-start.key> }, so the workers run only starts the front door vouched for');
  }
  if (reviewerPasskeys.size && !config.directory.webauthn) err(['directory'], 'registers passkeys but no webauthn: { rpId, origins }, the inbox they were made for');
  const spellings = new Map<string, string>();
  for (const name of [...Object.values(config.groups).flatMap((g) => g.members), ...Object.keys(config.directory.reviewers)]) {
    const other = spellings.get(name.toLowerCase());
    if (other !== undefined && other !== name) err(['groups'], `names both ${escapeName(other)} and ${escapeName(name)}, which differ only in letter case: one reviewer, one spelling`);
    else spellings.set(name.toLowerCase(), name);
  }
  const hashes = new Map<string, string>();
  for (const [kind, entries] of [['agents', config.directory.agents], ['auditors', config.directory.auditors]] as const) {
    for (const [name, entry] of Object.entries(entries)) {
      const taken = hashes.get(entry.keyHash);
      if (taken) err(['directory', kind, name, 'keyHash'], `is the same credential as ${taken}: each credential names one principal`);
      else hashes.set(entry.keyHash, `${kind}.${escapeName(name)}`);
    }
  }
  if (errors.length) throw new PolicyLoadError(errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
  const environment = (name: string) => {
    const folded = name.trim().toLowerCase();
    return aliases.get(folded) ?? folded;
  };

  const rules: CompiledRule[] = config.rules.map((rule, index) => {
    const list = (v: string | string[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);
    return {
      ...rule,
      index,
      actionPatterns: list(rule.match.action)!,
      resourcePatterns: list(rule.match.resource)?.map(globToRegExp),
      environments: list(rule.match.environment)?.map(environment),
      condition: conditions.get(index),
      slaMs: rule.sla ? parseDuration(rule.sla) : undefined,
      escalateAfterMs: rule.escalate ? parseDuration(rule.escalate.after) : undefined,
      tokenTtlMs: rule.tokenTtl ? parseDuration(rule.tokenTtl) : undefined,
      reportWithinMs: rule.reportWithin ? parseDuration(rule.reportWithin) : undefined,
    };
  });

  const exact = new Map<string, CompiledRule[]>();
  const wildcard: CompiledPolicy['wildcard'] = [];
  for (const rule of rules) {
    for (const pattern of rule.actionPatterns) {
      if (isGlob(pattern)) wildcard.push({ pattern: actionPatternToRegExp(pattern), rule });
      else exact.set(foldAction(pattern), [...(exact.get(foldAction(pattern)) ?? []), rule]);
    }
  }
  return {
    file,
    digest: nativeSha256Hex(text),
    config,
    defaults: { ...config.defaults, slaMs: parseDuration(config.defaults.sla)!, tokenTtlMs: parseDuration(config.defaults.tokenTtl)!, reportWithinMs: parseDuration(config.defaults.reportWithin)! },
    rules,
    exact,
    wildcard,
    owners: config.owners.map((o) => ({ pattern: globToRegExp(o.match), group: o.group })),
    reviewerKeys,
    reviewerPasskeys,
    webauthn: config.directory.webauthn, // always set, so a reload that drops it drops it
    directory: {
      agents: new Map(Object.entries(config.directory.agents).map(([name, a]) => [name, { keyHash: a.keyHash, kind: a.kind }])),
      auditors: new Map(Object.entries(config.directory.auditors)),
      ...(config.directory.server ? { startKey: config.directory.server.startKey } : {}),
      digest: nativeSha256Hex(
        canonicalJson({
          agents: Object.fromEntries(Object.entries(config.directory.agents).map(([name, a]) => [name, { keyHash: a.keyHash, kind: a.kind }])),
          reviewers: Object.fromEntries([...reviewerKeys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
          auditors: config.directory.auditors,
          ...(reviewerPasskeys.size ? { passkeys: Object.fromEntries(reviewerPasskeys) } : {}),
          ...(config.directory.webauthn ? { webauthn: config.directory.webauthn } : {}),
          ...(config.directory.server ? { server: config.directory.server } : {}),
        }),
      ),
    },
    catalog,
    environment,
    lineOf,
  };
}

/** A resource mapping may only name payload fields its schema declares (when the schema lists them). */
function checkCatalogMappings(config: PolicyFile, err: (path: (string | number)[], message: string) => void): void {
  for (const [key, entry] of Object.entries(config.actions)) {
    const declared = entry.payload?.properties;
    if (!entry.resource || declared === null || typeof declared !== 'object') continue;
    for (const field of ['id', 'owner', 'environment'] as const) {
      for (const [, name] of (entry.resource[field] ?? '').matchAll(/\{([A-Za-z0-9_-]+)/g)) {
        if (!Object.hasOwn(declared, name!)) err(['actions', key, 'resource', field], `names the payload field "${escapeName(name!)}", which the payload schema does not declare`);
      }
    }
  }
}

type Loose = Record<string, unknown>;
const asObject = (v: unknown): Loose => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Group references, escalation cycles, duplicate ids, review-only fields and CEL: checked on the raw document. */
function checkReferences(raw: unknown, err: (path: (string | number)[], message: string) => void): Map<number, CelProgram> {
  const doc = asObject(raw);
  const groups = asObject(doc.groups);
  const groupNames = new Set(Object.keys(groups));
  // zod's records leave an own "__proto__" key out without a word: refuse it, or a group or a reviewer's key silently vanishes.
  const noProto = (path: (string | number)[], value: unknown) => {
    if (value !== null && typeof value === 'object' && Object.prototype.hasOwnProperty.call(value, '__proto__')) err([...path, '__proto__'], 'is not allowed as a name');
  };
  noProto(['groups'], doc.groups);
  for (const name of groupNames) noProto(['groups', name, 'reviewerKeys'], asObject(groups[name]).reviewerKeys);
  for (const kind of ['agents', 'reviewers', 'auditors']) noProto(['directory', kind], asObject(asObject(doc.directory)[kind]));
  // A duration too long to count in milliseconds (say 400 digits of hours) parses to Infinity: refuse it.
  const finite = (path: (string | number)[], value: unknown) => {
    const ms = typeof value === 'string' ? parseDuration(value) : undefined;
    if (ms !== undefined && !Number.isSafeInteger(ms)) err(path, 'is too long a duration');
  };
  const defaults = asObject(doc.defaults);
  for (const key of ['sla', 'tokenTtl', 'reportWithin']) finite(['defaults', key], defaults[key]);
  asArray(doc.rules).forEach((value, index) => {
    const rule = asObject(value);
    for (const key of ['sla', 'tokenTtl', 'reportWithin']) finite(['rules', index, key], rule[key]);
    finite(['rules', index, 'escalate', 'after'], asObject(rule.escalate).after);
  });
  const needGroup = (path: (string | number)[], name: unknown) => {
    if (typeof name === 'string' && !groupNames.has(name)) err(path, `names the group "${escapeName(name)}", which is not defined under groups`);
  };
  needGroup(['defaults', 'reviewers'], asObject(doc.defaults).reviewers);
  const escalatesTo = (name: string) => asObject(groups[name]).escalatesTo;
  const keyOwners = new Map<string, { group: string; key: unknown }>();
  for (const name of groupNames) {
    needGroup(['groups', name, 'escalatesTo'], escalatesTo(name));
    const members = asArray(asObject(groups[name]).members);
    for (const [reviewer, key] of Object.entries(asObject(asObject(groups[name]).reviewerKeys))) {
      if (!members.includes(reviewer)) err(['groups', name, 'reviewerKeys', reviewer], `is not a member of ${escapeName(name)}`);
      const other = keyOwners.get(reviewer);
      if (other && other.key !== key) err(['groups', name, 'reviewerKeys', reviewer], `is registered with another key in ${escapeName(other.group)}: a reviewer has one key`);
      keyOwners.set(reviewer, other ?? { group: name, key });
    }
    const seen = [name];
    let next = escalatesTo(name);
    while (typeof next === 'string' && groupNames.has(next)) {
      if (seen.includes(next)) {
        if (next === name) err(['groups', name, 'escalatesTo'], `escalation forms a cycle: ${[...seen, next].map(escapeName).join(' -> ')}`);
        break;
      }
      seen.push(next);
      next = escalatesTo(next);
    }
  }
  asArray(doc.owners).forEach((o, i) => needGroup(['owners', i, 'group'], asObject(o).group));

  const conditions = new Map<number, CelProgram>();
  const ids = new Map<string, number>();
  asArray(doc.rules).forEach((value, index) => {
    const rule = asObject(value);
    const at = (...rest: (string | number)[]) => ['rules', index, ...rest];
    if (typeof rule.id === 'string') {
      if (RESERVED_RULE_IDS.has(rule.id)) err(at('id'), `is reserved: "${rule.id}" names policy's own verdict in evidence (the defaults, an uncatalogued action), so no rule may take it`);
      else if (ids.has(rule.id)) err(at('id'), `duplicates the id of rules[${ids.get(rule.id)}]`);
      else ids.set(rule.id, index);
    }
    if (rule.reviewers !== 'owner') needGroup(at('reviewers'), rule.reviewers);
    if (rule.decision === 'allow' || rule.decision === 'deny') {
      for (const key of ['reviewers', 'approvals', 'sla', 'escalate'] as const) {
        if (rule[key] !== undefined) err(at(key), 'only applies to rules whose decision is review');
      }
    }
    if (rule.decision === 'deny' && rule.reason === undefined) err(at('decision'), 'a deny rule needs a reason: the agent is told why');
    if (typeof rule.when === 'string') {
      try {
        conditions.set(index, parseCel(rule.when) as CelProgram);
      } catch (e) {
        err(at('when'), `is not valid CEL: ${firstLine((e as Error).message)}`);
      }
    }
  });
  return conditions;
}

/** The first line of a parser's message (a carriage return ends a line too): one error, one line. */
function firstLine(message: string): string {
  return message.split(/\r\n|\r|\n/)[0]!;
}

function pathText(path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${escapeName(p)}` : escapeName(p)), '');
}

function lineAt(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node && node.range) {
      // For a map key, point at the key's own line rather than its value's.
      if (depth > 0 && depth === path.length) {
        const parent = depth > 0 ? doc.getIn(path.slice(0, depth - 1), true) : doc.contents;
        if (isMap(parent)) {
          const pair = parent.items.find((p) => (p.key as { value?: unknown })?.value === path[depth - 1]);
          const keyRange = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
          if (keyRange) return lines.linePos(keyRange[0]).line;
        }
      }
      return lines.linePos(node.range[0]).line;
    }
    if (depth === 0 && doc.contents && (isMap(doc.contents) || isSeq(doc.contents)) && doc.contents.range) {
      return lines.linePos(doc.contents.range[0]).line;
    }
  }
  return undefined;
}

function issueText(issue: { code: string; message: string; input?: unknown; expected?: string; keys?: string[]; values?: unknown[] }): string {
  if (isMissing(issue)) return 'is required';
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys!.length > 1 ? 's' : ''} ${issue.keys!.map((k) => `"${escapeName(k)}"`).join(', ')}`;
  if (issue.code === 'invalid_value' && issue.values) return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  if (issue.code === 'invalid_type') return `must be ${issue.expected === 'array' ? 'a list' : `a ${issue.expected}`}`;
  return issue.message.startsWith('must') ? issue.message : `invalid: ${issue.message}`;
}
