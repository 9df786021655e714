import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IClientOptions, IDisconnectPacket, MqttClient } from 'mqtt';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, publish, sleep, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';

/**
 * Takeover: a second connection with the same client id disconnects the first [MQTT-3.1.4-2].
 * 3.1.1: the Will belongs to the connection, so the old connection's Will is published
 * [MQTT-3.1.2-8], unless the non-standard suppress-Will-on-takeover knob is on.
 * 5.0: the old connection gets DISCONNECT 0x8E (Session taken over); its Will follows the
 * session rules (published if Will Delay is 0 or the session ends, else not).
 */

function v4(clientId: string, will?: { topic: string; payload: string }, clean = true): IClientOptions {
  return {
    protocolVersion: 4,
    clientId,
    clean,
    ...(will ? { will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1 as const, retain: false } } : {}),
  };
}

function closedP(c: MqttClient): Promise<void> {
  return new Promise((r) => (c.connected ? c.once('close', () => r()) : r()));
}

function endClean(c: MqttClient): Promise<void> {
  return new Promise((r) => c.end(false, {}, () => r()));
}

for (const mode of MODES) {
  describe(`takeover and the Will (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    let wills: Received[];
    const willsOn = (t: string) => wills.filter((w) => w.topic === t);

    before(async () => {
      broker = await startBroker(mode);
      const watcher = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-tw-watch` });
      wills = collect(watcher);
      await subscribe(watcher, `tw/${mode}/#`, { qos: 1 });
    });
    after(async () => {
      await pool.closeAll();
      await broker?.stop();
    });

    test('MQTT 3.1.1: a second connection with the same client id closes the first [MQTT-3.1.4-2] and publishes its Will [MQTT-3.1.2-8]', async () => {
      const topic = `tw/${mode}/v4-old`;
      const id = `${mode}-v4-take`;
      const c1 = await pool.connect(broker.url(0), v4(id, { topic, payload: 'old-connection-will' }));
      const c1Closed = closedP(c1);
      const c2 = await pool.connect(broker.url(1), v4(id, { topic: `tw/${mode}/v4-new`, payload: 'new-connection-will' }));
      await c1Closed;
      assert.equal(c1.connected, false, 'the old connection is closed');
      await waitFor(() => willsOn(topic).length >= 1, "the old connection's Will");
      assert.equal(willsOn(topic)[0]!.payload.toString(), 'old-connection-will');
      // The new connection is alive and its own Will is not fired by the old socket's close (epoch fencing).
      const got = collect(c2);
      await subscribe(c2, `tw-echo/${mode}/v4`, { qos: 1 });
      await publish(c2, `tw-echo/${mode}/v4`, 'alive', { qos: 1 });
      await waitFor(() => got.length >= 1, 'the new connection works');
      await sleep(1000);
      assert.equal(willsOn(topic).length, 1, 'the old Will once');
      assert.equal(willsOn(`tw/${mode}/v4-new`).length, 0, "the new connection's Will is not published");
      await endClean(c2);
      await sleep(1000);
      assert.equal(willsOn(`tw/${mode}/v4-new`).length, 0, 'clean DISCONNECT of the new connection: no Will [MQTT-3.14.4-3]');
    });

    test('MQTT 3.1.1: takeover of a persistent session keeps it (Session Present 1) and still publishes the old Will', async () => {
      const topic = `tw/${mode}/v4-persist`;
      const id = `${mode}-v4-persist`;
      const c1 = await pool.connect(broker.url(1), v4(id, { topic, payload: 'persist-old' }, false));
      await subscribe(c1, `tw-data/${mode}/persist`, { qos: 1 });
      const c1Closed = closedP(c1);
      const c2 = await pool.connect(broker.url(0), v4(id, undefined, false));
      await c1Closed;
      assert.equal(c2.connected, true);
      await waitFor(() => willsOn(topic).length >= 1, "the old connection's Will");
      // The subscription made on the old connection is in the session the new one took over.
      const got = collect(c2);
      const pub = await pool.connect(broker.url(1), v4(`${mode}-v4-persist-pub`));
      await publish(pub, `tw-data/${mode}/persist`, 'kept-subscription', { qos: 1 });
      await waitFor(() => got.some((g) => g.payload.toString() === 'kept-subscription'), 'delivery on the kept subscription');
    });

    test('MQTT 5: takeover sends DISCONNECT 0x8E to the old connection [MQTT-3.1.4-3]', async () => {
      const id = `${mode}-v5-take`;
      const c1 = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: id });
      const disc = new Promise<IDisconnectPacket>((r) => c1.once('disconnect', (p) => r(p)));
      const c1Closed = closedP(c1);
      await pool.connect(broker.url(1), { protocolVersion: 5, clientId: id });
      const p = await disc;
      assert.equal(p.reasonCode, 0x8e);
      await c1Closed;
    });

    test('MQTT 5: takeover publishes the old Will when its Will Delay is 0', async () => {
      const topic = `tw/${mode}/v5-delay0`;
      const id = `${mode}-v5-delay0`;
      await pool.connect(broker.url(0), {
        protocolVersion: 5,
        clientId: id,
        clean: false,
        properties: { sessionExpiryInterval: 60 },
        will: { topic, payload: Buffer.from('v5-delay0'), qos: 1, retain: false },
      });
      await pool.connect(broker.url(1), { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
      await waitFor(() => willsOn(topic).length >= 1, 'the Will');
      await sleep(500);
      assert.equal(willsOn(topic).length, 1);
    });

    test('MQTT 5: takeover within the Will Delay of a kept session does not publish the Will [MQTT-3.1.3-9]', async () => {
      const topic = `tw/${mode}/v5-delayed`;
      const id = `${mode}-v5-delayed`;
      const opts: IClientOptions = {
        protocolVersion: 5,
        clientId: id,
        clean: false,
        properties: { sessionExpiryInterval: 60 },
        will: { topic, payload: Buffer.from('v5-delayed'), qos: 1, retain: false, properties: { willDelayInterval: 2 } },
      };
      await pool.connect(broker.url(0), opts);
      const c2 = await pool.connect(broker.url(1), opts);
      await sleep(4000);
      assert.equal(willsOn(topic).length, 0);
      await endClean(c2);
    });

    test('MQTT 5: takeover with Clean Start 1 ends the old session, so a delayed Will is published', async () => {
      const topic = `tw/${mode}/v5-clean-start`;
      const id = `${mode}-v5-clean-start`;
      await pool.connect(broker.url(0), {
        protocolVersion: 5,
        clientId: id,
        clean: false,
        properties: { sessionExpiryInterval: 60 },
        will: { topic, payload: Buffer.from('v5-clean-start'), qos: 1, retain: false, properties: { willDelayInterval: 3600 } },
      });
      await pool.connect(broker.url(1), { protocolVersion: 5, clientId: id, clean: true });
      await waitFor(() => willsOn(topic).length >= 1, 'the Will at session end', 15_000);
      await sleep(500);
      assert.equal(willsOn(topic).length, 1);
    });
  });

  describe(`takeover with SHARDMQ_SESSION_SUPPRESS_WILL_ON_TAKEOVER=true (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    let wills: Received[];
    const willsOn = (t: string) => wills.filter((w) => w.topic === t);

    before(async () => {
      broker = await startBroker(mode, { env: { SHARDMQ_SESSION_SUPPRESS_WILL_ON_TAKEOVER: 'true' } });
      const watcher = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-sw-watch` });
      wills = collect(watcher);
      await subscribe(watcher, `sw/${mode}/#`, { qos: 1 });
    });
    after(async () => {
      await pool.closeAll();
      await broker?.stop();
    });

    test('MQTT 3.1.1 takeover closes the old connection but does not publish its Will', async () => {
      const topic = `sw/${mode}/v4`;
      const id = `${mode}-sw-v4`;
      const c1 = await pool.connect(broker.url(0), v4(id, { topic, payload: 'suppressed' }));
      const c1Closed = closedP(c1);
      const c2 = await pool.connect(broker.url(1), v4(id));
      await c1Closed;
      assert.equal(c2.connected, true);
      await sleep(2000);
      assert.equal(willsOn(topic).length, 0);
    });

    test('the knob does not suppress the Will of a connection that is simply lost', async () => {
      const topic = `sw/${mode}/lost`;
      const c = await pool.connect(broker.url(1), v4(`${mode}-sw-lost`, { topic, payload: 'lost-will' }));
      c.stream.destroy();
      await waitFor(() => willsOn(topic).length >= 1, 'the Will of a lost connection');
      assert.equal(willsOn(topic)[0]!.payload.toString(), 'lost-will');
    });
  });
}
