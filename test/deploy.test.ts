/**
 * The deployment files, checked statically: no Docker engine runs on our development and CI machines,
 * so nothing here builds an image or starts a container. What it catches is what would make
 * `docker compose up --build` fail or misbehave before any code runs: a dependency on a service that
 * does not exist, an undeclared volume, a mount or build path that is not in the repo, an unpinned
 * image, a Dockerfile that copies a missing file or runs as root.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';

const root = join(__dirname, '..');
const COMPOSE = 'docker-compose.yml';
const DOCKERFILE = 'Dockerfile';
const WORKER = 'countersign-worker';
const SETUP = 'countersign-setup';
const SERVER = 'countersign-server';
const HOME = '/var/lib/countersign';
const POLICY = '/etc/countersign/policy.yaml';

type Obj = Record<string, unknown>;
const isRecord = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Compose variable interpolation: `${X:-default}` and `${X-default}` take the default, `$$` is a literal `$`. */
function interpolate(value: string): { value: string; unresolved: string[] } {
  const unresolved: string[] = [];
  const out = value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (match, braced?: string, fallback?: string, bare?: string) => {
    if (match === '$$') return '$';
    if (fallback !== undefined) return fallback;
    unresolved.push(braced ?? bare ?? match);
    return match;
  });
  return { value: out, unresolved };
}

/** `name[:tag][@digest]`: pinned means a digest, or a tag other than latest. */
function imageTagProblem(ref: string): string | undefined {
  if (ref.includes('@sha256:')) return undefined;
  const lastSegment = ref.slice(ref.lastIndexOf('/') + 1);
  const colon = lastSegment.indexOf(':');
  if (colon < 0) return 'has no tag (that is :latest implicitly); pin a version';
  const tag = lastSegment.slice(colon + 1);
  if (!tag) return 'has an empty tag';
  if (tag === 'latest') return 'uses :latest; pin a version';
  return undefined;
}

function readText(path: string): string {
  assert.ok(existsSync(join(root, path)), `${path} is missing from the repo root`);
  return readFileSync(join(root, path), 'utf8');
}

function parseCompose(text: string, name = COMPOSE): Obj {
  let doc: unknown;
  try {
    // merge: `<<:` keys, which Compose accepts.
    doc = parse(text, { merge: true });
  } catch (err) {
    assert.fail(`${name} does not parse as YAML: ${(err as Error).message}`);
  }
  assert.ok(isRecord(doc), `${name}: the top level is not a mapping`);
  assert.ok(isRecord(doc.services) && Object.keys(doc.services).length, `${name}: no services: mapping`);
  return doc;
}

interface Mount {
  kind: 'named' | 'bind' | 'anonymous';
  source: string;
  target: string;
  readOnly: boolean;
}

function parseMount(entry: unknown): Mount | string {
  if (typeof entry === 'string') {
    const parts = entry.split(':');
    if (parts.length === 1) return { kind: 'anonymous', source: '', target: parts[0]!, readOnly: false };
    const [source, target, mode = ''] = parts as [string, string, string?];
    const kind = /^[./~]/.test(source) ? 'bind' : 'named';
    return { kind, source, target, readOnly: mode.split(',').includes('ro') };
  }
  if (isRecord(entry)) {
    const type = String(entry.type ?? 'volume');
    const source = typeof entry.source === 'string' ? entry.source : '';
    const target = String(entry.target ?? '');
    if (type === 'bind') return { kind: 'bind', source, target, readOnly: entry.read_only === true };
    if (type === 'volume') return { kind: source ? 'named' : 'anonymous', source, target, readOnly: entry.read_only === true };
    return { kind: 'anonymous', source, target, readOnly: false };
  }
  return `${JSON.stringify(entry)} is neither a short "source:target" string nor a mapping`;
}

function dependsOnNames(dependsOn: unknown): string[] {
  if (Array.isArray(dependsOn)) return dependsOn.map(String);
  if (isRecord(dependsOn)) return Object.keys(dependsOn);
  return [];
}

/** Build context and Dockerfile as absolute paths; compose resolves both against the compose file's folder. */
function buildPaths(build: unknown, composeDir: string): { context: string; dockerfile: string } | undefined {
  if (typeof build === 'string') {
    const context = resolve(composeDir, interpolate(build).value);
    return { context, dockerfile: join(context, 'Dockerfile') };
  }
  if (!isRecord(build)) return undefined;
  const context = resolve(composeDir, interpolate(String(build.context ?? '.')).value);
  return { context, dockerfile: resolve(context, interpolate(String(build.dockerfile ?? 'Dockerfile')).value) };
}

