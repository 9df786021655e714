import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubOp } from '../../common/src/envelope/router.js';
import { NEVER_EXPIRES } from '../../session-actor/src/core/session.js';
import { effectsOf, msg, SessionCoreHarness, type Conn } from '../support/session-core-harness.js';

// Persistent sessions: Clean Start / Session Present [MQTT-3.1.2-4..6, MQTT-3.2.2-2/3],
// resending unacknowledged PUBLISH and PUBREL on reconnect [MQTT-4.4.0-1], session expiry.

function ackAll(h: SessionCoreHarness, c: Conn): number {
  let n = 0;
  for (;;) {
    const s = h.session(c.key)!;
    const ids = [...s.inflight.keys()];
    if (ids.length === 0) return n;
    for (const id of ids) {
      h.puback(c, id);
      n++;
    }
  }
}

test('[MQTT-3.2.2-3] first CONNECT with Clean Start 0: Session Present 0; reconnect: Session Present 1', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  assert.equal(c1.sessionPresent, false, 'no session existed');
  h.connLost(c1);
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  assert.equal(c2.sessionPresent, true);
});

test('[MQTT-3.2.2-2] Clean Start 1: Session Present 0 and the old session is discarded', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  h.subscribe(c1, ['a', 'b']);
  h.connLost(c1);
  h.deliver(msg('a', 'queued', 1), ['dev1']);
  assert.equal(h.session('dev1')!.queue.length, 1);
  const c2 = h.connect('dev1', { cleanStart: true, sessionExpiryS: 600 });
  assert.equal(c2.sessionPresent, false);
  const s = h.session('dev1')!;
  assert.equal(s.subs.size, 0);
  assert.equal(s.queue.length, 0);
  assert.equal(s.queuedBytes, 0);
  assert.equal(h.publishesTo(c2).length, 0, 'the queued message is not delivered');
  const changes = effectsOf(c2.out, 'subs').flatMap((ef) => ef.batch.changes);
  assert.deepEqual(
    changes.map((c) => [c.op, c.key]),
    [[SubOp.RemoveKey, 'dev1']],
  );
  assert.equal(h.timerAt('dev1', 'expiry'), undefined, 'the old expiry timer is cancelled');
});

test('Clean Start 0 keeps subscriptions and queues QoS 1 messages while offline, then delivers them', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  h.subscribe(c1, 'sensors/#', { qos: 1 });
  h.connLost(c1);
  h.deliver(msg('sensors/t', 'v1', 1), ['dev1']);
  h.deliver(msg('sensors/h', 'v2', 1), ['dev1']);
  assert.equal(h.session('dev1')!.queue.length, 2);
  assert.equal(h.session('dev1')!.subs.has('sensors/#'), true);
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  assert.equal(c2.sessionPresent, true);
  const got = h.publishesTo(c2);
  assert.deepEqual(
    got.map((p) => p.message.payload.toString()),
    ['v1', 'v2'],
  );
  assert.ok(got.every((p) => p.qos === 1 && !p.dup && p.packetId > 0));
  assert.equal(h.session('dev1')!.queue.length, 0);
});

test('100 QoS 1 messages queued offline arrive in order after reconnect, within the window', () => {
  const h = new SessionCoreHarness({ maxInflight: 10 });
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  h.subscribe(c1, 't');
  h.connLost(c1);
  for (let i = 0; i < 100; i++) h.deliver(msg('t', `m${i}`, 1), ['dev1']);
  assert.equal(h.session('dev1')!.queue.length, 100);
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  assert.equal(h.publishesTo(c2).length, 10, 'only the window is sent at once');
  ackAll(h, c2);
  const got = h.publishesTo(c2).map((p) => p.message.payload.toString());
  assert.deepEqual(
    got,
    Array.from({ length: 100 }, (_, i) => `m${i}`),
  );
  assert.ok(
    h.publishesTo(c2).every((p) => !p.dup),
    'queued messages are new, not resends',
  );
  assert.equal(h.session('dev1')!.queuedBytes, 0);
});

