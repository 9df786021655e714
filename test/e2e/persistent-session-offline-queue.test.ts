import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { ClientPool, publish, sleep, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * Persistent sessions: QoS 1 messages published while a subscriber with a kept session is offline
 * are queued and all delivered, in order [MQTT-4.6.0-6], after it reconnects with Session Present 1
 * [MQTT-3.2.2-2]. 3.1.1 clean session 0; 5.0 Clean Start 0 + Session Expiry Interval.
 */

interface Connected {
  client: MqttClient;
  connack: IConnackPacket;
  got: Received[];
}

for (const mode of MODES) {
  describe(`persistent session offline queue (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    const own: MqttClient[] = [];

    /** Connects with a message listener attached before CONNACK (queued messages follow it at once). */
    async function connectCollecting(url: string, opts: IClientOptions): Promise<Connected> {
      const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...opts });
      own.push(client);
      const got: Received[] = [];
      client.on('message', (topic, payload, packet) => got.push({ topic, payload, packet }));
      const connack = await new Promise<IConnackPacket>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('error', reject);
      });
      return { client, connack, got };
    }

    const endClean = (c: MqttClient) => new Promise<void>((r) => c.end(false, {}, () => r()));

    before(async () => {
      broker = await startBroker(mode);
    });
    after(async () => {
      await Promise.all(own.map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
      await pool.closeAll();
      await broker?.stop();
    });

    const variants: { name: string; opts: IClientOptions }[] = [
      { name: 'MQTT 3.1.1 clean session 0', opts: { protocolVersion: 4, clean: false } },
      { name: 'MQTT 5.0 Clean Start 0 + Session Expiry 300 s', opts: { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } } },
    ];

    for (const [vi, v] of variants.entries()) {
      for (const how of ['DISCONNECT', 'connection loss'] as const) {
        test(`${v.name}, offline after ${how}: 100 QoS 1 messages arrive in order after reconnect, Session Present 1`, async () => {
          const topic = `ps/${mode}/${vi}/${how === 'DISCONNECT' ? 'd' : 'l'}`;
          const id = `${mode}-ps-${vi}-${how === 'DISCONNECT' ? 'd' : 'l'}`;
          const first = await connectCollecting(broker.url(0), { ...v.opts, clientId: id });
          await subscribe(first.client, topic, { qos: 1 });
          if (how === 'DISCONNECT') await endClean(first.client);
          else {
            const closed = new Promise<void>((r) => first.client.once('close', () => r()));
            first.client.stream.destroy();
            await closed;
          }
          await sleep(300); // let the broker see the close before publishing

          const pub = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${id}-pub` });
          const n = 100;
          for (let i = 0; i < n; i += 20) {
            await Promise.all(Array.from({ length: 20 }, (_, k) => publish(pub, topic, String(i + k), { qos: 1 })));
          }

          const second = await connectCollecting(broker.url(1), { ...v.opts, clientId: id });
          assert.equal(second.connack.sessionPresent, true, 'Session Present 1 [MQTT-3.2.2-2]');
          await waitFor(() => second.got.length >= n, `${n} queued messages`, 30_000);
          await sleep(500);
          assert.deepEqual(
            second.got.map((g) => Number(g.payload.toString())),
            Array.from({ length: n }, (_, i) => i),
            'all, once, in order',
          );
          assert.ok(second.got.every((g) => g.packet.qos === 1 && g.topic === topic));
          await endClean(second.client);
        });
      }
    }

    for (const v of [4, 5] as const) {
      test(`MQTT ${v === 5 ? '5.0' : '3.1.1'}: unacknowledged QoS 1 deliveries are resent on reconnect with the same packet ids and DUP 1 [MQTT-4.4.0-1]`, async () => {
        const topic = `ps/${mode}/resend-${v}`;
        const id = `${mode}-ps-resend-${v}`;
        const extra = v === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
        const port = (i: number) => broker.ports[i % broker.ports.length]!;
        const s1 = await RawClient.connected(port(0), id, v, extra);
        s1.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] } as Packet, v);
        await s1.waitPacket((p) => p.cmd === 'suback', 'SUBACK');
        const pub = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${id}-pub` });
        for (let i = 0; i < 3; i++) await publish(pub, topic, `r${i}`, { qos: 1 });
        await waitFor(() => s1.packets.filter((p) => p.cmd === 'publish').length >= 3, 'three deliveries');
        const firstIds = s1.packets.filter((p): p is IPublishPacket => p.cmd === 'publish').map((p) => p.messageId);
        s1.sendPacket({ cmd: 'puback', messageId: firstIds[0] } as Packet, v); // ack only the first
        await sleep(300);
        s1.destroy();
        await s1.waitClosed();
        const s2 = await RawClient.connected(port(1), id, v, extra);
        try {
          await waitFor(() => s2.packets.filter((p) => p.cmd === 'publish').length >= 2, 'the two unacknowledged deliveries');
          await sleep(500);
          const again = s2.packets.filter((p): p is IPublishPacket => p.cmd === 'publish');
          assert.deepEqual(
            again.map((p) => p.payload.toString()),
            ['r1', 'r2'],
            'only the unacknowledged ones, in order',
          );
          assert.deepEqual(
            again.map((p) => p.messageId),
            firstIds.slice(1),
            'original packet ids',
          );
          assert.ok(
            again.every((p) => p.dup),
            'DUP set',
          );
        } finally {
          s2.destroy();
        }
      });
    }

    test('MQTT 3.1.1: reconnecting with clean session 1 discards the session (Session Present 0, nothing queued) [MQTT-3.1.2-6]', async () => {
      const topic = `ps/${mode}/discard`;
      const id = `${mode}-ps-discard`;
      const first = await connectCollecting(broker.url(0), { protocolVersion: 4, clean: false, clientId: id });
      await subscribe(first.client, topic, { qos: 1 });
      await endClean(first.client);
      const pub = await pool.connect(broker.url(1), { protocolVersion: 4, clientId: `${id}-pub` });
      await publish(pub, topic, 'queued-then-discarded', { qos: 1 });
      const second = await connectCollecting(broker.url(0), { protocolVersion: 4, clean: true, clientId: id });
      assert.equal(second.connack.sessionPresent, false);
      await sleep(1000);
      assert.equal(second.got.length, 0);
      // and the subscription is gone with the session
      await publish(pub, topic, 'after-clean', { qos: 1 });
      await sleep(1000);
      assert.equal(second.got.length, 0);
    });

    test('MQTT 5: a session past its Session Expiry Interval is gone (Session Present 0, nothing queued) [MQTT-3.1.2-23]', async () => {
      const topic = `ps/${mode}/expired`;
      const id = `${mode}-ps-expired`;
      const opts: IClientOptions = { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 1 }, clientId: id };
      const first = await connectCollecting(broker.url(0), opts);
      await subscribe(first.client, topic, { qos: 1 });
      await endClean(first.client);
      const pub = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${id}-pub` });
      await publish(pub, topic, 'expires-with-session', { qos: 1 });
      await sleep(3500);
      const second = await connectCollecting(broker.url(1), opts);
      assert.equal(second.connack.sessionPresent, false);
      await sleep(1000);
      assert.equal(second.got.length, 0);
    });

    test('MQTT 5: the Session Expiry Interval set on DISCONNECT replaces the one from CONNECT [MQTT-3.14.2-2]', async () => {
      const topic = `ps/${mode}/disc-expiry`;
      const id = `${mode}-ps-disc-expiry`;
      const opts: IClientOptions = { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 }, clientId: id };
      const first = await connectCollecting(broker.url(0), opts);
      await subscribe(first.client, topic, { qos: 1 });
      // Shorten the expiry to 0 on the way out: the session ends now.
      await new Promise<void>((r) => first.client.end(false, { reasonCode: 0, properties: { sessionExpiryInterval: 0 } }, () => r()));
      await sleep(500);
      const second = await connectCollecting(broker.url(0), opts);
      assert.equal(second.connack.sessionPresent, false);
    });

    test('MQTT 5: Clean Start 0 with Session Expiry 0 keeps nothing after disconnect', async () => {
      const topic = `ps/${mode}/expiry0`;
      const id = `${mode}-ps-expiry0`;
      const opts: IClientOptions = { protocolVersion: 5, clean: false, clientId: id };
      const first = await connectCollecting(broker.url(0), opts);
      await subscribe(first.client, topic, { qos: 1 });
      await endClean(first.client);
      await sleep(300);
      const second = await connectCollecting(broker.url(1), opts);
      assert.equal(second.connack.sessionPresent, false);
    });
  });
}
