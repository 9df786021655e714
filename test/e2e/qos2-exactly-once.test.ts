import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Packet } from 'mqtt-packet';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, publish, sleep, subscribe, waitFor } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * QoS 2 end to end: every message exactly once at a QoS 2 subscriber; a resent PUBLISH with an
 * unreleased packet id is not delivered onward twice [MQTT-4.3.3-10 (5.0) / 4.3.3 method B];
 * outbound, unacknowledged PUBLISH and PUBREL are resent with their original packet ids on
 * reconnect, and PUBLISH is never resent after PUBREL [MQTT-4.4.0-1, MQTT-4.3.3-5].
 */

function countPerPayload(payloads: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of payloads) m.set(p, (m.get(p) ?? 0) + 1);
  return m;
}

for (const mode of MODES) {
  describe(`QoS 2 exactly once (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    const raws: RawClient[] = [];
    before(async () => {
      broker = await startBroker(mode);
    });
    after(async () => {
      for (const r of raws) r.destroy();
      await pool.closeAll();
      await broker?.stop();
    });

    for (const protocolVersion of [5, 4] as const) {
      test(`MQTT ${protocolVersion === 5 ? '5.0' : '3.1.1'}: 1000 QoS 2 messages arrive exactly once at a QoS 2 subscriber`, async () => {
        const topic = `q2/${mode}/v${protocolVersion}`;
        const sub = await pool.connect(broker.url(1), { protocolVersion, clientId: `${mode}-q2-sub-${protocolVersion}` });
        const got = collect(sub);
        const granted = await subscribe(sub, topic, { qos: 2 });
        assert.equal(granted[0]?.qos, 2);
        const pub = await pool.connect(broker.url(0), { protocolVersion, clientId: `${mode}-q2-pub-${protocolVersion}` });
        const n = 1000;
        const window = 100;
        for (let i = 0; i < n; i += window) {
          await Promise.all(Array.from({ length: Math.min(window, n - i) }, (_, k) => publish(pub, topic, `m${i + k}`, { qos: 2 })));
        }
        await waitFor(() => got.length >= n, `${n} messages`, 60_000);
        await sleep(1000); // a duplicate would show up now
        const counts = countPerPayload(got.map((g) => g.payload.toString()));
        assert.equal(counts.size, n, 'every payload arrived');
        const dups = [...counts].filter(([, c]) => c !== 1);
        assert.deepEqual(dups, [], 'no payload twice');
        assert.ok(
          got.every((g) => g.packet.qos === 2),
          'delivered at QoS 2',
        );
      });
    }

    test('a resent QoS 2 PUBLISH (DUP) with an unreleased packet id is delivered onward only once', async () => {
      const topic = `q2/${mode}/dup`;
      const sub = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-q2-dup-sub` });
      const got = collect(sub);
      await subscribe(sub, topic, { qos: 2 });
      const c = await RawClient.connected(broker.ports[0]!, `${mode}-q2-dup-pub`, 5);
      raws.push(c);
      const pkt = (dup: boolean, payload: string) => ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 2, messageId: 7, dup, retain: false }) as Packet;
      c.sendPacket(pkt(false, 'first'));
      await c.waitPacket((p) => p.cmd === 'pubrec', 'PUBREC');
      c.sendPacket(pkt(true, 'first'));
      await waitFor(() => c.packets.filter((p) => p.cmd === 'pubrec').length >= 2, 'a second PUBREC for the resend');
      await sleep(500);
      c.sendPacket({ cmd: 'pubrel', messageId: 7 } as Packet);
      await c.waitPacket((p) => p.cmd === 'pubcomp', 'PUBCOMP');
      // After release the packet id may be reused for a new message, which is delivered.
      c.sendPacket(pkt(false, 'second'));
      await waitFor(() => c.packets.filter((p) => p.cmd === 'pubrec').length >= 3, 'PUBREC for the new message');
      c.sendPacket({ cmd: 'pubrel', messageId: 7 } as Packet);
      await waitFor(() => got.length >= 2, 'both messages');
      await sleep(500);
      assert.deepEqual(
        got.map((g) => g.payload.toString()),
        ['first', 'second'],
      );
    });

    test('outbound: unacknowledged QoS 2 PUBLISH is resent with its packet id and DUP on reconnect, then PUBREL (never PUBLISH) after PUBREC [MQTT-4.4.0-1]', async () => {
      const topic = `q2/${mode}/resend`;
      const id = `${mode}-q2-resend-sub`;
      const connectOpts = { clean: false, properties: { sessionExpiryInterval: 300 } };
      const s1 = await RawClient.connected(broker.ports[1 % broker.ports.length]!, id, 5, connectOpts);
      raws.push(s1);
      s1.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 2 }] } as Packet);
      await s1.waitPacket((p) => p.cmd === 'suback', 'SUBACK');
      const pub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-q2-resend-pub` });
      await publish(pub, topic, 'resend-me', { qos: 2 });
      const first = (await s1.waitPacket((p) => p.cmd === 'publish', 'PUBLISH')) as { messageId: number; qos: number; dup: boolean };
      assert.equal(first.qos, 2);
      s1.destroy(); // no PUBREC
      await s1.waitClosed();

      const s2 = await RawClient.connected(broker.ports[0]!, id, 5, connectOpts);
      raws.push(s2);
      const again = (await s2.waitPacket((p) => p.cmd === 'publish', 'resent PUBLISH')) as { messageId: number; dup: boolean; payload: Buffer };
      assert.equal(again.messageId, first.messageId, 'same packet id');
      assert.equal(again.dup, true, 'DUP set on the resend [MQTT-3.3.1-1]');
      assert.equal(again.payload.toString(), 'resend-me');
      s2.sendPacket({ cmd: 'pubrec', messageId: again.messageId } as Packet);
      await s2.waitPacket((p) => p.cmd === 'pubrel', 'PUBREL');
      s2.destroy(); // no PUBCOMP
      await s2.waitClosed();

      const s3 = await RawClient.connected(broker.ports[1 % broker.ports.length]!, id, 5, connectOpts);
      raws.push(s3);
      const rel = (await s3.waitPacket((p) => p.cmd === 'pubrel', 'resent PUBREL')) as { messageId: number };
      assert.equal(rel.messageId, first.messageId);
      await sleep(500);
      assert.equal(
        s3.packets.some((p) => p.cmd === 'publish'),
        false,
        'no PUBLISH after PUBREL [MQTT-4.3.3-5]',
      );
      s3.sendPacket({ cmd: 'pubcomp', messageId: rel.messageId } as Packet);
      await sleep(500);
      assert.equal(s3.closed, false);
    });

    test('inbound: a persistent publisher that drops after PUBREC and resends the PUBLISH on reconnect is not delivered twice [MQTT-4.3.3, MQTT-4.4.0-1]', async () => {
      const topic = `q2/${mode}/inbound-resume`;
      const sub = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-q2-in-sub` });
      const got = collect(sub);
      await subscribe(sub, topic, { qos: 2 });
      const id = `${mode}-q2-in-pub`;
      const connectOpts = { clean: false, properties: { sessionExpiryInterval: 300 } };
      const pkt = (dup: boolean) => ({ cmd: 'publish', topic, payload: Buffer.from('once-across-reconnect'), qos: 2, messageId: 42, dup, retain: false }) as Packet;
      const p1 = await RawClient.connected(broker.ports[0]!, id, 5, connectOpts);
      raws.push(p1);
      p1.sendPacket(pkt(false));
      await p1.waitPacket((p) => p.cmd === 'pubrec', 'PUBREC');
      p1.destroy(); // lost before PUBREL
      await p1.waitClosed();
      const p2 = await RawClient.connected(broker.ports[1 % broker.ports.length]!, id, 5, connectOpts);
      raws.push(p2);
      const ack = p2.packets.find((p) => p.cmd === 'connack') as { sessionPresent?: boolean };
      assert.equal(ack.sessionPresent, true);
      p2.sendPacket(pkt(true)); // the client resends the unreleased PUBLISH
      await p2.waitPacket((p) => p.cmd === 'pubrec', 'PUBREC for the resend');
      p2.sendPacket({ cmd: 'pubrel', messageId: 42 } as Packet);
      const comp = (await p2.waitPacket((p) => p.cmd === 'pubcomp', 'PUBCOMP')) as { reasonCode?: number };
      assert.equal(comp.reasonCode ?? 0, 0, 'PUBCOMP success: the packet id was known');
      await waitFor(() => got.length >= 1, 'the message');
      await sleep(800);
      assert.equal(got.length, 1, 'delivered once');
    });

    test('inbound: PUBREL for an unknown packet id gets PUBCOMP 0x92 (Packet Identifier not found)', async () => {
      const c = await RawClient.connected(broker.ports[0]!, `${mode}-q2-unknown-rel`, 5);
      raws.push(c);
      c.sendPacket({ cmd: 'pubrel', messageId: 999 } as Packet);
      const comp = (await c.waitPacket((p) => p.cmd === 'pubcomp', 'PUBCOMP')) as { reasonCode?: number };
      assert.equal(comp.reasonCode, 0x92);
    });

    test('mosquitto_pub QoS 2 messages arrive exactly once', async () => {
      const { execFile } = await import('node:child_process');
      const topic = `q2/${mode}/mosq`;
      const sub = await pool.connect(broker.url(1), { protocolVersion: 4, clientId: `${mode}-q2-mosq-sub` });
      const got = collect(sub);
      await subscribe(sub, topic, { qos: 2 });
      const lines = Array.from({ length: 50 }, (_, i) => `mosq-${i}`).join('\n') + '\n';
      await new Promise<void>((resolve, reject) => {
        const child = execFile('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.ports[0]), '-V', 'mqttv5', '-q', '2', '-t', topic, '-l'], (err) => (err ? reject(err) : resolve()));
        child.stdin!.end(lines);
      });
      await waitFor(() => got.length >= 50, '50 messages');
      await sleep(500);
      const counts = countPerPayload(got.map((g) => g.payload.toString()));
      assert.equal(counts.size, 50);
      assert.ok([...counts.values()].every((c) => c === 1));
    });
  });
}
