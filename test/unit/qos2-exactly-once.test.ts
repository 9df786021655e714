import { test } from 'node:test';
import assert from 'node:assert/strict';
import type mqtt from 'mqtt-packet';
import { GwOut } from '../../common/src/envelope/gateway-out.js';
import { effectsOf, msg, SessionCoreHarness, type Conn } from '../support/session-core-harness.js';

// QoS 2 exactly-once, both directions [MQTT-4.3.3].

type Ack = mqtt.Packet & { messageId?: number; reasonCode?: number };

function acks(h: SessionCoreHarness, c: Conn): Ack[] {
  return h.packetsTo(c) as Ack[];
}

function routesOf(h: SessionCoreHarness, topic: string): number {
  return h.routes.filter((r) => r.message.topic === topic).length;
}

// ---- inbound (client -> broker) ----

test("inbound QoS 2: the message is routed once and PUBREC follows the router's acceptance", () => {
  const h = new SessionCoreHarness();
  const c = h.connect('pub', { sessionExpiryS: 60, mountpoint: 'mp' });
  const out = h.publish2(c, 10, msg('t', 'once', 2));
  const [r] = effectsOf(out, 'route');
  assert.equal(r!.mountpoint, 'mp');
  assert.equal(r!.message.payload.toString(), 'once');
  assert.deepEqual({ ...r!.then, incarnation: 0 }, { kind: 'pubrec', key: 'pub', incarnation: 0, epoch: c.epoch, packetId: 10 });
  assert.equal(acks(h, c).length, 0, 'no PUBREC before the router accepted');
  h.routed(r!.then, 0);
  const [rec] = acks(h, c);
  assert.equal(rec!.cmd, 'pubrec');
  assert.equal(rec!.messageId, 10);
});

test('[MQTT-4.3.3-9] a duplicate QoS 2 PUBLISH before PUBREL is not routed again', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('pub', { sessionExpiryS: 60 });
  const [r] = effectsOf(h.publish2(c, 1, msg('t', 'a', 2)), 'route');
  assert.deepEqual(h.publish2(c, 1, msg('t', 'a', 2)), [], 'duplicate while routing: nothing (PUBREC comes once routed)');
  h.routed(r!.then, 0);
  for (let i = 0; i < 3; i++) h.publish2(c, 1, msg('t', 'a', 2));
  assert.equal(routesOf(h, 't'), 1);
  const recs = acks(h, c);
  assert.equal(recs.length, 4, 'every copy after routing is answered with PUBREC');
  assert.ok(recs.every((p) => p.cmd === 'pubrec' && p.messageId === 1));
});

test('[MQTT-4.3.3-11] PUBREL releases the packet id with PUBCOMP; the same id then carries a new message', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('pub', { sessionExpiryS: 60 });
  const [r] = effectsOf(h.publish2(c, 1, msg('t', 'first', 2)), 'route');
  h.routed(r!.then, 0);
  h.pubrel(c, 1);
  const comp = acks(h, c).at(-1)!;
  assert.equal(comp.cmd, 'pubcomp');
  assert.equal(comp.messageId, 1);
  assert.ok(comp.reasonCode === undefined || comp.reasonCode === 0);
  assert.equal(h.session('pub')!.inboundQos2.size, 0);
  const [r2] = effectsOf(h.publish2(c, 1, msg('t', 'second', 2)), 'route');
  assert.equal(r2!.message.payload.toString(), 'second');
  assert.equal(routesOf(h, 't'), 2);
});

test('a repeated PUBREL is answered with PUBCOMP 0x92 (Packet Identifier not found) in MQTT 5', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('pub', { sessionExpiryS: 60 });
  const [r] = effectsOf(h.publish2(c, 4, msg('t', 'x', 2)), 'route');
  h.routed(r!.then, 0);
  h.pubrel(c, 4);
  h.pubrel(c, 4);
  const comp = acks(h, c).at(-1)!;
  assert.equal(comp.cmd, 'pubcomp');
  assert.equal(comp.reasonCode, 0x92);
});

test('3.1.1: PUBREL for an unknown id still gets a plain PUBCOMP', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('pub', { proto: 4, cleanStart: false });
  h.pubrel(c, 9);
  const [comp] = acks(h, c);
  assert.equal(comp!.cmd, 'pubcomp');
  assert.equal(comp!.messageId, 9);
});

test('MQTT 5: the router\'s "no matching subscribers" status is passed on in PUBREC', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('pub', { sessionExpiryS: 60 });
  const [r] = effectsOf(h.publish2(c, 2, msg('t', 'x', 2)), 'route');
  h.routed(r!.then, 0x10);
  assert.equal(acks(h, c)[0]!.reasonCode, 0x10);
});

