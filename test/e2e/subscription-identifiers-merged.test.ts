import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { brokerFixture } from '../support/broker-fixture.js';
import { MODES } from '../support/broker.js';
import { collect, publish, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';

/**
 * One client, several subscriptions matching one message (MQTT 5): the non-shared ones give
 * one copy carrying every Subscription Identifier, at the highest granted QoS [MQTT-3.3.4-3]
 * (5.0: "the Server MUST include in the PUBLISH packet the Subscription Identifiers for all
 * matching subscriptions"); a shared subscription's match is a copy of its own with its own
 * identifier (5.0 section 4.8.2).
 */

const ids = (g: Received): number[] => {
  const s = g.packet.properties?.subscriptionIdentifier;
  return (s === undefined ? [] : Array.isArray(s) ? s : [s]).slice().sort((a, b) => a - b);
};

for (const mode of MODES) {
  describe(`Subscription Identifiers of overlapping subscriptions (${mode})`, () => {
    const fx = brokerFixture(mode);

    /**
     * Publishes `payload` to `topic`, then a fence message on `<base>/fence` (subscribed with
     * identifier 99 only) from the same publisher; once the fence arrived, every copy of the
     * first message has too (one publisher, one router, one session: delivered in order).
     */
    const publishThenFence = async (pub: MqttClient, sub: MqttClient, got: Received[], base: string, topic: string, payload: string) => {
      await subscribe(sub, `${base}/fence`, { qos: 1, properties: { subscriptionIdentifier: 99 } });
      await publish(pub, topic, payload, { qos: 1 });
      await publish(pub, `${base}/fence`, `fence-${payload}`, { qos: 1 });
      await waitFor(() => got.some((g) => g.payload.toString() === `fence-${payload}`), 'the fence message', 20_000);
      return got.filter((g) => g.payload.toString() === payload);
    };

    const clients = async (name: string) => {
      const pub = await fx.pool.connect(fx.broker.url(0), { protocolVersion: 5, clientId: `${mode}-sid-${name}-pub` });
      const sub = await fx.pool.connect(fx.broker.url(fx.broker.ports.length - 1), { protocolVersion: 5, clientId: `${mode}-sid-${name}-sub` });
      return { pub, sub, got: collect(sub) };
    };

    test('an exact filter and `<same>/#`: one copy with both identifiers at the higher QoS', async () => {
      const base = `sid/${mode}/exact`;
      const { pub, sub, got } = await clients('exact');
      await subscribe(sub, `${base}/t`, { qos: 1, properties: { subscriptionIdentifier: 2 } });
      await subscribe(sub, `${base}/t/#`, { qos: 2, properties: { subscriptionIdentifier: 3 } });
      const copies = await publishThenFence(pub, sub, got, base, `${base}/t`, 'exact-and-hash');
      assert.equal(copies.length, 1, 'one copy');
      assert.deepEqual(ids(copies[0]!), [2, 3]);
      assert.equal(copies[0]!.packet.qos, 1, 'the message was published at QoS 1: min(message, max granted)');
      const copies2 = await (async () => {
        await new Promise<void>((resolve, reject) => pub.publish(`${base}/t`, 'at-qos-2', { qos: 2 }, (err) => (err ? reject(err) : resolve())));
        await publish(pub, `${base}/fence`, 'fence-at-qos-2', { qos: 1 });
        await waitFor(() => got.some((g) => g.payload.toString() === 'fence-at-qos-2'), 'the second fence', 20_000);
        return got.filter((g) => g.payload.toString() === 'at-qos-2');
      })();
      assert.equal(copies2.length, 1, 'one copy of the QoS 2 message');
      assert.equal(copies2[0]!.packet.qos, 2, 'the higher granted QoS of the two subscriptions');
      assert.deepEqual(ids(copies2[0]!), [2, 3]);
    });

    test('two wildcard filters: one copy with both identifiers', async () => {
      const base = `sid/${mode}/wild`;
      const { pub, sub, got } = await clients('wild');
      await subscribe(sub, `${base}/+/x`, { qos: 1, properties: { subscriptionIdentifier: 4 } });
      await subscribe(sub, `${base}/a/#`, { qos: 1, properties: { subscriptionIdentifier: 5 } });
      const copies = await publishThenFence(pub, sub, got, base, `${base}/a/x`, 'two-wildcards');
      assert.equal(copies.length, 1, 'one copy');
      assert.deepEqual(ids(copies[0]!), [4, 5]);
    });

    test('a shared and a non-shared subscription: two copies, each with its own identifier', async () => {
      const base = `sid/${mode}/shared`;
      const { pub, sub, got } = await clients('shared');
      await subscribe(sub, `$share/g/${base}/t`, { qos: 1, properties: { subscriptionIdentifier: 6 } });
      await subscribe(sub, `${base}/t`, { qos: 1, properties: { subscriptionIdentifier: 7 } });
      await subscribe(sub, `${base}/#`, { qos: 1, properties: { subscriptionIdentifier: 8 } });
      const copies = await publishThenFence(pub, sub, got, base, `${base}/t`, 'shared-and-plain');
      assert.deepEqual(
        copies.map(ids).sort((a, b) => a[0]! - b[0]!),
        [[6], [7, 8]],
        'the shared copy apart, the two non-shared merged',
      );
    });
  });
}
