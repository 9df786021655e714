import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { metricOf } from '../support/broker-metrics.js';
import { ClientPool, qos1RoundTrip } from '../support/mqtt-clients.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration, insertVmqHash } from '../support/vmq-db.js';

/**
 * A reconnect storm larger than the auth service verifies within one bus request timeout: every
 * device is let in, none is refused as "server unavailable" or closed by the connect timeout. The
 * CONNECTs beyond mqtt.maxAuthInFlight wait at the gateway (counted as auth_in_flight_limit), so each
 * request the auth service gets is answered well within nats.requestTimeoutMs; and a CONNECT that
 * waits there is not the client's silence, so mqtt.connectTimeoutMs does not close it.
 *
 * The sizes make the storm outlast both timeouts on any machine: 40 devices at once, each a bcrypt
 * cost 10 verification in PostgreSQL (tens of ms each, two at a time here), against a 2 s request
 * timeout and a 1 s connect timeout. Real clients, real PostgreSQL; both modes.
 */

const DEVICES = 40;
const PASSWORD = 'storm-pw';

let db: PostgresHandle;

before(async () => {
  db = await startPostgres();
  await applyVmqMigration(db);
  const { rows } = await db.query<{ h: string }>(`SELECT crypt($1, gen_salt('bf', 10)) AS h`, [PASSWORD]);
  for (let i = 0; i < DEVICES; i++)
    await insertVmqHash(db, { clientId: `storm-${i}`, username: `storm-${i}`, hash: rows[0]!.h, publishAcl: [{ pattern: 'storm/#' }], subscribeAcl: [{ pattern: 'storm/#' }] });
});

after(async () => {
  await db?.destroy();
});

for (const mode of MODES) {
  describe(`a reconnect storm waits for authentication (${mode})`, { timeout: 240_000 }, () => {
    let broker: Broker;
    const pool = new ClientPool();
    before(async () => {
      broker = await startBroker(mode, {
        env: {
          SHARDMQ_AUTH_DATABASE_URL: db.url,
          SHARDMQ_MQTT_MAX_AUTH_IN_FLIGHT: '2',
          SHARDMQ_NATS_REQUEST_TIMEOUT_MS: '2000',
          SHARDMQ_MQTT_CONNECT_TIMEOUT_MS: '1000',
        },
      });
    });
    after(async () => {
      await pool.closeAll();
      await broker?.stop();
    });

    test('every device of a storm beyond mqtt.maxAuthInFlight is accepted; the wait is counted, nothing refused or timed out', async () => {
      const gateways = broker.ports.length;
      const clients = await Promise.all(
        Array.from({ length: DEVICES }, (_, i) =>
          pool.connect(broker.url(i % gateways), { protocolVersion: i % 2 === 0 ? 5 : 4, clientId: `storm-${i}`, username: `storm-${i}`, password: PASSWORD, connectTimeout: 120_000 }),
        ),
      );
      assert.equal(clients.length, DEVICES);
      await qos1RoundTrip(clients[DEVICES - 1]!, 'storm/last');

      const gatewayNames = mode === 'single' ? ['shardmq'] : Array.from({ length: gateways }, (_, i) => `gateway-${i + 1}`);
      let waited = 0;
      for (const name of gatewayNames) {
        waited += await metricOf(broker, name, 'shardmq_gateway_events_total', 'what="auth_in_flight_limit"');
        assert.equal(await metricOf(broker, name, 'shardmq_gateway_events_total', 'what="connect_refused_unavailable"'), 0, `${name} refused none as unavailable`);
        assert.equal(await metricOf(broker, name, 'shardmq_gateway_events_total', 'what="connect_timeout"'), 0, `${name} timed none out`);
      }
      assert.ok(waited > 0, 'CONNECTs beyond mqtt.maxAuthInFlight waited at the gateway (auth_in_flight_limit counted)');
    });
  });
}
