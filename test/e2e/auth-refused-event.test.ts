import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { EventRecorder } from '../support/client-events.js';
import { ClientPool } from '../support/mqtt-clients.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration, insertVmqUser } from '../support/vmq-db.js';

/**
 * The gateway owns "authentication refused" (docs/integration.md): with PostgreSQL auth, a
 * refused CONNECT (bad password, no credentials, a Will topic outside the ACL) publishes one
 * client.auth_refused event naming why; an accepted one publishes none. Both modes, on NATS.
 */

let db: PostgresHandle;

before(async () => {
  db = await startPostgres();
  await applyVmqMigration(db);
  await insertVmqUser(db, { username: 'fleet', password: 'fleet-pw', publishAcl: [{ pattern: 'devices/%c/up/#' }], subscribeAcl: [] });
});

after(async () => {
  await db?.destroy();
});

for (const mode of MODES) {
  describe(`auth_refused events (${mode})`, { timeout: 180_000 }, () => {
    let nats: NatsServerHandle | undefined;
    let broker: Broker;
    let rec: EventRecorder;
    const pool = new ClientPool();
    before(async () => {
      if (mode === 'single') nats = await startNatsServer({ jetstream: true });
      broker = await startBroker(mode, { env: { SHARDMQ_AUTH_DATABASE_URL: db.url, SHARDMQ_EVENTS_ENABLED: 'true' }, nats });
      rec = await EventRecorder.start(broker.natsUrl!);
    });
    after(async () => {
      await pool.closeAll();
      await rec?.stop();
      await broker?.stop();
      await nats?.stop();
    });

    test('bad password, no credentials and a Will outside the ACL each give one auth_refused with its reason; a good login gives none', async () => {
      const url = broker.url();
      assert.equal(await pool.refused(url, { protocolVersion: 5, clientId: `bad-${mode}`, username: 'fleet', password: 'nope' }), 0x86);
      assert.equal(await pool.refused(url, { protocolVersion: 4, clientId: `anon-${mode}` }), 5);
      assert.equal(
        await pool.refused(url, {
          protocolVersion: 5,
          clientId: `will-${mode}`,
          username: 'fleet',
          password: 'fleet-pw',
          will: { topic: 'elsewhere', payload: Buffer.from('x'), qos: 0, retain: false },
        }),
        0x87,
      );
      await pool.connect(url, { protocolVersion: 5, clientId: `good-${mode}`, username: 'fleet', password: 'fleet-pw' });
      // The good login's connected event comes from the shard owner, after the refusals were published.
      await rec.waitFor(`good-${mode}`, 'client.connected');
      for (const [id, reason] of [
        [`bad-${mode}`, 'bad_credentials'],
        [`anon-${mode}`, 'not_authorized'],
        [`will-${mode}`, 'will_acl'],
      ] as const) {
        await rec.waitFor(id, 'client.auth_refused');
        const events = rec.of(id);
        assert.equal(events.length, 1, `${id}: one event, no session events: ${JSON.stringify(events)}`);
        const e = events[0]!;
        assert.ok(e.type === 'client.auth_refused');
        assert.equal(e.reason, reason);
        assert.equal(e.mountpoint, '');
        assert.match(e.peer, /127\.0\.0\.1/);
        assert.equal(e.username, id.startsWith('anon') ? undefined : 'fleet');
      }
      assert.deepEqual(
        rec.of(`good-${mode}`).filter((e) => e.type === 'client.auth_refused'),
        [],
      );
    });
  });
}
