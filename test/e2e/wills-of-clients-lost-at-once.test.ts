import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Packet } from 'mqtt-packet';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { metricOf } from '../support/broker-metrics.js';
import { ClientPool, collect, publish, subscribe, waitFor } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * Many clients gone at once, with mqtt.connectWorkPerTurnMs 0 (one piece of paced work per
 * event-loop turn): the connection-lost notices of the sockets their clients closed wait for
 * later turns (counted as conn_lost_held_for_turn), and nothing is lost or reordered by the wait.
 * Every client that closed its socket without DISCONNECT gets its Will published, once
 * [MQTT-3.1.2-8]; the clients that sent DISCONNECT in the same burst get none [MQTT-3.14.4-3]:
 * their DISCONNECT reached the owner before the close. Both modes.
 */

const LOST = 60;
const CLEAN = 20;

for (const mode of MODES) {
  describe(`Wills of many clients lost at once (${mode})`, { timeout: 120_000 }, () => {
    let broker: Broker;
    const pool = new ClientPool();
    const clients: RawClient[] = [];
    before(async () => {
      broker = await startBroker(mode, { env: { SHARDMQ_MQTT_CONNECT_WORK_PER_TURN_MS: '0' } });
    });
    after(async () => {
      for (const c of clients) c.destroy();
      await pool.closeAll();
      await broker?.stop();
    });

    test('every lost client gets its Will once, no client that sent DISCONNECT does, the paced notices are counted', async () => {
      const gateways = broker.ports.length;
      const watcher = await pool.connect(broker.url(0), { protocolVersion: 4, clientId: 'lost-watcher' });
      const got = collect(watcher);
      await subscribe(watcher, 'lost/#', { qos: 1 });

      const ids = [...Array.from({ length: LOST }, (_, i) => `gone-${i}`), ...Array.from({ length: CLEAN }, (_, i) => `clean-${i}`)];
      clients.push(
        ...(await Promise.all(ids.map((id, i) => RawClient.connected(broker.ports[i % gateways]!, id, 4, { will: { topic: `lost/${id}`, payload: Buffer.from('gone'), qos: 1, retain: false } })))),
      );

      // All at once, so each gateway sees many closes in one poll phase.
      const disconnect = { cmd: 'disconnect' } as Packet;
      clients.forEach((c, i) => {
        if (i >= LOST) {
          c.sendPacket(disconnect, 4);
          c.socket.end();
        } else c.destroy();
      });

      const expected = ids.slice(0, LOST).map((id) => `lost/${id}`);
      await waitFor(() => expected.every((t) => got.some((m) => m.topic === t)), `the Wills of the ${LOST} lost clients`, 60_000);
      // A message published after the burst arrives after the burst's Wills would have.
      const marker = await pool.connect(broker.url(gateways - 1), { protocolVersion: 4, clientId: 'lost-marker' });
      await publish(marker, 'lost/marker', 'after');
      await waitFor(() => got.some((m) => m.topic === 'lost/marker'), 'the marker', 30_000);

      const topics = got.map((m) => m.topic).filter((t) => t !== 'lost/marker');
      assert.deepEqual([...topics].sort(), [...expected].sort(), 'each lost client has its Will once, the clients that sent DISCONNECT none');

      const names = mode === 'single' ? ['shardmq'] : Array.from({ length: gateways }, (_, i) => `gateway-${i + 1}`);
      let held = 0;
      for (const name of names) held += await metricOf(broker, name, 'shardmq_gateway_events_total', 'what="conn_lost_held_for_turn"');
      assert.ok(held > 0, "notices beyond a turn's mqtt.connectWorkPerTurnMs waited for a later turn (conn_lost_held_for_turn counted)");
    });
  });
}
