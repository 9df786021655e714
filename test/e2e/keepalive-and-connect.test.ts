import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Packet } from 'mqtt-packet';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, publish, sleep, subscribe, waitFor } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * Keepalive enforcement (1.5x, [MQTT-3.1.2-24] / 5.0 [MQTT-3.1.2-22]) with the Will that a lost
 * connection owes, and the CONNECT variants: assigned client identifier, Server Keep Alive,
 * MQTT 3.1 (protocol level 3).
 */

const MAX_KEEPALIVE_S = 2;

for (const mode of MODES) {
  describe(`keepalive and CONNECT (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    const raws: RawClient[] = [];
    before(async () => {
      broker = await startBroker(mode, { env: { SHARDMQ_MQTT_MAX_KEEPALIVE_S: String(MAX_KEEPALIVE_S) } });
    });
    after(async () => {
      for (const r of raws) r.destroy();
      await pool.closeAll();
      await broker?.stop();
    });

    for (const v of [4, 5] as const) {
      test(`MQTT ${v === 5 ? '5.0' : '3.1.1'}: a keepalive 1 s client that goes silent is closed and its Will is published [MQTT-3.1.2-24]`, async () => {
        const willTopic = `ka/${mode}/v${v}/will`;
        const watcher = await pool.connect(broker.url(broker.ports.length - 1), { protocolVersion: 5, clientId: `${mode}-ka-watch-${v}` });
        const wills = collect(watcher);
        await subscribe(watcher, willTopic, { qos: 1 });
        const c = await RawClient.connected(broker.ports[0]!, `${mode}-ka-silent-${v}`, v, {
          keepalive: 1,
          will: { topic: willTopic, payload: Buffer.from('gone-silent'), qos: 1, retain: false },
        });
        raws.push(c);
        // Sends nothing more, not even PINGREQ.
        assert.equal(await c.waitClosed(15_000), true, 'the silent client is closed');
        if (v === 5) {
          const d = c.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
          assert.equal(d?.reasonCode, 0x8d, 'MQTT 5: DISCONNECT Keep Alive timeout');
        }
        await waitFor(() => wills.length >= 1, 'the Will');
        assert.equal(wills[0]!.payload.toString(), 'gone-silent');
        await sleep(500);
        assert.equal(wills.length, 1, 'the Will is published once');
      });
    }

    test('a keepalive 1 s client that sends PINGREQ stays connected past 1.5x keepalive [MQTT-3.1.2-23]', async () => {
      const c = await RawClient.connected(broker.ports[0]!, `${mode}-ka-pinger`, 4, { keepalive: 1 });
      raws.push(c);
      for (let i = 0; i < 8; i++) {
        c.sendPacket({ cmd: 'pingreq' }, 4);
        await sleep(500);
      }
      assert.equal(c.closed, false, 'still open after 4 s of pings');
      assert.ok(c.packets.filter((p) => p.cmd === 'pingresp').length >= 6, 'PINGRESP for the PINGREQs [MQTT-3.12.4-1]');
    });

    test('a keepalive 0 client is never closed for silence [MQTT-3.1.2-10]', async () => {
      const c = await RawClient.connected(broker.ports[0]!, `${mode}-ka-zero`, 4, { keepalive: 0 });
      raws.push(c);
      await sleep(3500);
      assert.equal(c.closed, false);
    });

    test('MQTT 5: an empty client id gets an Assigned Client Identifier that works [MQTT-3.1.3-6, MQTT-3.2.2-16]', async () => {
      const c = await RawClient.open(broker.ports[0]!, 5);
      raws.push(c);
      c.sendPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: '', clean: true, keepalive: 0 } as Packet);
      const ack = (await c.waitPacket((p) => p.cmd === 'connack', 'CONNACK')) as { reasonCode?: number; properties?: { assignedClientIdentifier?: string } };
      assert.equal(ack.reasonCode ?? 0, 0);
      const id = ack.properties?.assignedClientIdentifier;
      assert.equal(typeof id, 'string');
      assert.ok(id!.length > 0, 'non-empty assigned id');
      // Two empty-id clients get different ids.
      const c2 = await RawClient.open(broker.ports[0]!, 5);
      raws.push(c2);
      c2.sendPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: '', clean: true, keepalive: 0 } as Packet);
      const ack2 = (await c2.waitPacket((p) => p.cmd === 'connack', 'CONNACK')) as { properties?: { assignedClientIdentifier?: string } };
      assert.notEqual(ack2.properties?.assignedClientIdentifier, id);
      // The connection works: subscribe and receive.
      c.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `assigned/${mode}`, qos: 0 }] } as Packet);
      await c.waitPacket((p) => p.cmd === 'suback', 'SUBACK');
      const pub = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-assigned-pub` });
      await publish(pub, `assigned/${mode}`, 'to-assigned', { qos: 1 });
      const m = (await c.waitPacket((p) => p.cmd === 'publish', 'PUBLISH')) as { payload: Buffer };
      assert.equal(m.payload.toString(), 'to-assigned');
      assert.equal(c.closed || c2.closed, false, 'the two assigned ids did not take each other over');
    });

    test('MQTT 3.1.1: an empty client id with clean session 1 is accepted without an id in CONNACK [MQTT-3.1.3-7]', async () => {
      const c = await RawClient.open(broker.ports[0]!, 4);
      raws.push(c);
      c.sendPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 0 } as Packet, 4);
      const ack = (await c.waitPacket((p) => p.cmd === 'connack', 'CONNACK')) as { returnCode?: number; sessionPresent?: boolean };
      assert.equal(ack.returnCode, 0);
      assert.equal(ack.sessionPresent, false);
    });

    test('MQTT 5: Keep Alive above the server maximum is answered with Server Keep Alive, which is enforced [MQTT-3.2.2-21]', async () => {
      const willTopic = `ska/${mode}/will`;
      const watcher = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-ska-watch` });
      const wills = collect(watcher);
      await subscribe(watcher, willTopic, { qos: 1 });
      const c = await RawClient.open(broker.ports[0]!, 5);
      raws.push(c);
      c.sendPacket({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clientId: `${mode}-ska`,
        clean: true,
        keepalive: 60,
        will: { topic: willTopic, payload: Buffer.from('ska-will'), qos: 1, retain: false },
      } as Packet);
      const ack = (await c.waitPacket((p) => p.cmd === 'connack', 'CONNACK')) as { properties?: { serverKeepAlive?: number } };
      assert.equal(ack.properties?.serverKeepAlive, MAX_KEEPALIVE_S);
      // The client asked for 60 s, but the server's 2 s applies: silence closes it.
      assert.equal(await c.waitClosed(15_000), true, 'closed after the Server Keep Alive, not the requested one');
      await waitFor(() => wills.length >= 1, 'the Will');
      assert.equal(wills[0]!.payload.toString(), 'ska-will');
    });

    test('MQTT 5: Keep Alive within the maximum gets no Server Keep Alive', async () => {
      const c = await RawClient.open(broker.ports[0]!, 5);
      raws.push(c);
      c.sendPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: `${mode}-ska-ok`, clean: true, keepalive: 1 } as Packet);
      const ack = (await c.waitPacket((p) => p.cmd === 'connack', 'CONNACK')) as { reasonCode?: number; properties?: { serverKeepAlive?: number } };
      assert.equal(ack.reasonCode ?? 0, 0);
      assert.equal(ack.properties?.serverKeepAlive, undefined);
    });

    test('MQTT 3.1 (protocol level 3, "MQIsdp") clients connect, subscribe, publish and get their Will published', async () => {
      const sub = await pool.connect(broker.url(0), { protocolVersion: 3, protocolId: 'MQIsdp', clientId: `${mode}-v31-sub` });
      const got = collect(sub);
      await subscribe(sub, `v31/${mode}/#`, { qos: 1 });
      const pub = await pool.connect(broker.url(1), {
        protocolVersion: 3,
        protocolId: 'MQIsdp',
        clientId: `${mode}-v31-pub`,
        will: { topic: `v31/${mode}/will`, payload: Buffer.from('v31-will'), qos: 1, retain: false },
      });
      await publish(pub, `v31/${mode}/a`, 'v31-q1', { qos: 1 });
      await publish(pub, `v31/${mode}/b`, 'v31-q0', { qos: 0 });
      await waitFor(() => got.length >= 2, 'two messages');
      assert.deepEqual(got.map((g) => g.payload.toString()).sort(), ['v31-q0', 'v31-q1']);
      pub.stream.destroy(); // connection lost: the Will is owed
      await waitFor(() => got.some((g) => g.payload.toString() === 'v31-will'), 'the MQTT 3.1 Will');
    });

    test('MQTT 3.1 raw CONNECT is answered in 3.1 format (CONNACK 0)', async () => {
      const c = await RawClient.open(broker.ports[0]!, 3);
      raws.push(c);
      c.sendPacket({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: `${mode}-v31-raw`, clean: true, keepalive: 0 } as Packet, 3);
      const ack = (await c.waitPacket((p) => p.cmd === 'connack', 'CONNACK')) as { returnCode?: number };
      assert.equal(ack.returnCode, 0);
    });
  });
}