test('MQTT 5: a router refusal gives PUBREC 0x80 and frees the id, so a resend is routed again', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('pub', { sessionExpiryS: 60 });
  const [r] = effectsOf(h.publish2(c, 2, msg('t', 'x', 2)), 'route');
  h.routed(r!.then, 0x80);
  const [rec] = acks(h, c);
  assert.equal(rec!.cmd, 'pubrec');
  assert.equal(rec!.reasonCode, 0x80);
  assert.equal(h.session('pub')!.inboundQos2.has(2), false);
  h.publish2(c, 2, msg('t', 'x', 2));
  assert.equal(routesOf(h, 't'), 2);
});

test('3.1.1: a router refusal closes the connection (no failure code exists) so the client resends', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('pub', { proto: 4, cleanStart: false });
  const [r] = effectsOf(h.publish2(c, 2, msg('t', 'x', 2)), 'route');
  h.routed(r!.then, 0x80);
  assert.equal(acks(h, c).length, 0);
  assert.equal(h.closesOf(c).length, 1);
  assert.equal(h.session('pub')!.inboundQos2.has(2), false);
});

test('inbound QoS 2 state survives a reconnect with a kept session: the resent PUBLISH is not routed again', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('pub', { cleanStart: false, sessionExpiryS: 60 });
  const [r] = effectsOf(h.publish2(c1, 5, msg('t', 'x', 2)), 'route');
  h.routed(r!.then, 0);
  h.connLost(c1); // PUBREC may have been lost with the socket
  const c2 = h.connect('pub', { cleanStart: false, sessionExpiryS: 60 });
  h.publish2(c2, 5, msg('t', 'x', 2)); // DUP resend
  assert.equal(routesOf(h, 't'), 1);
  assert.equal(acks(h, c2)[0]!.cmd, 'pubrec');
  h.pubrel(c2, 5);
  assert.equal(acks(h, c2).at(-1)!.cmd, 'pubcomp');
});

test('a routing result arriving after the connection dropped records the id without sending PUBREC to anyone', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('pub', { cleanStart: false, sessionExpiryS: 60 });
  const [r] = effectsOf(h.publish2(c1, 5, msg('t', 'x', 2)), 'route');
  h.connLost(c1);
  assert.deepEqual(h.routed(r!.then, 0), []);
  assert.equal(h.session('pub')!.inboundQos2.get(5), 'received');
  const c2 = h.connect('pub', { cleanStart: false, sessionExpiryS: 60 });
  h.publish2(c2, 5, msg('t', 'x', 2));
  assert.equal(routesOf(h, 't'), 1);
  assert.equal(acks(h, c2)[0]!.cmd, 'pubrec');
});

test('Clean Start 1 forgets unreleased inbound QoS 2 ids', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('pub', { cleanStart: false, sessionExpiryS: 60 });
  const [r] = effectsOf(h.publish2(c1, 5, msg('t', 'x', 2)), 'route');
  h.routed(r!.then, 0);
  h.connLost(c1);
  const c2 = h.connect('pub', { cleanStart: true, sessionExpiryS: 60 });
  h.publish2(c2, 5, msg('t', 'new', 2));
  assert.equal(routesOf(h, 't'), 2);
});

test('[MQTT-4.3.3] a routing result for an ended session does not mark the packet id in the next session', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('pub', { cleanStart: false, sessionExpiryS: 60 });
  const [r] = effectsOf(h.publish2(c1, 5, msg('t', 'old', 2)), 'route');
  h.connLost(c1);
  const c2 = h.connect('pub', { cleanStart: true, sessionExpiryS: 60 }); // the old session ends
  h.routed(r!.then, 0); // the old session's routing result arrives late
  assert.equal(h.session('pub')!.inboundQos2.has(5), false, 'the new session never saw id 5');
  h.publish2(c2, 5, msg('t', 'new', 2));
  assert.equal(routesOf(h, 't'), 2, 'the new message must be routed, not acknowledged as a duplicate');
});

test('[MQTT-4.3.3] a PUBLISH resent on a new connection while the first copy is still routing gets its PUBREC', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('pub', { cleanStart: false, sessionExpiryS: 60 });
  const [r] = effectsOf(h.publish2(c1, 5, msg('t', 'x', 2)), 'route');
  h.connLost(c1);
  const c2 = h.connect('pub', { cleanStart: false, sessionExpiryS: 60 });
  h.publish2(c2, 5, msg('t', 'x', 2)); // DUP resend on reconnect, first copy still routing
  h.routed(r!.then, 0);
  assert.equal(routesOf(h, 't'), 1);
  const recs = acks(h, c2).filter((p) => p.cmd === 'pubrec' && p.messageId === 5);
  assert.equal(recs.length, 1, 'the client waits for PUBREC 5 on its current connection');
});