/** Every problem in a compose file that a static read can find, one sentence each naming where it is. */
function composeProblems(doc: Obj, composeDir: string, name = COMPOSE): string[] {
  const problems: string[] = [];
  const services = doc.services as Obj;
  const serviceNames = Object.keys(services);
  const declaredVolumes = isRecord(doc.volumes) ? Object.keys(doc.volumes) : [];
  const inRepo = (abs: string) => !relative(root, abs).startsWith('..');

  for (const [service, raw] of Object.entries(services)) {
    const where = `${name}: services.${service}`;
    if (!isRecord(raw)) {
      problems.push(`${where} is not a mapping`);
      continue;
    }
    if (raw.image === undefined && raw.build === undefined) problems.push(`${where} has neither image: nor build:`);

    for (const dep of dependsOnNames(raw.depends_on)) {
      if (!serviceNames.includes(dep)) problems.push(`${where}.depends_on names "${dep}", which is not a service (services: ${serviceNames.join(', ')})`);
    }

    if (raw.image !== undefined) {
      const { value, unresolved } = interpolate(String(raw.image));
      const problem = unresolved.length ? `depends on \${${unresolved.join('}, ${')}} with no default` : imageTagProblem(value);
      if (problem) problems.push(`${where}.image "${String(raw.image)}" ${problem}`);
    }

    if (raw.build !== undefined) {
      const paths = buildPaths(raw.build, composeDir);
      if (!paths) problems.push(`${where}.build is neither a path nor a mapping`);
      else {
        if (!inRepo(paths.context) || !existsSync(paths.context) || !statSync(paths.context).isDirectory()) {
          problems.push(`${where}.build.context ${relative(root, paths.context) || '.'} is not a folder in the repo`);
        } else if (!existsSync(paths.dockerfile)) {
          problems.push(`${where}.build.dockerfile ${relative(root, paths.dockerfile)} does not exist in the repo`);
        }
      }
    }

    const volumes = raw.volumes === undefined ? [] : raw.volumes;
    if (!Array.isArray(volumes)) {
      problems.push(`${where}.volumes is not a list`);
      continue;
    }
    volumes.forEach((entry, i) => {
      const mount = parseMount(typeof entry === 'string' ? interpolate(entry).value : entry);
      if (typeof mount === 'string') return void problems.push(`${where}.volumes[${i}]: ${mount}`);
      if (mount.kind === 'named' && !declaredVolumes.includes(mount.source)) {
        problems.push(`${where}.volumes[${i}] uses the named volume "${mount.source}", which is not declared under the top-level volumes: (declared: ${declaredVolumes.join(', ') || 'none'})`);
      }
      if (mount.kind === 'bind') {
        const abs = resolve(composeDir, mount.source);
        if (!inRepo(abs)) problems.push(`${where}.volumes[${i}] bind-mounts ${mount.source}, which is outside the repo`);
        else if (!existsSync(abs)) problems.push(`${where}.volumes[${i}] bind-mounts ${mount.source}, which does not exist in the repo`);
      }
    });
  }

  for (const service of [WORKER, SETUP]) {
    const raw = services[service];
    if (!isRecord(raw)) {
      problems.push(`${name}: no services.${service}`);
      continue;
    }
    const paths = buildPaths(raw.build, composeDir);
    if (!paths || paths.context !== resolve(root) || paths.dockerfile !== resolve(root, DOCKERFILE)) {
      problems.push(`${name}: services.${service} does not build from the repo's ${DOCKERFILE} (build: context ".", dockerfile "${DOCKERFILE}")`);
    }
  }
  return problems;
}