test('[MQTT-4.4.0-1] unacknowledged PUBLISH packets are resent with DUP and their original packet ids, in order', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  h.subscribe(c1, 't', { qos: 2 });
  for (let i = 0; i < 5; i++) h.deliver(msg('t', `m${i}`, i % 2 === 0 ? 1 : 2), ['dev1']);
  const sent = h.publishesTo(c1);
  assert.equal(sent.length, 5);
  h.puback(c1, sent[2]!.packetId); // m2 acknowledged: not resent
  h.connLost(c1);
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  const again = h.publishesTo(c2);
  assert.deepEqual(
    again.map((p) => [p.packetId, p.message.payload.toString(), p.qos, p.dup]),
    [0, 1, 3, 4].map((i) => [sent[i]!.packetId, `m${i}`, sent[i]!.qos, true]),
  );
});

test('[MQTT-4.4.0-1] a QoS 2 delivery in the PUBREL state is resent as PUBREL (not PUBLISH) with its packet id', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  h.subscribe(c1, 't', { qos: 2 });
  h.deliver(msg('t', 'q2', 2), ['dev1']);
  const [p] = h.publishesTo(c1);
  h.pubrec(c1, p!.packetId);
  h.connLost(c1);
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  assert.equal(h.publishesTo(c2).length, 0, 'the PUBLISH is never resent after PUBREL [MQTT-4.3.3-4]');
  const pkts = h.packetsTo(c2);
  assert.equal(pkts.length, 1);
  assert.equal(pkts[0]!.cmd, 'pubrel');
  assert.equal((pkts[0] as { messageId?: number }).messageId, p!.packetId);
  h.pubcomp(c2, p!.packetId);
  assert.equal(h.session('dev1')!.inflight.size, 0);
});

test('3.1.1 persistent session: PUBREL is resent in 3.1.1 encoding', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { proto: 4, cleanStart: false });
  h.subscribe(c1, 't', { qos: 2 });
  h.deliver(msg('t', 'q2', 2), ['dev1']);
  const [p] = h.publishesTo(c1);
  h.pubrec(c1, p!.packetId);
  h.connLost(c1);
  const c2 = h.connect('dev1', { proto: 4, cleanStart: false });
  const [rel] = h.packetsTo(c2);
  assert.equal(rel!.cmd, 'pubrel');
  assert.equal((rel as { messageId?: number }).messageId, p!.packetId);
});

test('resent inflight messages come before queued ones', () => {
  const h = new SessionCoreHarness({ maxInflight: 2 });
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  h.subscribe(c1, 't');
  for (let i = 0; i < 4; i++) h.deliver(msg('t', `m${i}`, 1), ['dev1']);
  h.connLost(c1);
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  assert.deepEqual(
    h.publishesTo(c2).map((p) => [p.message.payload.toString(), p.dup]),
    [
      ['m0', true],
      ['m1', true],
    ],
  );
  ackAll(h, c2);
  assert.deepEqual(
    h.publishesTo(c2).map((p) => p.message.payload.toString()),
    ['m0', 'm1', 'm2', 'm3'],
  );
});

test("[MQTT-3.3.4-9] resending after reconnect respects the new connection's Receive Maximum", () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600, receiveMaximum: 10 });
  h.subscribe(c1, 't');
  for (let i = 0; i < 5; i++) h.deliver(msg('t', `m${i}`, 1), ['dev1']);
  h.connLost(c1);
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600, receiveMaximum: 2 });
  assert.ok(h.publishesTo(c2).length <= 2, `sent ${h.publishesTo(c2).length} unacknowledged PUBLISH packets to a client allowing 2`);
});

test('[MQTT-3.1.2-25] a message queued offline is not sent to a reconnecting client whose Maximum Packet Size it exceeds', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600, maxPacketBytes: 0 });
  h.subscribe(c1, 't');
  h.connLost(c1);
  h.deliver(msg('t', Buffer.alloc(1000), 1), ['dev1']);
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600, maxPacketBytes: 200 });
  assert.equal(h.publishesTo(c2).length, 0);
  assert.equal(h.count('too_large_dropped'), 1);
});

