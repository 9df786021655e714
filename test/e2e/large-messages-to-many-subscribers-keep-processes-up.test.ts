import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MODES } from '../support/broker.js';
import { brokerFixture } from '../support/broker-fixture.js';
import { collect, publish, type Received, subscribe, waitFor } from '../support/mqtt-clients.js';

/**
 * Large messages to many subscribers on one gateway: what an owner sends one gateway in one turn
 * (here 8 subscribers x 3 messages of 200 KB, about 4.8 MB) is several times NATS's default
 * max_payload (1 MiB). It is split into bus messages under the limit, every subscriber gets every
 * message, and no process exits (once, the oversize batch threw out of a timer callback and ended
 * the session actor).
 */

const SUBSCRIBERS = 8;
const MESSAGES = 3;
const PAYLOAD_BYTES = 200 * 1024;

for (const mode of MODES) {
  describe(`large messages to many subscribers (${mode})`, () => {
    const fx = brokerFixture(mode);

    test(`${SUBSCRIBERS} subscribers on one gateway get ${MESSAGES} QoS 1 messages of ${PAYLOAD_BYTES / 1024} KB each, and every process stays up`, async () => {
      const topic = `large/${mode}`;
      const got: Received[][] = [];
      for (let i = 0; i < SUBSCRIBERS; i++) {
        const sub = await fx.pool.connect(fx.broker.url(0), { protocolVersion: 5, clientId: `large-sub-${mode}-${i}` });
        got.push(collect(sub));
        await subscribe(sub, topic, { qos: 1 });
      }
      const pub = await fx.pool.connect(fx.broker.url(fx.broker.ports.length - 1), { protocolVersion: 5, clientId: `large-pub-${mode}` });
      // Published together, so the owner handles them in one turn and its output for the gateway is one batch.
      await Promise.all(Array.from({ length: MESSAGES }, (_, m) => publish(pub, topic, Buffer.alloc(PAYLOAD_BYTES, m + 1), { qos: 1 })));
      await waitFor(() => got.every((g) => g.length >= MESSAGES), `every subscriber got ${MESSAGES} (got ${got.map((g) => g.length).join(',')})`, 60_000);
      for (const g of got) {
        assert.deepEqual(
          g.map((r) => [r.payload.length, r.payload[0]]),
          Array.from({ length: MESSAGES }, (_, m) => [PAYLOAD_BYTES, m + 1]),
        );
      }
      for (const [name, p] of fx.broker.processes) assert.equal(p.running, true, `${name} is still running`);
    });
  });
}
