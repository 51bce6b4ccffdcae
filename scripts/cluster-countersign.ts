/**
 * The countersign processes of the cluster, laid out as a deployment should be (issue 22, M6): the
 * workers' home holds the layer key (and their database password); the server, which faces the
 * agents, gets a home of its own with only its session secret, its start key and its own database
 * password, and — when we are root — runs as an unprivileged user that cannot enter the workers'
 * home at all. Spends and evidence are in countersign's database (scripts/postgres.ts), where the
 * server's role may only read. A compromised server can then neither sign evidence or receipts nor
 * write or delete a spend.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDevCredentials } from '../cli/dev-credentials';

export interface CountersignLayout {
  /** The workers' COUNTERSIGN_HOME: layer key, database password, and the dev principals' keys. */
  home: string;
  /** The server's COUNTERSIGN_HOME: session.secret and keys/server-start.key, nothing else. */
  serverHome: string;
  /** Public: key hashes and public keys only, readable by the server's user. */
  policyFile: string;
  /** The user the server runs as when we are root (nobody), by uid and gid. */
  serverUser?: { name: string; uid: number; gid: number };
  workerEnv: NodeJS.ProcessEnv;
  serverEnv: NodeJS.ProcessEnv;
}

const SERVER_USER = 'nobody';

function userIds(name: string): { uid: number; gid: number } {
  const id = (flag: string) => spawnSync('id', [flag, name], { encoding: 'utf8' });
  const [uid, gid] = [id('-u'), id('-g')];
  if (uid.status !== 0 || gid.status !== 0) throw new Error(`Running as root, the cluster runs the countersign server as the ${name} user, which does not exist.`);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (lstatSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}

/** Makes (or reuses) both homes, the dev credentials and the policy, with the modes and owners above. */
export function countersignLayout(dir: string, examplesDir: string, temporalAddress: string, listen: string): CountersignLayout {
  const home = join(dir, 'home');
  const serverHome = join(dir, 'server-home');
  for (const d of [home, serverHome]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chmodSync(d, 0o700);
  }
  const agents = readdirSync(join(examplesDir, 'actions')).map((f) => (JSON.parse(readFileSync(join(examplesDir, 'actions', f), 'utf8')) as { agentId: string }).agentId);
  const creds = withDevCredentials(readFileSync(join(examplesDir, 'policy.yaml'), 'utf8'), home, { agents, gateways: ['mcp-gateway'], auditors: ['auditor'], serverHome });
  const policyFile = join(dir, 'cluster-policy.yaml');
  writeFileSync(policyFile, creds.policyText, { mode: 0o644 });
  chmodSync(policyFile, 0o644);
  const secret = join(serverHome, 'session.secret');
  if (!existsSync(secret)) writeFileSync(secret, randomBytes(32).toString('base64'), { mode: 0o600 });
  const serverUser = process.getuid?.() === 0 ? { name: SERVER_USER, ...userIds(SERVER_USER) } : undefined;
  if (serverUser) {
    chmodSync(dir, 0o711); // the server's user may pass through to its own home and read the policy, and list nothing
    chownTree(serverHome, serverUser.uid, serverUser.gid);
  }
  const common = { TEMPORAL_ADDRESS: temporalAddress, COUNTERSIGN_POLICY: policyFile };
  return {
    home,
    serverHome,
    policyFile,
    ...(serverUser ? { serverUser } : {}),
    workerEnv: { ...common, COUNTERSIGN_HOME: home },
    serverEnv: { ...common, COUNTERSIGN_HOME: serverHome, HOME: serverHome, COUNTERSIGN_LISTEN: listen },
  };
}
