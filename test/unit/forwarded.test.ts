/** Whose address a request is from, behind the proxies the operator named and no others (issue 22 M1). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TrustedProxies } from '../../server/forwarded';

describe('the client address behind trusted proxies', () => {
  const proxies = new TrustedProxies(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);

  test('with no trusted proxy, X-Forwarded-For is ignored: the peer is the client', () => {
    const none = new TrustedProxies([]);
    assert.equal(none.clientAddress('203.0.113.9', '1.2.3.4'), '203.0.113.9');
    assert.equal(none.clientAddress('127.0.0.1', '1.2.3.4'), '127.0.0.1');
  });

  test('from a peer that is no trusted proxy, the header is ignored', () => {
    assert.equal(proxies.clientAddress('203.0.113.9', '1.2.3.4'), '203.0.113.9');
  });

  test('the right-most hop no trusted proxy vouches past is the client; what the client wrote to its left never counts', () => {
    assert.equal(proxies.clientAddress('127.0.0.1', '198.51.100.7'), '198.51.100.7');
    assert.equal(proxies.clientAddress('127.0.0.1', '1.1.1.1, 198.51.100.7'), '198.51.100.7');
    assert.equal(proxies.clientAddress('10.0.0.2', '1.1.1.1, 198.51.100.7, 10.0.0.3'), '198.51.100.7', 'through two trusted hops');
    assert.equal(proxies.clientAddress('::ffff:127.0.0.1', '2001:db8::1'), '2001:db8::1', 'an IPv4-mapped peer');
    assert.equal(proxies.clientAddress('fd00::5', '::ffff:198.51.100.7'), '198.51.100.7');
  });

  test('a malformed hop ends the walk at the last address believed', () => {
    assert.equal(proxies.clientAddress('127.0.0.1', '198.51.100.7, not-an-ip'), '127.0.0.1');
    assert.equal(proxies.clientAddress('127.0.0.1', 'x, 10.0.0.9'), '10.0.0.9');
  });

  test('a chain of only trusted proxies ends at its left-most hop; a very long header is cut, not walked', () => {
    assert.equal(proxies.clientAddress('127.0.0.1', '10.0.0.8, 10.0.0.9'), '10.0.0.8');
    const long = `${Array(10_000).fill('10.1.1.1').join(', ')}, 198.51.100.7`;
    assert.equal(proxies.clientAddress('127.0.0.1', long), '198.51.100.7');
  });

  test('COUNTERSIGN_TRUSTED_PROXIES: a bad entry is one sentence naming the setting', () => {
    assert.throws(() => TrustedProxies.parse('10.0.0.1, proxy.internal'), /COUNTERSIGN_TRUSTED_PROXIES must be .*"proxy\.internal" is not an IP address/);
    assert.throws(() => TrustedProxies.parse('10.0.0.0/33'), /COUNTERSIGN_TRUSTED_PROXIES/);
    assert.equal(TrustedProxies.parse(undefined).empty, true);
  });
});
