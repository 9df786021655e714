import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessIn } from '../../common/src/envelope/session-in.js';
import { GwOut } from '../../common/src/envelope/gateway-out.js';
import type { Effect } from '../../session-actor/src/core/effects.js';
import { effectsOf, msg, SessionCoreHarness, type Conn } from '../support/session-core-harness.js';

// Outbound delivery: inflight window (Receive Maximum, [MQTT-3.3.4-9]), offline queue limits,
// QoS 0 while offline, Maximum Packet Size [MQTT-3.1.2-25], message expiry, packet ids.

function online(limits = {}, o: { receiveMaximum?: number; maxPacketBytes?: number; proto?: 4 | 5 } = {}): { h: SessionCoreHarness; c: Conn } {
  const h = new SessionCoreHarness(limits);
  const c = h.connect('s', { cleanStart: false, sessionExpiryS: 600, ...o });
  return { h, c };
}

function offline(limits = {}): { h: SessionCoreHarness; c: Conn } {
  const { h, c } = online(limits);
  h.connLost(c);
  return { h, c };
}

function payloads(h: SessionCoreHarness, c: Conn): string[] {
  return h.publishesTo(c).map((p) => p.message.payload.toString());
}

function queued(h: SessionCoreHarness): string[] {
  const q = h.session('s')!.queue;
  const res: string[] = [];
  for (let i = 0, n = q.length; i < n; i++) {
    const d = q.shift()!;
    res.push(d.message.payload.toString());
    q.push(d);
  }
  return res;
}

for (const [maxInflight, receiveMaximum, expected] of [
  [5, 3, 3],
  [2, 10, 2],
  [4, 4, 4],
] as const) {
  test(`at most min(maxInflight ${maxInflight}, Receive Maximum ${receiveMaximum}) = ${expected} unacknowledged deliveries [MQTT-3.3.4-9]`, () => {
    const { h, c } = online({ maxInflight }, { receiveMaximum });
    for (let i = 0; i < 10; i++) h.deliver(msg('t', `m${i}`, 1), ['s']);
    assert.equal(h.publishesTo(c).length, expected);
    assert.equal(h.session('s')!.inflight.size, expected);
    assert.equal(h.session('s')!.queue.length, 10 - expected);
  });
}

test('acks drain the queue in order; the window is never exceeded (out-of-order acks, mixed QoS)', () => {
  const { h, c } = online({ maxInflight: 3 });
  for (let i = 0; i < 30; i++) h.deliver(msg('t', `m${i}`, (i % 3) as 0 | 1 | 2), ['s']);
  const s = h.session('s')!;
  let steps = 0;
  while (s.inflight.size > 0) {
    assert.ok(s.inflight.size <= 3);
    // acknowledge the newest first to stress ordering
    const f = [...s.inflight.values()].at(-1)!;
    if (f.qos === 1) h.puback(c, f.packetId);
    else if (f.state === 'pub') h.pubrec(c, f.packetId);
    else h.pubcomp(c, f.packetId);
    assert.ok(++steps < 200);
  }
  assert.deepEqual(
    payloads(h, c),
    Array.from({ length: 30 }, (_, i) => `m${i}`),
  );
  assert.equal(s.queue.length, 0);
  assert.equal(s.queuedBytes, 0);
});

test('QoS 0 is not held by a full window when nothing is queued, but never overtakes queued messages', () => {
  const { h, c } = online({ maxInflight: 1 });
  h.deliver(msg('t', 'a', 1), ['s']);
  h.deliver(msg('t', 'q0-early', 0), ['s']);
  assert.deepEqual(payloads(h, c), ['a', 'q0-early']);
  h.deliver(msg('t', 'b', 1), ['s']); // queued: window full
  h.deliver(msg('t', 'q0-late', 0), ['s']); // must wait behind b
  assert.deepEqual(payloads(h, c), ['a', 'q0-early']);
  h.puback(c, h.publishesTo(c)[0]!.packetId);
  assert.deepEqual(payloads(h, c), ['a', 'q0-early', 'b', 'q0-late']);
  const q0 = h.publishesTo(c).filter((p) => p.qos === 0);
  assert.ok(
    q0.every((p) => p.packetId === 0),
    'QoS 0 has no packet id',
  );
});

