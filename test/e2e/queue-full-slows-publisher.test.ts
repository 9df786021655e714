import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqtt, { type IClientOptions } from 'mqtt';
import { MODES } from '../support/broker.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { metricOf } from '../support/broker-metrics.js';
import { collect, subscribe, waitFor } from '../support/mqtt-clients.js';
import { assertCompleteInOrder, publishWindowed } from '../support/windowed-publisher.js';

/**
 * session.queueOverflow=backpressure: a session queue past its bounds keeps what arrives (up
 * to twice the bounds) and the publisher is slowed instead (its PUBACK waits
 * gateway.slowPublisherDelayMs and its connection is not read meanwhile), so nothing it was
 * acknowledged for is dropped. Beyond twice the bounds the new message is dropped, counted.
 * Compared with the default drop-new, which keeps only the bound.
 */

const BOUND = 40;

for (const mode of MODES) {
  for (const policy of ['backpressure', 'drop-new'] as const) {
    describe(`a full session queue with session.queueOverflow=${policy} (${mode})`, () => {
      const fx = brokerFixture(mode, { env: { SHARDMQ_SESSION_MAX_QUEUED_MESSAGES: String(BOUND), SHARDMQ_SESSION_QUEUE_OVERFLOW: policy, SHARDMQ_GATEWAY_SLOW_PUBLISHER_DELAY_MS: '20' } });
      const gatewayName = mode === 'single' ? 'shardmq' : 'gateway-2';
      const sessionName = mode === 'single' ? 'shardmq' : 'session';

      async function offlineThenPublish(tag: string, n: number) {
        const topic = `qfull/${mode}/${policy}/${tag}`;
        const opts: IClientOptions = { protocolVersion: 5, clean: false, clientId: `qfull-${mode}-${policy}-${tag}`, properties: { sessionExpiryInterval: 3600 } };
        const first = await fx.pool.connect(fx.broker.url(0), opts);
        await subscribe(first, topic, { qos: 1 });
        await new Promise<void>((r) => first.end(false, {}, () => r()));
        const pub = await fx.pool.connect(fx.broker.url(fx.broker.ports.length - 1), { protocolVersion: 5, clientId: `qfull-pub-${mode}-${policy}-${tag}` });
        // Every publish is acknowledged in both policies (the window waits for each PUBACK).
        await publishWindowed(pub, topic, n, 10, 32);
        const again = mqtt.connect(fx.broker.url(0), { reconnectPeriod: 0, connectTimeout: 20_000, ...opts });
        const got = collect(again);
        await new Promise((resolve, reject) => {
          again.once('connect', resolve);
          again.once('error', reject);
        });
        return { got, close: () => new Promise<void>((r) => again.end(true, {}, () => r())) };
      }

      test(`${BOUND * 2 - 10} messages for an offline session bounded at ${BOUND}`, async () => {
        const n = BOUND * 2 - 10;
        const slowedBefore = await metricOf(fx.broker, gatewayName, 'shardmq_gateway_events_total', 'what="publisher_slowed"');
        const { got, close } = await offlineThenPublish('under', n);
        try {
          if (policy === 'backpressure') {
            await waitFor(() => got.length >= n, `${n} queued messages (got ${got.length})`, 60_000);
            assertCompleteInOrder(got, n);
            const slowed = (await metricOf(fx.broker, gatewayName, 'shardmq_gateway_events_total', 'what="publisher_slowed"')) - slowedBefore;
            assert.equal(slowed, n - BOUND, 'each publish queued past the bound slowed its publisher');
            assert.ok((await metricOf(fx.broker, sessionName, 'shardmq_session_outcomes_total', 'what="queue_over_limit"')) >= n - BOUND);
          } else {
            await waitFor(() => got.length >= BOUND, `${BOUND} queued messages (got ${got.length})`, 60_000);
            await new Promise((r) => setTimeout(r, 500));
            assert.equal(got.length, BOUND, 'drop-new keeps the bound');
            assert.ok((await metricOf(fx.broker, sessionName, 'shardmq_session_outcomes_total', 'what="queue_full_dropped"')) >= n - BOUND);
          }
        } finally {
          await close();
        }
      });

      if (policy === 'backpressure') {
        test(`beyond twice the bound the new message is dropped, counted`, async () => {
          const n = BOUND * 2 + 15;
          const droppedBefore = await metricOf(fx.broker, sessionName, 'shardmq_session_outcomes_total', 'what="queue_full_dropped"');
          const { got, close } = await offlineThenPublish('over', n);
          try {
            await waitFor(() => got.length >= BOUND * 2, `${BOUND * 2} queued messages (got ${got.length})`, 60_000);
            await new Promise((r) => setTimeout(r, 500));
            assertCompleteInOrder(got, BOUND * 2);
            const dropped = (await metricOf(fx.broker, sessionName, 'shardmq_session_outcomes_total', 'what="queue_full_dropped"')) - droppedBefore;
            assert.equal(dropped, 15);
          } finally {
            await close();
          }
        });
      }
    });
  }
}
