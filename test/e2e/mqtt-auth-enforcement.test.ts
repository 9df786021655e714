import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { after, before, describe, test } from 'node:test';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, publish, sleep, subscribe, waitFor } from '../support/mqtt-clients.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration, insertVmqUser } from '../support/vmq-db.js';

// Real MQTT clients against shardmq with PostgreSQL auth (VerneMQ table), in one process and as a
// cluster (auth-service as its own process behind NATS): CONNACK codes and per-message ACLs.
let db: PostgresHandle;

/** The SUBACK return/reason codes, also when mqtt.js treats one of them as an error. */
async function subackCodes(c: MqttClient, topics: string[]): Promise<number[]> {
  try {
    return (await subscribe(c, topics, { qos: 1 })).map((g) => g.qos);
  } catch (e) {
    const packet = (e as { packet?: { granted?: (number | { qos: number })[] } }).packet;
    if (!packet?.granted) throw e;
    return packet.granted.map((g) => (typeof g === 'number' ? g : g.qos));
  }
}

before(async () => {
  db = await startPostgres();
  await applyVmqMigration(db);
  await insertVmqUser(db, {
    username: 'fleet',
    password: 'fleet-pw',
    publishAcl: [{ pattern: 'devices/%c/up/#' }],
    subscribeAcl: [{ pattern: 'devices/%c/down/#' }],
  });
  await insertVmqUser(db, { username: 'backend', password: 'backend-pw', publishAcl: [{ pattern: 'devices/+/down/#' }], subscribeAcl: [{ pattern: 'devices/#' }] });
});

after(async () => {
  await db?.destroy();
});

for (const mode of MODES) {
  describe(`PostgreSQL auth enforced end to end (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    before(async () => {
      broker = await startBroker(mode, { env: { SHARDMQ_AUTH_DATABASE_URL: db.url } });
    });
    after(async () => {
      await pool.closeAll();
      await broker?.stop();
    });

    test('CONNACK: 3.1.1 0x04 bad password, 0x05 no credentials; 5.0 0x86 and 0x87', async () => {
      const url = broker.url(0);
      assert.equal(await pool.refused(url, { protocolVersion: 4, clientId: 'd1', username: 'fleet', password: 'nope' }), 4);
      assert.equal(await pool.refused(url, { protocolVersion: 4, clientId: 'd1' }), 5);
      assert.equal(await pool.refused(url, { protocolVersion: 5, clientId: 'd1', username: 'fleet', password: 'nope' }), 0x86);
      assert.equal(await pool.refused(url, { protocolVersion: 5, clientId: 'd1' }), 0x87);
      const ok = await pool.connect(url, { protocolVersion: 4, clientId: 'd1', username: 'fleet', password: 'fleet-pw' });
      assert.equal(ok.connected, true);
    });

    test('SUBSCRIBE outside the ACL: SUBACK 0x80 (3.1.1) and 0x87 (5.0)', async () => {
      const v4 = await pool.connect(broker.url(0), { protocolVersion: 4, clientId: 'sub-v4', username: 'fleet', password: 'fleet-pw' });
      assert.deepEqual(await subackCodes(v4, ['devices/sub-v4/down/#', 'devices/other/down/#']), [1, 0x80]);
      const v5 = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: 'sub-v5', username: 'fleet', password: 'fleet-pw' });
      assert.deepEqual(await subackCodes(v5, ['devices/sub-v5/down/#', '#']), [1, 0x87]);
    });

    test('PUBLISH outside the ACL: PUBACK 0x87 (5.0), dropped (3.1.1); allowed ones delivered', async () => {
      const watcher = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: 'watcher', username: 'backend', password: 'backend-pw' });
      const got = collect(watcher);
      await subscribe(watcher, 'devices/#', { qos: 1 });
      const d5 = await pool.connect(broker.url(mode === 'cluster' ? 1 : 0), { protocolVersion: 5, clientId: 'dev5', username: 'fleet', password: 'fleet-pw' });
      await assert.rejects(publish(d5, 'devices/dev4/up/t', 'spoof-5', { qos: 1 }), (e: Error & { code?: number }) => e.code === 0x87);
      const d4 = await pool.connect(broker.url(0), { protocolVersion: 4, clientId: 'dev4', username: 'fleet', password: 'fleet-pw' });
      await publish(d4, 'devices/dev5/up/t', 'spoof-4', { qos: 1 }); // acknowledged, dropped
      await publish(d4, 'devices/dev4/up/t', 'own-4', { qos: 1 });
      await publish(d5, 'devices/dev5/up/t', 'own-5', { qos: 1 });
      await waitFor(() => got.length >= 2, 'the two allowed messages');
      await sleep(200);
      assert.deepEqual(got.map((g) => g.payload.toString()).sort(), ['own-4', 'own-5']);
    });
  });
}

describe('mountpoints keep tenants apart end to end (cluster)', () => {
  let broker: Broker;
  const pool = new ClientPool();
  before(async () => {
    await insertVmqUser(db, { mountpoint: 'ta', username: 'tenant', password: 'pw-a', publishAcl: [{ pattern: '#' }], subscribeAcl: [{ pattern: '#' }] });
    await insertVmqUser(db, { mountpoint: 'tb', username: 'tenant', password: 'pw-b', publishAcl: [{ pattern: '#' }], subscribeAcl: [{ pattern: '#' }] });
    broker = await startBroker('cluster', { env: { SHARDMQ_AUTH_DATABASE_URL: db.url }, gateways: 1, roleEnv: { gateway: { SHARDMQ_MQTT_MOUNTPOINT: 'ta' } } });
    await broker.spawnRole('gateway', 'gateway-tb', { SHARDMQ_MQTT_MOUNTPOINT: 'tb' });
  });
  after(async () => {
    await pool.closeAll();
    await broker?.stop();
  });

  test("credentials and topics of one mountpoint never reach the other's", async () => {
    const [ta, tb] = [broker.url(0), broker.url(1)];
    assert.equal(await pool.refused(tb, { protocolVersion: 5, clientId: 'x', username: 'tenant', password: 'pw-a' }), 0x86);
    const subA = await pool.connect(ta, { protocolVersion: 5, clientId: 'sub', username: 'tenant', password: 'pw-a' });
    const subB = await pool.connect(tb, { protocolVersion: 5, clientId: 'sub', username: 'tenant', password: 'pw-b' });
    const gotA = collect(subA);
    const gotB = collect(subB);
    await subscribe(subA, '#', { qos: 1 });
    await subscribe(subB, '#', { qos: 1 });
    const pubB = await pool.connect(tb, { protocolVersion: 5, clientId: 'pub', username: 'tenant', password: 'pw-b' });
    await publish(pubB, 'shared/topic', 'from-b', { qos: 1 });
    const pubA = await pool.connect(ta, { protocolVersion: 5, clientId: 'pub', username: 'tenant', password: 'pw-a' });
    await publish(pubA, 'shared/topic', 'from-a', { qos: 1 });
    await waitFor(() => gotA.length >= 1 && gotB.length >= 1, 'one message per tenant');
    await sleep(200);
    assert.deepEqual(
      gotA.map((g) => g.payload.toString()),
      ['from-a'],
    );
    assert.deepEqual(
      gotB.map((g) => g.payload.toString()),
      ['from-b'],
    );
  });
});
