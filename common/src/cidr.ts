import net from 'node:net';

/**
 * CIDR blocks for trust decisions (PROXY protocol sources). Uses node's BlockList, which
 * matches IPv4 and IPv6 subnets; an IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`, what a dual-stack
 * listener reports) is matched as the IPv4 address it carries.
 */

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parses `a.b.c.d/n`, `x::y/n` or a bare address (one host). Throws Error with a human message. */
export function parseCidr(s: string): Cidr {
  const [address = '', bits, extra] = s.trim().split('/');
  const v = net.isIP(address);
  if (v === 0 || extra !== undefined) throw new Error(`"${s}" is not an address or CIDR block`);
  const family = v === 4 ? 'ipv4' : 'ipv6';
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!/^\d+$/.test(bits ?? String(max)) || prefix > max) throw new Error(`"${s}": prefix must be 0..${max}`);
  return { address, prefix, family };
}

export function cidrMatcher(blocks: readonly string[]): (address: string | undefined) => boolean {
  const list = new net.BlockList();
  for (const b of blocks) {
    const c = parseCidr(b);
    list.addSubnet(c.address, c.prefix, c.family);
  }
  return (address) => {
    if (address === undefined) return false;
    const a = unmapped(address);
    const v = net.isIP(a);
    if (v === 0) return false;
    return list.check(a, v === 4 ? 'ipv4' : 'ipv6');
  };
}

/** `::ffff:1.2.3.4` -> `1.2.3.4`; anything else unchanged. */
export function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}
