import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { ClientPool, collect, sleep, subscribe, waitFor, type Received } from '../support/mqtt-clients.js';

/**
 * Issue 3 acceptance, MQTT 5 Will Delay Interval: a device that drops and comes back within the
 * delay never has its Will published [MQTT-3.1.3-9]; one that stays away has it published once,
 * after the delay or when the session ends, whichever is first [MQTT-3.1.3-9, 3.1.2.5];
 * DISCONNECT 0x00 discards the Will [MQTT-3.14.4-3], 0x04 publishes it.
 *
 * "Drop" here means the socket is destroyed without a DISCONNECT packet (`stream.destroy()`:
 * mqtt.js's `end(true)` does the same, `end()` sends DISCONNECT first).
 */

const WILL_DELAY_S = 5;

function willOpts(clientId: string, topic: string, payload: string, willDelayS: number, sessionExpiryS: number): IClientOptions {
  return {
    protocolVersion: 5,
    clientId,
    clean: false,
    properties: { sessionExpiryInterval: sessionExpiryS },
    will: { topic, payload: Buffer.from(payload), qos: 1, retain: false, properties: { willDelayInterval: willDelayS } },
  };
}

/** Destroys the socket without DISCONNECT and waits until the client saw it close. */
async function drop(c: MqttClient): Promise<void> {
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.stream.destroy();
  await closed;
}

/** Sends DISCONNECT with a reason code and waits for the socket to close. */
function disconnectWith(c: MqttClient, reasonCode: number): Promise<void> {
  return new Promise((r) => c.end(false, { reasonCode }, () => r()));
}

