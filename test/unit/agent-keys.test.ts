/**
 * Per-request agent keys derived from a kept secret (what the MCP gateway uses): the same secret
 * gives the same key for a request after a restart, and opens the token sealed to it; the secret
 * itself is one private file, made once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { derivedKeyStore, memoryKeyStore, openToken } from '../../client/agent-keys';
import { privateSecret } from '../../config/private-files';
import { generateAgentKey, sealAad, sealToAgent } from '../../crypto/tokens';

describe('derived agent keys', () => {
  const secret = randomBytes(32);

  test('the same secret derives the same key for a request, in another store as after a restart, and opens its token', () => {
    const key = derivedKeyStore(secret).get('cs-gw-0123456789abcdef')!;
    const again = derivedKeyStore(Buffer.from(secret)).get('cs-gw-0123456789abcdef')!;
    assert.equal(again.publicKey, key.publicKey);
    assert.equal(Buffer.from(key.publicKey, 'base64').length, 32);
    const sealed = sealToAgent(key.publicKey, 'cst_secret-token', sealAad('cs-gw-0123456789abcdef', 'tok_1'));
    assert.equal(openToken(again, sealed, 'cs-gw-0123456789abcdef', 'tok_1'), 'cst_secret-token');
  });

  test('another request, or another secret, derives another key, which cannot open the token', () => {
    const key = derivedKeyStore(secret).get('cs-gw-0123456789abcdef')!;
    const otherRequest = derivedKeyStore(secret).get('cs-gw-fedcba9876543210')!;
    const otherSecret = derivedKeyStore(randomBytes(32)).get('cs-gw-0123456789abcdef')!;
    assert.notEqual(otherRequest.publicKey, key.publicKey);
    assert.notEqual(otherSecret.publicKey, key.publicKey);
    const sealed = sealToAgent(key.publicKey, 'cst_secret-token', sealAad('cs-gw-0123456789abcdef', 'tok_1'));
    assert.throws(() => openToken(otherSecret, sealed, 'cs-gw-0123456789abcdef', 'tok_1'));
  });

  test('a key an earlier version stored is found first; a short secret is refused', () => {
    const stored = memoryKeyStore();
    const kept = generateAgentKey();
    stored.put('cs-gw-0123456789abcdef', kept);
    const store = derivedKeyStore(secret, stored);
    assert.equal(store.get('cs-gw-0123456789abcdef')!.publicKey, kept.publicKey);
    store.delete('cs-gw-0123456789abcdef');
    assert.equal(stored.get('cs-gw-0123456789abcdef'), undefined);
    assert.notEqual(store.get('cs-gw-0123456789abcdef')!.publicKey, kept.publicKey, 'derived once the stored one is gone');
    assert.throws(() => derivedKeyStore(randomBytes(16)), /at least 32 bytes/);
  });

  test('privateSecret makes the secret once, owner-only, and reads the same one after', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'countersign-secret-')), 'home');
    const path = join(dir, 'mcp-gateway.secret');
    const first = privateSecret(path);
    assert.equal(first.length, 32);
    assert.deepEqual(privateSecret(path), first);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.match(readFileSync(path, 'utf8'), /^[A-Za-z0-9_-]{43}\n$/);
  });
});
