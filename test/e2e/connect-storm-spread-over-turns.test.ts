import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Packet } from 'mqtt-packet';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { metricOf } from '../support/broker-metrics.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * A storm of CONNECTs with mqtt.connectWorkPerTurnMs 0 (one connection without CONNECT handled per
 * event-loop turn): the input of the others waits, unread, for later event-loop turns (counted as connect_held_for_turn), and
 * nothing is lost or reordered by the wait: every device pipelines CONNECT, then (in a second
 * write, while its first may be held) SUBSCRIBE, and gets CONNACK and SUBACK; after the SUBACK a
 * QoS 1 PUBLISH to the topic it subscribed gets its PUBACK and comes back to it; none is timed out
 * by mqtt.connectTimeoutMs meanwhile. A packet handled before the CONNECT would close the
 * connection ([MQTT-3.1.0-1]: the first packet must be CONNECT). Both modes.
 */

const DEVICES = 100;

for (const mode of MODES) {
  describe(`a CONNECT storm is spread over event-loop turns (${mode})`, { timeout: 120_000 }, () => {
    let broker: Broker;
    const clients: RawClient[] = [];
    before(async () => {
      broker = await startBroker(mode, { env: { SHARDMQ_MQTT_CONNECT_WORK_PER_TURN_MS: '0', SHARDMQ_MQTT_CONNECT_TIMEOUT_MS: '5000' } });
    });
    after(async () => {
      for (const c of clients) c.destroy();
      await broker?.stop();
    });

    test('held CONNECTs are all answered, in order with what their clients pipelined after them, counted, none timed out', async () => {
      const gateways = broker.ports.length;
      clients.push(...(await Promise.all(Array.from({ length: DEVICES }, (_, i) => RawClient.open(broker.ports[i % gateways]!, 4)))));
      // All CONNECTs in one go, so each gateway reads many in one poll phase.
      clients.forEach((c, i) => c.sendPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `turns-${i}`, clean: true, keepalive: 0 } as Packet, 4));
      await new Promise((r) => setImmediate(r));
      clients.forEach((c, i) => c.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `turns/${i}`, qos: 1 }] } as Packet, 4));
      await Promise.all(
        clients.map(async (c, i) => {
          const ack = (await c.waitPacket((p) => p.cmd === 'connack', `CONNACK of device ${i}`, 60_000)) as { returnCode?: number };
          assert.equal(ack.returnCode, 0, `device ${i} accepted`);
          const sub = (await c.waitPacket((p) => p.cmd === 'suback', `SUBACK of device ${i}`, 60_000)) as { granted: number[] };
          assert.deepEqual(sub.granted, [1]);
          // The subscription is in place once SUBACK is sent: the device's own message comes back.
          c.sendPacket({ cmd: 'publish', messageId: 2, topic: `turns/${i}`, qos: 1, retain: false, dup: false, payload: Buffer.from(`m${i}`) } as Packet, 4);
          await c.waitPacket((p) => p.cmd === 'puback' && p.messageId === 2, `PUBACK of device ${i}`, 60_000);
          const got = (await c.waitPacket((p) => p.cmd === 'publish', `the message of device ${i}`, 60_000)) as { topic: string; payload: Buffer };
          assert.equal(got.topic, `turns/${i}`);
          assert.equal(got.payload.toString(), `m${i}`);
          assert.equal(c.closed, false, `device ${i} still connected`);
        }),
      );

      const names = mode === 'single' ? ['shardmq'] : Array.from({ length: gateways }, (_, i) => `gateway-${i + 1}`);
      let held = 0;
      for (const name of names) {
        held += await metricOf(broker, name, 'shardmq_gateway_events_total', 'what="connect_held_for_turn"');
        assert.equal(await metricOf(broker, name, 'shardmq_gateway_events_total', 'what="connect_timeout"'), 0, `${name} timed none out`);
      }
      assert.ok(held > 0, "CONNECTs beyond a turn's mqtt.connectWorkPerTurnMs were held for a later turn (connect_held_for_turn counted)");
    });
  });
}