test('queue limit by count, drop-new: the newest messages are dropped and counted', () => {
  const { h } = offline({ maxQueuedMessages: 3, queueOverflow: 'drop-new' });
  const counts: string[] = [];
  for (let i = 0; i < 5; i++) for (const ef of effectsOf(h.deliver(msg('t', `m${i}`, 1), ['s']), 'count')) counts.push(ef.what);
  assert.deepEqual(queued(h), ['m0', 'm1', 'm2']);
  assert.deepEqual(counts, ['queue_full_dropped', 'queue_full_dropped']);
});

test('queue limit by count, drop-oldest: the oldest messages are dropped and counted', () => {
  const { h } = offline({ maxQueuedMessages: 3, queueOverflow: 'drop-oldest' });
  for (let i = 0; i < 5; i++) h.deliver(msg('t', `m${i}`, 1), ['s']);
  assert.deepEqual(queued(h), ['m2', 'm3', 'm4']);
  assert.equal(h.count('queue_oldest_dropped'), 2);
  assert.equal(h.count('queue_full_dropped'), 0);
});

test('queue limit by bytes, drop-new', () => {
  const { h } = offline({ maxQueuedBytes: 100, queueOverflow: 'drop-new' });
  for (let i = 0; i < 4; i++) h.deliver(msg('t', Buffer.alloc(30, 48 + i), 1), ['s']);
  assert.deepEqual(queued(h), ['0'.repeat(30), '1'.repeat(30), '2'.repeat(30)]);
  assert.equal(h.session('s')!.queuedBytes, 93, 'payload and topic bytes count');
  assert.equal(h.count('queue_full_dropped'), 1);
});

test('queue limit by bytes, drop-oldest: old messages make room for a new one', () => {
  const { h } = offline({ maxQueuedBytes: 100, queueOverflow: 'drop-oldest' });
  for (let i = 0; i < 3; i++) h.deliver(msg('t', Buffer.alloc(30, 48 + i), 1), ['s']);
  h.deliver(msg('t', Buffer.alloc(50, 57), 1), ['s']);
  assert.deepEqual(queued(h), ['2'.repeat(30), '9'.repeat(50)]);
  assert.equal(h.session('s')!.queuedBytes, 82, 'payload and topic bytes count');
  assert.equal(h.count('queue_oldest_dropped'), 2);
});

test('a message larger than the whole byte limit is dropped (drop-new)', () => {
  const { h } = offline({ maxQueuedBytes: 100, queueOverflow: 'drop-new' });
  h.deliver(msg('t', Buffer.alloc(101), 1), ['s']);
  assert.equal(h.session('s')!.queue.length, 0);
  assert.equal(h.count('queue_full_dropped'), 1);
});

test('drop-oldest: a message that can never fit the byte limit does not evict the queue', () => {
  const { h } = offline({ maxQueuedBytes: 100, queueOverflow: 'drop-oldest' });
  for (let i = 0; i < 3; i++) h.deliver(msg('t', Buffer.alloc(30, 48 + i), 1), ['s']);
  h.deliver(msg('t', Buffer.alloc(200), 1), ['s']);
  assert.equal(h.count('queue_full_dropped'), 1);
  assert.equal(h.count('queue_oldest_dropped'), 0, 'nothing old had to go');
  assert.equal(h.session('s')!.queue.length, 3);
});

test('maxQueuedMessages 0: nothing is queued', () => {
  const { h } = offline({ maxQueuedMessages: 0, queueOverflow: 'drop-oldest' });
  h.deliver(msg('t', 'x', 1), ['s']);
  assert.equal(h.session('s')!.queue.length, 0);
  assert.equal(h.count('queue_full_dropped'), 1);
});

test('the online queue (window full) is bounded by the same limits', () => {
  const { h, c } = online({ maxInflight: 1, maxQueuedMessages: 2 });
  for (let i = 0; i < 5; i++) h.deliver(msg('t', `m${i}`, 1), ['s']);
  assert.deepEqual(payloads(h, c), ['m0']);
  assert.deepEqual(queued(h), ['m1', 'm2']);
  assert.equal(h.count('queue_full_dropped'), 2);
});

test('QoS 0 for an offline session is dropped and counted', () => {
  const { h, c } = offline();
  h.deliver(msg('t', 'q0', 0), ['s']);
  h.deliver(msg('t', 'q1', 1), [{ key: 's', qos: 0, retainAsPublished: false, subIds: [] }]); // downgraded to 0
  assert.equal(h.session('s')!.queue.length, 0);
  assert.equal(h.count('qos0_offline_dropped'), 2);
  const c2 = h.connect('s', { cleanStart: false, sessionExpiryS: 600 });
  assert.equal(h.publishesTo(c2).length, 0);
  void c;
});

