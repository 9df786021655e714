import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { brokerFixture } from '../support/broker-fixture.js';
import { MODES } from '../support/broker.js';
import { waitForMetric } from '../support/broker-metrics.js';
import { publish } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';
import { RC, REASON_TEXT } from '../../gateway/src/protocol/reason-codes.js';

/**
 * The client's Maximum Packet Size holds for the exact bytes the broker writes [MQTT-3.1.2-24]
 * (5.0), topic alias included: the first PUBLISH that assigns an alias carries the whole topic
 * plus 3 bytes of Topic Alias property, so a client whose limit lies 1 to 3 bytes below that
 * packet must get it without the alias. A PUBLISH that does not fit at all is discarded and
 * completed as if sent [MQTT-3.1.2-25] (5.0): with Receive Maximum 1 the next message still
 * comes, and the drop is counted. A DISCONNECT whose Reason String would not fit goes without it
 * [MQTT-3.14.2-3] (5.0).
 */

const TOPIC_LEVELS = 'sensors/building-7/floor-3/room-12/temperature';
const PAYLOAD = '21.5';

/** Bytes of a packet as parsed by mqtt-packet (`length` is its Remaining Length). */
const sizeOf = (p: Packet): number => {
  const n = p.length ?? 0;
  return 1 + (n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4) + n;
};

/** What the broker's first aliased delivery of PAYLOAD on `topic` would be, in bytes. */
const aliasedSize = (topic: string) =>
  mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(PAYLOAD), qos: 1, messageId: 1, dup: false, retain: false, properties: { topicAlias: 1 } } as Packet, { protocolVersion: 5 })
    .length;

const publishes = (c: RawClient) => c.packets.filter((p): p is IPublishPacket => p.cmd === 'publish');

for (const mode of MODES) {
  describe(`Maximum Packet Size on the exact bytes, with topic aliases (${mode})`, () => {
    const fx = brokerFixture(mode);
    const port = () => fx.broker.ports[fx.broker.ports.length - 1]!;

    const limitedSubscriber = async (name: string, maximumPacketSize: number, topic: string) => {
      const c = await RawClient.connected(port(), `${mode}-mps-${name}`, 5, { properties: { maximumPacketSize, topicAliasMaximum: 8, receiveMaximum: 1 } });
      fx.raws.push(c);
      c.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] } as Packet);
      await c.waitPacket((p) => p.cmd === 'suback', 'SUBACK');
      return c;
    };

    for (const over of [1, 2, 3]) {
      test(`a limit ${over} byte(s) below the aliased PUBLISH: delivered without the alias, never above the limit`, async () => {
        const topic = `${TOPIC_LEVELS}/${mode}/${over}`;
        const limit = aliasedSize(topic) - over;
        const pub = await fx.pool.connect(fx.broker.url(0), { protocolVersion: 5, clientId: `${mode}-mps-pub-${over}` });
        const c = await limitedSubscriber(`alias-${over}`, limit, topic);
        await publish(pub, topic, PAYLOAD, { qos: 1 });
        const first = (await c.waitPacket((p) => p.cmd === 'publish', 'the PUBLISH')) as IPublishPacket;
        assert.ok(sizeOf(first) <= limit, `the broker wrote ${sizeOf(first)} bytes to a client whose Maximum Packet Size is ${limit}`);
        assert.equal(first.topic, topic);
        assert.equal(first.properties?.topicAlias, undefined, 'no alias: with it the packet would not fit');
        c.sendPacket({ cmd: 'puback', messageId: first.messageId } as Packet);
        // A shorter message on the same topic fits with the alias; the client learns it with the topic.
        await publish(pub, topic, 'x', { qos: 1 });
        await c.waitPacket((p) => p.cmd === 'publish' && p !== first, 'the second PUBLISH');
        const second = publishes(c)[1]!;
        assert.ok(sizeOf(second) <= limit);
        assert.equal(second.topic, topic, 'an alias is only ever used after a PUBLISH that carried the topic with it');
        assert.equal(c.closed, false);
      });
    }

    test('a DISCONNECT whose Reason String would exceed the limit is sent without it [MQTT-3.14.2-3]', async () => {
      // A limit that just fits the CONNACK: the DISCONNECT with its text is larger.
      const probe = await RawClient.connected(port(), `${mode}-mps-probe`, 5, { properties: { maximumPacketSize: 4096 } });
      fx.raws.push(probe);
      const limit = sizeOf(probe.packets.find((p) => p.cmd === 'connack')!);
      const full = mqttPacket.generate({ cmd: 'disconnect', reasonCode: RC.TOPIC_ALIAS_INVALID, properties: { reasonString: REASON_TEXT[RC.TOPIC_ALIAS_INVALID]! } } as Packet, {
        protocolVersion: 5,
      }).length;
      assert.ok(full > limit, `precondition: the full DISCONNECT (${full} bytes) does not fit ${limit}`);
      const c = await RawClient.connected(port(), `${mode}-mps-disconnect`, 5, { properties: { maximumPacketSize: limit } });
      fx.raws.push(c);
      c.sendPacket({ cmd: 'publish', topic: 'x', payload: Buffer.from('p'), qos: 0, dup: false, retain: false, properties: { topicAlias: 65535 } } as Packet);
      const d = (await c.waitPacket((p) => p.cmd === 'disconnect', 'DISCONNECT')) as Packet & { reasonCode?: number; properties?: { reasonString?: string } };
      assert.equal(d.reasonCode, RC.TOPIC_ALIAS_INVALID);
      assert.equal(d.properties?.reasonString, undefined);
      assert.ok(sizeOf(d) <= limit);
      assert.equal(await c.waitClosed(), true);
    });

    test('a PUBLISH too large even without an alias is discarded as if sent: the window moves on and the drop is counted', async () => {
      const topic = `${TOPIC_LEVELS}/${mode}/drop`;
      const plain = mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(PAYLOAD), qos: 1, messageId: 1, dup: false, retain: false, properties: {} } as Packet, {
        protocolVersion: 5,
      }).length;
      const pub = await fx.pool.connect(fx.broker.url(0), { protocolVersion: 5, clientId: `${mode}-mps-pub-drop` });
      const c = await limitedSubscriber('drop', plain - 1, topic);
      await publish(pub, topic, PAYLOAD, { qos: 1 });
      await publish(pub, topic, 'ok', { qos: 1 });
      // Receive Maximum 1: the second arrives only once the first no longer holds the window.
      const got = (await c.waitPacket((p) => p.cmd === 'publish', 'the message that fits', 20_000)) as IPublishPacket;
      assert.equal(got.payload.toString(), 'ok');
      assert.ok(sizeOf(got) <= plain - 1);
      assert.deepEqual(
        publishes(c).map((p) => p.payload.toString()),
        ['ok'],
        'the large one was never written',
      );
      const gateway = mode === 'single' ? 'shardmq' : `gateway-${fx.broker.ports.length}`;
      await waitForMetric(fx.broker, gateway, 'shardmq_gateway_events_total', 'what="publish_too_large_dropped"', (v) => v >= 1);
      assert.equal(c.closed, false, 'the client is not disconnected');
    });
  });
}
