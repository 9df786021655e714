import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { brokerFixture } from '../support/broker-fixture.js';
import { metricOf } from '../support/broker-metrics.js';
import { qos1RoundTrip, waitFor } from '../support/mqtt-clients.js';
import { IdleSockets } from '../support/raw-mqtt.js';

/**
 * A storm of connections that never send CONNECT: at most mqtt.maxPendingConnects are held
 * (the rest are closed at once, counted), those held are closed after mqtt.connectTimeoutMs
 * (counted), and an established client is served throughout.
 */

const PENDING = 50;
const STORM = 150;

describe('a storm of connections that never CONNECT (single)', () => {
  const f = brokerFixture('single', { env: { SHARDMQ_MQTT_CONNECT_TIMEOUT_MS: '3000', SHARDMQ_MQTT_MAX_PENDING_CONNECTS: String(PENDING) } });
  const { pool } = f;
  let storm: IdleSockets | undefined;
  after(() => storm?.destroy());

  test('beyond mqtt.maxPendingConnects sockets are closed at once, the rest after mqtt.connectTimeoutMs, both counted; a bystander is served', async () => {
    const bystander = await pool.connect(f.broker.url(), { protocolVersion: 5, clientId: 'storm-bystander' });
    storm = await IdleSockets.open(f.broker.ports[0]!, STORM);
    await waitFor(() => storm!.closedByServer >= STORM - PENDING, 'the sockets beyond the pending cap closed');
    assert.equal(await metricOf(f.broker, 'shardmq', 'shardmq_gateway_events_total', 'what="connection_refused_pending_connects"'), STORM - PENDING);
    await qos1RoundTrip(bystander, 'storm/bystander');

    // The held ones never send CONNECT: each is closed by the connect timeout.
    await waitFor(() => storm!.closedByServer === STORM, 'every idle socket closed by the connect timeout', 20_000);
    assert.equal(await metricOf(f.broker, 'shardmq', 'shardmq_gateway_events_total', 'what="connect_timeout"'), PENDING);
    assert.equal(bystander.connected, true, 'the established client was not touched');
    const late = await pool.connect(f.broker.url(), { protocolVersion: 4, clientId: 'storm-late' });
    await qos1RoundTrip(late, 'storm/late');
  });
});
