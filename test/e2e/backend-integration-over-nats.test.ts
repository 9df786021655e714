import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClientEvent } from '../../common/src/integration/client-events.js';
import { PresenceTracker, startBackend, type Backend, type DeviceMessage, type PresenceEvent } from '../../examples/backend-consumer/backend-consumer.js';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { EventRecorder } from '../support/client-events.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { ClientPool, collect, publish, subscribe, waitFor } from '../support/mqtt-clients.js';

/**
 * Backends next to the broker (docs/integration.md), over a real NATS with real MQTT clients,
 * in both modes (the one process runs on the NATS server too): client lifecycle events once
 * each and in epoch order, presence that survives a takeover, exported device messages in a
 * queue group and through JetStream across a consumer restart, and the backend publish API.
 */

const EXPORT_ENV = {
  SHARDMQ_EVENTS_ENABLED: 'true',
  SHARDMQ_EXPORT_FILTERS: 'devices/+/telemetry,jsdev/#',
  SHARDMQ_EXPORT_JETSTREAM: 'true',
  SHARDMQ_API_PUBLISH_ENABLED: 'true',
  SHARDMQ_CLUSTER_STORAGE: 'memory',
};

/** Epochs strictly increase along the arrival order of one client's events. */
function assertEpochOrder(events: ClientEvent[]): void {
  const epochs = events.map((e) => ('epoch' in e ? e.epoch : -1));
  for (let i = 1; i < epochs.length; i++) assert.ok(epochs[i]! > epochs[i - 1]!, `epochs increase: ${JSON.stringify(events)}`);
}

/**
 * The events of a client before its n-th connection (its connected event and the session.created
 * right before it). A later connection is the sentinel: the events of one client leave its shard
 * owner in order, so once the sentinel's arrived, a duplicate of an earlier one would have too.
 */
function priorTo(events: ClientEvent[], n: number): ClientEvent[] {
  let seen = 0;
  let cut = events.findIndex((e) => e.type === 'client.connected' && ++seen === n);
  if (cut < 0) return events;
  if (events[cut - 1]?.type === 'session.created') cut--;
  return events.slice(0, cut);
}

