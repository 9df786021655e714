import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startBroker, type Broker } from '../support/broker.js';
import { metricOf, waitForMetric } from '../support/broker-metrics.js';
import { ClientPool, qos1RoundTrip, waitFor } from '../support/mqtt-clients.js';
import { IdleSockets } from '../support/raw-mqtt.js';

/**
 * More connections than file descriptors: the broker runs with RLIMIT_NOFILE 256 and gets 400
 * connections. By default the gateway caps connections below the limit (mqtt.maxConnections 0:
 * the limit minus a reserve) and refuses the rest unread, counted, while /metrics and the
 * bystander keep working. With the cap set above the limit the process meets EMFILE for real:
 * it stays up, and serves new clients once the connections are gone.
 */

const NOFILE = 256;
const STORM = 400;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('more connections than file descriptors (single)', () => {
  const pool = new ClientPool();
  const brokers: Broker[] = [];
  const storms: IdleSockets[] = [];
  after(async () => {
    for (const s of storms) s.destroy();
    await pool.closeAll();
    await Promise.all(brokers.map((b) => b.stop()));
  });

  test('the default cap, derived from the open-file limit, refuses connections beyond it, counted, and the broker keeps serving', async () => {
    const broker = await startBroker('single', { nofile: NOFILE });
    brokers.push(broker);
    const proc = broker.processes.get('shardmq')!;
    const up = await proc.waitForLine(/"msg":"mqtt listeners up"/);
    const cap = Number(/"maxConnections":(\d+)/.exec(up)?.[1]);
    assert.equal(cap, NOFILE - 32, 'the cap leaves 32 descriptors in reserve');
    const bystander = await pool.connect(broker.url(), { protocolVersion: 5, clientId: 'emfile-bystander' });

    const storm = await IdleSockets.open(broker.ports[0]!, STORM);
    storms.push(storm);
    // Everything beyond the cap (the bystander holds one place) is closed by the gateway.
    await waitFor(() => storm.closedByServer >= STORM - (cap - 1), 'the connections beyond the cap closed', 20_000);
    // The reserve keeps the HTTP endpoint working while the gateway is full.
    assert.ok((await metricOf(broker, 'shardmq', 'shardmq_gateway_events_total', 'what="connection_refused_max_connections"')) >= STORM - (cap - 1));
    assert.equal(await metricOf(broker, 'shardmq', 'shardmq_gateway_connections'), cap);
    assert.match(proc.output(), /"msg":"refusing new connections: limit reached".*"setting":"mqtt.maxConnections"/);
    await qos1RoundTrip(bystander, 'emfile/bystander/during');

    storm.destroy();
    await waitForMetric(broker, 'shardmq', 'shardmq_gateway_connections', '', (n) => n === 1);
    const late = await pool.connect(broker.url(), { protocolVersion: 5, clientId: 'emfile-late' });
    await qos1RoundTrip(late, 'emfile/late');
    assert.ok(alive(proc.pid), 'the same broker process still runs');
  });

  test('with the cap above the open-file limit the listener survives EMFILE and serves again once connections close', async () => {
    const broker = await startBroker('single', { nofile: NOFILE, env: { SHARDMQ_MQTT_MAX_CONNECTIONS: '100000' } });
    brokers.push(broker);
    const proc = broker.processes.get('shardmq')!;
    const bystander = await pool.connect(broker.url(), { protocolVersion: 5, clientId: 'emfile-bystander-2' });

    const storm = await IdleSockets.open(broker.ports[0]!, STORM);
    storms.push(storm);
    // Out of descriptors, the connections that did not fit are closed by the listener (libuv
    // accepts them on a spare descriptor and closes them) rather than left hanging.
    await waitFor(() => storm.closedByServer >= STORM - NOFILE, 'connections beyond the descriptors closed', 20_000);
    await qos1RoundTrip(bystander, 'emfile/bystander/exhausted');
    assert.ok(alive(proc.pid), 'the broker survived EMFILE');

    storm.destroy();
    let late;
    // Sockets close asynchronously on the broker's side: retry until a descriptor is free.
    for (let i = 0; ; i++) {
      try {
        late = await pool.connect(broker.url(), { protocolVersion: 5, clientId: `emfile-late-2-${i}`, connectTimeout: 2000 });
        break;
      } catch (err) {
        if (i >= 20) throw err;
      }
    }
    await qos1RoundTrip(late, 'emfile/late-2');
    assert.ok((await metricOf(broker, 'shardmq', 'shardmq_gateway_connections')) >= 2);
    assert.ok(alive(proc.pid), 'the same broker process still runs');
  });
});
