import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, publish, sleep, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';

/**
 * Retained messages: store, replace, clear with an empty payload [MQTT-3.3.1-5..-11 (3.1.1),
 * 3.3.1-5..-8 (5.0)]; delivery on subscribe with RETAIN 1; RETAIN 0 on live delivery unless
 * Retain As Published; Retain Handling 0/1/2 [MQTT-3.3.1-9..-13 (5.0)]; a retained Will.
 */

for (const mode of MODES) {
  describe(`retained messages (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    let pub: MqttClient;
    let n = 0;
    /** A fresh subscriber (its own client id) collecting from now on. */
    const freshSub = async (v: 4 | 5 = 5): Promise<{ c: MqttClient; got: Received[] }> => {
      const c = await pool.connect(broker.url(++n), { protocolVersion: v, clientId: `${mode}-ret-sub-${n}` });
      return { c, got: collect(c) };
    };

    before(async () => {
      broker = await startBroker(mode);
      pub = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-ret-pub` });
    });
    after(async () => {
      await pool.closeAll();
      await broker?.stop();
    });

    for (const v of [4, 5] as const) {
      test(`MQTT ${v === 5 ? '5.0' : '3.1.1'}: a retained message is stored and sent to a later subscriber with RETAIN 1`, async () => {
        const topic = `ret/${mode}/store-${v}`;
        await publish(pub, topic, 'kept', { qos: 1, retain: true });
        const { c, got } = await freshSub(v);
        await subscribe(c, topic, { qos: 1 });
        await waitFor(() => got.length >= 1, 'the retained message');
        assert.equal(got[0]!.payload.toString(), 'kept');
        assert.equal(got[0]!.packet.retain, true);
        await sleep(300);
        assert.equal(got.length, 1);
      });
    }

    test('a new retained message replaces the old one [MQTT-3.3.1-5]', async () => {
      const topic = `ret/${mode}/replace`;
      await publish(pub, topic, 'old', { qos: 1, retain: true });
      await publish(pub, topic, 'new', { qos: 1, retain: true });
      const { c, got } = await freshSub();
      await subscribe(c, topic, { qos: 1 });
      await waitFor(() => got.length >= 1, 'the retained message');
      await sleep(300);
      assert.deepEqual(
        got.map((g) => g.payload.toString()),
        ['new'],
      );
    });

    test('a retained message with an empty payload clears the topic and is not stored [MQTT-3.3.1-6, MQTT-3.3.1-7]', async () => {
      const topic = `ret/${mode}/clear`;
      await publish(pub, topic, 'to-be-cleared', { qos: 1, retain: true });
      await publish(pub, topic, '', { qos: 1, retain: true });
      const { c, got } = await freshSub();
      await subscribe(c, topic, { qos: 1 });
      await sleep(1000);
      assert.equal(got.length, 0);
    });

    test('a non-retained publish does not replace the retained message', async () => {
      const topic = `ret/${mode}/non-retained`;
      await publish(pub, topic, 'retained-one', { qos: 1, retain: true });
      await publish(pub, topic, 'plain-one', { qos: 1, retain: false });
      const { c, got } = await freshSub();
      await subscribe(c, topic, { qos: 1 });
      await waitFor(() => got.length >= 1, 'the retained message');
      await sleep(300);
      assert.deepEqual(
        got.map((g) => g.payload.toString()),
        ['retained-one'],
      );
    });

    test('a wildcard subscription gets every matching retained message, and none outside it', async () => {
      const base = `ret/${mode}/wild`;
      await publish(pub, `${base}/a/t`, 'A', { qos: 1, retain: true });
      await publish(pub, `${base}/b/t`, 'B', { qos: 1, retain: true });
      await publish(pub, `${base}/b/other`, 'X', { qos: 1, retain: true });
      const { c, got } = await freshSub();
      await subscribe(c, `${base}/+/t`, { qos: 1 });
      await waitFor(() => got.length >= 2, 'two retained messages');
      await sleep(300);
      assert.deepEqual(got.map((g) => g.payload.toString()).sort(), ['A', 'B']);
    });

    test('retained delivery uses the lower of message QoS and subscription QoS', async () => {
      const topic = `ret/${mode}/qos`;
      await publish(pub, topic, 'q1', { qos: 1, retain: true });
      const { c, got } = await freshSub();
      await subscribe(c, topic, { qos: 0 });
      await waitFor(() => got.length >= 1, 'the retained message');
      assert.equal(got[0]!.packet.qos, 0);
    });

    test('MQTT 3.1.1: live delivery to an existing subscription has RETAIN 0 [MQTT-3.3.1-9]', async () => {
      const topic = `ret/${mode}/live-v4`;
      const { c, got } = await freshSub(4);
      await subscribe(c, topic, { qos: 1 });
      await publish(pub, topic, 'live', { qos: 1, retain: true });
      await waitFor(() => got.length >= 1, 'the live message');
      assert.equal(got[0]!.packet.retain, false);
    });

    test('MQTT 5: Retain As Published 0 clears RETAIN on live delivery, 1 keeps it [MQTT-3.3.1-12, MQTT-3.3.1-13]', async () => {
      const topic = `ret/${mode}/rap`;
      const a = await freshSub();
      const b = await freshSub();
      await subscribe(a.c, topic, { qos: 1, rap: false });
      await subscribe(b.c, topic, { qos: 1, rap: true });
      await publish(pub, topic, 'rap', { qos: 1, retain: true });
      await waitFor(() => a.got.length >= 1 && b.got.length >= 1, 'both deliveries');
      assert.equal(a.got[0]!.packet.retain, false, 'RAP 0');
      assert.equal(b.got[0]!.packet.retain, true, 'RAP 1');
    });

    test('MQTT 5: Retain Handling 0 sends retained messages on every SUBSCRIBE [MQTT-3.3.1-9]', async () => {
      const topic = `ret/${mode}/rh0`;
      await publish(pub, topic, 'rh0', { qos: 1, retain: true });
      const { c, got } = await freshSub();
      await subscribe(c, topic, { qos: 1, rh: 0 });
      await waitFor(() => got.length >= 1, 'first retained');
      await subscribe(c, topic, { qos: 1, rh: 0 });
      await waitFor(() => got.length >= 2, 'retained again on re-subscribe');
      assert.ok(got.every((g) => g.payload.toString() === 'rh0' && g.packet.retain));
    });

    test('MQTT 5: Retain Handling 1 sends retained messages only for a new subscription [MQTT-3.3.1-10]', async () => {
      const topic = `ret/${mode}/rh1`;
      await publish(pub, topic, 'rh1', { qos: 1, retain: true });
      const { c, got } = await freshSub();
      await subscribe(c, topic, { qos: 1, rh: 1 });
      await waitFor(() => got.length >= 1, 'retained on the new subscription');
      await subscribe(c, topic, { qos: 1, rh: 1 });
      await sleep(1000);
      assert.equal(got.length, 1, 'not sent again for an existing subscription');
    });

    test('MQTT 5: Retain Handling 2 never sends retained messages [MQTT-3.3.1-11]', async () => {
      const topic = `ret/${mode}/rh2`;
      await publish(pub, topic, 'rh2', { qos: 1, retain: true });
      const { c, got } = await freshSub();
      await subscribe(c, topic, { qos: 1, rh: 2 });
      await sleep(1000);
      assert.equal(got.length, 0);
      // but live messages still come
      await publish(pub, topic, 'live-rh2', { qos: 1 });
      await waitFor(() => got.length >= 1, 'live delivery');
      assert.equal(got[0]!.payload.toString(), 'live-rh2');
    });

    test('MQTT 5: message properties are kept with the retained message', async () => {
      const topic = `ret/${mode}/props`;
      await publish(pub, topic, '{"v":1}', { qos: 1, retain: true, properties: { contentType: 'application/json', userProperties: { k: 'v' } } });
      const { c, got } = await freshSub();
      await subscribe(c, topic, { qos: 1 });
      await waitFor(() => got.length >= 1, 'the retained message');
      assert.equal(got[0]!.packet.properties?.contentType, 'application/json');
      assert.deepEqual({ ...got[0]!.packet.properties?.userProperties }, { k: 'v' });
    });

    test('topics starting with $ are not matched by a first-level wildcard, retained or live [MQTT-4.7.2-1]', async () => {
      const dollar = `$app-${mode}/status`;
      await publish(pub, dollar, 'dollar-retained', { qos: 1, retain: true });
      const { c, got } = await freshSub();
      await subscribe(c, ['#', '+/status'], { qos: 1 });
      const exact = await freshSub();
      await subscribe(exact.c, `$app-${mode}/+`, { qos: 1 });
      await waitFor(() => exact.got.length >= 1, 'the retained $ message for an explicit $ filter');
      await publish(pub, dollar, 'dollar-live', { qos: 1 });
      await waitFor(() => exact.got.length >= 2, 'the live $ message for an explicit $ filter');
      await sleep(500);
      assert.equal(got.filter((g) => g.topic.startsWith('$')).length, 0, '# and +/status match no $ topic');
      await publish(pub, dollar, '', { qos: 1, retain: true });
    });

    for (const v of [4, 5] as const) {
      test(`MQTT ${v === 5 ? '5.0' : '3.1.1'}: a retained Will is stored as the retained message of its topic`, async () => {
        const topic = `ret/${mode}/will-${v}`;
        const dev = await pool.connect(broker.url(0), {
          protocolVersion: v,
          clientId: `${mode}-ret-will-${v}`,
          will: { topic, payload: Buffer.from('offline'), qos: 1, retain: true },
        });
        await publish(dev, topic, 'online', { qos: 1, retain: true });
        const w = await freshSub(5);
        await subscribe(w.c, topic, { qos: 1 });
        dev.stream.destroy();
        await waitFor(() => w.got.some((g) => g.payload.toString() === 'offline'), 'the Will, live');
        const { c, got } = await freshSub(v);
        await subscribe(c, topic, { qos: 1 });
        await waitFor(() => got.length >= 1, 'the retained Will');
        await sleep(300);
        assert.deepEqual(
          got.map((g) => g.payload.toString()),
          ['offline'],
        );
        assert.equal(got[0]!.packet.retain, true);
      });
    }
  });
}