test('queueQos0: QoS 0 for an offline session is queued and delivered on reconnect', () => {
  const { h } = offline({ queueQos0: true });
  h.deliver(msg('t', 'q0', 0), ['s']);
  h.deliver(msg('t', 'q1', 1), ['s']);
  assert.equal(h.count('qos0_offline_dropped'), 0);
  const c2 = h.connect('s', { cleanStart: false, sessionExpiryS: 600 });
  assert.deepEqual(
    h.publishesTo(c2).map((p) => [p.message.payload.toString(), p.qos, p.packetId === 0]),
    [
      ['q0', 0, true],
      ['q1', 1, false],
    ],
  );
});

test("[MQTT-3.1.2-25] a message whose payload alone exceeds the client's Maximum Packet Size is dropped by the owner, not sent, and counted", () => {
  const { h, c } = online({}, { maxPacketBytes: 128 });
  const out = h.deliver(msg('t', Buffer.alloc(500), 1), ['s']);
  assert.equal(h.publishesTo(c).length, 0);
  assert.equal(h.session('s')!.inflight.size, 0, 'no packet id is held for it');
  assert.ok(effectsOf(out, 'count').some((ef) => ef.what === 'too_large_dropped'));
  h.deliver(msg('t', 'small', 1), ['s']);
  assert.deepEqual(payloads(h, c), ['small']);
});

test('[MQTT-3.1.2-25] a PUBLISH the gateway dropped as too large completes as if acknowledged: the window moves on, it is never resent, counted', () => {
  const { h, c } = online({}, { maxPacketBytes: 100, receiveMaximum: 1 });
  h.deliver(msg('t', 'p', 1, { props: { userProperties: { k: 'v'.repeat(120) } } }), ['s']);
  h.deliver(msg('t', 'next', 1), ['s']);
  const [first] = h.publishesTo(c);
  assert.deepEqual(payloads(h, c), ['p'], 'the owner cannot know the exact size: the gateway decides');
  h.publishDropped(c, first!.packetId);
  assert.equal(h.count('too_large_dropped'), 1);
  assert.deepEqual(payloads(h, c), ['p', 'next'], 'its window slot is free again');
  h.publishDropped(c, first!.packetId);
  assert.equal(h.count('too_large_dropped'), 1, 'a second notice changes nothing');
  h.connLost(c);
  const c2 = h.connect('s', { cleanStart: false, sessionExpiryS: 600, maxPacketBytes: 100, receiveMaximum: 1 });
  assert.deepEqual(payloads(h, c2), ['next'], 'only the unacknowledged one is resent');
});

test('[MQTT-3.1.2-25] a drop notice for another connection, or for a QoS 2 delivery the client already received, changes nothing', () => {
  const { h, c } = online({}, { maxPacketBytes: 1000 });
  h.deliver(msg('t', 'a', 2), ['s']);
  const [p] = h.publishesTo(c);
  h.in({ kind: SessIn.PublishDropped, key: 's', epoch: c.epoch + 1, packetId: p!.packetId });
  assert.equal(h.session('s')!.inflight.size, 1, 'stale epoch');
  h.pubrec(c, p!.packetId);
  h.publishDropped(c, p!.packetId);
  assert.equal(h.session('s')!.inflight.get(p!.packetId)?.state, 'rel', 'PUBREC came first: the PUBREL flow goes on');
  assert.equal(h.count('too_large_dropped'), 0);
});

test('[MQTT-3.1.2-25] the size check applies at send time, against the connection that will get it', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('s', { cleanStart: false, sessionExpiryS: 600, maxPacketBytes: 64 });
  h.connLost(c);
  h.deliver(msg('t', Buffer.alloc(200), 1), ['s']);
  assert.equal(h.session('s')!.queue.length, 1, 'queued while offline: the next connection may allow it');
  const c2 = h.connect('s', { cleanStart: false, sessionExpiryS: 600, maxPacketBytes: 64 });
  assert.equal(h.publishesTo(c2).length, 0);
  assert.equal(h.count('too_large_dropped'), 1);
});

test('an expired message (props.expiresAt passed) is dropped on delivery and counted', () => {
  const { h, c } = online();
  h.deliver(msg('t', 'old', 1, { props: { expiresAt: h.now } }), ['s']);
  h.deliver(msg('t', 'fresh', 1, { props: { expiresAt: h.now + 1 } }), ['s']);
  assert.deepEqual(payloads(h, c), ['fresh']);
  assert.equal(h.count('expired_dropped'), 1);
});

