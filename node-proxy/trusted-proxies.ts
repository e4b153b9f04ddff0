/**
 * The proxies in front of this one whose forwarding headers are believed (ZECTRE_PROXY_TRUSTED_PROXIES).
 * From any other peer, X-Forwarded-* and X-Real-IP are what this proxy saw, whatever the client sent.
 */
import { BlockList, isIP } from 'node:net';

export class TrustedProxies {
  private readonly list = new BlockList();

  /** Entries are IP addresses or CIDR blocks (`10.0.0.0/8`, `fd00::/8`); a bad one throws, naming it. */
  constructor(entries: string[]) {
    for (const entry of entries) {
      const [address = '', prefix, extra] = entry.split('/');
      const family = isIP(address);
      const bits = prefix === undefined ? undefined : Number(prefix);
      const max = family === 4 ? 32 : 128;
      if (family === 0 || extra !== undefined || (bits !== undefined && !(Number.isInteger(bits) && bits >= 0 && bits <= max && prefix !== ''))) {
        throw new Error(`trusted proxy "${entry}" is not an IP address or CIDR block (e.g. 10.0.0.0/8)`);
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, bits, type);
    }
  }

  trusts(address: string): boolean {
    return this.list.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
  }

  /**
   * The client behind a trusted peer: walking X-Forwarded-For from the nearest hop, the first address
   * that is not itself a trusted proxy (entries further left were written by whoever sent them). An
   * entry that is not an address ends the walk at the trusted hop that passed it on.
   */
  clientOf(peer: string, forwardedFor: string | undefined): string {
    if (!forwardedFor) return peer;
    const hops = forwardedFor.split(',');
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!.trim();
      if (isIP(hop) === 0) break;
      client = hop;
      if (!this.trusts(hop)) break;
    }
    return client;
  }
}

/** `ZECTRE_PROXY_TRUSTED_PROXIES`: comma-separated; empty or unset is none. */
export function parseTrustedProxies(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}
