import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { Broker } from '../support/broker.js';
import { type ClusterState, startTwoOwnerCluster } from '../support/cluster-state.js';
import { ClientPool, collect, sleep, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';
import { Qos1Stream } from '../support/qos1-stream.js';

/**
 * Issue 5 acceptance: start a third session actor under a steady QoS 1 load. About a third
 * of the shards move to it (the old owners write and release, the new one loads), gateways
 * keep every socket, and nothing acknowledged is lost. Then stop it gracefully: its shards
 * move back the same way.
 */

const SHARDS = 64;
const SUBSCRIBERS = 30;
const env = {
  SHARDMQ_SHARDS: String(SHARDS),
  SHARDMQ_CLUSTER_LEASE_TTL_MS: '3000',
  SHARDMQ_CLUSTER_LEASE_RENEW_MS: '1000',
  SHARDMQ_CLUSTER_STORAGE: 'memory',
  SHARDMQ_GATEWAY_HEARTBEAT_MS: '500',
};

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('scale up and down under load: shards hand off, devices stay connected', () => {
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

  test('a third session actor takes about a third of the shards; nothing is lost, nobody reconnects', async () => {
    const subs: Array<{ id: string; client: MqttClient; got: Received[]; closes: number }> = [];
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const id = `sub-${i}`;
      const client = await pool.connect(broker.url(i % 2), { protocolVersion: i % 3 === 0 ? 4 : 5, clientId: id, clean: false, properties: i % 3 === 0 ? undefined : { sessionExpiryInterval: 3600 } });
      const entry = { id, client, got: collect(client), closes: 0 };
      client.on('close', () => entry.closes++);
      await subscribe(client, 'load/+', { qos: 1 });
      subs.push(entry);
    }
    const pub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: 'publisher' });
    const stream = new Qos1Stream(pub, 'load/a');
    await sleep(1000);

    await broker.spawnRole('session', 'session-3', { SHARDMQ_NODE_ID: 'session-3' });
    await until('session-3 to own shards and every shard to be leased', async () => {
      const o = await state.owners();
      return (o.get('session-3') ?? 0) > 0 && [...o.values()].reduce((a, b) => a + b, 0) === SHARDS;
    });
    const afterUp = await state.owners();
    console.log(`# after scale up: ${JSON.stringify(Object.fromEntries(afterUp))}`);
    assert.ok((afterUp.get('session-3') ?? 0) >= SHARDS / 6, 'about a third of the shards moved');

    await sleep(1500);
    // Scale down again: a graceful stop hands the shards back before the process exits.
    await broker.processes.get('session-3')!.stop(10_000);
    await until('the two remaining actors to own every shard', async () => {
      const o = await state.owners();
      return !o.has('session-3') && [...o.values()].reduce((a, b) => a + b, 0) === SHARDS;
    });
    await sleep(1500);
    await stream.stop();
    console.log(`# published ${stream.sent}, acknowledged ${stream.acked.size}, refused ${stream.refused.size}`);
    assert.ok(stream.acked.size > 50);
    assert.equal(stream.refused.size, 0, 'a planned move never refuses a publish');
    for (const s of subs) await stream.verify(s.id, s.got);
    for (const s of subs) {
      assert.equal(s.closes, 0, `${s.id} was never disconnected`);
      assert.equal(s.client.connected, true);
    }
    // A device connecting right now (shards settled) is served normally.
    const late = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: 'late-comer' });
    const lateGot = collect(late);
    await subscribe(late, 'load/+', { qos: 1 });
    await new Promise<void>((r) => pub.publish('load/b', 'hello', { qos: 1 }, () => r()));
    await waitFor(() => lateGot.length === 1, 'the late subscriber to get a message');
  });
});
