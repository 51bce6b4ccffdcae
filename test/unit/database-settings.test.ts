/**
 * Where the PostgreSQL store is (config/database.ts), and that its password never shows: not in a
 * parsed setting, not in any error, not in what a worker or setup prints when the database refuses
 * or cannot be reached. No database runs here: a closed port is enough (test/store.cluster.ts has one).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { adminDatabaseSettings, databaseSettings } from '../../config/database';
import { postgresStore } from '../../store/postgres';
import { freePort } from '../support/ports';

const SECRET = 'pa55-Wörd:/@?#s3cret';
const encoded = encodeURIComponent(SECRET);
const dir = mkdtempSync(join(tmpdir(), 'countersign-db-settings-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const BIN = join(__dirname, '..', '..', 'bin', 'countersign.js');

/** Every way the secret could leak into a string: as given, URL-encoded, and base64 (a stray Basic header). */
const leaks = (text: string) => [SECRET, encoded, Buffer.from(SECRET).toString('base64')].filter((s) => text.includes(s));

describe('database settings', () => {
  test('a URL is read into parts; what may be shown has no password, and the password is in no plain property', async () => {
    const s = databaseSettings({ COUNTERSIGN_DATABASE_URL: `postgresql://countersign:${encoded}@db.example.com:6543/countersign?sslmode=require` })!;
    assert.equal(s.display, 'postgresql://countersign@db.example.com:6543/countersign');
    assert.deepEqual([s.connection.host, s.connection.port, s.connection.database, s.connection.user, s.connection.ssl], ['db.example.com', 6543, 'countersign', 'countersign', { rejectUnauthorized: false }]);
    assert.deepEqual(leaks(JSON.stringify(s)), []);
    assert.equal(await s.connection.password!(), SECRET);
    assert.equal(databaseSettings({}), undefined, 'no database configured: the store is files');
  });

  test('the parts, with a password file read at each connection; the owner\'s connection for setup on the same host', async () => {
    const file = join(dir, 'pw');
    writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
    const env = { COUNTERSIGN_DATABASE_HOST: '127.0.0.1', COUNTERSIGN_DATABASE_PORT: '55432', COUNTERSIGN_DATABASE_PASSWORD_FILE: file, COUNTERSIGN_DATABASE_ADMIN_USER: 'owner', COUNTERSIGN_DATABASE_ADMIN_PASSWORD_FILE: file };
    const s = databaseSettings(env)!;
    assert.equal(s.display, 'postgresql://countersign@127.0.0.1:55432/countersign');
    assert.equal(await s.connection.password!(), SECRET);
    writeFileSync(file, 'rotated\n');
    assert.equal(await s.connection.password!(), 'rotated', 'a rotated password is read again');
    assert.equal(adminDatabaseSettings(env)!.display, 'postgresql://owner@127.0.0.1:55432/countersign');
    assert.equal(adminDatabaseSettings({ COUNTERSIGN_DATABASE_HOST: 'h' }), undefined);
  });

  test('every refusal is one sentence naming the variable, never its value', () => {
    const refusals: [NodeJS.ProcessEnv, RegExp][] = [
      [{ COUNTERSIGN_DATABASE_URL: `postgresql://u:${encoded}@` }, /COUNTERSIGN_DATABASE_URL (is not a URL|names no host)/],
      [{ COUNTERSIGN_DATABASE_URL: `mysql://u:${encoded}@h/db` }, /must start with postgresql:\/\//],
      [{ COUNTERSIGN_DATABASE_URL: `postgresql://u:${encoded}@h/db?password=${encoded}` }, /parameter countersign does not read: password/],
      [{ COUNTERSIGN_DATABASE_URL: `postgresql://u:${encoded}@h/db?sslmode=${encoded}` }, /sslmode must be one of disable, require, verify-full/],
      [{ COUNTERSIGN_DATABASE_URL: `postgresql://u:${encoded}@h/db`, COUNTERSIGN_DATABASE_HOST: 'h' }, /either COUNTERSIGN_DATABASE_URL or COUNTERSIGN_DATABASE_HOST/],
      [{ COUNTERSIGN_DATABASE_PASSWORD_FILE: '/x' }, /COUNTERSIGN_DATABASE_PASSWORD_FILE is set, but neither/],
      [{ COUNTERSIGN_DATABASE_HOST: 'h', COUNTERSIGN_DATABASE_PASSWORD_FILE: join(dir, 'missing') }, /COUNTERSIGN_DATABASE_PASSWORD_FILE names .* which cannot be read \(ENOENT\)/],
      [{ COUNTERSIGN_DATABASE_HOST: 'h', COUNTERSIGN_DATABASE_POOL_SIZE: '0' }, /COUNTERSIGN_DATABASE_POOL_SIZE must be a whole number from 1 to 100/],
    ];
    for (const [env, expected] of refusals) {
      assert.throws(() => databaseSettings(env), (err: Error) => err.name === 'ConfigError' && expected.test(err.message) && leaks(err.message).length === 0, JSON.stringify(env));
    }
  });

  test('a database that cannot be reached is named without its password', async () => {
    const port = await freePort();
    const s = databaseSettings({ COUNTERSIGN_DATABASE_URL: `postgresql://countersign:${encoded}@127.0.0.1:${port}/countersign` })!;
    await assert.rejects(postgresStore(s, { applicationName: 'test', access: 'write' }), (err: Error) => {
      assert.equal(err.name, 'StoreUnavailable');
      assert.match(err.message, new RegExp(`^Cannot reach the store's database postgresql://countersign@127\\.0\\.0\\.1:${port}/countersign: .*ECONNREFUSED`));
      assert.deepEqual(leaks(`${err.message}\n${err.stack}`), []);
      return true;
    });
  });

  test('a worker and setup given a password in the URL of a database they cannot reach: exit 4, and nothing they print holds the password', async () => {
    const port = await freePort();
    const home = join(dir, 'home');
    const url = `postgresql://countersign:${encoded}@127.0.0.1:${port}/countersign`;
    const cli = (args: string[], env: NodeJS.ProcessEnv) =>
      new Promise<{ code: number; out: string }>((resolve) =>
        execFile(process.execPath, [BIN, ...args], { env: { ...process.env, COUNTERSIGN_HOME: home, COUNTERSIGN_POLICY: join(__dirname, '..', '..', 'examples', 'policy.yaml'), TEMPORAL_ADDRESS: `127.0.0.1:${port}`, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}\n${stderr}` }),
        ),
      );
    assert.equal((await cli(['keys', 'init'], {})).code, 0);
    for (const [args, env] of [[['worker'], { COUNTERSIGN_DATABASE_URL: url }], [['setup'], { COUNTERSIGN_DATABASE_ADMIN_URL: url }]] as const) {
      const r = await cli([...args], env);
      assert.equal(r.code, 4, r.out);
      assert.match(r.out, /Cannot reach the store's database postgresql:\/\/countersign@127\.0\.0\.1:\d+\/countersign/);
      assert.deepEqual(leaks(r.out), [], `${args[0]} printed the password: ${r.out}`);
    }
  });
});
