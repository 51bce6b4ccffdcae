/**
 * docker-compose.yml describes what `npm run test:cluster` tested (issue 14): the same Temporal server
 * release, the same services (two history hosts), the same settings given to the same config template,
 * the same dynamic config file and the same schemas. The cluster's side is read from
 * scripts/cluster-stack.ts, the values it really starts processes with; the compose side from the file.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { DYNAMIC_CONFIG_FILE, NAMESPACE_RETENTION, POSTGRES_MAX_CONNECTIONS, TEMPORAL_PROCESSES, TEMPORAL_SERVER_VERSION, TEMPORAL_SETTINGS, temporalPlacement, temporalServerModule } from '../scripts/cluster-stack';

const root = join(__dirname, '..');
type Service = { image?: string; environment?: Record<string, string | number>; volumes?: string[]; command?: string[] | string };
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const services = Object.entries(compose.services);
/** Any Temporal server image, under any registry prefix or name (auto-setup included): each must be the tested one. */
const temporalServices = services.filter(([, s]) => /(^|\/)temporalio\/(server|auto-setup)(:|@|$)/.test(s.image ?? ''));
/** What the cluster sets on its processes beyond the settings: where things are. Compose may say these differently. */
const PLACEMENT = Object.keys(temporalPlacement('/cluster', { grpc: 1, membership: 2 }, 'password'));
/** Read by the image's entrypoint, not by the config template: which Temporal service the container runs. */
const ENTRYPOINT = ['SERVICES'];
const env = (s: Service) => Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));

test('compose runs the Temporal server release the cluster is built from, with the admin-tools of that release', () => {
  const version = TEMPORAL_SERVER_VERSION.replace(/^v/, '');
  assert.ok(temporalServices.length > 0, 'docker-compose.yml has temporalio/server services');
  for (const [name, s] of temporalServices) assert.equal(s.image, `temporalio/server:${version}`, `${name}'s image`);
  const tools = services.filter(([, s]) => s.image?.startsWith('temporalio/admin-tools:'));
  assert.ok(tools.length > 0, 'docker-compose.yml has admin-tools one-shots');
  for (const [name, s] of tools) assert.match(s.image!, new RegExp(`^temporalio/admin-tools:${version.replace(/\./g, '\\.')}(-|$)`), `${name}'s image carries the ${version} schema migrations`);
});

test('compose runs the same Temporal services as the cluster: frontend, matching, worker and two history hosts', () => {
  const composeRoles = temporalServices.map(([name, s]) => env(s).SERVICES ?? assert.fail(`${name} sets no SERVICES, so it would run every service in one process`)).sort();
  const clusterRoles = TEMPORAL_PROCESSES.map(([, service]) => service).sort();
  assert.deepEqual(composeRoles, clusterRoles);
});

test('every compose Temporal service has exactly the settings the cluster runs with, and nothing the cluster did not run', () => {
  for (const [name, s] of temporalServices) {
    const e = env(s);
    for (const [key, value] of Object.entries(TEMPORAL_SETTINGS)) assert.equal(e[key], value, `${name}: ${key}`);
    const untested = Object.keys(e).filter((key) => !(key in TEMPORAL_SETTINGS) && !PLACEMENT.includes(key) && !ENTRYPOINT.includes(key));
    assert.deepEqual(untested, [], `${name} sets variables the cluster was not tested with`);
  }
});

test('the settings reach the server: both config templates of the release read each variable compose sets', () => {
  const module = temporalServerModule();
  // The image (1.29.1) renders docker/config_template.yaml; the cluster has the server render config/docker.yaml.
  const templates = {
    'docker/config_template.yaml': readFileSync(join(module, 'docker', 'config_template.yaml'), 'utf8'),
    'config/docker.yaml': readFileSync(join(module, 'config', 'docker.yaml'), 'utf8'),
  };
  const variables = new Set(temporalServices.flatMap(([, s]) => Object.keys(env(s))).filter((key) => !ENTRYPOINT.includes(key)));
  for (const key of Object.keys(TEMPORAL_SETTINGS)) variables.add(key);
  for (const [path, text] of Object.entries(templates)) {
    for (const key of variables) assert.ok(text.includes(`.Env.${key} `) || text.includes(`.Env.${key}}`) || text.includes(`env "${key}"`), `${path} never reads ${key}: setting it would change nothing`);
  }
});

