import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GwOut } from '../../common/src/envelope/gateway-out.js';
import { SubOp } from '../../common/src/envelope/router.js';
import { SessIn } from '../../common/src/envelope/session-in.js';
import { createShardState, defaultLimits, takeEpoch } from '../../session-actor/src/core/shard-state.js';
import { effectsOf, msg, SessionCoreHarness } from '../support/session-core-harness.js';

// Session takeover [MQTT-3.1.4-2] (5.0: [MQTT-3.1.4-3], DISCONNECT 0x8E) and epoch fencing (docs/architecture.md, "Fencing").

test('[MQTT-3.1.4-2] MQTT 5 takeover closes the old connection with DISCONNECT 0x8E, addressed by its gateway, connId and epoch', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { gateway: 'gwA', connId: 7, sessionExpiryS: 60 });
  const c2 = h.connect('dev1', { gateway: 'gwB', connId: 9, sessionExpiryS: 60 });
  const closes = effectsOf(c2.out, 'gw').filter((ef) => ef.item.kind === GwOut.Close);
  assert.equal(closes.length, 1);
  assert.equal(closes[0]!.gateway, 'gwA');
  assert.deepEqual(closes[0]!.item, { kind: GwOut.Close, connId: 7, epoch: c1.epoch, rc: 0x8e });
  assert.equal(h.count('takeover'), 1);
  assert.deepEqual(h.itemsFor(c2), [], 'nothing is sent to the new connection');
  assert.notEqual(c2.epoch, c1.epoch);
  const s = h.session('dev1')!;
  assert.deepEqual(s.conn, { gateway: 'gwB', connId: 9 });
  assert.equal(s.epoch, c2.epoch);
});

test('takeover on the same gateway closes the old connId only', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { connId: 1 });
  const c2 = h.connect('dev1', { connId: 2 });
  assert.equal(h.closesOf(c1).length, 1);
  assert.equal(h.closesOf(c2).length, 0);
});

test('takeover of a 3.1.1 connection by an MQTT 5 client closes without a reason code (old protocol decides)', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { proto: 4, cleanStart: false });
  h.connect('dev1', { proto: 5, cleanStart: false, sessionExpiryS: 60 });
  assert.equal(h.closesOf(c1)[0]!.rc, 0xff);
});

test('a CONNECT for an offline session is not a takeover: no Close, no takeover count', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 60 });
  h.connLost(c1);
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 60 });
  assert.equal(effectsOf(c2.out, 'gw').length, 0);
  assert.equal(h.count('takeover'), 0);
});

test('epochs are unique per connection over many takeovers', () => {
  const h = new SessionCoreHarness();
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(h.connect('dev1', { cleanStart: i % 2 === 0, sessionExpiryS: 60 }).epoch);
  assert.equal(seen.size, 200);
  assert.equal(h.count('takeover'), 199);
});

test('epochs wrap around without ever being 0', () => {
  const st = createShardState(defaultLimits, 0xffffffff);
  assert.equal(takeEpoch(st), 0xffffffff);
  assert.equal(takeEpoch(st), 1);
  assert.equal(createShardState(defaultLimits, 0).nextEpoch, 1);
});

test('MQTT 5 takeover, Clean Start 0, Will Delay > 0: the old Will is never sent [MQTT-3.1.3-9]', () => {
  const h = new SessionCoreHarness();
  h.connect('dev1', { cleanStart: false, sessionExpiryS: 60, will: { delayS: 10 } });
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 60 });
  assert.equal(c2.sessionPresent, true);
  h.advance(30_000);
  assert.equal(h.wills().length, 0);
  h.connLost(c2);
  h.advance(120_000);
  assert.equal(h.wills().length, 0, 'the new connection had no Will');
});

test('MQTT 5 takeover publishes the old Will when its delay is 0', () => {
  const h = new SessionCoreHarness();
  h.connect('dev1', { cleanStart: false, sessionExpiryS: 60, will: { delayS: 0 } });
  h.connect('dev1', { cleanStart: false, sessionExpiryS: 60 });
  assert.equal(h.wills().length, 1);
});

