import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseProxyHeader, V2_SIGNATURE } from '../../gateway/src/proxy-protocol.js';
import { cidrMatcher, parseCidr } from '../../common/src/cidr.js';

/** PROXY protocol v1/v2 headers (haproxy proxy-protocol.txt) and the trusted-source matcher. */

const MAX = 4096;

function v2(cmd: number, famProto: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  V2_SIGNATURE.copy(h);
  h[12] = 0x20 | cmd;
  h[13] = famProto;
  h.writeUInt16BE(body.length, 14);
  return Buffer.concat([h, body]);
}

function tcp4(src: number[], dst: number[], sport: number, dport: number, tlv = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return v2(1, 0x11, Buffer.concat([b, tlv]));
}

test("v1 TCP4, TCP6 and UNKNOWN; bytes after the CRLF are the client's", () => {
  const h = Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 4242 1883\r\n\x10\x00');
  assert.deepEqual(parseProxyHeader(h, MAX), { state: 'done', length: h.length - 2, version: 1, source: { address: '203.0.113.7', port: 4242 } });
  const h6 = Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 65535 1883\r\n');
  assert.deepEqual(parseProxyHeader(h6, MAX), { state: 'done', length: h6.length, version: 1, source: { address: '2001:db8::7', port: 65535 } });
  const u = Buffer.from('PROXY UNKNOWN whatever follows\r\n');
  assert.deepEqual(parseProxyHeader(u, MAX), { state: 'done', length: u.length, version: 1 });
});

test('v1 arriving in pieces is incomplete until the CRLF', () => {
  const full = 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n';
  for (let i = 1; i < full.length; i++) assert.equal(parseProxyHeader(Buffer.from(full.slice(0, i)), MAX).state, 'incomplete', full.slice(0, i));
});

test('v1 malformed: wrong family, bad ports, missing fields, no CRLF within 107 bytes', () => {
  for (const s of [
    'PROXY TCP4 2001:db8::1 1.2.3.4 1 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 70000 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n',
    'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n',
    'PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n',
  ]) {
    const r = parseProxyHeader(Buffer.from(s), MAX);
    assert.equal(r.state, 'error', s);
    assert.equal(r.state === 'error' && r.why, 'malformed', s);
  }
  const long = parseProxyHeader(Buffer.from('PROXY TCP4 ' + '1'.repeat(120)), MAX);
  assert.equal(long.state === 'error' && long.why, 'too_large');
});

test('v2 TCP4 (with TLVs), TCP6, LOCAL, UNSPEC', () => {
  const h = tcp4([198, 51, 100, 9], [10, 0, 0, 1], 40000, 1883, Buffer.from([0x04, 0x00, 0x02, 0xab, 0xcd]));
  assert.deepEqual(parseProxyHeader(Buffer.concat([h, Buffer.from([0x10])]), MAX), { state: 'done', length: h.length, version: 2, source: { address: '198.51.100.9', port: 40000 } });
  const a6 = Buffer.alloc(36);
  Buffer.from('20010db8000000000000000000000042', 'hex').copy(a6, 0);
  a6.writeUInt16BE(5555, 32);
  assert.deepEqual(parseProxyHeader(v2(1, 0x21, a6), MAX), { state: 'done', length: 52, version: 2, source: { address: '2001:db8::42', port: 5555 } });
  const local = v2(0, 0x00, Buffer.alloc(0));
  assert.deepEqual(parseProxyHeader(local, MAX), { state: 'done', length: 16, version: 2 });
  assert.deepEqual(parseProxyHeader(v2(1, 0x00, Buffer.alloc(0)), MAX), { state: 'done', length: 16, version: 2 });
  for (let i = 1; i < h.length; i++) assert.equal(parseProxyHeader(h.subarray(0, i), MAX).state, 'incomplete', `${i} bytes`);
});

test('v2 malformed: version, command, short address block, unknown family; over the size limit', () => {
  const good = tcp4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
  const badVersion = Buffer.from(good);
  badVersion[12] = 0x11;
  const badCmd = Buffer.from(good);
  badCmd[12] = 0x22;
  for (const b of [badVersion, badCmd, v2(1, 0x11, Buffer.alloc(8)), v2(1, 0x21, Buffer.alloc(12)), v2(1, 0x51, Buffer.alloc(12))]) {
    const r = parseProxyHeader(b, MAX);
    assert.equal(r.state === 'error' && r.why, 'malformed', b.toString('hex'));
  }
  const big = v2(1, 0x11, Buffer.alloc(300));
  assert.equal(parseProxyHeader(big.subarray(0, 16), 256).state === 'error' && (parseProxyHeader(big.subarray(0, 16), 256) as { why: string }).why, 'too_large');
});

test('a connection that does not start with either signature has no header', () => {
  const r = parseProxyHeader(Buffer.from([0x10, 0x0c]), MAX);
  assert.equal(r.state === 'error' && r.why, 'missing');
  assert.equal(parseProxyHeader(Buffer.from('PROXX'), MAX).state === 'error', true);
});

test('trusted CIDRs: IPv4, IPv6, single hosts, IPv4-mapped peers; bad blocks refused', () => {
  const m = cidrMatcher(['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
  assert.equal(m('10.1.2.3'), true);
  assert.equal(m('::ffff:10.1.2.3'), true);
  assert.equal(m('11.0.0.1'), false);
  assert.equal(m('2001:db8:1::5'), true);
  assert.equal(m('2001:db9::5'), false);
  assert.equal(m('192.0.2.7'), true);
  assert.equal(m('192.0.2.8'), false);
  assert.equal(m(undefined), false);
  assert.equal(cidrMatcher([])('127.0.0.1'), false);
  for (const bad of ['10.0.0.0/33', 'nope', '10.0.0.0/8/1', '::1/129', '1.2.3.4/x']) assert.throws(() => parseCidr(bad), /CIDR|prefix/, bad);
});
