import { test } from 'node:test';
import assert from 'node:assert/strict';
import type mqtt from 'mqtt-packet';
import { GwOut } from '../../common/src/envelope/gateway-out.js';
import { SubOp } from '../../common/src/envelope/router.js';
import type { SubscriptionRequest } from '../../common/src/envelope/session-in.js';
import { effectsOf, msg, SessionCoreHarness, type Conn } from '../support/session-core-harness.js';

// SUBSCRIBE / SUBACK / UNSUBSCRIBE and retained messages: Retain Handling [MQTT-3.3.1-9..11],
// shared subscriptions get no retained messages, RETAIN on retained deliveries [MQTT-3.3.1-8].

type Ack = mqtt.Packet & { messageId?: number; granted?: number[] };

function req(filter: string, o: Partial<SubscriptionRequest> = {}): SubscriptionRequest {
  return { filter, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, rc: 0xff, ...o };
}

function acks(h: SessionCoreHarness, c: Conn): Ack[] {
  return h.packetsTo(c) as Ack[];
}

function setup(limits = {}, proto: 4 | 5 = 5): { h: SessionCoreHarness; c: Conn } {
  const h = new SessionCoreHarness(limits);
  const c = h.connect('s', { proto, cleanStart: false, sessionExpiryS: 600, mountpoint: 'mp' });
  return { h, c };
}

test('SUBSCRIBE sends the changes to the routers; SUBACK waits for their answer and grants the QoS', () => {
  const { h, c } = setup();
  const out = h.subscribe(c, [req('a/+', { qos: 2, noLocal: true, retainAsPublished: true }), req('b', { qos: 0 })], { ack: false, subscriptionId: 7, packetId: 33 });
  assert.equal(acks(h, c).length, 0, 'no SUBACK before the routers answer');
  const [subs] = effectsOf(out, 'subs');
  assert.deepEqual(
    subs!.batch.changes.map((x) => [x.op, x.key, x.mountpoint, x.filter, x.group, x.qos, x.noLocal, x.retainAsPublished, x.subId]),
    [
      [SubOp.Add, 's', 'mp', 'a/+', undefined, 2, true, true, 7],
      [SubOp.Add, 's', 'mp', 'b', undefined, 0, false, false, 7],
    ],
  );
  h.subsRouted(subs!.then!, true);
  const [ack] = acks(h, c);
  assert.equal(ack!.cmd, 'suback');
  assert.equal(ack!.messageId, 33);
  assert.deepEqual(ack!.granted, [2, 0]);
  assert.equal(h.session('s')!.subs.get('a/+')!.subId, 7);
});

test('Retain Handling 0 asks for retained messages on every SUBSCRIBE, also a repeated one', () => {
  const { h, c } = setup();
  const a = effectsOf(h.subscribe(c, [req('x/#', { retainHandling: 0 })], { ack: false }), 'subs')[0]!;
  h.subsRouted(a.then!, true);
  const b = effectsOf(h.subscribe(c, [req('x/#', { retainHandling: 0 })], { ack: false }), 'subs')[0]!;
  assert.deepEqual(a.batch.retainedFor, [{ mountpoint: 'mp', filter: 'x/#' }]);
  assert.deepEqual(b.batch.retainedFor, [{ mountpoint: 'mp', filter: 'x/#' }]);
});

test('[MQTT-3.3.1-10] Retain Handling 1 asks for retained messages only when the subscription is new', () => {
  const { h, c } = setup();
  const a = effectsOf(h.subscribe(c, [req('x/#', { retainHandling: 1 })], { ack: false }), 'subs')[0]!;
  h.subsRouted(a.then!, true);
  const b = effectsOf(h.subscribe(c, [req('x/#', { retainHandling: 1 })], { ack: false }), 'subs')[0]!;
  assert.equal(a.batch.retainedFor.length, 1);
  assert.equal(b.batch.retainedFor.length, 0);
  assert.equal(b.batch.changes.length, 1, 'the subscription is still replaced [MQTT-3.8.4-3]');
});

test('[MQTT-3.3.1-11] Retain Handling 2 never asks for retained messages', () => {
  const { h, c } = setup();
  const a = effectsOf(h.subscribe(c, [req('x/#', { retainHandling: 2 })], { ack: false }), 'subs')[0]!;
  assert.deepEqual(a.batch.retainedFor, []);
  assert.deepEqual(a.then!.kind === 'suback' && a.then!.retained, []);
});

test('shared subscriptions get no retained messages; the router sees the group and the bare filter', () => {
  const { h, c } = setup();
  const a = effectsOf(h.subscribe(c, [req('$share/g1/x/#', { retainHandling: 0 }), req('y', { retainHandling: 0 })], { ack: false }), 'subs')[0]!;
  assert.deepEqual(a.batch.retainedFor, [{ mountpoint: 'mp', filter: 'y' }]);
  assert.equal(a.batch.changes[0]!.filter, 'x/#');
  assert.equal(a.batch.changes[0]!.group, 'g1');
  h.subsRouted(a.then!, true);
  const sub = h.session('s')!.subs.get('$share/g1/x/#')!;
  assert.equal(sub.filter, 'x/#');
  assert.equal(sub.group, 'g1');
});