// ---- outbound (broker -> client) ----

function q2Setup(limits = {}): { h: SessionCoreHarness; c: Conn } {
  const h = new SessionCoreHarness(limits);
  const c = h.connect('sub', { cleanStart: false, sessionExpiryS: 60 });
  h.subscribe(c, 't', { qos: 2 });
  h.clearItems(c); // forget the SUBACK
  return { h, c };
}

test('outbound QoS 2: PUBLISH, PUBREC -> PUBREL, PUBCOMP frees the id', () => {
  const { h, c } = q2Setup();
  h.deliver(msg('t', 'x', 2), ['sub']);
  const [p] = h.publishesTo(c);
  assert.equal(p!.qos, 2);
  assert.ok(p!.packetId > 0);
  h.pubrec(c, p!.packetId);
  const [rel] = acks(h, c);
  assert.equal(rel!.cmd, 'pubrel');
  assert.equal(rel!.messageId, p!.packetId);
  assert.equal(h.session('sub')!.inflight.get(p!.packetId)!.state, 'rel');
  h.pubcomp(c, p!.packetId);
  assert.equal(h.session('sub')!.inflight.size, 0);
});

test('[MQTT-4.3.3-4] after PUBREL the PUBLISH is never sent again, on this or a later connection', () => {
  const { h, c } = q2Setup();
  h.deliver(msg('t', 'x', 2), ['sub']);
  const [p] = h.publishesTo(c);
  h.pubrec(c, p!.packetId);
  h.pubrec(c, p!.packetId); // duplicate PUBREC
  assert.equal(h.publishesTo(c).length, 1);
  assert.deepEqual(
    acks(h, c).map((a) => a.cmd),
    ['pubrel', 'pubrel'],
  );
  h.connLost(c);
  const c2 = h.connect('sub', { cleanStart: false, sessionExpiryS: 60 });
  assert.equal(h.publishesTo(c2).length, 0);
  assert.deepEqual(
    acks(h, c2).map((a) => [a.cmd, a.messageId]),
    [['pubrel', p!.packetId]],
  );
});

test('the inflight slot of a QoS 2 delivery is freed by PUBCOMP, not by PUBREC', () => {
  const { h, c } = q2Setup({ maxInflight: 1 });
  h.deliver(msg('t', 'a', 2), ['sub']);
  h.deliver(msg('t', 'b', 2), ['sub']);
  const [p] = h.publishesTo(c);
  h.pubrec(c, p!.packetId);
  assert.equal(h.publishesTo(c).length, 1, 'still waiting for PUBCOMP');
  h.pubcomp(c, p!.packetId);
  assert.deepEqual(
    h.publishesTo(c).map((x) => x.message.payload.toString()),
    ['a', 'b'],
  );
});

test('PUBACK for a QoS 2 id and PUBCOMP before PUBREC are ignored', () => {
  const { h, c } = q2Setup();
  h.deliver(msg('t', 'x', 2), ['sub']);
  const [p] = h.publishesTo(c);
  assert.deepEqual(h.puback(c, p!.packetId), []);
  assert.deepEqual(h.pubcomp(c, p!.packetId), []);
  assert.equal(h.session('sub')!.inflight.get(p!.packetId)!.state, 'pub');
});

test('PUBREC with a failure reason code ends the QoS 2 flow: no PUBREL, id freed, queue drains', () => {
  const { h, c } = q2Setup({ maxInflight: 1 });
  h.deliver(msg('t', 'a', 2), ['sub']);
  h.deliver(msg('t', 'b', 2), ['sub']);
  const [p] = h.publishesTo(c);
  h.pubrec(c, p!.packetId, 0x80);
  assert.equal(acks(h, c).length, 0);
  assert.equal(h.session('sub')!.inflight.has(p!.packetId), false);
  assert.equal(h.publishesTo(c).at(-1)!.message.payload.toString(), 'b');
});

test('PUBREC for an unknown packet id is answered with PUBREL 0x92', () => {
  const { h, c } = q2Setup();
  h.pubrec(c, 999);
  const [rel] = acks(h, c);
  assert.equal(rel!.cmd, 'pubrel');
  assert.equal(rel!.messageId, 999);
  assert.equal(rel!.reasonCode, 0x92);
});

test('outbound QoS 2 items address the current connection and epoch', () => {
  const { h, c } = q2Setup();
  h.deliver(msg('t', 'x', 2), ['sub']);
  h.pubrec(c, h.publishesTo(c)[0]!.packetId);
  for (const it of h.itemsFor(c)) {
    assert.equal(it.epoch, c.epoch);
    assert.ok(it.kind === GwOut.Publish || it.kind === GwOut.Control);
  }
});
