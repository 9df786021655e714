import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import type { Received } from './mqtt-clients.js';

/**
 * A QoS 1 publisher with a bounded window of unacknowledged messages, and the check that a
 * subscriber got every one of them in order. Payloads start with the zero-padded index.
 * Test support only.
 */

/** Publishes n QoS 1 messages with at most `window` unacknowledged; payload starts with the index. */
export async function publishWindowed(c: MqttClient, topic: string, n: number, window: number, size: number): Promise<void> {
  let next = 0;
  let failed: Error | undefined;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const payload = Buffer.alloc(size, 0x61);
      payload.write(String(i).padStart(8, '0'));
      c.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });
  const lane = async () => {
    while (next < n && !failed) {
      const i = next++;
      await one(i).catch((err: Error) => (failed = err));
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  if (failed) throw failed;
}

function indexes(got: Received[]): number[] {
  return got.map((r) => Number(r.payload.subarray(0, 8).toString()));
}

export function assertCompleteInOrder(got: Received[], n: number): void {
  const idx = indexes(got);
  const missing = n - new Set(idx).size;
  assert.equal(missing, 0, `${missing} of ${n} acknowledged messages missing`);
  let outOfOrder = 0;
  for (let i = 1; i < idx.length; i++) if (idx[i]! < idx[i - 1]!) outOfOrder++;
  assert.equal(outOfOrder, 0, `${outOfOrder} messages out of order`);
}
