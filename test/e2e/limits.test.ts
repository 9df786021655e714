import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { counterValue, httpPortOf, scrape } from '../support/broker-metrics.js';
import { ClientPool, collect, publish, sleep, subackCodes, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * Configurable limits, each answered the way the protocol version allows and counted in a
 * metric: subscriptions per client (5.0 SUBACK 0x97), client id length (CONNACK 0x85 / 0x02),
 * topic levels, maximum packet size, and the session queue length (drop-new, metric).
 */

const LIMITS = {
  SHARDMQ_MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT: '3',
  SHARDMQ_MQTT_MAX_CLIENT_ID_LENGTH: '24',
  SHARDMQ_MQTT_MAX_TOPIC_LEVELS: '4',
  SHARDMQ_MQTT_MAX_PACKET_BYTES: '2048',
  SHARDMQ_SESSION_MAX_QUEUED_MESSAGES: '10',
};

for (const mode of MODES) {
  describe(`limits (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    const raws: RawClient[] = [];
    const own: MqttClient[] = [];
    const sessionProc = () => (mode === 'single' ? 'shardmq' : 'session');
    const gatewayProc = () => (mode === 'single' ? 'shardmq' : 'gateway-1');
    const rawConnected = async (id: string, v: 4 | 5 = 5) => {
      const c = await RawClient.connected(broker.ports[0]!, id, v);
      raws.push(c);
      return c;
    };

    before(async () => {
      broker = await startBroker(mode, { env: LIMITS });
    });
    after(async () => {
      for (const r of raws) r.destroy();
      await Promise.all(own.map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
      await pool.closeAll();
      await broker?.stop();
    });

    test('MQTT 5: the subscription beyond the per-client maximum gets SUBACK 0x97 (Quota exceeded)', async () => {
      const c = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-subs5` });
      const got = collect(c);
      assert.deepEqual(await subackCodes(c, ['lim/s/1', 'lim/s/2', 'lim/s/3', 'lim/s/4']), [1, 1, 1, 0x97]);
      // Re-subscribing an existing filter replaces it and is not refused; the 4th still is.
      assert.deepEqual(await subackCodes(c, 'lim/s/1', 0), [0]);
      assert.deepEqual(await subackCodes(c, 'lim/s/5', 0), [0x97]);
      // The refused filter really is not subscribed.
      const pub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-subs5-pub` });
      await publish(pub, 'lim/s/4', 'refused-filter', { qos: 1 });
      await publish(pub, 'lim/s/3', 'granted-filter', { qos: 1 });
      await waitFor(() => got.length >= 1, 'the granted delivery');
      await sleep(300);
      assert.deepEqual(
        got.map((g) => g.payload.toString()),
        ['granted-filter'],
      );
      // Unsubscribing frees a slot.
      await new Promise<void>((r, j) => c.unsubscribe('lim/s/2', (e) => (e ? j(e) : r())));
      assert.deepEqual(await subackCodes(c, 'lim/s/5'), [1]);
    });

    test('MQTT 3.1.1: the subscription beyond the maximum gets SUBACK 0x80', async () => {
      const c = await rawConnected(`${mode}-subs4`, 4);
      const subscriptions = ['a', 'b', 'c', 'd'].map((t) => ({ topic: `lim/s4/${t}`, qos: 1 }));
      c.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions } as Packet, 4);
      const ack = (await c.waitPacket((p) => p.cmd === 'suback', 'SUBACK')) as { granted: number[] };
      assert.deepEqual(ack.granted, [1, 1, 1, 0x80]);
    });

    test('a client id longer than the maximum is refused: MQTT 5 CONNACK 0x85, 3.1.1 CONNACK 0x02', async () => {
      const long = 'x'.repeat(25);
      assert.equal(await pool.refused(broker.url(0), { protocolVersion: 5, clientId: long }), 0x85);
      assert.equal(await pool.refused(broker.url(0), { protocolVersion: 4, clientId: long }), 0x02);
      // At the limit is fine.
      const ok = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: 'y'.repeat(24) });
      assert.equal(ok.connected, true);
    });

    test('the client id limit counts UTF-8 bytes, not characters', async () => {
      const id = 'ü'.repeat(13); // 13 characters, 26 bytes
      assert.equal(await pool.refused(broker.url(0), { protocolVersion: 5, clientId: id }), 0x85);
    });

    test('a topic filter with more levels than the maximum is refused (5.0 SUBACK 0x8F or 0x97, 3.1.1 0x80)', async () => {
      const c5 = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-levels5` });
      const granted = await subackCodes(c5, ['l/1/2/3', 'l/1/2/3/4']);
      assert.equal(granted[0], 1);
      assert.ok(granted[1] === 0x8f || granted[1] === 0x97, `refused, got 0x${granted[1]!.toString(16)}`);
      const c4 = await pool.connect(broker.url(0), { protocolVersion: 4, clientId: `${mode}-levels4` });
      assert.deepEqual(await subackCodes(c4, 'l/1/2/3/4'), [0x80]);
    });

    test('a PUBLISH to a topic with more levels than the maximum closes the publisher and is not delivered', async () => {
      const sub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-levels-sub` });
      const got = collect(sub);
      await subscribe(sub, 'deep/#', { qos: 0 });
      const c = await rawConnected(`${mode}-levels-pub`);
      c.sendPacket({ cmd: 'publish', topic: 'deep/1/2/3/4', payload: Buffer.from('too-deep'), qos: 0, dup: false, retain: false } as Packet);
      assert.equal(await c.waitClosed(), true);
      const d = c.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
      assert.equal(d?.reasonCode, 0x90);
      await sleep(300);
      assert.equal(got.length, 0);
    });

    test('a PUBLISH larger than the maximum packet size closes the publisher (5.0 DISCONNECT 0x95); CONNACK announces the maximum', async () => {
      const c = await RawClient.open(broker.ports[0]!, 5);
      raws.push(c);
      c.sendPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: `${mode}-bigpub`, clean: true, keepalive: 0 } as Packet);
      const ack = (await c.waitPacket((p) => p.cmd === 'connack', 'CONNACK')) as { properties?: { maximumPacketSize?: number } };
      assert.equal(ack.properties?.maximumPacketSize, 2048);
      c.sendPacket({ cmd: 'publish', topic: 'big/t', payload: Buffer.alloc(4096), qos: 0, dup: false, retain: false } as Packet);
      assert.equal(await c.waitClosed(), true);
      const d = c.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
      assert.equal(d?.reasonCode, 0x95);
    });

    test('the session queue is bounded: an offline subscriber gets the first 10 of 25 (drop-new) and the drop is counted in /metrics', async () => {
      const topic = `lim/queue/${mode}`;
      const opts: IClientOptions = { protocolVersion: 5, clientId: `${mode}-queue`, clean: false, properties: { sessionExpiryInterval: 300 } };
      const first = await pool.connect(broker.url(0), opts);
      await subscribe(first, topic, { qos: 1 });
      await new Promise<void>((r) => first.end(false, {}, () => r()));
      const metricsPort = httpPortOf(broker, sessionProc());
      const before = counterValue(await scrape(metricsPort), 'shardmq_session_outcomes_total', 'queue_full_dropped');

      const pub = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-queue-pub` });
      for (let i = 0; i < 25; i++) await publish(pub, topic, String(i), { qos: 1 });

      const again = mqtt.connect(broker.url(1), { reconnectPeriod: 0, ...opts });
      own.push(again);
      const got: Received[] = [];
      again.on('message', (t, payload, packet) => got.push({ topic: t, payload, packet }));
      await new Promise<void>((r, j) => (again.once('connect', () => r()), again.once('error', j)));
      await waitFor(() => got.length >= 10, 'the queued messages');
      await sleep(800);
      assert.deepEqual(
        got.map((g) => Number(g.payload.toString())),
        Array.from({ length: 10 }, (_, i) => i),
        'the first 10 kept, the rest dropped',
      );
      const text = await scrape(metricsPort);
      const after = counterValue(text, 'shardmq_session_outcomes_total', 'queue_full_dropped');
      assert.equal(after - before, 15, 'shardmq_session_outcomes_total{what="queue_full_dropped"} counts the 15 drops');
    });

    test('refused client ids and limit hits are counted in the gateway metrics', async () => {
      const port = httpPortOf(broker, gatewayProc());
      const text = await scrape(port);
      assert.ok(counterValue(text, 'shardmq_gateway_events_total', 'connect_refused_client_id') >= 1, 'connect_refused_client_id counted');
      assert.ok(counterValue(text, 'shardmq_gateway_events_total', 'packet_too_large') >= 1, 'packet_too_large counted');
    });
  });
}
