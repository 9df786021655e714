import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type Broker } from '../support/broker.js';
import { ClientPool } from '../support/mqtt-clients.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';

/**
 * Two clusters share one nats-server, told apart by nats.subjectPrefix (and cluster.bucketPrefix for
 * their JetStream state). Cluster B runs an auth service that accepts everyone (no database);
 * cluster A runs none at first. If any subject ignored the prefix (as `auth.v1.connect` once did),
 * B's auth service would answer A's logins and A would accept devices it cannot check.
 */
describe('nats.subjectPrefix isolates two clusters on one NATS', () => {
  let nats: NatsServerHandle;
  let a: Broker;
  let b: Broker;
  const pool = new ClientPool();
  before(async () => {
    nats = await startNatsServer({ jetstream: true });
    b = await startBroker('cluster', { nats, gateways: 1, env: { SHARDMQ_SHARDS: '64', SHARDMQ_NATS_SUBJECT_PREFIX: 'clusterb', SHARDMQ_CLUSTER_BUCKET_PREFIX: 'clusterb' } });
    a = await startBroker('cluster', {
      nats,
      gateways: 1,
      backRoles: ['router', 'session'],
      env: { SHARDMQ_SHARDS: '64', SHARDMQ_NATS_SUBJECT_PREFIX: 'clustera', SHARDMQ_CLUSTER_BUCKET_PREFIX: 'clustera' },
    });
  });
  after(async () => {
    await pool.closeAll();
    await a?.stop();
    await b?.stop();
    await nats?.stop();
  });

  test("cluster B's auth service never answers cluster A's CONNECT; A's own auth service does", async () => {
    const onB = await pool.connect(b.url(), { clientId: 'dev-b', protocolVersion: 4 });
    assert.equal(onB.connected, true, 'B accepts the device itself');
    const code = await pool.refused(a.url(), { clientId: 'dev-a', protocolVersion: 4 });
    assert.equal(code, 3, '3.1.1 CONNACK 0x03 server unavailable: no auth service under prefix clustera');
    await a.spawnRole('auth', 'auth-a');
    const onA = await pool.connect(a.url(), { clientId: 'dev-a', protocolVersion: 4 });
    assert.equal(onA.connected, true);
  });

  test('a message published in one cluster reaches only that cluster', async () => {
    const subA = await pool.connect(a.url(), { clientId: 'sub-a', protocolVersion: 4 });
    const subB = await pool.connect(b.url(), { clientId: 'sub-b', protocolVersion: 4 });
    const gotA: string[] = [];
    const gotB: string[] = [];
    subA.on('message', (_t, p) => gotA.push(p.toString()));
    subB.on('message', (_t, p) => gotB.push(p.toString()));
    await subA.subscribeAsync('iso/#', { qos: 1 });
    await subB.subscribeAsync('iso/#', { qos: 1 });
    const pubB = await pool.connect(b.url(), { clientId: 'pub-b', protocolVersion: 4 });
    await pubB.publishAsync('iso/x', 'from-b', { qos: 1 });
    const pubA = await pool.connect(a.url(), { clientId: 'pub-a', protocolVersion: 4 });
    await pubA.publishAsync('iso/x', 'from-a', { qos: 1 });
    // QoS 1 subscribers, acknowledged publishes: wait until each side has its own message.
    for (let i = 0; i < 600 && (gotA.length === 0 || gotB.length === 0); i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(gotA, ['from-a']);
    assert.deepEqual(gotB, ['from-b']);
  });
});