/** What makes countersign's services scale and agree: shared keys, the same read-only policy, no fixed names or ports. */
function countersignServiceProblems(doc: Obj, name = COMPOSE): string[] {
  const problems: string[] = [];
  const services = doc.services as Obj;
  const mounts = (service: string): Mount[] => {
    const raw = services[service];
    const list = isRecord(raw) && Array.isArray(raw.volumes) ? raw.volumes : [];
    return list.map((e) => parseMount(typeof e === 'string' ? interpolate(e).value : e)).filter((m): m is Mount => typeof m !== 'string');
  };
  const worker = services[WORKER];
  if (isRecord(worker)) {
    if (worker.container_name !== undefined) problems.push(`${name}: services.${WORKER} sets container_name, so --scale ${WORKER}=3 cannot create replicas`);
    const ports = Array.isArray(worker.ports) ? worker.ports : [];
    if (ports.some((p) => (typeof p === 'string' && p.includes(':')) || (isRecord(p) && p.published !== undefined))) {
      problems.push(`${name}: services.${WORKER} publishes a fixed host port, so a second replica could not bind it`);
    }
  }
  const homeVolume = (service: string) => mounts(service).find((m) => m.target === HOME);
  for (const service of [WORKER, SETUP]) {
    const home = homeVolume(service);
    if (!home || home.kind !== 'named') problems.push(`${name}: services.${service} does not mount a named volume at ${HOME} (keys and evidence)`);
    const policy = mounts(service).find((m) => m.target === POLICY);
    if (!policy || policy.kind !== 'bind' || !policy.readOnly) problems.push(`${name}: services.${service} does not bind-mount the policy read-only at ${POLICY}`);
  }
  const [w, s] = [homeVolume(WORKER), homeVolume(SETUP)];
  if (w && s && w.source !== s.source) {
    problems.push(`${name}: ${SETUP} writes the layer key to volume "${s.source}" but ${WORKER} reads "${w.source}": they must share one volume`);
  }
  // The front door faces agents: it must not reach the layer key, the evidence or the spend ledger (issue 22, M6).
  const server = homeVolume(SERVER);
  if (!server || server.kind !== 'named') problems.push(`${name}: services.${SERVER} does not mount a named volume of its own at ${HOME} (session secret, start key)`);
  for (const m of mounts(SERVER)) {
    if (w && m.kind === 'named' && m.source === w.source) problems.push(`${name}: services.${SERVER} mounts the workers' volume "${w.source}" at ${m.target}: the layer key, evidence and spend ledger must stay out of the server's reach`);
  }
  if (isRecord(worker) && isRecord(worker.depends_on)) {
    const setupDep = worker.depends_on[SETUP];
    if (!isRecord(setupDep) || setupDep.condition !== 'service_completed_successfully') {
      problems.push(`${name}: services.${WORKER}.depends_on.${SETUP} is not condition: service_completed_successfully (workers would start before the key exists)`);
    }
  } else problems.push(`${name}: services.${WORKER}.depends_on is not a mapping with conditions`);
  return problems;
}

interface Instruction {
  line: number;
  keyword: string;
  args: string;
}

/** Dockerfile instructions with line continuations joined and comment lines dropped. */
function dockerInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { line: number; text: string } | undefined;
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const continued = trimmed.endsWith('\\');
    const body = continued ? trimmed.slice(0, -1) : trimmed;
    pending = pending ? { line: pending.line, text: `${pending.text} ${body}` } : { line: i + 1, text: body };
    if (continued) return;
    const match = /^(\S+)\s*(.*)$/s.exec(pending.text.trim())!;
    out.push({ line: pending.line, keyword: match[1]!.toUpperCase(), args: match[2]!.trim() });
    pending = undefined;
  });
  return out;
}

