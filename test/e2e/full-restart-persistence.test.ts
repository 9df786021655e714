import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { startBroker, type Broker } from '../support/broker.js';
import { ClusterState } from '../support/cluster-state.js';
import { ClientPool, collect, publish, subscribe, waitFor } from '../support/mqtt-clients.js';

/**
 * Issue 5 acceptance: stop and restart every shardmq process while NATS keeps running.
 * Persistent sessions (subscriptions), their queued messages and retained messages are
 * all still there afterwards.
 */

const env = { SHARDMQ_SHARDS: '64', SHARDMQ_CLUSTER_LEASE_TTL_MS: '3000', SHARDMQ_CLUSTER_LEASE_RENEW_MS: '1000' };

describe('full restart with NATS kept: sessions, queues and retained messages survive', () => {
  let broker: Broker;
  const pool = new ClientPool();
  const opened: MqttClient[] = [];

  before(async () => {
    broker = await startBroker('cluster', { env, gateways: 1 });
  });

  after(async () => {
    await pool.closeAll();
    for (const c of opened) c.end(true);
    await broker?.stop();
  });

  test('stop everything, start everything, reconnect', async () => {
    const s5 = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: 'keeper-5', clean: false, properties: { sessionExpiryInterval: 600 } });
    await subscribe(s5, 'keep/#', { qos: 1 });
    const s3 = await pool.connect(broker.url(0), { protocolVersion: 4, clientId: 'keeper-3', clean: false });
    await subscribe(s3, 'keep/+/x', { qos: 1 });
    await new Promise<void>((r) => s5.end(false, {}, () => r()));
    await new Promise<void>((r) => s3.end(false, {}, () => r()));

    const pub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: 'pub' });
    for (let i = 0; i < 5; i++) await publish(pub, 'keep/a/x', `queued-${i}`, { qos: 1 });
    await publish(pub, 'keep/retained', 'the-retained-one', { qos: 1, retain: true });
    await new Promise<void>((r) => pub.end(false, {}, () => r()));

    const cs = await ClusterState.open(broker.nats!.url);
    // What the store holds for them (an operator can read it the same way).
    assert.equal((await cs.session('keeper-5', 64))?.queue.length, 6);
    assert.equal((await cs.session('keeper-3', 64))?.queue.length, 5);
    await cs.close();
    // Graceful stop of every shardmq process (NATS stays), then a fresh start of each role.
    for (const name of [...broker.processes.keys()]) await broker.processes.get(name)!.stop(10_000);
    await broker.spawnRole('router', 'router-b');
    await broker.spawnRole('session', 'session-b');
    await broker.spawnRole('auth', 'auth-b');
    await broker.spawnRole('gateway', 'gateway-b');
    const url = broker.url(broker.ports.length - 1);

    // Listeners go on before CONNECT: the queued messages arrive right behind the CONNACK.
    const reconnect = async (opts: IClientOptions) => {
      const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 20_000, ...opts });
      opened.push(c);
      const got = collect(c);
      const connack = await new Promise<IConnackPacket>((resolve, reject) => {
        c.once('connect', resolve);
        c.once('error', reject);
      });
      return { got, connack };
    };
    const { got: got5, connack: ack5 } = await reconnect({ protocolVersion: 5, clientId: 'keeper-5', clean: false, properties: { sessionExpiryInterval: 600 } });
    const { got: got3, connack: ack3 } = await reconnect({ protocolVersion: 4, clientId: 'keeper-3', clean: false });
    assert.equal(ack5.sessionPresent, true, 'MQTT 5 session present [MQTT-3.2.2-2]');
    assert.equal(ack3.sessionPresent, true, 'MQTT 3.1.1 session present');
    await waitFor(() => got5.length >= 6 && got3.length >= 5, 'the queued messages', 20_000).catch((err: Error) => {
      throw new Error(`${err.message}: v5 got [${got5.map((g) => g.payload.toString())}], 3.1.1 got [${got3.map((g) => g.payload.toString())}]`);
    });
    assert.deepEqual(got5.map((g) => g.payload.toString()).sort(), [...Array.from({ length: 5 }, (_, i) => `queued-${i}`), 'the-retained-one'].sort());
    assert.deepEqual(
      got3.map((g) => g.payload.toString()).sort(),
      Array.from({ length: 5 }, (_, i) => `queued-${i}`),
    );

    // The subscriptions survived too: a new publish still reaches both without resubscribing.
    const pub2 = await pool.connect(url, { protocolVersion: 5, clientId: 'pub-2' });
    await publish(pub2, 'keep/b/x', 'after-restart', { qos: 1 });
    await waitFor(() => got5.some((g) => g.payload.toString() === 'after-restart') && got3.some((g) => g.payload.toString() === 'after-restart'), 'a new message via the restored subscriptions');

    // The retained message survived: a new subscriber gets it with RETAIN set.
    const fresh = await pool.connect(url, { protocolVersion: 5, clientId: 'fresh' });
    const gotFresh = collect(fresh);
    await subscribe(fresh, 'keep/retained', { qos: 1 });
    await waitFor(() => gotFresh.length === 1, 'the retained message');
    assert.equal(gotFresh[0]!.payload.toString(), 'the-retained-one');
    assert.equal(gotFresh[0]!.packet.retain, true);
  });
});
