import { describe, test } from 'node:test';
import { MODES } from '../support/broker.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { collect, subscribe, waitFor } from '../support/mqtt-clients.js';
import { assertCompleteInOrder, publishWindowed } from '../support/windowed-publisher.js';

/**
 * An online subscriber slower than a burst: one publisher sends 10,000 QoS 1 messages with at
 * most 100 unacknowledged to one connected subscriber on the same topic. With the default queue
 * bounds nothing the publisher got a PUBACK for is dropped, and order holds [MQTT-4.6.0-6].
 */

const N = 10_000;
const WINDOW = 100;

for (const mode of MODES) {
  describe(`burst to a slower online subscriber (${mode})`, () => {
    const fx = brokerFixture(mode);

    test(`an online subscriber slower than a burst of ${N} QoS 1 messages (publisher window ${WINDOW}) loses none`, async () => {
      const topic = `burst/${mode}`;
      const sub = await fx.pool.connect(fx.broker.url(0), { protocolVersion: 5, clientId: `burst-sub-${mode}` });
      const got = collect(sub);
      await subscribe(sub, topic, { qos: 1 });
      const pub = await fx.pool.connect(fx.broker.url(fx.broker.ports.length - 1), { protocolVersion: 5, clientId: `burst-pub-${mode}` });
      await publishWindowed(pub, topic, N, WINDOW, 64);
      await waitFor(() => got.length >= N, `${N} messages (got ${got.length})`, 120_000);
      assertCompleteInOrder(got, N);
    });
  });
}
