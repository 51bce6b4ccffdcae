/**
 * The client's address behind proxies the operator named (COUNTERSIGN_TRUSTED_PROXIES), and no
 * others: X-Forwarded-For is read right to left from the connection's own peer, each hop believed
 * only while the hop that reported it is a trusted proxy, so the answer is the right-most address
 * no trusted proxy vouches past. An entry the client wrote itself (the left of the list) never counts.
 */
import { BlockList, isIP } from 'node:net';

/** Entries of X-Forwarded-For read at most, from the right (the end proxies append to): a longer chain is cut, never walked. */
const MAX_HOPS = 32;

export class TrustedProxies {
  private readonly list = new BlockList();
  readonly empty: boolean;

  /** `entries`: addresses or CIDR ranges (IPv4 or IPv6), e.g. ["10.0.0.0/8", "127.0.0.1"]. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, bits, extra] = entry.split('/');
      const family = isIP(address ?? '');
      if (!family || extra !== undefined || (bits !== undefined && !/^\d{1,3}$/.test(bits)) || Number(bits ?? 0) > (family === 4 ? 32 : 128)) {
        throw new TypeError(`"${entry.slice(0, 100)}" is not an IP address or a CIDR range such as 10.0.0.0/8`);
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(address!, type);
      else this.list.addSubnet(address!, Number(bits), type);
    }
    this.empty = entries.length === 0;
  }

  /** Parses COUNTERSIGN_TRUSTED_PROXIES: a comma-separated list; throws a sentence naming the setting. */
  static parse(text: string | undefined): TrustedProxies {
    const entries = (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    try {
      return new TrustedProxies(entries);
    } catch (err) {
      throw new TypeError(`COUNTERSIGN_TRUSTED_PROXIES must be a comma-separated list of proxy addresses or CIDR ranges: ${(err as Error).message}.`);
    }
  }

  has(address: string): boolean {
    const plain = unmapped(address);
    const family = isIP(plain);
    return family !== 0 && this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * The client's address: `peer` (the socket's remote address) unless it is a trusted proxy; then the
   * right-most X-Forwarded-For entry that is not one. A malformed entry ends the walk at the last hop believed.
   */
  clientAddress(peer: string, forwardedFor: string | undefined): string {
    let client = unmapped(peer);
    if (!forwardedFor || !this.has(client)) return client;
    const hops = forwardedFor.slice(-64 * MAX_HOPS).split(',').slice(-MAX_HOPS).map((h) => unmapped(h.trim()));
    for (let i = hops.length - 1; i >= 0; i--) {
      if (!isIP(hops[i]!)) return client; // not an address: nothing left of it is believed
      client = hops[i]!;
      if (!this.has(client)) return client;
    }
    return client;
  }
}

/** An IPv4 peer on a dual-stack socket reads ::ffff:1.2.3.4; it is 1.2.3.4. */
function unmapped(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}
