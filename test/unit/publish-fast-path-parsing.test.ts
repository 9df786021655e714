import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import mqtt from 'mqtt-packet';
import { Connection, connectionContext, fieldsFillPacket } from '../../gateway/src/connection.js';
import { parsePlainPuback } from '../../gateway/src/protocol/parse-plain-puback.js';
import { parsePlainPublish, wholePacketEnd } from '../../gateway/src/protocol/parse-plain-publish.js';
import { FakeSocket } from '../support/fake-socket.js';

/** What mqtt-packet alone emits for a byte stream fed in the given chunks (packets, then errors). */
function reference(chunks: Buffer[]): { packets: unknown[]; errors: string[] } {
  const parser = mqtt.parser();
  const packets: unknown[] = [];
  const errors: string[] = [];
  let stopped = false;
  parser.on('packet', (p) => {
    if (stopped) return;
    // The connection refuses what mqtt-packet decodes from bytes beyond the packet (connection.ts).
    const read = (parser as unknown as { _pos: number })._pos;
    if (!fieldsFillPacket(p, read)) {
      stopped = true;
      errors.push(`${p.cmd}: fields do not fill the Remaining Length ${p.length} (read ${read})`);
    } else packets.push(plain(p));
  });
  parser.on('error', (e: Error) => {
    if (!stopped) errors.push(e.message);
    stopped = true;
  });
  for (const c of chunks) if (!stopped) parser.parse(c);
  return { packets, errors };
}

/** Own enumerable fields only, Buffers as Buffers (mqtt-packet emits class instances). */
function plain(p: object): unknown {
  return { ...p };
}

/** What a Connection (fast path + mqtt-packet) emits for the same chunks. Errors stop input, as the gateway closes. */
let fastPathPackets = 0;

function viaConnection(chunks: Buffer[]): { packets: unknown[]; errors: string[] } {
  const sock = new FakeSocket();
  const packets: unknown[] = [];
  const errors: string[] = [];
  let closed = false;
  new Connection(
    sock as unknown as Socket,
    1,
    0,
    connectionContext({
      onPacket: (_c, p) => {
        // mqtt-packet emits instances of its Packet class; the fast path emits plain objects.
        if (Object.getPrototypeOf(p) === Object.prototype) fastPathPackets++;
        packets.push(plain(p));
      },
      onBad: (_c, why, err) => {
        closed = true;
        errors.push(err?.message ?? why);
      },
      onFault: (_c, err) => {
        throw err; // a bug in the parsing path must fail this test, not be swallowed
      },
    }),
  );
  for (const c of chunks) {
    if (closed) break;
    sock.emit('data', c);
  }
  return { packets, errors };
}

function gen(p: object, protocolVersion: 3 | 4 | 5): Buffer {
  return mqtt.generate(p as mqtt.Packet, { protocolVersion });
}

const connect4 = gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 30 }, 4);
const connect5 = gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'c', clean: true, keepalive: 30 }, 5);

function connectOf(v: 4 | 5): Buffer {
  return v === 5 ? connect5 : connect4;
}

function streamFor(v: 4 | 5): Buffer {
  const parts: Buffer[] = [v === 5 ? connect5 : connect4];
  const pub = (topic: string, qos: 0 | 1 | 2, payload: Buffer, extra: object = {}) =>
    gen({ cmd: 'publish', topic, qos, payload, retain: qos === 1, dup: qos === 2, messageId: qos > 0 ? 77 + payload.length : undefined, ...extra }, v);
  parts.push(pub('a/b', 0, Buffer.from('hello')));
  parts.push(pub('a/ü/c', 1, Buffer.alloc(300, 1)));
  parts.push(pub('x', 2, Buffer.alloc(0)));
  parts.push(gen({ cmd: 'pingreq' }, v));
  parts.push(pub('after/ping', 0, Buffer.alloc(20000, 2)));
  parts.push(gen({ cmd: 'puback', messageId: 5 }, v));
  if (v === 5) parts.push(pub('with/props', 1, Buffer.from('p'), { properties: { contentType: 'text/plain', userProperties: { a: 'b' } } }));
  parts.push(pub('last', 0, Buffer.from('z')));
  return Buffer.concat(parts);
}