test('an invalid $share filter gets 0x80 and is not stored', () => {
  const { h, c } = setup();
  h.subscribe(c, [req('$share/g1'), req('$share//x'), req('ok')]);
  assert.deepEqual(acks(h, c)[0]!.granted, [0x80, 0x80, 1]);
  assert.deepEqual([...h.session('s')!.subs.keys()], ['ok']);
});

test('SUBACK passes gateway-decided failure codes through (rc != 0xff) and keeps their order (MQTT 5)', () => {
  const { h, c } = setup();
  h.subscribe(c, [req('a', { qos: 2 }), req('denied', { rc: 0x87 }), req('bad/#/x', { rc: 0x8f }), req('b', { qos: 0 })]);
  assert.deepEqual(acks(h, c)[0]!.granted, [2, 0x87, 0x8f, 0]);
  assert.deepEqual([...h.session('s')!.subs.keys()].sort(), ['a', 'b']);
});

test('[MQTT-3.9.3-2] 3.1.1 SUBACK maps every failure to 0x80', () => {
  const { h, c } = setup({ maxSubscriptionsPerClient: 1 }, 4);
  h.subscribe(c, [req('a', { qos: 1 }), req('denied', { rc: 0x87 }), req('b')]);
  assert.deepEqual(acks(h, c)[0]!.granted, [1, 0x80, 0x80]);
});

test('a SUBSCRIBE whose every filter failed at the gateway is answered at once, with no router round trip', () => {
  const { h, c } = setup();
  const out = h.subscribe(c, [req('x', { rc: 0x87 })], { ack: false });
  assert.equal(effectsOf(out, 'subs').length, 0);
  assert.deepEqual(acks(h, c)[0]!.granted, [0x87]);
});

test('subscription quota: new filters beyond maxSubscriptionsPerClient get 0x97 and are counted; replacing one is fine', () => {
  const { h, c } = setup({ maxSubscriptionsPerClient: 2 });
  h.subscribe(c, [req('a'), req('b'), req('c')], { packetId: 1 });
  assert.deepEqual(acks(h, c)[0]!.granted, [1, 1, 0x97]);
  assert.equal(h.count('subscription_quota'), 1);
  h.subscribe(c, [req('a', { qos: 2 })], { packetId: 2 });
  assert.deepEqual(acks(h, c)[1]!.granted, [2]);
  assert.equal(h.session('s')!.subs.size, 2);
  h.unsubscribe(c, ['b']);
  h.subscribe(c, [req('c')], { packetId: 3 });
  assert.deepEqual(acks(h, c).at(-1)!.granted, [1]);
});

test('a failed router acknowledgement turns granted codes into 0x80 and forgets those subscriptions', () => {
  const { h, c } = setup();
  const [subs] = effectsOf(h.subscribe(c, [req('a'), req('denied', { rc: 0x87 }), req('b', { qos: 0 })], { ack: false }), 'subs');
  h.subsRouted(subs!.then!, false, [{ index: 0, message: msg('a', 'retained', 1, { retain: true }) }]);
  assert.deepEqual(acks(h, c)[0]!.granted, [0x80, 0x87, 0x80]);
  assert.equal(h.session('s')!.subs.size, 0);
  assert.equal(h.publishesTo(c).length, 0, 'no retained delivery for a failed SUBSCRIBE');
});

test('a failed router acknowledgement of a repeated SUBSCRIBE keeps the subscription that was already working', () => {
  const { h, c } = setup();
  h.subscribe(c, [req('a', { qos: 1 })], { packetId: 1 });
  const [subs] = effectsOf(h.subscribe(c, [req('a', { qos: 2 })], { ack: false, packetId: 2 }), 'subs');
  h.subsRouted(subs!.then!, false);
  assert.equal(h.session('s')!.subs.get('a')?.qos, 1, 'the old subscription still stands');
  const out = h.unsubscribe(c, ['a'], { ack: false });
  assert.equal(effectsOf(out, 'subs').length, 1, 'UNSUBSCRIBE must reach the router');
});

test('a failed router acknowledgement after the connection dropped still forgets the subscriptions', () => {
  const { h, c } = setup();
  const [subs] = effectsOf(h.subscribe(c, [req('a')], { ack: false }), 'subs');
  h.connLost(c);
  h.subsRouted(subs!.then!, false);
  assert.equal(h.session('s')!.subs.has('a'), false);
});

