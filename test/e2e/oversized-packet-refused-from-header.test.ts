import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { brokerFixture } from '../support/broker-fixture.js';
import { metricOf, rssBytes } from '../support/broker-metrics.js';
import { qos1RoundTrip } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * Packets larger than mqtt.maxPacketBytes are refused from their fixed header, before the body
 * is buffered: a PUBLISH announcing 256 MB costs the broker nothing, a packet of exactly the
 * maximum passes and one byte more is refused. A connected MQTT 5 client, which was told the
 * maximum in CONNACK and must not exceed it [MQTT-3.2.2-15], gets DISCONNECT 0x95 (Packet too
 * large, MQTT 5.0 3.2.2.3.6); before CONNACK (the protocol version is not known yet) and for
 * 3.1.1 the connection is just closed. Each refusal is counted as packet_too_large.
 */

const MAX = 4096;
/** The largest Remaining Length MQTT can express (268,435,455 bytes) [MQTT-1.5.5]. */
const ANNOUNCE_256MB = Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]);
const MB = 1024 * 1024;

/** A QoS 1 PUBLISH whose encoded size is exactly `size` bytes. */
function publishOfSize(size: number, messageId: number): Buffer {
  const base = { cmd: 'publish', topic: 'big/exact', qos: 1, messageId, dup: false, retain: false } as const;
  const overhead = mqttPacket.generate({ ...base, payload: Buffer.alloc(0) } as Packet, { protocolVersion: 5 }).length;
  // The Remaining Length grows by a byte at 128 and 16384: correct the payload once it is known.
  let payload = size - overhead;
  for (;;) {
    const b = mqttPacket.generate({ ...base, payload: Buffer.alloc(payload, 0x61) } as Packet, { protocolVersion: 5 });
    if (b.length === size) return b;
    payload -= b.length - size;
  }
}

describe('oversized packets refused from the fixed header (single)', () => {
  const f = brokerFixture('single', { env: { SHARDMQ_MQTT_MAX_PACKET_BYTES: String(MAX) } });
  const { pool, raws } = f;
  const tooLarge = () => metricOf(f.broker, 'shardmq', 'shardmq_gateway_events_total', 'what="packet_too_large"');

  test('a PUBLISH announcing 256 MB gets DISCONNECT 0x95 from its header; the broker memory does not grow by the announced size', async () => {
    const pid = f.broker.processes.get('shardmq')!.pid;
    const rssBefore = rssBytes(pid);
    const c = await RawClient.connected(f.broker.ports[0]!, 'huge-5', 5);
    raws.push(c);
    c.send(ANNOUNCE_256MB);
    // Keep streaming the body, 1 MB at a time, up to 64 MB or until the broker closes: a broker
    // that buffered the body would hold all of it.
    const chunk = Buffer.alloc(MB);
    for (let sent = 0; sent < 64 * MB && !c.closed; sent += MB) {
      const ok = await new Promise<boolean>((r) => c.socket.write(chunk, (err) => r(!err)));
      if (!ok) break;
    }
    assert.equal(await c.waitClosed(), true);
    const d = c.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
    assert.equal(d?.reasonCode, 0x95);
    assert.ok(rssBytes(pid) - rssBefore < 64 * MB, `RSS grew by ${((rssBytes(pid) - rssBefore) / MB).toFixed(1)} MB`);
    assert.equal(await tooLarge(), 1);
  });

  test('a packet of exactly mqtt.maxPacketBytes passes; one byte more gets DISCONNECT 0x95', async () => {
    const c = await RawClient.connected(f.broker.ports[0]!, 'exact-5', 5);
    raws.push(c);
    c.send(publishOfSize(MAX, 1));
    const ack = (await c.waitPacket((p) => p.cmd === 'puback', 'PUBACK of the packet at the maximum')) as { reasonCode?: number };
    assert.ok((ack.reasonCode ?? 0) < 0x80);
    c.send(publishOfSize(MAX + 1, 2));
    assert.equal(await c.waitClosed(), true);
    const d = c.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
    assert.equal(d?.reasonCode, 0x95);
    assert.equal(c.packets.filter((p) => p.cmd === 'puback').length, 1, 'the oversized PUBLISH was not acknowledged');
    assert.equal(await tooLarge(), 2);
  });

  test('a CONNECT announcing 256 MB, and a 3.1.1 oversized PUBLISH, are closed without a reply; counted; a bystander is served', async () => {
    const bystander = await pool.connect(f.broker.url(), { protocolVersion: 5, clientId: 'huge-bystander' });
    const pre = await RawClient.open(f.broker.ports[0]!, 5);
    raws.push(pre);
    pre.send([0x10, 0xff, 0xff, 0xff, 0x7f]);
    assert.equal(await pre.waitClosed(), true);
    assert.equal(pre.packets.length, 0, 'closed without a reply: the CONNECT was never read');
    const v4 = await RawClient.connected(f.broker.ports[0]!, 'huge-4', 4);
    raws.push(v4);
    v4.send(ANNOUNCE_256MB);
    assert.equal(await v4.waitClosed(), true);
    assert.equal(v4.packets.filter((p) => p.cmd !== 'connack').length, 0, '3.1.1 has no DISCONNECT from the server');
    assert.equal(await tooLarge(), 4);
    await qos1RoundTrip(bystander, 'huge/bystander');
  });
});