for (const v of [4, 5] as const) {
  test(`v${v}: the fast path emits exactly mqtt-packet's packets, whole stream in one chunk`, () => {
    const s = streamFor(v);
    assert.deepEqual(viaConnection([s]), reference([s]));
    // After the CONNECT the rest goes to mqtt-packet; in a chunk of its own it takes the fast path.
    const before = fastPathPackets;
    assert.deepEqual(viaConnection([connectOf(v), s.subarray(connectOf(v).length)]), reference([s]));
    assert.equal(fastPathPackets - before, 3);
  });

  test(`v${v}: the fast path emits exactly mqtt-packet's packets for every two-chunk split`, () => {
    const s = streamFor(v);
    const ref = reference([s]);
    for (let cut = 1; cut < s.length; cut += cut < 400 ? 1 : 97) {
      const chunks = [s.subarray(0, cut), s.subarray(cut)];
      assert.deepEqual(viaConnection(chunks), ref, `split at ${cut}`);
    }
  });

  test(`v${v}: byte-by-byte and three-chunk feeds give the same packets`, () => {
    const s = streamFor(v);
    const ref = reference([s]);
    const bytes: Buffer[] = [];
    for (let i = 0; i < Math.min(s.length, 600); i++) bytes.push(s.subarray(i, i + 1));
    bytes.push(s.subarray(600));
    assert.deepEqual(viaConnection(bytes), ref);
    assert.deepEqual(viaConnection([s.subarray(0, 50), s.subarray(50, 20100), s.subarray(20100)]), ref);
  });
}

test('malformed PUBLISH packets after a good one end the same way as with mqtt-packet alone', () => {
  const good = gen({ cmd: 'publish', topic: 't', qos: 0, payload: Buffer.from('x') }, 4);
  const cases: Array<[string, Buffer]> = [
    ['QoS 3', Buffer.from([0x36, 0x05, 0x00, 0x01, 0x74, 0x00, 0x01])],
    ['topic longer than the packet', Buffer.from([0x30, 0x03, 0x00, 0x09, 0x74])],
    ['empty body', Buffer.from([0x30, 0x00])],
    ['one-byte body', Buffer.from([0x30, 0x01, 0x00])],
    ['QoS 1 without room for the packet id', Buffer.from([0x32, 0x03, 0x00, 0x01, 0x74, 0x30, 0x03, 0x00, 0x01, 0x75])],
    ['invalid UTF-8 in the topic', Buffer.from([0x30, 0x05, 0x00, 0x02, 0xc3, 0x28, 0x41])],
    ['reserved flags on PUBREL', Buffer.from([0x60, 0x02, 0x00, 0x01])],
  ];
  for (const [name, bad] of cases) {
    const s = Buffer.concat([connect4, good, bad, good]);
    assert.deepEqual(viaConnection([s]), reference([s]), name);
    const t = Buffer.concat([good, bad, good]);
    assert.deepEqual(viaConnection([connect4, t]), reference([connect4, t]), `${name}, separate chunk`);
  }
});

test('v5: a PUBLISH with properties goes through mqtt-packet and later chunks use the fast path again', () => {
  const withProps = gen({ cmd: 'publish', topic: 'p', qos: 0, payload: Buffer.from('1'), properties: { payloadFormatIndicator: true } }, 5);
  const plainPub = gen({ cmd: 'publish', topic: 'q', qos: 1, messageId: 9, payload: Buffer.from('2') }, 5);
  const chunks = [connect5, withProps, plainPub, Buffer.concat([plainPub, withProps, plainPub])];
  const got = viaConnection(chunks);
  assert.deepEqual(got, reference(chunks));
  assert.equal(got.packets.length, 6);
});

test('parsePlainPublish declines what it does not decode', () => {
  const sub = gen({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] }, 4);
  assert.equal(parsePlainPublish(sub, 0, wholePacketEnd(sub, 0), false), undefined);
  const v5props = gen({ cmd: 'publish', topic: 'p', qos: 0, payload: Buffer.from('1'), properties: { contentType: 'x' } }, 5);
  assert.equal(parsePlainPublish(v5props, 0, wholePacketEnd(v5props, 0), true), undefined);
  const ok = gen({ cmd: 'publish', topic: 'p', qos: 1, messageId: 300, payload: Buffer.from('1') }, 4);
  assert.equal(wholePacketEnd(ok.subarray(0, ok.length - 1), 0), -1);
  assert.deepEqual(plain(parsePlainPublish(ok, 0, wholePacketEnd(ok, 0), false)!), reference([ok]).packets[0]);
});

