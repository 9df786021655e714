import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { ClientPool, waitFor } from '../support/mqtt-clients.js';

/**
 * The shutdown broadcast (gateway.shutdownBroadcast*, docs/integration.md): on a graceful
 * stop, every client connected to the stopping gateway, subscribed or not, MQTT 3.1.1 and 5,
 * gets the configured PUBLISH before the drain closes its connection; clients of the other
 * gateway get nothing.
 */

const TOPIC = 'system/reconnect';

interface Watched {
  client: MqttClient;
  /** What the client saw, in order: 'message' (the broadcast) and 'close'. */
  seen: string[];
}

function watch(client: MqttClient): Watched {
  const w: Watched = { client, seen: [] };
  client.on('message', (topic, payload, packet) => w.seen.push(`message ${topic} ${payload.toString()} qos${packet.qos}`));
  client.on('close', () => w.seen.push('close'));
  return w;
}

for (const mode of MODES) {
  describe(`shutdown broadcast before the drain (${mode})`, { timeout: 180_000 }, () => {
    let broker: Broker | undefined;
    const pool = new ClientPool();
    after(async () => {
      await pool.closeAll();
      await broker?.stop();
    });

    test("every client of the stopping gateway gets the broadcast before it is closed; the other gateway's clients do not", async () => {
      broker = await startBroker(mode, {
        env: {
          SHARDMQ_SHARDS: '64',
          SHARDMQ_GATEWAY_SHUTDOWN_BROADCAST_TOPIC: TOPIC,
          SHARDMQ_GATEWAY_SHUTDOWN_BROADCAST_PAYLOAD: 'please reconnect',
          SHARDMQ_GATEWAY_SHUTDOWN_BROADCAST_QOS: '1',
          SHARDMQ_GATEWAY_DRAIN_RATE_PER_S: '1000',
        },
      });
      const stopping: Watched[] = [];
      for (let i = 0; i < 6; i++) {
        const c = await pool.connect(broker.url(0), { clientId: `bc-${mode}-${i}`, protocolVersion: i % 2 === 0 ? 5 : 4, clean: i % 3 !== 0 });
        stopping.push(watch(c));
      }
      const other = mode === 'cluster' ? watch(await pool.connect(broker.url(1), { clientId: `bc-${mode}-other` })) : undefined;
      const proc = broker.processes.get(mode === 'single' ? 'shardmq' : 'gateway-1')!;
      const code = await proc.stop(60_000);
      assert.equal(code, 0, `${proc.name} stops by itself:\n${proc.output()}`);
      await waitFor(() => stopping.every((w) => w.seen.includes('close')), 'every client of the stopping gateway closed');
      for (const w of stopping) {
        assert.deepEqual(w.seen.slice(0, 2), [`message ${TOPIC} please reconnect qos1`, 'close'], `${w.client.options.clientId}: the broadcast, then the close`);
      }
      if (other) {
        assert.equal(other.client.connected, true, 'the other gateway keeps its client');
        assert.deepEqual(other.seen, [], "no broadcast to the other gateway's clients");
      }
    });
  });
}
