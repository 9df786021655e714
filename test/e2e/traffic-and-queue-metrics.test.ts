import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Packet } from 'mqtt-packet';
import { MODES } from '../support/broker.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { counterValue, metricOf, scrape, waitForMetric } from '../support/broker-metrics.js';
import { collect, publish, subscribe, waitFor } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * The traffic and queue metrics an operator watches move with real traffic: bytes in and out at
 * the gateway, PUBLISH packets sent, messages dropped because nobody subscribed, the queue depth
 * and inflight gauges of the session owner, and the bus request latency histogram.
 */

const PAYLOAD = Buffer.alloc(1000, 0x61);

for (const mode of MODES) {
  describe(`traffic and queue metrics (${mode})`, () => {
    const f = brokerFixture(mode, { gateways: 1 });
    const { pool, raws } = f;
    const gateway = () => (mode === 'single' ? 'shardmq' : 'gateway-1');
    const router = () => (mode === 'single' ? 'shardmq' : 'router');
    const session = () => (mode === 'single' ? 'shardmq' : 'session');
    /** A metric summed over every process of the broker. */
    const everywhere = async (name: string, labels = '') => {
      let sum = 0;
      for (const port of f.broker.httpPorts.values()) sum += counterValue(await scrape(port), name, labels);
      return sum;
    };

    test('bytes in and out, PUBLISH packets sent, drops for no subscribers and bus request latency are counted', async () => {
      const g = gateway();
      const before = {
        bytesIn: await metricOf(f.broker, g, 'shardmq_gateway_received_bytes_total'),
        bytesOut: await metricOf(f.broker, g, 'shardmq_gateway_sent_bytes_total'),
        publishesOut: await metricOf(f.broker, g, 'shardmq_gateway_packets_out_total', 'type="publish"'),
        noSubscribers: await metricOf(f.broker, router(), 'shardmq_router_messages_dropped_no_subscribers_total'),
        requests: await everywhere('shardmq_bus_request_seconds_count'),
      };
      const sub = await pool.connect(f.broker.url(0), { clientId: `${mode}-tm-sub` });
      const got = collect(sub);
      await subscribe(sub, 'tm/a', { qos: 1 });
      const pub = await pool.connect(f.broker.url(0), { clientId: `${mode}-tm-pub` });
      for (let i = 0; i < 5; i++) await publish(pub, 'tm/a', PAYLOAD, { qos: 1 });
      for (let i = 0; i < 3; i++) await publish(pub, 'tm/nobody', PAYLOAD, { qos: 1 });
      await waitFor(() => got.length === 5, 'the 5 messages delivered');

      await waitForMetric(f.broker, g, 'shardmq_gateway_received_bytes_total', '', (v) => v - before.bytesIn >= 8 * PAYLOAD.length);
      await waitForMetric(f.broker, g, 'shardmq_gateway_sent_bytes_total', '', (v) => v - before.bytesOut >= 5 * PAYLOAD.length);
      const publishesOut = await waitForMetric(f.broker, g, 'shardmq_gateway_packets_out_total', 'type="publish"', (v) => v >= before.publishesOut + 5);
      assert.equal(publishesOut - before.publishesOut, 5, 'one PUBLISH packet per delivered message');
      assert.ok((await metricOf(f.broker, g, 'shardmq_gateway_packets_out_total', 'type="puback"')) >= 8, 'PUBACKs to the publisher are counted by type');
      const dropped = await waitForMetric(f.broker, router(), 'shardmq_router_messages_dropped_no_subscribers_total', '', (v) => v >= before.noSubscribers + 3);
      assert.equal(dropped - before.noSubscribers, 3, 'the messages to tm/nobody, and only those');
      // QoS 1 publishes are route requests over the bus: each one answered is timed.
      assert.ok((await everywhere('shardmq_bus_request_seconds_count')) - before.requests >= 8, 'answered bus requests are in the latency histogram');
    });

    test('the session owner exports its queued and inflight messages as gauges', async () => {
      const s = session();
      // Offline session with a subscription: messages queue.
      const offline = await pool.connect(f.broker.url(0), { clientId: `${mode}-tm-offline`, clean: false });
      await subscribe(offline, 'tm/q', { qos: 1 });
      await new Promise<void>((r) => offline.end(false, {}, () => r()));
      // A raw subscriber never acknowledges: what it receives stays inflight.
      const raw = await RawClient.connected(f.broker.ports[0]!, `${mode}-tm-raw`, 4);
      raws.push(raw);
      raw.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'tm/q', qos: 1 }] } as Packet, 4);
      await raw.waitPacket((p) => p.cmd === 'suback', 'SUBACK');

      const pub = await pool.connect(f.broker.url(0), { clientId: `${mode}-tm-qpub` });
      for (let i = 0; i < 4; i++) await publish(pub, 'tm/q', PAYLOAD, { qos: 1 });
      await waitFor(() => raw.packets.filter((p) => p.cmd === 'publish').length === 4, 'the raw subscriber got the 4 messages');

      assert.equal(await waitForMetric(f.broker, s, 'shardmq_session_queued_messages', '', (v) => v === 4), 4, 'the offline session queues 4');
      assert.ok((await metricOf(f.broker, s, 'shardmq_session_queued_bytes')) >= 4 * PAYLOAD.length, 'queued bytes cover the payloads');
      assert.equal(await waitForMetric(f.broker, s, 'shardmq_session_inflight_messages', '', (v) => v === 4), 4, 'the unacknowledged 4 are inflight');

      // Acknowledged: no longer inflight.
      for (const p of raw.packets.filter((x) => x.cmd === 'publish')) raw.sendPacket({ cmd: 'puback', messageId: (p as { messageId: number }).messageId } as Packet, 4);
      assert.equal(await waitForMetric(f.broker, s, 'shardmq_session_inflight_messages', '', (v) => v === 0), 0);
    });
  });
}
