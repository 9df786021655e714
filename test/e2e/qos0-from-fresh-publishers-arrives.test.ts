import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, sleep, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';
import type { Packet } from 'mqtt-packet';

/**
 * QoS 0 messages published right after CONNACK by 100 publishers reach a wildcard subscriber
 * that already had its SUBACK, none lost and none twice: the gateway's first route requests, the
 * router's first matches and, in the cluster, the QoS 0 direct path before it saw any traffic.
 * (The cluster fan-in bench once showed its publishers' first windows as lost: they were late.)
 */

const PUBLISHERS = 100;
const EACH = 20;

/** Every message arrived, none twice; a shortfall names the topics it hit. */
async function expectEvery(got: Received[]): Promise<void> {
  // Whatever came by then is compared below.
  await waitFor(() => got.length >= PUBLISHERS * EACH, `${PUBLISHERS * EACH} messages`, 20_000).catch(() => {});
  await sleep(200); // room for a copy too many
  const per = new Map<string, number>();
  for (const g of got) per.set(g.topic, (per.get(g.topic) ?? 0) + 1);
  assert.equal(got.length, PUBLISHERS * EACH, `per topic: ${JSON.stringify([...per].slice(0, 5))}`);
}

for (const mode of MODES) {
  describe(`QoS 0 from publishers that just connected (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    before(async () => {
      broker = await startBroker(mode);
    });
    const raws: RawClient[] = [];
    after(async () => {
      for (const r of raws) r.destroy();
      await pool.closeAll();
      await broker?.stop();
    });

    test('every message published right after CONNACK reaches a subscriber that already had its SUBACK', async () => {
      const sub = await pool.connect(broker.url(0), { protocolVersion: 4, clientId: `${mode}-fresh-sub` });
      const got = collect(sub);
      await subscribe(sub, 'fresh/+/data', { qos: 0 });
      const pubs = await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => pool.connect(broker.url(0), { protocolVersion: 4, clientId: `${mode}-fresh-p${i}` })));
      pubs.forEach((p, i) => {
        for (let n = 0; n < EACH; n++) p.publish(`fresh/p${i}/data`, `${i}:${n}`, { qos: 0 });
      });
      await expectEvery(got);
    });

    test('the same with bare clients that write their PUBLISHes the moment the CONNACK is read', async () => {
      const sub = await pool.connect(broker.url(0), { protocolVersion: 4, clientId: `${mode}-bare-sub` });
      const got = collect(sub);
      await subscribe(sub, 'bare/+/data', { qos: 0 });
      const port = Number(new URL(broker.url(0)).port);
      const pubs = await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => RawClient.connected(port, `${mode}-bare-p${i}`, 4)));
      raws.push(...pubs);
      pubs.forEach((p, i) => {
        for (let n = 0; n < EACH; n++) p.sendPacket({ cmd: 'publish', topic: `bare/p${i}/data`, payload: Buffer.from(`${i}:${n}:`.padEnd(64, 'x')), qos: 0, retain: false, dup: false } as Packet, 4);
      });
      await expectEvery(got);
    });
  });
}
