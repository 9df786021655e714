import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { EventRecorder } from '../support/client-events.js';
import { ClientPool, collect, publish, sleep, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * MQTT 5 features end to end: topic aliases both ways, Message Expiry Interval, Subscription
 * Identifiers, No Local, property pass-through, Maximum Packet Size, Receive Maximum, PUBACK 0x10.
 */

const MAX_TOPIC_ALIAS = 64; // the default of mqtt.maxTopicAlias

const publishes = (c: RawClient) => c.packets.filter((p): p is IPublishPacket => p.cmd === 'publish');

for (const mode of MODES) {
  describe(`MQTT 5 features (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    const raws: RawClient[] = [];
    const own: MqttClient[] = [];
    let pub: MqttClient;
    let events: EventRecorder | undefined;
    const port = (i: number) => broker.ports[i % broker.ports.length]!;
    const rawConnected = async (id: string, extra: Record<string, unknown> = {}, gw = 0) => {
      const c = await RawClient.connected(port(gw), `${mode}-${id}`, 5, extra);
      raws.push(c);
      return c;
    };
    const rawSubscribe = async (c: RawClient, topic: string, qos: 0 | 1 | 2 = 1, messageId = 1, extra: Record<string, unknown> = {}) => {
      c.sendPacket({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos, ...extra }] } as Packet);
      return (await c.waitPacket((p) => p.cmd === 'suback' && p.messageId === messageId, 'SUBACK')) as { granted: number[] };
    };

    before(async () => {
      // Lifecycle events tell a test when the shard owner has seen a disconnect (cluster only: the
      // one process has no NATS to read them from, and its memory bus keeps that order anyway).
      broker = await startBroker(mode, { env: { SHARDMQ_EVENTS_ENABLED: 'true' } });
      if (broker.natsUrl) events = await EventRecorder.start(broker.natsUrl);
      pub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-m5-pub` });
    });
    after(async () => {
      for (const r of raws) r.destroy();
      await Promise.all(own.map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
      await pool.closeAll();
      await events?.stop();
      await broker?.stop();
    });

    test('CONNACK announces Topic Alias Maximum, Receive Maximum, Maximum Packet Size and the available features', async () => {
      const c = await RawClient.open(port(0), 5);
      raws.push(c);
      c.sendPacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: `${mode}-m5-caps`, clean: true, keepalive: 0 } as Packet);
      const ack = (await c.waitPacket((p) => p.cmd === 'connack', 'CONNACK')) as { properties?: Record<string, unknown> };
      assert.equal(ack.properties?.topicAliasMaximum, MAX_TOPIC_ALIAS);
      assert.equal(typeof ack.properties?.receiveMaximum, 'number');
      assert.equal(typeof ack.properties?.maximumPacketSize, 'number');
      assert.notEqual(ack.properties?.sharedSubscriptionAvailable, false);
      assert.notEqual(ack.properties?.subscriptionIdentifiersAvailable, false);
    });

    test('topic alias client -> broker: set with a topic, then used with an empty topic [MQTT-3.3.2-12]', async () => {
      const topic = `alias/${mode}/in`;
      const sub = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-alias-in-sub` });
      const got = collect(sub);
      await subscribe(sub, topic, { qos: 1 });
      const c = await rawConnected('alias-in');
      c.sendPacket({ cmd: 'publish', topic, payload: Buffer.from('with-topic'), qos: 1, messageId: 1, dup: false, retain: false, properties: { topicAlias: 3 } } as Packet);
      c.sendPacket({ cmd: 'publish', topic: '', payload: Buffer.from('alias-only'), qos: 1, messageId: 2, dup: false, retain: false, properties: { topicAlias: 3 } } as Packet);
      await waitFor(() => got.length >= 2, 'both messages');
      assert.deepEqual(
        got.map((g) => [g.topic, g.payload.toString()]),
        [
          [topic, 'with-topic'],
          [topic, 'alias-only'],
        ],
      );
      // Re-mapping the alias to another topic takes effect.
      const topic2 = `alias/${mode}/in2`;
      await subscribe(sub, topic2, { qos: 1 });
      c.sendPacket({ cmd: 'publish', topic: topic2, payload: Buffer.from('remapped'), qos: 1, messageId: 3, dup: false, retain: false, properties: { topicAlias: 3 } } as Packet);
      c.sendPacket({ cmd: 'publish', topic: '', payload: Buffer.from('remapped-alias'), qos: 1, messageId: 4, dup: false, retain: false, properties: { topicAlias: 3 } } as Packet);
      await waitFor(() => got.length >= 4, 'remapped messages');
      assert.deepEqual(
        got.slice(2).map((g) => g.topic),
        [topic2, topic2],
      );
      assert.equal(c.closed, false);
    });

    test('topic alias above the announced maximum closes with DISCONNECT 0x94 [MQTT-3.3.2-9]', async () => {
      const c = await rawConnected('alias-too-big');
      c.sendPacket({ cmd: 'publish', topic: `alias/${mode}/big`, payload: Buffer.from('x'), qos: 0, dup: false, retain: false, properties: { topicAlias: MAX_TOPIC_ALIAS + 1 } } as Packet);
      assert.equal(await c.waitClosed(), true);
      const d = c.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
      assert.equal(d?.reasonCode, 0x94);
    });

    test('an unknown topic alias with an empty topic is a protocol error (closed)', async () => {
      const c = await rawConnected('alias-unknown');
      c.sendPacket({ cmd: 'publish', topic: '', payload: Buffer.from('x'), qos: 0, dup: false, retain: false, properties: { topicAlias: 9 } } as Packet);
      assert.equal(await c.waitClosed(), true);
      const d = c.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
      assert.ok(d === undefined || d.reasonCode === 0x82 || d.reasonCode === 0x94, `DISCONNECT 0x82/0x94, got ${d?.reasonCode}`);
    });

    test('topic alias broker -> client: used only when the client announced Topic Alias Maximum, never above it [MQTT-3.3.2-8]', async () => {
      const topic = `alias/${mode}/out`;
      const withAliases = await rawConnected('alias-out-yes', { properties: { topicAliasMaximum: 2 } }, 1);
      const without = await rawConnected('alias-out-no', {}, 1);
      await rawSubscribe(withAliases, topic, 0);
      await rawSubscribe(without, topic, 0);
      for (let i = 0; i < 5; i++) await publish(pub, topic, `o${i}`, { qos: 1 });
      await waitFor(() => publishes(withAliases).length >= 5 && publishes(without).length >= 5, 'five messages each');
      // Resolve aliases as a client must, and check every message maps to the right topic.
      const map = new Map<number, string>();
      const resolved = publishes(withAliases).map((p) => {
        const alias = p.properties?.topicAlias;
        if (alias !== undefined) {
          assert.ok(alias >= 1 && alias <= 2, `alias ${alias} within the client maximum`);
          if (p.topic !== '') map.set(alias, p.topic);
          return p.topic !== '' ? p.topic : map.get(alias);
        }
        return p.topic;
      });
      assert.deepEqual(resolved, Array(5).fill(topic));
      assert.ok(
        publishes(withAliases).some((p) => p.topic === '' && p.properties?.topicAlias !== undefined),
        'the broker used an alias for repeats',
      );
      assert.ok(
        publishes(without).every((p) => p.topic === topic && p.properties?.topicAlias === undefined),
        'no alias for a client with maximum 0',
      );
    });

    test('broker -> client topic aliases start afresh on a new connection [MQTT-3.3.2-7]', async () => {
      const topic = `alias/${mode}/reset`;
      const id = `alias-reset`;
      const extra = { clean: false, properties: { topicAliasMaximum: 5, sessionExpiryInterval: 300 } };
      const c1 = await rawConnected(id, extra, 1);
      await rawSubscribe(c1, topic, 0);
      for (let i = 0; i < 3; i++) await publish(pub, topic, `a${i}`, { qos: 1 });
      await waitFor(() => publishes(c1).length >= 3, 'three messages');
      c1.destroy();
      await c1.waitClosed();
      const c2 = await rawConnected(id, extra, 0);
      for (let i = 0; i < 3; i++) await publish(pub, topic, `b${i}`, { qos: 1 });
      await waitFor(() => publishes(c2).length >= 3, 'three messages on the new connection');
      const firstOnNew = publishes(c2)[0]!;
      assert.equal(firstOnNew.topic, topic, 'the first PUBLISH of a new connection names its topic (aliases do not survive the connection)');
      assert.equal(c2.closed, false);
    });

    test('Request Problem Information 0: no Reason String or User Property on SUBACK/PUBACK [MQTT-3.1.2-29]', async () => {
      const c = await rawConnected('no-problem-info', { properties: { requestProblemInformation: false } });
      // Provoke non-success answers, which are where a broker would add a reason string.
      c.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bad/#/filter', qos: 1 }] } as Packet);
      const suback = (await c.waitPacket((p) => p.cmd === 'suback', 'SUBACK')) as { granted: number[]; properties?: Record<string, unknown> };
      assert.ok(suback.granted[0]! >= 0x80);
      c.sendPacket({ cmd: 'publish', topic: `nomatch/${mode}/rpi`, payload: Buffer.from('x'), qos: 1, messageId: 2, dup: false, retain: false } as Packet);
      const puback = (await c.waitPacket((p) => p.cmd === 'puback', 'PUBACK')) as { properties?: Record<string, unknown> };
      for (const p of [suback, puback]) {
        assert.equal(p.properties?.reasonString, undefined);
        assert.equal(p.properties?.userProperties, undefined);
      }
    });

    test('Message Expiry: a queued message that expired is not delivered; the other arrives with the remaining interval [MQTT-3.3.2-5, MQTT-3.3.2-6]', async () => {
      const topic = `expiry/${mode}/q`;
      const opts: IClientOptions = { protocolVersion: 5, clientId: `${mode}-expiry-sub`, clean: false, properties: { sessionExpiryInterval: 300 } };
      const first = await pool.connect(broker.url(1), opts);
      await subscribe(first, topic, { qos: 1 });
      await new Promise<void>((r) => first.end(false, {}, () => r()));
      // In the cluster the DISCONNECT reaches the shard owner from the gateway and a PUBLISH from the
      // router, on different paths: a message the owner gets first goes in flight to the closing
      // connection, and then onward delivery has started, so it is resent on reconnect whatever its
      // expiry [MQTT-3.3.2-5, MQTT-4.4.0-1]. This test is about queued messages: publish once the
      // owner has the session offline.
      await events?.waitFor(opts.clientId!, 'client.disconnected');
      await publish(pub, topic, 'short-lived', { qos: 1, properties: { messageExpiryInterval: 1 } });
      await publish(pub, topic, 'long-lived', { qos: 1, properties: { messageExpiryInterval: 60 } });
      await publish(pub, topic, 'immortal', { qos: 1 });
      await sleep(2500);
      const again = mqtt.connect(broker.url(0), { reconnectPeriod: 0, ...opts });
      own.push(again);
      const got: Received[] = [];
      again.on('message', (t, payload, packet) => got.push({ topic: t, payload, packet }));
      await new Promise<void>((r, j) => (again.once('connect', () => r()), again.once('error', j)));
      await waitFor(() => got.length >= 2, 'the unexpired messages');
      await sleep(500);
      assert.deepEqual(
        got.map((g) => g.payload.toString()),
        ['long-lived', 'immortal'],
      );
      const left = got[0]!.packet.properties?.messageExpiryInterval;
      assert.equal(typeof left, 'number');
      assert.ok(left! <= 58 && left! >= 1, `remaining interval decremented by the 2.5 s spent queued, got ${left}`);
      assert.equal(got[1]!.packet.properties?.messageExpiryInterval, undefined, 'no expiry added where none was set');
    });

    test('Message Expiry on a retained message: expired retained messages are not sent to new subscribers', async () => {
      const topic = `expiry/${mode}/retained`;
      await publish(pub, topic, 'retained-short', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
      await sleep(2500);
      const sub = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-expiry-ret-sub` });
      const got = collect(sub);
      await subscribe(sub, topic, { qos: 1 });
      await sleep(800);
      assert.equal(got.length, 0);
    });

    test('Subscription Identifiers are returned with matching messages [MQTT-3.3.4-3, MQTT-3.3.4-4]', async () => {
      const base = `subid/${mode}`;
      const sub = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-subid` });
      const got = collect(sub);
      await subscribe(sub, `${base}/+/x`, { qos: 1, properties: { subscriptionIdentifier: 7 } });
      await subscribe(sub, `${base}/#`, { qos: 1, properties: { subscriptionIdentifier: 9 } });
      await subscribe(sub, `${base}/none`, { qos: 1 });
      await publish(pub, `${base}/a/x`, 'both', { qos: 1 });
      await publish(pub, `${base}/a/y`, 'only9', { qos: 1 });
      await publish(pub, `${base}/none`, 'no-id', { qos: 1 });
      await sleep(1000);
      const ids = (payload: string) =>
        got
          .filter((g) => g.payload.toString() === payload)
          .flatMap((g) => {
            const s = g.packet.properties?.subscriptionIdentifier;
            return s === undefined ? [] : Array.isArray(s) ? s : [s];
          })
          .sort((a, b) => a - b);
      assert.deepEqual(ids('both'), [7, 9]);
      assert.deepEqual(ids('only9'), [9]);
      assert.deepEqual(
        ids('no-id').filter((i) => i !== 9),
        [],
        'the plain subscription adds no identifier',
      );
    });

    test('No Local: a client does not get its own messages on a No Local subscription [MQTT-3.8.3-3]', async () => {
      const topic = `nolocal/${mode}/t`;
      const a = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-nl-a` });
      const b = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-nl-b` });
      const [ga, gb] = [collect(a), collect(b)];
      await subscribe(a, topic, { qos: 1, nl: true });
      await subscribe(b, topic, { qos: 1, nl: false });
      await publish(a, topic, 'from-a', { qos: 1 });
      await publish(b, topic, 'from-b', { qos: 1 });
      await waitFor(() => gb.length >= 2 && ga.length >= 1, 'deliveries');
      await sleep(500);
      assert.deepEqual(
        ga.map((g) => g.payload.toString()),
        ['from-b'],
        'a does not get its own',
      );
      assert.deepEqual(gb.map((g) => g.payload.toString()).sort(), ['from-a', 'from-b'], 'b (No Local 0) gets its own too');
    });

    test('user properties, content type, payload format, response topic and correlation data pass through unchanged [MQTT-3.3.2-17, MQTT-3.3.2-20]', async () => {
      const topic = `props/${mode}/t`;
      const sub = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-props-sub` });
      const got = collect(sub);
      await subscribe(sub, topic, { qos: 1 });
      const correlationData = Buffer.from([0, 1, 2, 0xfe, 0xff]);
      await publish(pub, topic, 'héllo', {
        qos: 1,
        properties: {
          userProperties: { a: '1', multi: ['x', 'y'], ü: 'é' },
          contentType: 'text/plain; charset=utf-8',
          payloadFormatIndicator: true,
          responseTopic: `props/${mode}/reply`,
          correlationData,
        },
      });
      await waitFor(() => got.length >= 1, 'the message');
      const p = got[0]!.packet.properties!;
      assert.deepEqual({ ...p.userProperties }, { a: '1', multi: ['x', 'y'], ü: 'é' });
      assert.equal(p.contentType, 'text/plain; charset=utf-8');
      assert.equal(p.payloadFormatIndicator, true);
      assert.equal(p.responseTopic, `props/${mode}/reply`);
      assert.deepEqual(Buffer.from(p.correlationData!), correlationData);
      assert.equal(got[0]!.payload.toString(), 'héllo');
    });

    test('Maximum Packet Size: a message too big for one client is not sent to it but is to others [MQTT-3.1.2-25]', async () => {
      const topic = `maxpkt/${mode}/t`;
      const small = await rawConnected('maxpkt-small', { properties: { maximumPacketSize: 200 } }, 1);
      const big = await pool.connect(broker.url(1), { protocolVersion: 5, clientId: `${mode}-maxpkt-big` });
      const gotBig = collect(big);
      await rawSubscribe(small, topic, 1);
      await subscribe(big, topic, { qos: 1 });
      await publish(pub, topic, Buffer.alloc(1000, 0x61), { qos: 1 });
      await publish(pub, topic, 'fits', { qos: 1 });
      await waitFor(() => gotBig.length >= 2, 'both at the unlimited client');
      await waitFor(() => publishes(small).length >= 1, 'the small message at the limited client');
      await sleep(500);
      assert.deepEqual(
        publishes(small).map((p) => p.payload.toString()),
        ['fits'],
      );
      assert.equal(small.closed, false, 'the limited client is not disconnected');
      if (publishes(small)[0]!.qos === 1) small.sendPacket({ cmd: 'puback', messageId: publishes(small)[0]!.messageId } as Packet);
    });

    test('Receive Maximum from the client bounds unacknowledged QoS 1 deliveries [MQTT-3.3.4-9]', async () => {
      const topic = `recvmax/${mode}/t`;
      const c = await rawConnected('recvmax', { properties: { receiveMaximum: 2 } }, 1);
      await rawSubscribe(c, topic, 1);
      for (let i = 0; i < 6; i++) await publish(pub, topic, `r${i}`, { qos: 1 });
      await waitFor(() => publishes(c).length >= 2, 'two deliveries');
      await sleep(800);
      assert.equal(publishes(c).length, 2, 'no more than Receive Maximum in flight');
      for (const p of publishes(c)) c.sendPacket({ cmd: 'puback', messageId: p.messageId } as Packet);
      await waitFor(() => publishes(c).length >= 4, 'two more after the acks');
      await sleep(500);
      assert.equal(publishes(c).length, 4);
      assert.deepEqual(
        publishes(c).map((p) => p.payload.toString()),
        ['r0', 'r1', 'r2', 'r3'],
      );
    });

    test('PUBACK 0x10 (No matching subscribers) for a QoS 1 publish nobody receives', async () => {
      const c = await rawConnected('nomatch');
      c.sendPacket({ cmd: 'publish', topic: `nomatch/${mode}/nobody`, payload: Buffer.from('x'), qos: 1, messageId: 5, dup: false, retain: false } as Packet);
      const ack = (await c.waitPacket((p) => p.cmd === 'puback', 'PUBACK')) as { reasonCode?: number };
      assert.equal(ack.reasonCode, 0x10);
    });
  });
}
