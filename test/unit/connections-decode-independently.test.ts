import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import mqtt, { type Packet } from 'mqtt-packet';
import { Connection, connectionContext } from '../../gateway/src/connection.js';
import { FakeSocket } from '../support/fake-socket.js';

/**
 * Connections share one mqtt-packet parser (connection.ts keeps only the raw bytes of an
 * unfinished packet per connection). Whatever one connection sends (half a packet, a malformed
 * packet, a handler that throws, a 5.0 CONNECT) must not change what another one decodes.
 */

interface Probe {
  sock: FakeSocket;
  packets: Packet[];
  errors: string[];
}

function open(onPacket?: (p: Packet) => void): Probe {
  const sock = new FakeSocket();
  const probe: Probe = { sock, packets: [], errors: [] };
  new Connection(
    sock as unknown as Socket,
    1,
    0,
    connectionContext({
      onPacket: (_c, p) => {
        probe.packets.push(p);
        onPacket?.(p);
      },
      onBad: (_c, why, err) => probe.errors.push(err?.message ?? why),
      onFault: (_c, err) => probe.errors.push(`fault: ${String(err)}`),
    }),
  );
  return probe;
}

const gen = (p: object, v: 4 | 5) => mqtt.generate(p as Packet, { protocolVersion: v });
const connect = (v: 4 | 5) => gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: `c${v}`, clean: true, keepalive: 30 }, v);
const subscribe = (v: 4 | 5) => gen({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/#', qos: 1, ...(v === 5 ? { nl: true } : {}) }] }, v);
const publishWithProps = gen({ cmd: 'publish', topic: 'p', qos: 1, messageId: 4, payload: Buffer.from('x'), properties: { contentType: 'text/plain' } }, 5);

test('half packets of several connections, interleaved, each complete in their own connection', () => {
  const a = open();
  const b = open();
  const sa = Buffer.concat([connect(4), subscribe(4), gen({ cmd: 'pingreq' }, 4)]);
  const sb = Buffer.concat([connect(5), subscribe(5), publishWithProps]);
  // Cut both streams at every third byte and alternate between them.
  for (let i = 0; i < Math.max(sa.length, sb.length); i += 3) {
    if (i < sa.length) a.sock.emit('data', sa.subarray(i, i + 3));
    if (i < sb.length) b.sock.emit('data', sb.subarray(i, i + 3));
  }
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
  assert.deepEqual(
    a.packets.map((p) => p.cmd),
    ['connect', 'subscribe', 'pingreq'],
  );
  assert.deepEqual(
    b.packets.map((p) => p.cmd),
    ['connect', 'subscribe', 'publish'],
  );
  // The 5.0 connection's packets were decoded as 5.0 (options, properties), the 3.1.1 one's as 3.1.1.
  assert.equal((b.packets[1] as mqtt.ISubscribePacket).subscriptions[0]!.nl, true);
  assert.equal((b.packets[2] as mqtt.IPublishPacket).properties?.contentType, 'text/plain');
  assert.equal((a.packets[1] as mqtt.ISubscribePacket).subscriptions[0]!.nl, undefined);
});

test('a malformed packet or a throwing handler on one connection leaves the next decode of another intact', () => {
  const good = open();
  good.sock.emit('data', connect(4));
  const half = subscribe(4);
  good.sock.emit('data', half.subarray(0, 4)); // unfinished while the others fail

  const bad = open();
  bad.sock.emit('data', connect(4));
  // A PUBLISH whose topic length runs past the packet, mid-chunk: mqtt-packet stops mid-packet.
  bad.sock.emit('data', Buffer.from([0x30, 0x03, 0x00, 0x09, 0x74, 0x30, 0x03, 0x00, 0x01, 0x74]));
  assert.equal(bad.errors.length, 1);

  const thrower = open(() => {
    throw new RangeError('bug');
  });
  thrower.sock.emit('data', Buffer.concat([connect(5), subscribe(5)]));
  assert.equal(thrower.errors.length, 1);
  assert.match(thrower.errors[0]!, /fault: RangeError: bug/);

  good.sock.emit('data', half.subarray(4));
  good.sock.emit('data', connect(4)); // a second CONNECT decodes (the handler refuses it, not the parser)
  assert.deepEqual(good.errors, []);
  assert.deepEqual(
    good.packets.map((p) => p.cmd),
    ['connect', 'subscribe', 'connect'],
  );

  const fresh = open();
  fresh.sock.emit('data', Buffer.concat([connect(4), subscribe(4)]));
  assert.deepEqual(fresh.errors, []);
  assert.deepEqual(
    fresh.packets.map((p) => p.cmd),
    ['connect', 'subscribe'],
  );
});

test('a packet handler that feeds another connection while its own packet is being decoded', () => {
  const inner = open();
  const outer = open((p) => {
    if (p.cmd === 'connect') inner.sock.emit('data', Buffer.concat([connect(5), publishWithProps]));
  });
  outer.sock.emit('data', Buffer.concat([connect(4), subscribe(4)]));
  assert.deepEqual(outer.errors, []);
  assert.deepEqual(inner.errors, []);
  assert.deepEqual(
    outer.packets.map((p) => p.cmd),
    ['connect', 'subscribe'],
  );
  assert.deepEqual(
    inner.packets.map((p) => p.cmd),
    ['connect', 'publish'],
  );
  assert.equal((inner.packets[1] as mqtt.IPublishPacket).properties?.contentType, 'text/plain');
});
