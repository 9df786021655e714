import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Broker } from '../support/broker.js';
import { type ClusterState, startTwoOwnerCluster } from '../support/cluster-state.js';
import { ClientPool, collect, sleep, subscribe, waitFor } from '../support/mqtt-clients.js';

/**
 * Issue 5 acceptance: kill -9 a gateway. The session actors (two of them, each handling its
 * own shards) notice the silence and send the Wills of its devices once, after their Will
 * Delay; MQTT 5 devices that reconnect to the other gateway within the delay suppress
 * theirs [MQTT-3.1.3-9]. 3.1.1 Wills (no delay) fire once too.
 */

const SHARDS = 64;
const env = {
  SHARDMQ_SHARDS: String(SHARDS),
  SHARDMQ_CLUSTER_LEASE_TTL_MS: '3000',
  SHARDMQ_CLUSTER_LEASE_RENEW_MS: '1000',
  SHARDMQ_CLUSTER_STORAGE: 'memory',
  SHARDMQ_GATEWAY_HEARTBEAT_MS: '300',
};

describe('gateway crash: Wills fire once, after their delay, unless the device came back', () => {
  let broker: Broker;
  let state: ClusterState;
  const pool = new ClientPool();

  before(async () => {
    ({ broker, state } = await startTwoOwnerCluster({ env, gateways: 2, shards: SHARDS }));
  });

  after(async () => {
    await pool.closeAll();
    await state?.close();
    await broker?.stop();
  });

  test('kill -9 of a gateway', async () => {
    const watcher = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: 'will-watcher' });
    const wills = collect(watcher);
    await subscribe(watcher, 'will/#', { qos: 1 });

    const v5 = Array.from({ length: 12 }, (_, i) => `v5-${i}`);
    const v3 = Array.from({ length: 4 }, (_, i) => `v3-${i}`);
    for (const id of v5) {
      await pool.connect(broker.url(0), {
        protocolVersion: 5,
        clientId: id,
        clean: false,
        properties: { sessionExpiryInterval: 600 },
        will: { topic: `will/${id}`, payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: 4 } },
      });
    }
    for (const id of v3) {
      await pool.connect(broker.url(0), { protocolVersion: 4, clientId: id, clean: true, will: { topic: `will/${id}`, payload: Buffer.from('gone'), qos: 1, retain: false } });
    }
    const comeback = v5.slice(0, 6);
    const stayAway = v5.slice(6);

    broker.processes.get('gateway-1')!.kill('SIGKILL');
    // Half the MQTT 5 devices come back through the other gateway within the Will Delay.
    for (const id of comeback) {
      await pool.connect(broker.url(1), { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 600 } });
    }
    const expected = [...stayAway, ...v3].map((id) => `will/${id}`).sort();
    await waitFor(() => new Set(wills.map((w) => w.topic)).size >= expected.length, 'the Wills of the devices that stayed away', 20_000).catch(async (err: Error) => {
      // What each live process counted, so a failure says where the missing Will stopped.
      const counted: string[] = [];
      for (const [name, port] of broker.httpPorts) {
        if (name === 'gateway-1') continue;
        const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
          (r) => r.text(),
          (e: Error) => e.message,
        );
        counted.push(
          `${name}: ${text
            .split('\n')
            .filter((l) => /^shardmq_.*(outcome|deliver|rout|fail|retr|dedup)/.test(l))
            .join('; ')}`,
        );
      }
      throw new Error(`${err.message}; got ${JSON.stringify(wills.map((w) => w.topic).sort())}, want ${JSON.stringify(expected)}\n${counted.join('\n')}`);
    });
    await sleep(2000); // room for a second copy or a suppressed Will to show up
    const topics = wills.map((w) => w.topic).sort();
    assert.deepEqual(topics, expected, 'each Will exactly once, none for a device that came back');
    for (const w of wills) assert.equal(w.packet.dup, false);
  });
});
