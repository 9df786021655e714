import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, publish, sleep, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * Shared subscriptions `$share/<group>/<filter>` (MQTT 5.0 section 4.8.2): each message goes to
 * exactly one member of each group; every group and every plain subscriber gets its own copy;
 * a member leaving does not lose QoS 1 messages (queued in its kept session, or sent to another
 * member when its session ends).
 */

const payloads = (got: Received[]) => got.map((g) => g.payload.toString());

function assertExactlyOnce(all: string[], expected: string[], what: string): void {
  const counts = new Map<string, number>();
  for (const p of all) counts.set(p, (counts.get(p) ?? 0) + 1);
  const missing = expected.filter((e) => !counts.has(e));
  const dups = [...counts].filter(([, c]) => c > 1).map(([p]) => p);
  assert.deepEqual({ missing, dups }, { missing: [], dups: [] }, what);
  assert.equal(counts.size, expected.length, `${what}: nothing unexpected`);
}

for (const mode of MODES) {
  describe(`shared subscriptions (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    const own: MqttClient[] = [];
    const raws: RawClient[] = [];
    let pub: MqttClient;

    const publishAll = async (topic: string, list: string[]) => {
      for (let i = 0; i < list.length; i += 25) await Promise.all(list.slice(i, i + 25).map((p) => publish(pub, topic, p, { qos: 1 })));
    };

    before(async () => {
      broker = await startBroker(mode);
      pub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-sh-pub` });
    });
    after(async () => {
      for (const r of raws) r.destroy();
      await Promise.all(own.map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
      await pool.closeAll();
      await broker?.stop();
    });

    test('each message goes to exactly one member of the group, both members get some; a plain subscriber gets all', async () => {
      const topic = `sh/${mode}/basic`;
      const m1 = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-sh-m1` });
      const m2 = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-sh-m2` });
      const plain = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-sh-plain` });
      const [g1, g2, gp] = [collect(m1), collect(m2), collect(plain)];
      await subscribe(m1, `$share/g/${topic}`, { qos: 1 });
      await subscribe(m2, `$share/g/${topic}`, { qos: 1 });
      await subscribe(plain, topic, { qos: 1 });
      const list = Array.from({ length: 100 }, (_, i) => `b${i}`);
      await publishAll(topic, list);
      await waitFor(() => g1.length + g2.length >= 100 && gp.length >= 100, 'all deliveries');
      await sleep(500);
      assertExactlyOnce([...payloads(g1), ...payloads(g2)], list, 'group g');
      assert.ok(g1.length > 0 && g2.length > 0, `both members got some (${g1.length}/${g2.length})`);
      assertExactlyOnce(payloads(gp), list, 'plain subscriber');
      assert.ok(
        [...g1, ...g2].every((g) => g.topic === topic),
        'delivered under the published topic name',
      );
    });

    test('two groups on the same filter each get every message once', async () => {
      const topic = `sh/${mode}/groups`;
      const a1 = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-sh-a1` });
      const a2 = await pool.connect(broker.url(1), { protocolVersion: 4, clientId: `${mode}-sh-a2` });
      const b1 = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-sh-b1` });
      const [ga1, ga2, gb1] = [collect(a1), collect(a2), collect(b1)];
      await subscribe(a1, `$share/ga/sh/${mode}/+`, { qos: 1 });
      await subscribe(a2, `$share/ga/sh/${mode}/+`, { qos: 1 });
      await subscribe(b1, `$share/gb/sh/${mode}/#`, { qos: 1 });
      const list = Array.from({ length: 40 }, (_, i) => `g${i}`);
      await publishAll(topic, list);
      await waitFor(() => ga1.length + ga2.length >= 40 && gb1.length >= 40, 'all deliveries');
      await sleep(500);
      assertExactlyOnce([...payloads(ga1), ...payloads(ga2)], list, 'group ga (a 3.1.1 member too)');
      assertExactlyOnce(payloads(gb1), list, 'group gb (single member)');
    });

    test('a persistent member that leaves does not lose QoS 1 messages: the rest go to the other member, its share waits in its session', async () => {
      const topic = `sh/${mode}/leave`;
      const persist = (id: string): IClientOptions => ({ protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } });
      const m1 = await pool.connect(broker.url(0), persist(`${mode}-sh-leave-1`));
      const m2 = await pool.connect(broker.url(1), persist(`${mode}-sh-leave-2`));
      const g2 = collect(m2);
      await subscribe(m1, `$share/lg/${topic}`, { qos: 1 });
      await subscribe(m2, `$share/lg/${topic}`, { qos: 1 });
      await new Promise<void>((r) => m1.end(false, {}, () => r())); // leaves, session kept
      const list = Array.from({ length: 60 }, (_, i) => `l${i}`);
      await publishAll(topic, list);
      await sleep(1500);
      // m1 comes back: whatever was routed to its session arrives now.
      const back = mqtt.connect(broker.url(0), { reconnectPeriod: 0, ...persist(`${mode}-sh-leave-1`) });
      own.push(back);
      const g1: Received[] = [];
      back.on('message', (topic, payload, packet) => g1.push({ topic, payload, packet }));
      await new Promise<void>((r, j) => (back.once('connect', () => r()), back.once('error', j)));
      await waitFor(() => g1.length + g2.length >= list.length, 'every message at one member or the other', 15_000);
      await sleep(500);
      assertExactlyOnce([...payloads(g1), ...payloads(g2)], list, 'group lg across the leave');
    });

    test('a member whose session ends with unacknowledged QoS 1 messages does not lose them: another member gets them', async () => {
      const topic = `sh/${mode}/unacked`;
      // m1 is raw: it receives and never acknowledges, then drops with Session Expiry 0.
      const m1 = await RawClient.connected(broker.ports[0]!, `${mode}-sh-unacked-1`, 5);
      raws.push(m1);
      m1.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `$share/ug/${topic}`, qos: 1 }] } as Packet);
      await m1.waitPacket((p) => p.cmd === 'suback', 'SUBACK');
      const m2 = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-sh-unacked-2` });
      const g2 = collect(m2);
      await subscribe(m2, `$share/ug/${topic}`, { qos: 1 });
      const list = Array.from({ length: 20 }, (_, i) => `u${i}`);
      await publishAll(topic, list);
      await waitFor(() => m1.packets.filter((p) => p.cmd === 'publish').length + g2.length >= list.length, 'all first deliveries');
      const heldByM1 = m1.packets.filter((p) => p.cmd === 'publish').length;
      assert.ok(heldByM1 > 0, 'the raw member got some unacknowledged messages');
      m1.destroy();
      await m1.waitClosed();
      await waitFor(() => g2.length >= list.length, `the ${heldByM1} unacknowledged messages re-sent to the other member`, 8000).catch(() => {});
      assertExactlyOnce(payloads(g2), list, 'everything reached the remaining member');
    });

    test('a shared subscription gets no retained messages on subscribe (MQTT 5.0 section 4.8.2)', async () => {
      const topic = `sh/${mode}/retained`;
      await publish(pub, topic, 'retained-for-plain-only', { qos: 1, retain: true });
      const m = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-sh-ret` });
      const got = collect(m);
      await subscribe(m, `$share/rg/${topic}`, { qos: 1 });
      await sleep(1000);
      assert.equal(got.length, 0);
      await publish(pub, topic, '', { qos: 1, retain: true });
    });

    test('No Local on a shared subscription is a protocol error: DISCONNECT 0x82 [MQTT-3.8.3-4]', async () => {
      const c = await RawClient.connected(broker.ports[0]!, `${mode}-sh-nl`, 5);
      raws.push(c);
      c.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `$share/g/sh/${mode}/nl`, qos: 1, nl: true }] } as Packet);
      assert.equal(await c.waitClosed(), true);
      const d = c.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
      assert.equal(d?.reasonCode, 0x82);
    });

    test('malformed share names are refused with SUBACK 0x8F (`$share/g` without a filter, `$share/a+b/x`, `$share//x`)', async () => {
      const c = await RawClient.connected(broker.ports[0]!, `${mode}-sh-bad`, 5);
      raws.push(c);
      const subscriptions = ['$share/g', '$share/a+b/x', '$share//x'].map((topic) => ({ topic, qos: 1 }));
      c.sendPacket({ cmd: 'subscribe', messageId: 3, subscriptions } as Packet);
      const ack = (await c.waitPacket((p) => p.cmd === 'suback', 'SUBACK')) as { granted: number[] };
      assert.deepEqual(ack.granted, [0x8f, 0x8f, 0x8f]);
    });
  });
}