test('a queued message that expires while the session is offline is dropped when the queue drains', () => {
  const { h } = offline();
  h.deliver(msg('t', 'short', 1, { props: { expiresAt: h.now + 5_000 } }), ['s']);
  h.deliver(msg('t', 'long', 1, { props: { expiresAt: h.now + 60_000 } }), ['s']);
  h.deliver(msg('t', 'forever', 1), ['s']);
  h.advance(10_000);
  const c2 = h.connect('s', { cleanStart: false, sessionExpiryS: 600 });
  assert.deepEqual(payloads(h, c2), ['long', 'forever']);
  assert.equal(h.count('expired_dropped'), 1);
  assert.equal(h.session('s')!.queuedBytes, 0);
});

test('packet ids are non-zero, unique among inflight, and wrap after 65535 skipping ids in use [MQTT-2.2.1-3]', () => {
  const { h, c } = online({ maxInflight: 100 });
  const s = h.session('s')!;
  h.deliver(msg('t', 'a', 1), ['s']); // id 1 stays inflight
  assert.equal(h.publishesTo(c)[0]!.packetId, 1);
  s.nextPacketId = 0xfffe;
  for (const p of ['b', 'c', 'd']) h.deliver(msg('t', p, 1), ['s']);
  assert.deepEqual(
    h.publishesTo(c).map((p) => p.packetId),
    [1, 0xfffe, 0xffff, 2],
  );
  assert.equal(new Set(s.inflight.keys()).size, 4);
});

test('the delivered QoS is the lower of message and subscription QoS [MQTT-3.8.4-8]', () => {
  const { h, c } = online();
  h.deliver(msg('t', 'x', 2), [{ key: 's', qos: 1, retainAsPublished: false, subIds: [] }]);
  h.deliver(msg('t', 'y', 1), [{ key: 's', qos: 2, retainAsPublished: false, subIds: [] }]);
  h.deliver(msg('t', 'z', 2), [{ key: 's', qos: 0, retainAsPublished: false, subIds: [] }]);
  assert.deepEqual(
    h.publishesTo(c).map((p) => p.qos),
    [1, 1, 0],
  );
  assert.equal(h.session('s')!.inflight.size, 2);
});

test('live deliveries keep RETAIN only with Retain As Published [MQTT-3.3.1-12/13]; subscription ids pass through', () => {
  const { h, c } = online();
  h.deliver(msg('t', 'a', 1, { retain: true }), [{ key: 's', qos: 1, retainAsPublished: false, subIds: [3] }]);
  h.deliver(msg('t', 'b', 1, { retain: true }), [{ key: 's', qos: 1, retainAsPublished: true, subIds: [4, 5] }]);
  assert.deepEqual(
    h.publishesTo(c).map((p) => [p.retain, p.subIds]),
    [
      [false, [3]],
      [true, [4, 5]],
    ],
  );
});

test('a delivery for a session that no longer exists is ignored; one envelope may carry several sessions', () => {
  const h = new SessionCoreHarness();
  const a = h.connect('a', { sessionExpiryS: 60 });
  const b = h.connect('b', { sessionExpiryS: 60 });
  h.deliver(msg('t', 'x', 1), ['a', 'gone', 'b']);
  assert.equal(h.publishesTo(a).length, 1);
  assert.equal(h.publishesTo(b).length, 1);
});

test('a PUBACK that frees the window sends the next queued QoS 1 message early; a QoS 2 one waits for the write', () => {
  const h = new SessionCoreHarness({ maxInflight: 1 });
  const c = h.connect('early', { cleanStart: false, sessionExpiryS: 3600 });
  h.subscribe(c, 't/#');
  h.deliver(msg('t/a', 'one'), ['early'], 1);
  h.deliver(msg('t/a', 'two'), ['early'], 1);
  h.deliver(msg('t/a', 'three', 2), ['early'], 2);
  const first = [...h.session('early')!.inflight.keys()][0]!;
  const sends = (out: Effect[]) => out.flatMap((ef) => (ef.t === 'gw' && ef.item.kind === GwOut.Publish ? [{ payload: ef.item.message.payload.toString(), early: ef.early === true }] : []));
  assert.deepEqual(sends(h.puback(c, first)), [{ payload: 'two', early: true }]);
  const second = [...h.session('early')!.inflight.keys()][0]!;
  assert.deepEqual(sends(h.puback(c, second)), [{ payload: 'three', early: false }]);
});