test('MQTT 5 takeover with Clean Start 1 ends the old session: its Will is published even with a delay', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 60, will: { delayS: 10 } });
  h.subscribe(c1, 'a/#');
  const c2 = h.connect('dev1', { cleanStart: true, sessionExpiryS: 60 });
  assert.equal(h.wills().length, 1);
  assert.equal(c2.sessionPresent, false);
  const removes = effectsOf(c2.out, 'subs')
    .flatMap((ef) => ef.batch.changes)
    .filter((c) => c.op === SubOp.RemoveKey);
  assert.equal(removes.length, 1);
  assert.equal(h.session('dev1')!.subs.size, 0);
  h.advance(60_000);
  assert.equal(h.wills().length, 1, 'only once');
});

test('MQTT 5 takeover of a session with expiry 0 ends it: the old Will is published', () => {
  const h = new SessionCoreHarness();
  h.connect('dev1', { cleanStart: false, sessionExpiryS: 0, will: { delayS: 10 } });
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 60 });
  assert.equal(h.wills().length, 1);
  assert.equal(c2.sessionPresent, false);
});

test('envelopes carrying the old epoch are ignored after a takeover', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 60, will: { delayS: 5 } });
  h.subscribe(c1, 't');
  h.deliver(msg('t', 'm1', 1), ['dev1']);
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 60, will: { delayS: 5 } });
  const s = h.session('dev1')!;
  assert.equal(s.inflight.size, 1);
  const [pid] = [...s.inflight.keys()];

  assert.deepEqual(h.puback(c1, pid!), [], 'stale PUBACK');
  assert.equal(s.inflight.size, 1, 'a stale PUBACK does not free the id');
  assert.deepEqual(h.subscribe(c1, 'x', { ack: false }), [], 'stale SUBSCRIBE');
  assert.equal(s.subs.has('x'), false);
  assert.deepEqual(h.unsubscribe(c1, ['t'], { ack: false }), [], 'stale UNSUBSCRIBE');
  assert.equal(s.subs.has('t'), true);
  assert.deepEqual(h.publish2(c1, 3, msg('p', 'q', 2)), [], 'stale QoS 2 PUBLISH');
  assert.deepEqual(h.pubrel(c1, 3), [], 'stale PUBREL');
  assert.deepEqual(h.pubrec(c1, pid!), [], 'stale PUBREC');
  assert.deepEqual(h.pubcomp(c1, pid!), [], 'stale PUBCOMP');
  assert.deepEqual(h.disconnect(c1, 0), [], 'stale DISCONNECT');
  assert.deepEqual(h.connLost(c1), [], 'stale connection loss');
  assert.deepEqual(s.conn, { gateway: c2.gateway, connId: c2.connId });
  assert.equal(s.will?.delayS, 5, "the new connection's Will survives stale DISCONNECT/ConnLost");
  h.advance(60_000);
  assert.equal(h.wills().length, 0);
});

test('after a takeover, deliveries go to the new connection only', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 60, connId: 1 });
  h.subscribe(c1, 't');
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 60, connId: 2 });
  h.deliver(msg('t', 'after', 1), ['dev1']);
  assert.equal(h.publishesTo(c1).length, 0);
  const [p] = h.publishesTo(c2);
  assert.equal(p!.message.payload.toString(), 'after');
  assert.equal(p!.epoch, c2.epoch);
});

test('a takeover keeps the session: inflight messages are resent to the new connection with DUP', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 60, connId: 1 });
  h.subscribe(c1, 't');
  h.deliver(msg('t', 'm1', 1), ['dev1']);
  const first = h.publishesTo(c1)[0]!;
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 60, connId: 2 });
  const [again] = h.publishesTo(c2);
  assert.equal(again!.packetId, first.packetId);
  assert.equal(again!.dup, true);
  assert.equal(again!.epoch, c2.epoch);
  assert.equal(h.in({ kind: SessIn.PubAck, key: 'dev1', epoch: c2.epoch, packetId: first.packetId, rc: 0 }).out.length, 0);
  assert.equal(h.session('dev1')!.inflight.size, 0);
});