for (const mode of MODES) {
  describe(`MQTT 5 Will Delay (${mode})`, () => {
    let broker: Broker;
    const pool = new ClientPool();
    let watcher: MqttClient;
    let wills: Received[];
    const willsOn = (topic: string) => wills.filter((w) => w.topic === topic);

    before(async () => {
      broker = await startBroker(mode);
      watcher = await pool.connect(broker.url(0), { protocolVersion: 5, clientId: `${mode}-will-watcher` });
      wills = collect(watcher);
      await subscribe(watcher, `wd/${mode}/#`, { qos: 1 });
    });
    after(async () => {
      await pool.closeAll();
      await broker?.stop();
    });

    test('a client that drops and reconnects 50 times within the Will Delay never has its Will published [MQTT-3.1.3-9]', async () => {
      const topic = `wd/${mode}/flappy`;
      const id = `${mode}-flappy`;
      for (let i = 0; i < 50; i++) {
        // Alternate gateways in cluster mode: the reconnect may land anywhere.
        const c = await pool.connect(broker.url(i), willOpts(id, topic, 'flappy-will', WILL_DELAY_S, 60));
        if (i > 0) assert.equal(c.connected, true);
        await drop(c);
      }
      // Come back one last time and stay: every earlier drop's delay runs out while we wait.
      const last = await pool.connect(broker.url(0), willOpts(id, topic, 'flappy-will', WILL_DELAY_S, 60));
      await sleep((WILL_DELAY_S + 3) * 1000);
      assert.equal(willsOn(topic).length, 0, 'no Will for a client that always came back within the delay');
      await disconnectWith(last, 0x00);
      await sleep(1000);
      assert.equal(willsOn(topic).length, 0, 'no Will after a clean DISCONNECT either');
    });

    test('a client that does not come back has its Will published exactly once, after the delay [MQTT-3.1.3-9]', async () => {
      const topic = `wd/${mode}/gone`;
      const c = await pool.connect(broker.url(1), willOpts(`${mode}-gone`, topic, 'gone-will', WILL_DELAY_S, 60));
      await drop(c);
      // Bounded "not yet" check: well inside the delay, nothing may have been published.
      await sleep(2000);
      assert.equal(willsOn(topic).length, 0, 'not published before the Will Delay Interval');
      await waitFor(() => willsOn(topic).length >= 1, 'the Will after the delay', 20_000);
      await sleep(2000);
      assert.equal(willsOn(topic).length, 1, 'published once');
      assert.equal(willsOn(topic)[0]!.payload.toString(), 'gone-will');
    });

    test('the Will is published when the session ends before the Will Delay (Session Expiry < Will Delay) [MQTT-3.1.2-8, 3.1.3.2.2]', async () => {
      const topic = `wd/${mode}/expiring`;
      const c = await pool.connect(broker.url(0), willOpts(`${mode}-expiring`, topic, 'expiry-will', 3600, 1));
      await drop(c);
      // The delay is an hour; the session ends after 1 s and takes the Will with it.
      await waitFor(() => willsOn(topic).length >= 1, 'the Will at session end', 20_000);
      await sleep(1000);
      assert.equal(willsOn(topic).length, 1);
    });

    test('Session Expiry 0: the session ends with the connection, so a delayed Will is published at once', async () => {
      const topic = `wd/${mode}/expiry0`;
      const c = await pool.connect(broker.url(1), { ...willOpts(`${mode}-expiry0`, topic, 'expiry0-will', 3600, 0), clean: true });
      await drop(c);
      await waitFor(() => willsOn(topic).length >= 1, 'the Will', 20_000);
      await sleep(1000);
      assert.equal(willsOn(topic).length, 1);
    });

    test('DISCONNECT 0x00 discards the Will [MQTT-3.14.4-3]', async () => {
      const topic = `wd/${mode}/clean`;
      const c = await pool.connect(broker.url(0), willOpts(`${mode}-clean`, topic, 'clean-will', 0, 60));
      await disconnectWith(c, 0x00);
      await sleep(2500);
      assert.equal(willsOn(topic).length, 0);
    });

    test('DISCONNECT 0x00 discards a delayed Will too (nothing after the delay)', async () => {
      const topic = `wd/${mode}/clean-delayed`;
      const c = await pool.connect(broker.url(1), willOpts(`${mode}-clean-delayed`, topic, 'clean-delayed-will', 1, 60));
      await disconnectWith(c, 0x00);
      await sleep(3000);
      assert.equal(willsOn(topic).length, 0);
    });

    test('DISCONNECT 0x04 (Disconnect with Will Message) publishes the Will [MQTT-3.14.2-1]', async () => {
      const topic = `wd/${mode}/with-will`;
      const c = await pool.connect(broker.url(1), willOpts(`${mode}-with-will`, topic, 'with-will', 0, 60));
      await disconnectWith(c, 0x04);
      await waitFor(() => willsOn(topic).length >= 1, 'the Will after DISCONNECT 0x04');
      await sleep(1000);
      assert.equal(willsOn(topic).length, 1);
      assert.equal(willsOn(topic)[0]!.payload.toString(), 'with-will');
    });

    test('DISCONNECT 0x04 with a Will Delay publishes after the delay unless the client returns', async () => {
      const topic = `wd/${mode}/with-will-delayed`;
      const id = `${mode}-with-will-delayed`;
      const c = await pool.connect(broker.url(0), willOpts(id, topic, 'with-will-delayed', 2, 60));
      await disconnectWith(c, 0x04);
      await waitFor(() => willsOn(topic).length >= 1, 'the delayed Will after DISCONNECT 0x04', 20_000);
      assert.equal(willsOn(topic).length, 1);
      // And the returning variant: DISCONNECT 0x04, back within the delay -> no Will.
      const topic2 = `wd/${mode}/with-will-returns`;
      const c2 = await pool.connect(broker.url(0), willOpts(`${id}-2`, topic2, 'returns', WILL_DELAY_S, 60));
      await disconnectWith(c2, 0x04);
      const back = await pool.connect(broker.url(1), willOpts(`${id}-2`, topic2, 'returns', WILL_DELAY_S, 60));
      await sleep((WILL_DELAY_S + 2) * 1000);
      assert.equal(willsOn(topic2).length, 0, 'returned within the delay: no Will');
      await disconnectWith(back, 0x00);
    });

    if (mode === 'cluster') {
      test('a gateway killed with SIGKILL: owed Wills are published once, a device that reconnects elsewhere within the delay gets none', async () => {
        const gw = await broker.spawnRole('gateway', 'gateway-doomed');
        const doomedUrl = `mqtt://127.0.0.1:${broker.ports[broker.ports.length - 1]}`;
        const tA = `wd/${mode}/gwkill-v4`;
        const tB = `wd/${mode}/gwkill-delayed`;
        const tC = `wd/${mode}/gwkill-returns`;
        const a = await pool.connect(doomedUrl, { protocolVersion: 4, clientId: `${mode}-gwkill-a`, will: { topic: tA, payload: Buffer.from('a'), qos: 1, retain: false } });
        const b = await pool.connect(doomedUrl, willOpts(`${mode}-gwkill-b`, tB, 'b', 2, 60));
        const c = await pool.connect(doomedUrl, willOpts(`${mode}-gwkill-c`, tC, 'c', WILL_DELAY_S + 3, 60));
        const closed = Promise.all([a, b, c].map((x) => new Promise<void>((r) => x.once('close', () => r()))));
        gw.kill('SIGKILL');
        await closed;
        await pool.connect(broker.url(0), willOpts(`${mode}-gwkill-c`, tC, 'c', WILL_DELAY_S + 3, 60));
        await waitFor(() => willsOn(tA).length >= 1 && willsOn(tB).length >= 1, 'the Wills owed by the dead gateway', 30_000);
        await sleep((WILL_DELAY_S + 4) * 1000);
        assert.equal(willsOn(tA).length, 1, '3.1.1 Will once');
        assert.equal(willsOn(tB).length, 1, 'delayed Will once');
        assert.equal(willsOn(tC).length, 0, 'no Will for the device that came back through another gateway');
      });
    }

    test('the Will carries its properties and QoS to the subscriber', async () => {
      const topic = `wd/${mode}/props`;
      const c = mqtt.connect(broker.url(0), {
        reconnectPeriod: 0,
        protocolVersion: 5,
        clientId: `${mode}-will-props`,
        will: {
          topic,
          payload: Buffer.from('{"state":"offline"}'),
          qos: 1,
          retain: false,
          properties: { contentType: 'application/json', userProperties: { device: 'd1' }, payloadFormatIndicator: true },
        },
      });
      await new Promise<void>((r, j) => (c.once('connect', () => r()), c.once('error', j)));
      await drop(c);
      await waitFor(() => willsOn(topic).length >= 1, 'the Will');
      const w = willsOn(topic)[0]!;
      assert.equal(w.packet.qos, 1);
      assert.equal(w.packet.properties?.contentType, 'application/json');
      assert.deepEqual({ ...w.packet.properties?.userProperties }, { device: 'd1' });
      assert.equal(w.packet.properties?.payloadFormatIndicator, true);
    });
  });
}
