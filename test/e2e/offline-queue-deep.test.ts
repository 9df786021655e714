import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqtt, { type IClientOptions, type IConnackPacket } from 'mqtt';
import { MODES } from '../support/broker.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { collect, subscribe, waitFor } from '../support/mqtt-clients.js';
import { assertCompleteInOrder, publishWindowed } from '../support/windowed-publisher.js';

/**
 * A deep offline queue with the default bounds: a persistent session offline while N QoS 1
 * messages of 1 KB are published for it gets them all, in order [MQTT-4.6.0-6], after
 * reconnecting with Session Present 1. 10,000 messages of 1 KB by default; the 100,000-message
 * run (512 bytes each, within the default 64 MiB bound):
 * DEEP_QUEUE_TEST_MESSAGES=100000 DEEP_QUEUE_TEST_PAYLOAD_BYTES=512 npm test -- offline-queue-deep
 */

const N = Number(process.env.DEEP_QUEUE_TEST_MESSAGES ?? 10_000);
const PAYLOAD_BYTES = Number(process.env.DEEP_QUEUE_TEST_PAYLOAD_BYTES ?? 1024);
const WINDOW = 100;

for (const mode of MODES) {
  describe(`deep offline queue (${mode})`, () => {
    const fx = brokerFixture(mode);

    test(`an offline persistent session gets ${N} queued QoS 1 messages of ${PAYLOAD_BYTES} bytes, complete and in order, after reconnecting`, async () => {
      const topic = `deep/${mode}`;
      const opts: IClientOptions = { protocolVersion: 5, clean: false, clientId: `deep-${mode}`, properties: { sessionExpiryInterval: 3600 } };
      const first = await fx.pool.connect(fx.broker.url(0), opts);
      await subscribe(first, topic, { qos: 1 });
      await new Promise<void>((r) => first.end(false, {}, () => r()));

      const pub = await fx.pool.connect(fx.broker.url(fx.broker.ports.length - 1), { protocolVersion: 5, clientId: `deep-pub-${mode}` });
      await publishWindowed(pub, topic, N, WINDOW, PAYLOAD_BYTES);

      // Listener attached before CONNACK: the queue follows it at once.
      const again = mqtt.connect(fx.broker.url(0), { reconnectPeriod: 0, connectTimeout: 20_000, ...opts });
      const got = collect(again);
      const connack = await new Promise<IConnackPacket>((resolve, reject) => {
        again.once('connect', resolve);
        again.once('error', reject);
      });
      try {
        assert.equal(connack.sessionPresent, true, 'Session Present 1 [MQTT-3.2.2-2]');
        await waitFor(() => got.length >= N, `${N} queued messages (got ${got.length})`, Math.max(120_000, N * 10));
        assertCompleteInOrder(got, N);
      } finally {
        await new Promise<void>((r) => again.end(true, {}, () => r()));
      }
    });
  });
}