function dockerignorePatterns(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('!'))
    .map((l) => l.replace(/^\.?\//, '').replace(/\/$/, ''));
}

/** Every problem in a Dockerfile that a static read can find, with the line it is on. */
function dockerfileProblems(text: string, contextDir: string, dockerignore: string, name = DOCKERFILE): string[] {
  const problems: string[] = [];
  const instructions = dockerInstructions(text);
  const ignored = dockerignorePatterns(dockerignore);
  const globalArgs = new Map<string, string>();
  const stages: { name?: string; line: number; instructions: Instruction[] }[] = [];

  for (const ins of instructions) {
    if (ins.keyword === 'ARG' && !stages.length) {
      const [key, value = ''] = ins.args.split('=');
      globalArgs.set(key!.trim(), value.trim().replace(/^["']|["']$/g, ''));
      continue;
    }
    if (ins.keyword === 'FROM') {
      const tokens = ins.args.split(/\s+/).filter((t) => !t.startsWith('--'));
      const image = (tokens[0] ?? '').replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (m, key: string) => globalArgs.get(key) || m);
      const alias = tokens[1]?.toUpperCase() === 'AS' ? tokens[2] : undefined;
      if (!stages.some((s) => s.name === image)) {
        const problem = image.includes('$') ? 'depends on an ARG with no default' : imageTagProblem(image);
        if (problem) problems.push(`${name}:${ins.line} FROM ${image} ${problem}`);
      }
      stages.push({ name: alias, line: ins.line, instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push(ins);
  }

  if (stages.length < 2) problems.push(`${name}: ${stages.length} FROM stage(s); a multi-stage build (build, then runtime) needs at least two`);
  const final = stages.at(-1);
  if (final) {
    const users = final.instructions.filter((i) => i.keyword === 'USER');
    const user = users.at(-1)?.args.split(':')[0];
    if (!user) problems.push(`${name}: the final stage (FROM at line ${final.line}) has no USER, so the container would run as root`);
    else if (user === 'root' || user === '0') problems.push(`${name}:${users.at(-1)!.line} the final stage runs as ${user}; use a non-root user`);
    const healthcheck = final.instructions.filter((i) => i.keyword === 'HEALTHCHECK').at(-1);
    if (!healthcheck) problems.push(`${name}: the final stage (FROM at line ${final.line}) has no HEALTHCHECK`);
    else if (/^NONE\b/i.test(healthcheck.args)) problems.push(`${name}:${healthcheck.line} HEALTHCHECK NONE disables the health check`);
  }
  if (!instructions.some((i) => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args))) {
    problems.push(`${name}: no RUN npm run build, so the image would lack the prebuilt workflow bundle (dist/workflow-bundle.js)`);
  }

  stages.forEach((stage, index) => {
    for (const ins of stage.instructions) {
      if (ins.keyword !== 'COPY' && ins.keyword !== 'ADD') continue;
      let rest = ins.args;
      const flags: Record<string, string> = {};
      for (let m = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest); m; m = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest)) {
        flags[m[1]!] = m[2] ?? '';
        rest = rest.slice(m[0].length);
      }
      if (flags.from !== undefined) {
        const from = flags.from;
        const earlier = stages.slice(0, index);
        if (!earlier.some((s, i) => s.name === from || String(i) === from) && !/[:/]/.test(from)) {
          problems.push(`${name}:${ins.line} ${ins.keyword} --from=${from} names no earlier stage (stages: ${earlier.map((s, i) => s.name ?? i).join(', ') || 'none'})`);
        }
        continue;
      }
      let args: string[];
      if (rest.startsWith('[')) {
        try {
          args = JSON.parse(rest) as string[];
        } catch {
          problems.push(`${name}:${ins.line} ${ins.keyword} has an invalid JSON argument list`);
          continue;
        }
      } else args = rest.split(/\s+/);
      const sources = args.slice(0, -1);
      if (!sources.length) problems.push(`${name}:${ins.line} ${ins.keyword} has no source`);
      for (const source of sources) {
        if (/^https?:\/\//.test(source) || source.startsWith('<<')) continue;
        const normalized = posix.normalize(source).replace(/^\.\//, '').replace(/\/$/, '');
        const checked = /[*?[]/.test(normalized) ? dirname(normalized) : normalized;
        if (!existsSync(join(contextDir, checked))) {
          problems.push(`${name}:${ins.line} ${ins.keyword} source ${source} does not exist in the repo`);
        } else if (normalized !== '.' && ignored.some((p) => normalized === p || normalized.startsWith(`${p}/`))) {
          problems.push(`${name}:${ins.line} ${ins.keyword} source ${source} is excluded by .dockerignore, so the build would not find it`);
        }
      }
    }
  });
  return problems;
}

const report = (problems: string[]) => `\n  - ${problems.join('\n  - ')}`;

test('docker-compose.yml parses, and every dependency, volume, mount, build path and image tag checks out', () => {
  const doc = parseCompose(readText(COMPOSE));
  const problems = composeProblems(doc, root);
  assert.deepEqual(problems, [], report(problems));
});

test('docker-compose.yml: workers scale (no fixed name or host port) and share the setup key volume and the read-only policy', () => {
  const doc = parseCompose(readText(COMPOSE));
  const problems = countersignServiceProblems(doc);
  assert.deepEqual(problems, [], report(problems));
});

test('Dockerfile: multi-stage, non-root, health-checked, builds the workflow bundle, and copies only files that exist', () => {
  const problems = dockerfileProblems(readText(DOCKERFILE), root, readText('.dockerignore'));
  assert.deepEqual(problems, [], report(problems));
});

test('.dockerignore keeps local keys, dependencies and build output out of the build context', () => {
  const patterns = dockerignorePatterns(readText('.dockerignore'));
  for (const required of ['node_modules', '.countersign', 'dist', '.git']) {
    assert.ok(patterns.includes(required), `.dockerignore does not exclude ${required} (has: ${patterns.join(', ')})`);
  }
});

test('package.json has the build script the Dockerfile runs (npm run build)', () => {
  const pkg = JSON.parse(readText('package.json')) as { scripts?: Record<string, string> };
  assert.equal(typeof pkg.scripts?.build, 'string', 'package.json: scripts.build is missing; the Dockerfile runs `npm run build`');
  assert.ok(pkg.scripts!.build!.trim(), 'package.json: scripts.build is empty');
});

// The checks themselves: a broken file must produce a finding, or the tests above prove nothing.
test('the checks catch broken compose files and Dockerfiles', () => {
  const broken = parseCompose(
    `
services:
  db:
    image: postgres
    volumes: [undeclared-data:/var/lib/postgresql/data]
  ui:
    image: temporalio/ui:latest
    depends_on: [ghost]
  ${SETUP}:
    build: { context: ./no-such-folder }
    volumes: ["./no-such-file.yaml:${POLICY}", "setup-home:${HOME}"]
  ${SERVER}:
    volumes: ["other-home:/srv"]
  ${WORKER}:
    build: { context: ., dockerfile: Dockerfile.missing }
    container_name: worker
    ports: ["9000:9000"]
    depends_on: { ${SETUP}: { condition: service_started } }
    volumes: ["other-home:${HOME}"]
volumes:
  other-home:
  setup-home:
`,
    'broken.yml',
  );
  const found = [...composeProblems(broken, root, 'broken.yml'), ...countersignServiceProblems(broken, 'broken.yml')].join('\n');
  for (const expected of [
    'services.db.image "postgres" has no tag',
    'services.ui.image "temporalio/ui:latest" uses :latest',
    'services.ui.depends_on names "ghost"',
    'named volume "undeclared-data", which is not declared',
    'bind-mounts ./no-such-file.yaml, which does not exist',
    `services.${SETUP}.build.context no-such-folder is not a folder`,
    `services.${WORKER}.build.dockerfile Dockerfile.missing does not exist`,
    `services.${WORKER} does not build from the repo's Dockerfile`,
    `services.${WORKER} sets container_name`,
    `services.${WORKER} publishes a fixed host port`,
    `${SETUP} writes the layer key to volume "setup-home" but ${WORKER} reads "other-home"`,
    `services.${WORKER} does not bind-mount the policy read-only`,
    `services.${SERVER} does not mount a named volume of its own at ${HOME}`,
    `services.${SERVER} mounts the workers' volume "other-home" at /srv`,
    `depends_on.${SETUP} is not condition: service_completed_successfully`,
  ]) {
    assert.ok(found.includes(expected), `compose check did not report "${expected}"; it reported:\n${found}`);
  }
  assert.throws(() => parseCompose('services:\n  a: [unclosed\n', 'bad.yml'), /bad\.yml does not parse as YAML/);

  const dockerfile = dockerfileProblems(
    `FROM node:20 AS build
COPY no-such-dir/ ./
COPY node_modules/ node_modules/
COPY --from=nowhere /x /x
USER root
HEALTHCHECK NONE
`,
    root,
    'node_modules\n',
    'Bad.Dockerfile',
  ).join('\n');
  for (const expected of [
    '1 FROM stage(s)',
    'Bad.Dockerfile:2 COPY source no-such-dir/ does not exist',
    'Bad.Dockerfile:3 COPY source node_modules/ is excluded by .dockerignore',
    'Bad.Dockerfile:4 COPY --from=nowhere names no earlier stage',
    'Bad.Dockerfile:5 the final stage runs as root',
    'Bad.Dockerfile:6 HEALTHCHECK NONE',
    'no RUN npm run build',
  ]) {
    assert.ok(dockerfile.includes(expected), `Dockerfile check did not report "${expected}"; it reported:\n${dockerfile}`);
  }
  const unpinned = dockerfileProblems('FROM node AS a\nFROM a\nRUN npm run build\nUSER app\nHEALTHCHECK CMD true\n', root, '').join('\n');
  assert.match(unpinned, /Dockerfile:1 FROM node has no tag/);
  assert.doesNotMatch(unpinned, /FROM a /, 'a FROM naming an earlier stage needs no tag');
});
