import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Packet } from 'mqtt-packet';
import { MODES } from '../support/broker.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { metricOf } from '../support/broker-metrics.js';
import { publish, qos1RoundTrip } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * One client asks for 100,000 subscriptions (100 SUBSCRIBE packets of 1,000 filters, sent
 * back to back). mqtt.maxSubscriptionsPerClient (default 1000) grants the first 1,000 and
 * answers every other filter SUBACK 0x97 Quota exceeded (5.0) / 0x80 (3.1.1), each counted in
 * shardmq_session_outcomes_total{what="subscription_quota"}; the broker keeps serving.
 */

const PACKETS = 100;
const PER_PACKET = 1000;
const DEFAULT_MAX = 1000;

for (const mode of MODES) {
  describe(`a flood of 100,000 subscriptions from one client (${mode})`, () => {
    const f = brokerFixture(mode);
    const { pool, raws } = f;
    const sessionProc = () => (mode === 'single' ? 'shardmq' : 'session');

    test('MQTT 5: the first 1,000 are granted, the other 99,000 get SUBACK 0x97 and are counted; the broker stays responsive', async () => {
      const c = await RawClient.connected(f.broker.ports[0]!, `${mode}-subflood`, 5);
      raws.push(c);
      for (let p = 0; p < PACKETS; p++) {
        const subscriptions = Array.from({ length: PER_PACKET }, (_, i) => ({ topic: `sf/${p}/${i}`, qos: 1 as const }));
        c.sendPacket({ cmd: 'subscribe', messageId: p + 1, subscriptions } as Packet, 5);
      }
      await c.waitPacket((p) => p.cmd === 'suback' && p.messageId === PACKETS, 'the last SUBACK', 60_000);
      const acks = c.packets.filter((p) => p.cmd === 'suback') as unknown as Array<{ messageId: number; granted: number[] }>;
      assert.equal(acks.length, PACKETS);
      const codes = acks.sort((a, b) => a.messageId - b.messageId).flatMap((a) => a.granted);
      assert.equal(codes.filter((rc) => rc === 1).length, DEFAULT_MAX, 'granted up to mqtt.maxSubscriptionsPerClient');
      assert.equal(codes.filter((rc) => rc === 0x97).length, PACKETS * PER_PACKET - DEFAULT_MAX, 'every other filter: Quota exceeded');
      assert.deepEqual(codes.slice(0, DEFAULT_MAX), Array(DEFAULT_MAX).fill(1), 'the first ones in order are the granted ones');
      assert.equal(await metricOf(f.broker, sessionProc(), 'shardmq_session_outcomes_total', 'what="subscription_quota"'), PACKETS * PER_PACKET - DEFAULT_MAX);

      // The granted subscriptions work, the flooder is still connected, others are served.
      const pub = await pool.connect(f.broker.url(1), { protocolVersion: 5, clientId: `${mode}-subflood-pub` });
      await publish(pub, 'sf/0/999', 'to-a-granted-filter', { qos: 1 });
      await c.waitPacket((p) => p.cmd === 'publish' && (p as { topic?: string }).topic === 'sf/0/999', 'delivery on a granted filter');
      assert.equal(c.closed, false);
      await qos1RoundTrip(pub, 'sf-bystander/t');
    });

    test('MQTT 3.1.1: filters beyond the maximum in one SUBSCRIBE get 0x80', async () => {
      const c = await RawClient.connected(f.broker.ports[0]!, `${mode}-subflood-v4`, 4);
      raws.push(c);
      const subscriptions = Array.from({ length: DEFAULT_MAX + 5 }, (_, i) => ({ topic: `sf4/${i}`, qos: 0 as const }));
      c.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions } as Packet, 4);
      const ack = (await c.waitPacket((p) => p.cmd === 'suback', 'SUBACK')) as unknown as { granted: number[] };
      assert.deepEqual(ack.granted.slice(DEFAULT_MAX), Array(5).fill(0x80));
      assert.equal(ack.granted.slice(0, DEFAULT_MAX).filter((rc) => rc === 0).length, DEFAULT_MAX);
      const sub = await pool.connect(f.broker.url(0), { protocolVersion: 4, clientId: `${mode}-subflood-v4-check` });
      await qos1RoundTrip(sub, 'sf4-bystander/t');
    });
  });
}
