import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt-packet';
import { encodePlainPublish } from '../../gateway/src/protocol/encode-publish.js';

// The hand-written PUBLISH encoder must produce exactly what mqtt-packet would.
for (const protocolVersion of [3, 4, 5] as const) {
  for (const qos of [0, 1, 2] as const) {
    for (const size of [0, 10, 200, 20000]) {
      test(`plain PUBLISH v${protocolVersion} QoS ${qos} payload ${size} bytes matches mqtt-packet`, () => {
        const payload = Buffer.alloc(size, 7);
        const topic = 'a/b/ü/c';
        const mine = encodePlainPublish(topic, payload, qos, 513, qos > 0, true, protocolVersion === 5);
        const ref = mqtt.generate(
          { cmd: 'publish', topic, payload, qos, dup: qos > 0, retain: true, messageId: qos > 0 ? 513 : undefined, properties: protocolVersion === 5 ? {} : undefined } as mqtt.IPublishPacket,
          { protocolVersion },
        );
        assert.deepEqual(mine, ref);
      });
    }
  }
}
