import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Packet } from 'mqtt-packet';
import { brokerFixture } from '../support/broker-fixture.js';
import { metricOf, rssBytes, waitForMetric } from '../support/broker-metrics.js';
import { publish, qos1RoundTrip } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * A subscriber that never reads while a publisher floods it. QoS 1: the session sends at most
 * session.maxInflight, queues up to session.maxQueuedMessages and drops (counted) the rest.
 * QoS 0: the gateway buffers at most about 4 x mqtt.socketHighWaterBytes for the socket and
 * drops the rest (counted as qos0_dropped_slow_consumer), so its memory does not grow with
 * the flood. The publisher and other clients keep being served.
 */

const INFLIGHT = 32;
const QUEUED = 200;
const QOS1_FLOOD = 500;
const QOS0_PAYLOAD = 64 * 1024;
/** 192 MB: well above V8's external-memory GC slack (~64 MB), so a gateway that buffered the flood would show. */
const QOS0_FLOOD = 3000;
const MB = 1024 * 1024;

describe('a subscriber that never reads (single)', () => {
  const f = brokerFixture('single', {
    env: { SHARDMQ_MQTT_SOCKET_HIGH_WATER_BYTES: String(64 * 1024), SHARDMQ_SESSION_MAX_INFLIGHT: String(INFLIGHT), SHARDMQ_SESSION_MAX_QUEUED_MESSAGES: String(QUEUED) },
  });
  const { pool, raws } = f;
  /** A subscriber that, once subscribed, reads nothing and acknowledges nothing. */
  const stalledSubscriber = async (id: string, topic: string, qos: 0 | 1) => {
    const c = await RawClient.connected(f.broker.ports[0]!, id, 5);
    raws.push(c);
    c.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] } as Packet);
    await c.waitPacket((p) => p.cmd === 'suback', 'SUBACK');
    c.socket.pause();
    return c;
  };

  test('QoS 1: beyond the inflight window and the session queue, messages are dropped and counted; the publisher is acknowledged', async () => {
    await stalledSubscriber('slow-sub-1', 'slow/q1', 1);
    const pub = await pool.connect(f.broker.url(), { protocolVersion: 5, clientId: 'slow-pub-1' });
    await Promise.all(Array.from({ length: QOS1_FLOOD }, (_, i) => publish(pub, 'slow/q1', `m${i}`.padEnd(1024, '.'), { qos: 1 })));
    const dropped = await waitForMetric(f.broker, 'shardmq', 'shardmq_session_outcomes_total', 'what="queue_full_dropped"', (n) => n >= QOS1_FLOOD - INFLIGHT - QUEUED);
    assert.equal(dropped, QOS1_FLOOD - INFLIGHT - QUEUED, `${INFLIGHT} in flight, ${QUEUED} queued, the rest dropped`);
    await qos1RoundTrip(pub, 'slow-bystander/q1');
  });

  test('QoS 0: a 192 MB flood is dropped for the stalled socket, counted, without the broker memory growing by the flood', async () => {
    const slow = await stalledSubscriber('slow-sub-0', 'slow/q0', 0);
    const pid = f.broker.processes.get('shardmq')!.pid;
    const rssBefore = rssBytes(pid);
    const pub = await pool.connect(f.broker.url(), { protocolVersion: 5, clientId: 'slow-pub-0' });
    const payload = Buffer.alloc(QOS0_PAYLOAD, 0x61);
    for (let i = 0; i < QOS0_FLOOD; i += 100) {
      // QoS 0 resolves once written: batches keep the test's own buffers small.
      await Promise.all(Array.from({ length: 100 }, () => publish(pub, 'slow/q0', payload, { qos: 0 })));
    }
    // A QoS 1 publish after the flood: acknowledged once the broker has read everything before it.
    await publish(pub, 'slow/after', 'after', { qos: 1 });
    const dropped = await metricOf(f.broker, 'shardmq', 'shardmq_gateway_events_total', 'what="qos0_dropped_slow_consumer"');
    // The kernel socket buffers and 4 x 64 KB at the gateway hold a few MB; the rest must be dropped.
    assert.ok(dropped >= QOS0_FLOOD / 2, `dropped ${dropped} of ${QOS0_FLOOD}`);
    const grewMb = (rssBytes(pid) - rssBefore) / MB;
    assert.ok(grewMb < 128, `RSS grew by ${grewMb.toFixed(1)} MB for a ${(QOS0_FLOOD * QOS0_PAYLOAD) / MB} MB flood`);
    assert.equal(slow.closed, false, 'a slow subscriber is not disconnected for being slow');
    const bystander = await pool.connect(f.broker.url(), { protocolVersion: 4, clientId: 'slow-bystander' });
    await qos1RoundTrip(bystander, 'slow-bystander/q0');
  });
});
