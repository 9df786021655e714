import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';

/**
 * Deep queues and bursts with the default queue bounds: nothing a publisher got a PUBACK for
 * is dropped, and per-publisher order holds [MQTT-4.6.0-6]. A persistent session offline while
 * 10,000 QoS 1 messages of 1 KB are published for it gets them all after reconnecting; an
 * online subscriber slower than a burst of 10,000 (publisher window 100) gets them all.
 */

const N = 10_000;
const WINDOW = 100;

/** Publishes n QoS 1 messages with at most `window` unacknowledged; payload starts with the index. */
async function publishWindowed(c: MqttClient, topic: string, n: number, window: number, size: number): Promise<void> {
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

function assertCompleteInOrder(got: Received[], n: number): void {
  const idx = indexes(got);
  const missing = n - new Set(idx).size;
  assert.equal(missing, 0, `${missing} of ${n} acknowledged messages missing`);
  let outOfOrder = 0;
  for (let i = 1; i < idx.length; i++) if (idx[i]! < idx[i - 1]!) outOfOrder++;
  assert.equal(outOfOrder, 0, `${outOfOrder} messages out of order`);
}

for (const mode of MODES) {
  describe(`deep queues and bursts (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();

    before(async () => {
      broker = await startBroker(mode);
    });
    after(async () => {
      await pool.closeAll();
      await broker?.stop();
    });

    test(`an offline persistent session gets ${N} queued 1 KB QoS 1 messages, complete and in order, after reconnecting`, async () => {
      const topic = `deep/${mode}`;
      const opts: IClientOptions = { protocolVersion: 5, clean: false, clientId: `deep-${mode}`, properties: { sessionExpiryInterval: 3600 } };
      const first = await pool.connect(broker.url(0), opts);
      await subscribe(first, topic, { qos: 1 });
      await new Promise<void>((r) => first.end(false, {}, () => r()));

      const pub = await pool.connect(broker.url(broker.ports.length - 1), { protocolVersion: 5, clientId: `deep-pub-${mode}` });
      await publishWindowed(pub, topic, N, WINDOW, 1024);

      // Listener attached before CONNACK: the queue follows it at once.
      const again = mqtt.connect(broker.url(0), { reconnectPeriod: 0, connectTimeout: 20_000, ...opts });
      const got = collect(again);
      const connack = await new Promise<IConnackPacket>((resolve, reject) => {
        again.once('connect', resolve);
        again.once('error', reject);
      });
      try {
        assert.equal(connack.sessionPresent, true, 'Session Present 1 [MQTT-3.2.2-2]');
        await waitFor(() => got.length >= N, `${N} queued messages (got ${got.length})`, 120_000);
        assertCompleteInOrder(got, N);
      } finally {
        await new Promise<void>((r) => again.end(true, {}, () => r()));
      }
    });

    test(`an online subscriber slower than a burst of ${N} QoS 1 messages (publisher window ${WINDOW}) loses none`, async () => {
      const topic = `burst/${mode}`;
      const sub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `burst-sub-${mode}` });
      const got = collect(sub);
      await subscribe(sub, topic, { qos: 1 });
      const pub = await pool.connect(broker.url(broker.ports.length - 1), { protocolVersion: 5, clientId: `burst-pub-${mode}` });
      await publishWindowed(pub, topic, N, WINDOW, 64);
      await waitFor(() => got.length >= N, `${N} messages (got ${got.length})`, 120_000);
      assertCompleteInOrder(got, N);
    });
  });
}
