import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { passkeyFingerprint } from '../../common/webauthn';
import { Client } from '@temporalio/client';
import { isMap, parseDocument } from 'yaml';
import { compilePolicy } from '../../policy/load';
import { ExitCode } from '../../common/codes';
import { parseDuration } from '../../common/duration';
import { EnrollmentError, Enrollments, MAX_INVITE_TTL_MS } from '../../server/enrollments';
import type { EnrollmentState } from '../../workflows/enrollment-messages';
import { connectTemporal, serverUrl } from '../connect';
import { CliError, usage } from '../errors';
import { out, parseFlags, printJson } from '../io';
import { groupHelp } from '../help';


const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export async function reviewersCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'invite' && sub !== 'confirm' && sub !== 'status') throw usage(groupHelp('reviewers'));
  // Each subcommand takes its own flags (only invite has --expires).
  const parsed = sub === 'invite' ? parseFlags(rest, 'reviewers invite') : sub === 'confirm' ? parseFlags(rest, 'reviewers confirm') : parseFlags(rest, 'reviewers status');
  const values: { expires?: string; replace?: boolean; url?: string; policy?: string; fingerprint?: string; json?: boolean } = parsed.values;
  const [name] = parsed.positionals;
  if (!name || !NAME.test(name)) throw usage(`reviewers ${sub} needs a reviewer NAME of letters, digits and . _ : @ - (at most 128).`);
  if (sub === 'confirm' && !values.policy) throw usage('reviewers confirm needs --policy FILE: the policy whose directory the passkey goes into.');
  if (sub === 'confirm' && !values.fingerprint) throw usage(`reviewers confirm needs --fingerprint: the one ${name}'s enrol page showed them (ask ${name} for it yourself, not by replying to the invite).`);
  if (values.policy && !existsSync(values.policy)) throw usage(`--policy ${values.policy}: no such file.`);
  let ttlMs: number | undefined;
  if (values.expires !== undefined) {
    ttlMs = parseDuration(values.expires);
    if (ttlMs === undefined || ttlMs <= 0 || ttlMs > MAX_INVITE_TTL_MS) throw usage(`--expires must be a duration up to ${MAX_INVITE_TTL_MS / 3600_000}h, such as 24h; got "${values.expires}".`);
  }
  const { config, connection, close } = await connectTemporal();
  const enrollments = new Enrollments(new Client({ connection, namespace: config.namespace }), config.taskQueue);
  try {
    if (sub === 'invite') return await invite(enrollments, name, { ttlMs, replace: values.replace === true, url: values.url ?? serverUrl().replace('127.0.0.1', 'localhost'), json: values.json === true });
    if (sub === 'status') return await status(enrollments, name, values.json === true);
    return await confirm(enrollments, name, values.policy!, values.fingerprint!, values.json === true);
  } catch (err) {
    if (err instanceof EnrollmentError) throw new CliError(err.message, ExitCode.refused);
    throw err;
  } finally {
    await close();
  }
}

async function invite(enrollments: Enrollments, name: string, o: { ttlMs?: number; replace: boolean; url: string; json: boolean }): Promise<number> {
  const { token, expiresAt } = await enrollments.invite(name, { ttlMs: o.ttlMs, replace: o.replace });
  // The token travels in the fragment: browsers never send it to a server log or in a Referer.
  const link = `${o.url.replace(/\/+$/, '')}/inbox/enroll#${new URLSearchParams({ reviewer: name, token })}`;
  if (o.json) printJson({ reviewer: name, link, expiresAt });
  else {
    out(`Enrolment link for ${name} (one use, until ${expiresAt}); send it to ${name} only:\n\n  ${link}\n`);
    out(`${name} opens it and creates a passkey; it grants nothing until you confirm the fingerprint ${name}'s page shows them:\n  countersign reviewers confirm ${name} --fingerprint XXXX-XXXX-XXXX-XXXX --policy <your policy file>`);
  }
  return ExitCode.ok;
}

async function status(enrollments: Enrollments, name: string, json: boolean): Promise<number> {
  const state = await enrollments.state(name);
  if (!state) throw new CliError(`${name} has no enrolment: countersign reviewers invite ${name}`, ExitCode.notFound);
  if (json) printJson(state);
  else out(describe(state));
  return ExitCode.ok;
}

