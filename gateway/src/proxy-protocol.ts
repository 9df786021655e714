import net from 'node:net';

/**
 * The PROXY protocol header a load balancer (HAProxy, AWS NLB, ingress controllers) sends
 * before the client's bytes, naming the client's address (haproxy.org proxy-protocol.txt,
 * versions 1 and 2). Parsed by hand: the whole format is a text line or a 16-byte prefix plus
 * addresses. Pure; the socket side is proxy-protocol-accept.ts.
 */

/** v1: "PROXY " ... CRLF, at most 107 bytes including the CRLF (spec section 2.1). */
export const V1_MAX_BYTES = 107;
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** v2: this 12-byte signature, then version/command, family/transport, length (spec section 2.2). */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;

export interface ProxySource {
  address: string;
  port: number;
}

export type ProxyParse =
  /** More bytes are needed. */
  | { state: 'incomplete' }
  /**
   * A whole header of `length` bytes. `source` is the client's address; absent for LOCAL (v2)
   * and UNKNOWN (v1) or an unsupported family: the connection's own address then stands (the
   * load balancer's health checks).
   */
  | { state: 'done'; length: number; version: 1 | 2; source?: ProxySource }
  | { state: 'error'; why: 'malformed' | 'too_large' | 'missing'; detail: string };

/** Whether the first bytes could start a PROXY header (either version): decides "missing". */
export function looksLikeProxyHeader(b: Buffer): boolean {
  const n = Math.min(b.length, V1_PREFIX.length);
  if (n > 0 && b.compare(V1_PREFIX, 0, n, 0, n) === 0) return true;
  const m = Math.min(b.length, V2_SIGNATURE.length);
  return m > 0 && b.compare(V2_SIGNATURE, 0, m, 0, m) === 0;
}

/** Parses the header at the start of `b` (everything received so far). */
export function parseProxyHeader(b: Buffer, maxBytes: number): ProxyParse {
  if (b.length === 0) return { state: 'incomplete' };
  if (!looksLikeProxyHeader(b)) return { state: 'error', why: 'missing', detail: `connection did not start with a PROXY header (first byte 0x${b[0]!.toString(16)})` };
  if (b[0] === 0x50) return parseV1(b);
  return parseV2(b, maxBytes);
}

function parseV1(b: Buffer): ProxyParse {
  const end = b.indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    if (b.length >= V1_MAX_BYTES) return { state: 'error', why: 'too_large', detail: `v1 header without CRLF in ${V1_MAX_BYTES} bytes` };
    return { state: 'incomplete' };
  }
  const length = end + 2;
  if (length > V1_MAX_BYTES) return { state: 'error', why: 'too_large', detail: `v1 header of ${length} bytes (at most ${V1_MAX_BYTES})` };
  const parts = b.toString('latin1', 0, end).split(' ');
  const bad = (detail: string): ProxyParse => ({ state: 'error', why: 'malformed', detail: `v1: ${detail}` });
  if (parts[1] === 'UNKNOWN') return { state: 'done', length, version: 1 }; // the rest of the line is to be ignored
  if (parts.length !== 6) return bad(`expected 6 fields, got ${parts.length}`);
  const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const family = proto === 'TCP4' ? 4 : proto === 'TCP6' ? 6 : 0;
  if (family === 0) return bad(`unknown protocol "${proto}"`);
  if (net.isIP(src) !== family || net.isIP(dst) !== family) return bad(`addresses are not ${proto}`);
  const port = v1Port(sport);
  if (port === undefined || v1Port(dport) === undefined) return bad('ports must be 0..65535 without leading zeros');
  return { state: 'done', length, version: 1, source: { address: src, port } };
}

function v1Port(s: string): number | undefined {
  if (!/^(0|[1-9]\d{0,4})$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

function parseV2(b: Buffer, maxBytes: number): ProxyParse {
  if (b.length < V2_FIXED) return { state: 'incomplete' };
  const bad = (detail: string): ProxyParse => ({ state: 'error', why: 'malformed', detail: `v2: ${detail}` });
  const verCmd = b[12]!;
  if (verCmd >> 4 !== 2) return bad(`version ${verCmd >> 4}`);
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return bad(`command ${cmd}`);
  const famProto = b[13]!;
  const len = b.readUInt16BE(14);
  const length = V2_FIXED + len;
  if (length > maxBytes) return { state: 'error', why: 'too_large', detail: `v2 header of ${length} bytes (mqtt.proxyHeaderMaxBytes ${maxBytes})` };
  if (b.length < length) return { state: 'incomplete' };
  // LOCAL: the proxy's own connection (health check); addresses, if any, are ignored.
  if (cmd === 0) return { state: 'done', length, version: 2 };
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  if (family === 1 && transport === 1) {
    if (len < 12) return bad(`TCP4 address block of ${len} bytes`);
    const address = `${b[16]}.${b[17]}.${b[18]}.${b[19]}`;
    return { state: 'done', length, version: 2, source: { address, port: b.readUInt16BE(24) } };
  }
  if (family === 2 && transport === 1) {
    if (len < 36) return bad(`TCP6 address block of ${len} bytes`);
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(16 + 2 * i).toString(16));
    return { state: 'done', length, version: 2, source: { address: compressIpv6(groups), port: b.readUInt16BE(48) } };
  }
  if (family > 3 || transport > 2) return bad(`family/transport 0x${famProto.toString(16)}`);
  // UNSPEC, UNIX or datagram: nothing we can use as a TCP peer; the connection's own address stands.
  return { state: 'done', length, version: 2 };
}

/** The canonical text form (RFC 5952: longest zero run as ::, IPv4-mapped as ::ffff:a.b.c.d). */
function compressIpv6(groups: string[]): string {
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') {
    const hi = parseInt(groups[6]!, 16);
    const lo = parseInt(groups[7]!, 16);
    return `::ffff:${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