test('session expiry removes the session, emits RemoveKey and counts it', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 120, mountpoint: 'mp' });
  h.subscribe(c1, ['a', 'b/+']);
  h.connLost(c1);
  h.deliver(msg('a', 'x', 1), ['dev1']);
  assert.equal(h.timerAt('dev1', 'expiry'), h.now + 120_000);
  assert.equal(h.advance(119_999).length, 0);
  assert.ok(h.session('dev1'));
  const fired = h.advance(1);
  assert.equal(h.session('dev1'), undefined);
  assert.equal(h.count('session_expired'), 1);
  const changes = effectsOf(fired, 'subs').flatMap((ef) => ef.batch.changes);
  assert.equal(changes.length, 1);
  assert.equal(changes[0]!.op, SubOp.RemoveKey);
  assert.equal(changes[0]!.key, 'dev1');
  assert.equal(changes[0]!.mountpoint, 'mp');
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 120, mountpoint: 'mp' });
  assert.equal(c2.sessionPresent, false);
  assert.equal(h.publishesTo(c2).length, 0);
});

test('an expired session without subscriptions sends no subscription change', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 1 });
  h.connLost(c1);
  const fired = h.advance(1_000);
  assert.equal(h.session('dev1'), undefined);
  assert.equal(effectsOf(fired, 'subs').length, 0);
});

test('reconnecting before expiry cancels the expiry timer; a stale or early expiry fire ends nothing', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 60 });
  h.connLost(c1);
  h.advance(30_000);
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 60 });
  assert.equal(h.timerAt('dev1', 'expiry'), undefined);
  h.advance(60_000);
  assert.deepEqual(h.fireTimer('dev1', 'expiry'), [], 'online sessions never expire');
  assert.ok(h.session('dev1'));
  h.connLost(c2);
  const due = h.timerAt('dev1', 'expiry');
  h.advance(59_999);
  assert.deepEqual(
    h.fireTimer('dev1', 'expiry').map((e) => (e.t === 'timer' ? [e.t, e.at] : [e.t])),
    [['timer', due]],
    'an early fire only re-arms the deadline',
  );
  assert.ok(h.session('dev1'));
  h.advance(1);
  assert.equal(h.session('dev1'), undefined);
});

test('session expiry 0: the session ends when the connection closes', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 0 });
  h.subscribe(c1, 'a');
  const out = h.disconnect(c1);
  assert.equal(h.session('dev1'), undefined);
  assert.equal(effectsOf(out, 'subs')[0]!.batch.changes[0]!.op, SubOp.RemoveKey);
});

test('session expiry 0xFFFFFFFF never expires (no timer)', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: NEVER_EXPIRES });
  h.connLost(c1);
  assert.equal(h.timerAt('dev1', 'expiry'), undefined);
  h.advance(400 * 24 * 3600_000);
  assert.ok(h.session('dev1'));
});

test('the session expiry asked for is capped by maxExpiryS', () => {
  const h = new SessionCoreHarness({ maxExpiryS: 10 });
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 3600 });
  h.connLost(c1);
  assert.equal(h.timerAt('dev1', 'expiry'), h.now + 10_000);
});

test('DISCONNECT can change the session expiry (MQTT 5)', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 10 });
  h.disconnect(c1, 0, 300);
  assert.equal(h.timerAt('dev1', 'expiry'), h.now + 300_000);
});

test('3.1.1 clean session 0 outlives the connection for v3PersistentExpiryS; clean session 1 does not', () => {
  const h = new SessionCoreHarness({ v3PersistentExpiryS: 50 });
  const c1 = h.connect('p', { proto: 4, cleanStart: false });
  const c2 = h.connect('q', { proto: 4, cleanStart: true });
  h.connLost(c1);
  h.connLost(c2);
  assert.equal(h.session('q'), undefined);
  assert.equal(h.timerAt('p', 'expiry'), h.now + 50_000);
  const c3 = h.connect('p', { proto: 4, cleanStart: false });
  assert.equal(c3.sessionPresent, true);
});

test('subscriptions of a kept session keep routing to the new connection', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  h.subscribe(c1, 't');
  h.connLost(c1);
  const n = h.subChanges.length;
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600 });
  const fresh = h.subChanges.slice(n).map((r) => r.batch);
  assert.deepEqual(
    fresh.flatMap((b) => b.changes),
    [],
    'no resubscription needed: the router keeps the index',
  );
  // Only where the session is connected now, for the routers' QoS 0 direct path.
  assert.deepEqual(
    fresh.flatMap((b) => b.located ?? []).map((l) => [l.key, l.epoch]),
    [['dev1', h.session('dev1')!.epoch]],
  );
  h.deliver(msg('t', 'live', 1), ['dev1']);
  assert.equal(h.publishesTo(c2).at(-1)!.message.payload.toString(), 'live');
});
