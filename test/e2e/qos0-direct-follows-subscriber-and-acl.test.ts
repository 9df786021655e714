import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { after, before, describe, test } from 'node:test';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { waitForMetric } from '../support/broker-metrics.js';
import { ClientPool, collect, publish, sleep, subackCodes, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration, insertVmqUser } from '../support/vmq-db.js';

// QoS 0 copies for connected sessions go from the router straight to the subscriber's gateway
// (docs/sharding.md, "QoS 0 direct"). Real clients, PostgreSQL ACLs, both modes: delivery
// follows a subscriber that reconnects through the other gateway, is taken over, or starts
// clean; the ACLs and No Local decided before routing still hold on this path.

let db: PostgresHandle;

before(async () => {
  db = await startPostgres();
  await applyVmqMigration(db);
  await insertVmqUser(db, { username: 'dev', password: 'dev-pw', publishAcl: [{ pattern: 'devices/%c/up/#' }], subscribeAcl: [{ pattern: 'devices/%c/down/#' }] });
  await insertVmqUser(db, { username: 'backend', password: 'backend-pw', publishAcl: [{ pattern: 'devices/#' }], subscribeAcl: [{ pattern: 'devices/#' }] });
});

after(async () => {
  await db?.destroy();
});

const payloads = (got: Received[], prefix: string) => got.map((g) => g.payload.toString()).filter((p) => p.startsWith(prefix));

for (const mode of MODES) {
  describe(`QoS 0 direct to the subscriber's gateway (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    const routerProcess = mode === 'cluster' ? 'router' : 'shardmq';
    before(async () => {
      broker = await startBroker(mode, { env: { SHARDMQ_AUTH_DATABASE_URL: db.url } });
    });
    after(async () => {
      await pool.closeAll();
      await broker?.stop();
    });
    const gw = (i: number) => broker.url(mode === 'cluster' ? i : 0);

    /**
     * Publishes `<phase>-probe-<n>` until one reaches `got` (the routers learn a new connection
     * a moment after its CONNACK: QoS 0 sent meanwhile may be dropped, which at most once
     * allows), then 40 `<phase>-<n>` that must all arrive, once each and in order [MQTT-4.6.0-6].
     */
    async function flowsTo(pub: MqttClient, topic: string, got: Received[], phase: string): Promise<void> {
      const deadline = Date.now() + 30_000;
      for (let n = 0; payloads(got, `${phase}-probe-`).length === 0; n++) {
        assert.ok(Date.now() < deadline, `no ${phase} message reached the subscriber`);
        await publish(pub, topic, `${phase}-probe-${n}`, { qos: 0 });
        await sleep(100);
      }
      const want = Array.from({ length: 40 }, (_, i) => `${phase}-${i}`);
      for (const p of want) await publish(pub, topic, p, { qos: 0 });
      await waitFor(() => payloads(got, `${phase}-`).filter((p) => !p.includes('probe')).length >= want.length, `40 ${phase} messages`, 20_000);
      assert.deepEqual(
        payloads(got, `${phase}-`).filter((p) => !p.includes('probe')),
        want,
      );
    }

    test('delivery follows the subscriber through a reconnect on the other gateway, a takeover and a clean start', async () => {
      const pub = await pool.connect(gw(1), { protocolVersion: 5, clientId: 'd1', username: 'dev', password: 'dev-pw' });
      const topic = 'devices/d1/up/t';
      const opts = { protocolVersion: 5 as const, clientId: 'mover', username: 'backend', password: 'backend-pw', clean: false, properties: { sessionExpiryInterval: 300 } };

      const first: Received[] = [];
      const a = await pool.connect(gw(0), opts, first);
      await subscribe(a, 'devices/+/up/#', { qos: 0 });
      await flowsTo(pub, topic, first, 'gw0');
      await waitForMetric(broker, routerProcess, 'shardmq_router_direct_deliveries_total', '', (v) => v >= 40);

      // Gone, then back through the other gateway with its session (no new SUBSCRIBE).
      await new Promise<void>((r) => a.end(false, {}, () => r()));
      const second: Received[] = [];
      const b = await pool.connect(gw(1), opts, second);
      await flowsTo(pub, topic, second, 'gw1');

      // Taken over through the first gateway: the new connection gets the messages, the old one none.
      const third: Received[] = [];
      const c = await pool.connect(gw(0), opts, third);
      await waitFor(() => !b.connected, 'the old connection closed by the takeover');
      await flowsTo(pub, topic, third, 'takeover');
      assert.deepEqual(payloads(second, 'takeover-'), [], 'nothing for the closed connection');

      // A clean start ends the session: a new one subscribes again and gets the messages.
      await new Promise<void>((r) => c.end(false, {}, () => r()));
      const fourth: Received[] = [];
      const d = await pool.connect(gw(1), { ...opts, clean: true }, fourth);
      await subscribe(d, 'devices/+/up/#', { qos: 0 });
      await flowsTo(pub, topic, fourth, 'clean');
    });

    test('subscribe and publish ACLs and No Local still decide what a QoS 0 subscriber gets', async () => {
      // SUBSCRIBE outside the ACL is refused, so nothing published there reaches the device.
      const dev: Received[] = [];
      const d2 = await pool.connect(gw(0), { protocolVersion: 4, clientId: 'd2', username: 'dev', password: 'dev-pw' }, dev);
      assert.deepEqual(await subackCodes(d2, ['devices/d2/down/#', 'devices/d3/down/#'], 0), [0, 0x80]);
      const backend = await pool.connect(gw(1), { protocolVersion: 5, clientId: 'be', username: 'backend', password: 'backend-pw' });
      const watched = collect(backend);
      await subscribe(backend, 'devices/+/up/#', { qos: 0, nl: true });
      for (let i = 0; i < 5; i++) await publish(backend, 'devices/d3/down/x', `not-yours-${i}`, { qos: 0 });
      await flowsTo(backend, 'devices/d2/down/x', dev, 'yours');
      assert.deepEqual(payloads(dev, 'not-yours'), []);

      // PUBLISH outside the ACL is dropped at the gateway (3.1.1 has no reason code for it).
      const d4 = await pool.connect(gw(0), { protocolVersion: 4, clientId: 'd4', username: 'dev', password: 'dev-pw' });
      for (let i = 0; i < 5; i++) await publish(d4, 'devices/d5/up/x', `spoof-${i}`, { qos: 0 });
      await flowsTo(d4, 'devices/d4/up/x', watched, 'own');
      assert.deepEqual(payloads(watched, 'spoof'), []);

      // [MQTT-3.8.3-3] No Local: the backend's own messages on a topic it subscribes to never come back.
      for (let i = 0; i < 5; i++) await publish(backend, 'devices/be/up/x', `mine-${i}`, { qos: 0 });
      await flowsTo(d4, 'devices/d4/up/x', watched, 'after');
      assert.deepEqual(payloads(watched, 'mine'), []);
    });
  });
}