test('writes of one turn leave as one buffer, in order; uncorkNow sends at once', async () => {
  const sock = new FakeSocket();
  const c = new Connection(
    sock as unknown as Socket,
    1,
    0,
    connectionContext({
      onPacket: () => {},
      onBad: () => {},
      onFault: () => {},
    }),
  );
  c.write(Buffer.from('ab'));
  c.write(Buffer.from('cd'));
  assert.equal(sock.written.length, 0);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sock.written, [Buffer.from('abcd')]);
  c.write(Buffer.from('e'));
  c.uncorkNow();
  assert.deepEqual(sock.written, [Buffer.from('abcd'), Buffer.from('e')]);
  await new Promise((r) => setImmediate(r));
  assert.equal(sock.written.length, 2);
});

for (const v of [4, 5] as const) {
  test(`v${v}: PUBACKs (a subscriber's acks of QoS 1 deliveries) take the fast path and emit exactly mqtt-packet's packets`, () => {
    const acks: Buffer[] = [];
    for (const id of [1, 2, 0xff, 0x100, 0x1234, 0xffff]) acks.push(gen({ cmd: 'puback', messageId: id }, v));
    // 5.0 reason codes and properties (longer forms) are left to mqtt-packet, and so is the next packet.
    if (v === 5) {
      acks.push(gen({ cmd: 'puback', messageId: 9, reasonCode: 0x10 }, v));
      acks.push(gen({ cmd: 'puback', messageId: 10, reasonCode: 0x80, properties: { reasonString: 'no' } }, v));
    }
    acks.push(gen({ cmd: 'puback', messageId: 11 }, v));
    const tail = Buffer.concat(acks);
    const s = Buffer.concat([connectOf(v), tail]);
    const before = fastPathPackets;
    assert.deepEqual(viaConnection([connectOf(v), tail]), reference([s]));
    // The 6 Success acks in front; in 5.0 the one with a reason code 0x10 ends the fast path for the chunk.
    assert.equal(fastPathPackets - before, v === 4 ? 7 : 6);
    // The three Success forms of 5.0 (Remaining Length 2, 3, 4): only 2 is valid in 3.1.1, the others
    // end as with mqtt-packet alone (fields do not fill the packet).
    for (const form of [
      [0x40, 2, 0xbe, 0xef],
      [0x40, 3, 0xbe, 0xef, 0],
      [0x40, 4, 0xbe, 0xef, 0, 0],
      [0x40, 4, 0xbe, 0xef, 0, 1],
      [0x40, 3, 0xbe, 0xef, 0x10],
    ]) {
      const acksOf = Buffer.concat([Buffer.from(form), Buffer.from(form)]);
      const after = fastPathPackets;
      assert.deepEqual(viaConnection([connectOf(v), acksOf]), reference([Buffer.concat([connectOf(v), acksOf])]), `v${v} ${form}`);
      const fast = form[1] === 2 || (v === 5 && form[4] === 0 && (form[1] === 3 || form[5] === 0));
      assert.equal(fastPathPackets - after, fast ? 2 : 0, `v${v} ${form}`);
    }
  });
}

test('parsePlainPuback declines what it does not decode: reserved flags, other lengths, other packets', () => {
  const ok = Buffer.from([0x40, 2, 0x12, 0x34]);
  assert.deepEqual(plain(parsePlainPuback(ok, 0, 4, false)!), reference([ok]).packets[0]);
  assert.equal(parsePlainPuback(Buffer.from([0x41, 2, 0, 1]), 0, 4, false), undefined);
  assert.equal(parsePlainPuback(Buffer.from([0x40, 3, 0, 1, 0x10]), 0, 5, true), undefined);
  assert.equal(parsePlainPuback(Buffer.from([0x50, 2, 0, 1]), 0, 4, false), undefined);
  // Flags set on a PUBACK end as with mqtt-packet alone, through the Connection too.
  const bad = Buffer.concat([connect4, Buffer.from([0x41, 2, 0, 1])]);
  assert.deepEqual(viaConnection([connect4, bad.subarray(connect4.length)]), reference([bad]));
});