function describe(state: EnrollmentState): string {
  switch (state.status) {
    case 'invited':
      return `${state.reviewer}: invited, link open until ${state.expiresAt}.`;
    case 'registered':
      return `${state.reviewer}: a passkey was registered at ${state.registeredAt} from ${state.passkey!.origin}, fingerprint ${state.passkey!.fingerprint}; waiting for countersign reviewers confirm ${state.reviewer} --fingerprint … --policy FILE.`;
    case 'confirmed':
      return `${state.reviewer}: passkey ${state.passkey!.id.slice(0, 16)}… confirmed.`;
    default:
      return `${state.reviewer}: the enrolment ${state.status === 'expired' ? 'expired' : 'was withdrawn'}; invite again.`;
  }
}

/**
 * Adds the registered passkey to the policy's directory (the file is written only if the result
 * loads as a policy), then ends the enrolment. Servers and workers that watch the file pick it up.
 */
async function confirm(enrollments: Enrollments, name: string, policyFile: string, fingerprint: string, json: boolean): Promise<number> {
  const state = await enrollments.state(name);
  if (!state) throw new CliError(`${name} has no enrolment: countersign reviewers invite ${name}`, ExitCode.notFound);
  if (state.status !== 'registered' || !state.passkey) throw new CliError(describe(state), ExitCode.refused);
  const passkey = state.passkey;
  // Recomputed, not read from the enrolment: the fingerprint names this very key.
  const actual = passkeyFingerprint(passkey.id, passkey.publicKey);
  const normalise = (f: string) => f.replace(/[^0-9a-f]/gi, '').toUpperCase();
  if (normalise(fingerprint) !== normalise(actual)) {
    throw new CliError(`The passkey registered for ${name} has another fingerprint (${actual}) than the one given: do not confirm it. If ${name} did not create it, withdraw it with countersign reviewers invite ${name} --replace.`, ExitCode.refused);
  }
  const text = readFileSync(policyFile, 'utf8');
  const doc = parseDocument(text);
  const webauthn = doc.getIn(['directory', 'webauthn']);
  if (!isMap(webauthn)) doc.setIn(['directory', 'webauthn'], doc.createNode({ rpId: passkey.rpId, origins: [passkey.origin] }, { flow: true }));
  else {
    const rpId = String(doc.getIn(['directory', 'webauthn', 'rpId']) ?? '');
    if (rpId !== passkey.rpId) throw new CliError(`The passkey was made for ${passkey.rpId}, but ${policyFile} names the relying party ${rpId}: it would never verify there.`, ExitCode.refused);
  }
  const existing = doc.getIn(['directory', 'reviewers', name, 'passkeys']);
  const before = (existing as { toJSON?: () => unknown } | undefined)?.toJSON?.();
  const passkeys = Array.isArray(before) ? before.filter((p) => (p as { id?: string }).id !== passkey.id) : [];
  const entry = { id: passkey.id, publicKey: passkey.publicKey, confirmedAt: new Date().toISOString(), ...(passkey.aaguid && !/^0{8}-/.test(passkey.aaguid) ? { aaguid: passkey.aaguid } : {}) };
  if (!doc.hasIn(['directory', 'reviewers', name])) doc.setIn(['directory', 'reviewers', name], doc.createNode({}));
  // Block style for the reviewer and the list, one flow line per passkey: readable, and diffable.
  const reviewer = doc.getIn(['directory', 'reviewers', name]);
  if (isMap(reviewer)) reviewer.flow = false;
  const list = doc.createNode([...passkeys, entry]);
  for (const item of list.items) if (isMap(item)) item.flow = true;
  doc.setIn(['directory', 'reviewers', name, 'passkeys'], list);
  const next = doc.toString();
  compilePolicy(next, policyFile); // a policy that would not load is never written (PolicyLoadError, exit 2)
  // The enrolment confirms first (refused if it expired or was withdrawn meanwhile), then the file is
  // replaced in one rename: a watching server or worker never reads half of it.
  await enrollments.confirm(name, passkey.id);
  writeAtomically(policyFile, next);
  if (json) printJson({ reviewer: name, policy: policyFile, fingerprint: actual, passkey: entry });
  else {
    out(`Confirmed ${name}'s passkey ${actual} (registered ${state.registeredAt} from ${passkey.origin}) into ${policyFile}.`);
    out(`Servers and workers running this file reload it within seconds; ${name} signs in at /inbox. Make sure ${name} is a member of their groups.`);
  }
  return ExitCode.ok;
}

/** Writes next to the file under a name no one can guess or pre-create, with the file's own mode, then renames over it. */
function writeAtomically(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(8).toString('hex')}.tmp`);
  writeFileSync(tmp, text, { flag: 'wx', mode: statSync(file).mode & 0o777 });
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