test('compose mounts the dynamic config file the cluster runs with, at the path its services are given', () => {
  const repoPath = relative(root, DYNAMIC_CONFIG_FILE).split('\\').join('/');
  for (const [name, s] of temporalServices) {
    const configured = env(s).DYNAMIC_CONFIG_FILE_PATH ?? assert.fail(`${name} sets no DYNAMIC_CONFIG_FILE_PATH`);
    const inContainer = posix.resolve('/etc/temporal', configured); // the image's working directory
    const mount = (s.volumes ?? []).map((v) => v.split(':')).find(([, target]) => inContainer.startsWith(`${target}/`));
    assert.ok(mount, `${name}: nothing is mounted at ${inContainer}`);
    const source = posix.join(mount[0]!, posix.relative(mount[1]!, inContainer));
    assert.equal(posix.normalize(source), repoPath, `${name} reads its dynamic config from the file the cluster uses`);
  }
  const dynamic = parse(readFileSync(DYNAMIC_CONFIG_FILE, 'utf8')) as Record<string, { value: unknown }[]>;
  for (const key of ['frontend.enableUpdateWorkflowExecution', 'frontend.enableUpdateWorkflowExecutionAsyncAccepted', 'frontend.enableExecuteMultiOperation']) {
    assert.equal(dynamic[key]?.[0]?.value, true, `${key} is on`);
  }
  assert.ok(!Object.keys(dynamic).some((k) => k.startsWith('system.force')), 'no test-only override (system.force*) in the dynamic config a deployment runs');
  // Every open inbox lists its queue every 2 s: Temporal's default of 10 visibility calls a second throttles ~20 of them.
  const visibilityRps = dynamic['frontend.namespaceRPS.visibility']?.[0]?.value;
  assert.ok(typeof visibilityRps === 'number' && visibilityRps >= 100, `frontend.namespaceRPS.visibility is at least 100 (got ${String(visibilityRps)})`);
});

test('compose creates the schemas the cluster creates: the PostgreSQL v12 schemas of the release, with the same plugin', () => {
  const [, schema] = services.find(([name]) => name === 'temporal-schema') ?? assert.fail('docker-compose.yml has no temporal-schema one-shot');
  const script = [schema.command ?? ''].flat().join('\n').replace(/\$\$/g, '$'); // compose's $$ is a literal $
  assert.match(script, new RegExp(`--plugin ${TEMPORAL_SETTINGS.DB} `));
  assert.match(script, /--db temporal update-schema -d "\$schema\/temporal\/versioned"/);
  assert.match(script, /--db temporal_visibility update-schema -d "\$schema\/visibility\/versioned"/);
  assert.match(script, /schema=\/etc\/temporal\/schema\/postgresql\/v12\n/);
});

test('compose gives PostgreSQL the connections and the namespace the retention the cluster runs with', () => {
  const [, postgres] = services.find(([name]) => name === 'postgresql') ?? assert.fail('docker-compose.yml has no postgresql service');
  assert.deepEqual(postgres.command, ['postgres', '-c', `max_connections=${POSTGRES_MAX_CONNECTIONS}`]);
  const [, namespace] = services.find(([name]) => name === 'temporal-create-namespace') ?? assert.fail('docker-compose.yml has no temporal-create-namespace one-shot');
  assert.match([namespace.command ?? ''].flat().join('\n'), new RegExp(`namespace create .*--retention ${NAMESPACE_RETENTION}\\b`));
});

test('compose publishes nothing beyond the host\'s loopback', () => {
  for (const [name, s] of services) {
    for (const port of (s as { ports?: string[] }).ports ?? []) assert.match(String(port), /^127\.0\.0\.1:/, `${name} publishes ${port} on every interface`);
  }
});
