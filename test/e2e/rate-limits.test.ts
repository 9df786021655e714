import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, publish, subscribe, waitFor } from '../support/mqtt-clients.js';

async function metricsText(broker: Broker): Promise<string> {
  const m = /"httpPort":(\d+)/.exec(broker.output());
  assert.ok(m, 'ready line names the http port');
  const res = await fetch(`http://127.0.0.1:${m[1]}/metrics`);
  return res.text();
}

describe('rate limits throttle, count, and lose nothing', () => {
  let broker: Broker;
  const pool = new ClientPool();
  before(async () => {
    broker = await startBroker('single', { env: { SHARDMQ_MQTT_MAX_PUBLISH_RATE_PER_S: '100', SHARDMQ_MQTT_MAX_CONNECT_RATE_PER_S: '5' } });
  });
  after(async () => {
    await pool.closeAll();
    await broker?.stop();
  });

  test('a publisher over mqtt.maxPublishRatePerS is slowed down, every message still arrives, and the limit is counted', async () => {
    const sub = await pool.connect(broker.url(), { clientId: 'rl-sub' });
    const got = collect(sub);
    await subscribe(sub, 'rl/t', { qos: 1 });
    const pub = await pool.connect(broker.url(), { clientId: 'rl-pub' });
    const n = 300;
    await Promise.all(Array.from({ length: n }, (_, i) => publish(pub, 'rl/t', String(i), { qos: 1 })));
    await waitFor(() => got.length >= n, `${n} messages`, 20_000);
    assert.deepEqual(
      got.map((g) => Number(g.payload.toString())),
      Array.from({ length: n }, (_, i) => i),
    );
    assert.match(await metricsText(broker), /shardmq_gateway_events_total\{what="publish_rate_limited"\} [1-9]/);
  });

  test('a burst of connections beyond mqtt.maxConnectRatePerS all connect, later, and the limit is counted', async () => {
    const clients = await Promise.all(Array.from({ length: 12 }, (_, i) => pool.connect(broker.url(), { clientId: `rl-c${i}` })));
    assert.equal(clients.filter((c) => c.connected).length, 12);
    assert.match(await metricsText(broker), /shardmq_gateway_events_total\{what="connect_rate_limited"\} [1-9]/);
  });
});