test('[MQTT-3.3.1-8] retained messages follow the SUBACK with RETAIN set, at the lower QoS, with the subscription id', () => {
  const { h, c } = setup();
  h.subscribe(c, [req('r/1', { qos: 1, retainHandling: 0 }), req('$share/g/r/2', { qos: 2 }), req('r/3', { qos: 2, retainHandling: 0 })], {
    subscriptionId: 12,
    retained: [
      { index: 0, message: msg('r/1', 'one', 2, { retain: true }) },
      { index: 1, message: msg('r/3', 'three', 1, { retain: true }) },
      { index: 5, message: msg('r/x', 'bogus', 1, { retain: true }) }, // no such want: ignored
    ],
  });
  const items = h.itemsFor(c);
  assert.equal(items[0]!.kind, GwOut.Control, 'the SUBACK comes first');
  const pubs = h.publishesTo(c);
  assert.deepEqual(
    pubs.map((p) => [p.message.topic, p.qos, p.retain, p.subIds]),
    [
      ['r/1', 1, true, [12]],
      ['r/3', 1, true, [12]],
    ],
  );
});

test('retained messages keep RETAIN even without Retain As Published; QoS 0 subscriptions get them at QoS 0', () => {
  const { h, c } = setup();
  h.subscribe(c, [req('r', { qos: 0, retainAsPublished: false })], { retained: [{ index: 0, message: msg('r', 'v', 2, { retain: true }) }] });
  const [p] = h.publishesTo(c);
  assert.equal(p!.retain, true);
  assert.equal(p!.qos, 0);
  assert.deepEqual(p!.subIds, [], 'no subscription identifier was given');
});

test('an expired retained message is not delivered', () => {
  const { h, c } = setup();
  h.subscribe(c, [req('r')], { retained: [{ index: 0, message: msg('r', 'v', 1, { retain: true, props: { expiresAt: h.now - 1 } }) }] });
  assert.equal(h.publishesTo(c).length, 0);
  assert.equal(h.count('expired_dropped'), 1);
});

test('a router answer for an older connection sends no SUBACK and no retained messages', () => {
  const { h, c } = setup();
  const [subs] = effectsOf(h.subscribe(c, [req('r')], { ack: false }), 'subs');
  h.connLost(c);
  const c2 = h.connect('s', { cleanStart: false, sessionExpiryS: 600, mountpoint: 'mp' });
  assert.deepEqual(h.subsRouted(subs!.then!, true, [{ index: 0, message: msg('r', 'v', 1, { retain: true }) }]), []);
  assert.equal(h.itemsFor(c2).length, 0);
  assert.equal(h.session('s')!.subs.has('r'), true, 'the routers did take it');
});

test('UNSUBSCRIBE removes the filter from the routers, then UNSUBACK; unknown filters get 0x11 [MQTT-3.10.4-5]', () => {
  const { h, c } = setup();
  h.subscribe(c, [req('a'), req('$share/g/b')]);
  h.clearItems(c);
  const out = h.unsubscribe(c, ['a', 'nope', '$share/g/b'], { ack: false, packetId: 44 });
  const [subs] = effectsOf(out, 'subs');
  assert.deepEqual(
    subs!.batch.changes.map((x) => [x.op, x.filter, x.group]),
    [
      [SubOp.Remove, 'a', undefined],
      [SubOp.Remove, 'b', 'g'],
    ],
  );
  assert.equal(acks(h, c).length, 0, 'UNSUBACK after the routers answer');
  h.subsRouted(subs!.then!, true);
  const [ack] = acks(h, c);
  assert.equal(ack!.cmd, 'unsuback');
  assert.equal(ack!.messageId, 44);
  assert.deepEqual(ack!.granted, [0, 0x11, 0]);
  assert.equal(h.session('s')!.subs.size, 0);
});

test('UNSUBSCRIBE of only unknown filters is answered at once (3.1.1: no reason codes)', () => {
  const { h, c } = setup({}, 4);
  const out = h.unsubscribe(c, ['nope'], { ack: false, packetId: 5 });
  assert.equal(effectsOf(out, 'subs').length, 0);
  const [ack] = acks(h, c);
  assert.equal(ack!.cmd, 'unsuback');
  assert.equal(ack!.messageId, 5);
});

test('MQTT 5: a failed UNSUBSCRIBE still restores its filter when the only later change was a SUBSCRIBE that failed and was undone', () => {
  const { h, c } = setup();
  h.subscribe(c, [req('w/#', { qos: 1 })], { packetId: 22 });
  const first = h.session('s')!.subs.get('w/#');
  const [unsub] = effectsOf(h.unsubscribe(c, ['w/#'], { ack: false, packetId: 23 }), 'subs');
  const [resub] = effectsOf(h.subscribe(c, [req('w/#', { qos: 0 })], { ack: false, packetId: 24 }), 'subs');
  h.subsRouted(resub!.then!, false); // undone: the session is back to "unsubscribed"
  assert.equal(h.session('s')!.subs.has('w/#'), false);
  h.clearItems(c);
  h.subsRouted(unsub!.then!, false);
  // The failed UNSUBSCRIBE is repaired as if the undone SUBSCRIBE never happened [MQTT-3.11.3-1: 0x80].
  assert.equal(h.session('s')!.subs.get('w/#'), first, 'the subscription from before the UNSUBSCRIBE is back');
  const [ack] = acks(h, c);
  assert.deepEqual(ack!.granted ?? (ack as { reasonCodes?: number[] }).reasonCodes, [0x80]);
});