for (const mode of MODES) {
  describe(`backend integration over NATS (${mode})`, { timeout: 240_000 }, () => {
    let nats: NatsServerHandle | undefined;
    let broker: Broker;
    let rec: EventRecorder;
    let natsUrl: string;
    const pool = new ClientPool();
    const backends: Backend[] = [];
    before(async () => {
      if (mode === 'single') nats = await startNatsServer({ jetstream: true });
      broker = await startBroker(mode, { env: EXPORT_ENV, nats });
      natsUrl = broker.natsUrl!;
      rec = await EventRecorder.start(natsUrl);
    });
    after(async () => {
      for (const b of backends.splice(0)) await b.close().catch(() => {});
      await pool.closeAll();
      await rec?.stop();
      await broker?.stop();
      await nats?.stop();
    });

    test('connect, subscribe, clean disconnect: created, connected, subscribed, disconnected, ended, once each in epoch order', async () => {
      const id = `ev-clean-${mode}`;
      const c = await pool.connect(broker.url(), { clientId: id, protocolVersion: 5 });
      await subscribe(c, 'ev/clean', { qos: 1 });
      await c.endAsync();
      // The sentinel: a second connection of the same client id; its events come after all of the first's.
      const again = await pool.connect(broker.url(), { clientId: id, protocolVersion: 5 });
      const all = await rec.waitFor(id, 'client.connected', 2);
      await again.endAsync();
      const first = priorTo(all, 2);
      assert.deepEqual(
        first.map((e) => e.type),
        ['session.created', 'client.connected', 'client.subscribed', 'client.disconnected', 'session.ended'],
      );
      assertEpochOrder(all);
      const [, connected, subscribed, disconnected, ended] = first;
      assert.ok(connected?.type === 'client.connected' && connected.protocol === 5 && connected.cleanStart && !connected.sessionPresent && connected.mountpoint === '');
      assert.ok(subscribed?.type === 'client.subscribed');
      assert.deepEqual(subscribed.subscriptions, [{ filter: 'ev/clean', qos: 1 }]);
      assert.ok(disconnected?.type === 'client.disconnected');
      assert.equal(disconnected.reason, 'client_disconnect');
      assert.equal(disconnected.reasonCode, 0);
      assert.ok(ended?.type === 'session.ended' && ended.reason === 'closed');
    });

    test('socket loss: disconnected (socket_closed) and the Will, once each, in epoch order', async () => {
      const id = `ev-lost-${mode}`;
      const watcher = await pool.connect(broker.url(), { clientId: `w-${id}` });
      const got = collect(watcher);
      await subscribe(watcher, `wills/${id}`, { qos: 1 });
      const c = await pool.connect(broker.url(), { clientId: id, will: { topic: `wills/${id}`, payload: Buffer.from('gone'), qos: 1, retain: false } });
      c.stream.destroy();
      await waitFor(() => got.length === 1, 'the Will');
      await pool.connect(broker.url(), { clientId: id });
      const all = await rec.waitFor(id, 'client.connected', 2);
      const first = priorTo(all, 2);
      assert.deepEqual(
        first.map((e) => e.type),
        ['session.created', 'client.connected', 'client.disconnected', 'client.will_published', 'session.ended'],
      );
      const [, , lost, will] = first;
      assert.ok(lost?.type === 'client.disconnected' && lost.reason === 'socket_closed');
      assert.ok(will?.type === 'client.will_published' && will.topic === `wills/${id}` && will.qos === 1 && will.payloadBytes === 4);
      assertEpochOrder(all);
    });

    test('takeover: the old connection goes offline with a smaller epoch than the new one; presence ends online whatever the arrival order', async () => {
      const id = `ev-take-${mode}`;
      const a = await pool.connect(broker.url(), { clientId: id, clean: false });
      const closed = new Promise<void>((r) => a.once('close', () => r()));
      await pool.connect(broker.url(mode === 'cluster' ? 1 : 0), { clientId: id, clean: false });
      await closed;
      const all = await rec.waitFor(id, 'client.connected', 2);
      assert.deepEqual(
        all.map((e) => e.type),
        ['session.created', 'client.connected', 'client.disconnected', 'client.connected'],
      );
      const [, c1, gone, c2] = all;
      assert.ok(gone?.type === 'client.disconnected' && gone.reason === 'takeover');
      assert.ok(c2?.type === 'client.connected' && c2.sessionPresent);
      assertEpochOrder(all);
      // A consumer that gets them in any order (here: reversed) still shows the device online.
      const presence = new PresenceTracker();
      for (const e of [c2, gone, c1] as PresenceEvent[]) presence.apply(e);
      assert.equal(presence.get(id)?.online, true);
      assert.equal(presence.get(id)?.epoch, c2.epoch);
    });

    test('session expiry: one session.ended (expired) after the expiry interval, and the next connection finds no session', async () => {
      const id = `ev-expire-${mode}`;
      const c = await pool.connect(broker.url(), { clientId: id, protocolVersion: 5, clean: true, properties: { sessionExpiryInterval: 1 } });
      await c.endAsync();
      await rec.waitFor(id, 'session.ended', 1);
      const again = await pool.connect(broker.url(), { clientId: id, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 0 } });
      const all = await rec.waitFor(id, 'client.connected', 2);
      await again.endAsync();
      const first = priorTo(all, 2);
      assert.deepEqual(
        first.map((e) => e.type),
        ['session.created', 'client.connected', 'client.disconnected', 'session.ended'],
      );
      const ended = first[3];
      assert.ok(ended?.type === 'session.ended' && ended.reason === 'expired');
      const c2 = all.filter((e) => e.type === 'client.connected')[1];
      assert.ok(c2?.type === 'client.connected' && !c2.sessionPresent);
      assertEpochOrder(all);
    });

    test('exported device messages: a queue group of two consumers gets each message once, with its headers', async () => {
      const a: DeviceMessage[] = [];
      const b: DeviceMessage[] = [];
      backends.push(await startBackend({ servers: natsUrl, queue: `q-${mode}`, onMessage: (m) => void a.push(m), messages: 'messages.v1._.devices.>' }));
      backends.push(await startBackend({ servers: natsUrl, queue: `q-${mode}`, onMessage: (m) => void b.push(m), messages: 'messages.v1._.devices.>' }));
      const dev = await pool.connect(broker.url(), { clientId: `dev-${mode}`, protocolVersion: 5 });
      const n = 40;
      await publish(dev, 'devices/d1/other', 'not exported', { qos: 1 });
      for (let i = 0; i < n; i++) await publish(dev, 'devices/d1/telemetry', String(i), { qos: 1, properties: { userProperties: { k: 'v w', z: ['1', '2'] } } });
      await waitFor(() => a.length + b.length >= n, `${n} exported messages (got ${a.length} + ${b.length})`);
      // The sentinel: one more message through the same router; a duplicate would not come after it.
      await publish(dev, 'devices/d1/telemetry', 'last', { qos: 1 });
      await waitFor(() => [...a, ...b].some((m) => Buffer.from(m.payload).toString() === 'last'), 'the last exported message');
      const payloads = [...a, ...b].map((m) => Buffer.from(m.payload).toString()).filter((p) => p !== 'last');
      assert.equal(payloads.length, n, 'each message once across the group');
      assert.deepEqual(new Set(payloads), new Set(Array.from({ length: n }, (_, i) => String(i))));
      const m = [...a, ...b][0]!;
      assert.equal(m.subject, 'mqtt.messages.v1._.devices.d1.telemetry');
      assert.equal(m.topic, 'devices/d1/telemetry');
      assert.equal(m.qos, 1);
      assert.equal(m.retain, false);
      assert.equal(m.clientId, `dev-${mode}`);
      assert.deepEqual(m.userProperties, [
        ['k', 'v w'],
        ['z', '1'],
        ['z', '2'],
      ]);
      for (const x of backends.splice(0)) await x.close();
    });

    test('JetStream export: messages acknowledged while the consumer is down reach it after its restart', async () => {
      const durable = `jsback-${mode}`;
      const seen: string[] = [];
      const opts = {
        servers: natsUrl,
        jetstream: { stream: 'shardmq-export', durable },
        messages: 'messages.v1._.jsdev.>',
        onMessage: (m: DeviceMessage) => void seen.push(Buffer.from(m.payload).toString()),
      };
      const first = await startBackend(opts);
      const dev = await pool.connect(broker.url(), { clientId: `jsdev-${mode}` });
      for (const p of ['1', '2', '3']) await publish(dev, 'jsdev/a', p, { qos: 1 });
      await waitFor(() => ['1', '2', '3'].every((p) => seen.includes(p)), 'the first three messages');
      await first.close();
      // PUBACK means exported: these wait in the stream for the consumer.
      for (const p of ['4', '5', '6']) await publish(dev, 'jsdev/a', p, { qos: 1 });
      const second = await startBackend(opts);
      backends.push(second);
      await waitFor(() => ['4', '5', '6'].every((p) => seen.includes(p)), `the three messages sent while the consumer was down (seen ${seen.join(',')})`);
      assert.deepEqual([...new Set(seen)].sort(), ['1', '2', '3', '4', '5', '6']);
    });

    test('backend publish: reaches a subscribed device (QoS 1, retained), and a bad request is refused with a reason', async () => {
      const backend = await startBackend({ servers: natsUrl });
      backends.push(backend);
      const dev = await pool.connect(broker.url(), { clientId: `cmd-${mode}`, protocolVersion: 5 });
      const got = collect(dev);
      await subscribe(dev, `cmd/${mode}`, { qos: 1 });
      assert.deepEqual(await backend.publish(`cmd/${mode}`, 'reboot', { qos: 1, userProperties: [['by', 'backend']] }), { ok: true, matched: true });
      await waitFor(() => got.length === 1, 'the backend publish');
      assert.equal(got[0]!.payload.toString(), 'reboot');
      assert.equal(got[0]!.packet.qos, 1);
      assert.deepEqual({ ...got[0]!.packet.properties?.userProperties }, { by: 'backend' });
      assert.deepEqual(await backend.publish(`cfg/${mode}`, 'v2', { qos: 1, retain: true }), { ok: true, matched: false });
      await subscribe(dev, `cfg/${mode}`, { qos: 1 });
      await waitFor(() => got.length === 2, 'the retained backend publish');
      assert.equal(got[1]!.payload.toString(), 'v2');
      assert.equal(got[1]!.packet.retain, true);
      const bad = await backend.publish('cmd/+', 'x');
      assert.equal(bad.ok, false);
      assert.match(bad.error ?? '', /topic/);
    });
  });
}
