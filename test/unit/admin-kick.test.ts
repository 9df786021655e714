import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GwOut } from '../../common/src/envelope/gateway-out.js';
import { sessionInfo } from '../../session-actor/src/core/session-info.js';
import { SessionCoreHarness } from '../support/session-core-harness.js';

/** The session core's side of the admin API: disconnect (0x98), session discard, the info view. */

test('kick closes an MQTT 5 connection with 0x98, keeps the session and takes the Will path after its delay', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('d1', { sessionExpiryS: 600, cleanStart: false, will: { delayS: 30 } });
  h.subscribe(c, 'a/b');
  const { outcome, out } = h.adminKick('d1', false);
  assert.deepEqual(outcome, { found: true, disconnected: true, sessionDiscarded: false });
  const close = out.find((e) => e.t === 'gw' && e.item.kind === GwOut.Close);
  assert.ok(close && close.t === 'gw' && close.item.kind === GwOut.Close);
  assert.equal(close.item.rc, 0x98);
  assert.equal(close.item.epoch, c.epoch);
  const s = h.session('d1')!;
  assert.equal(s.conn, undefined);
  assert.equal(s.subs.size, 1);
  assert.equal(h.routes.length, 0, 'the Will waits for its delay');
  assert.ok([...h.timers.values()].some((t) => t.kind === 'will'));
  // The gateway's late lost-connection notice for that epoch changes nothing.
  assert.deepEqual(h.connLost(c), []);
});

test('kick with discardSession ends the session: subscriptions leave the routers, the pending Will goes out now', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('d2', { sessionExpiryS: 600, cleanStart: false, will: { delayS: 30, topic: 'will/d2' } });
  h.subscribe(c, 'x/#');
  const { outcome } = h.adminKick('d2', true);
  assert.deepEqual(outcome, { found: true, disconnected: true, sessionDiscarded: true });
  assert.equal(h.session('d2'), undefined);
  assert.deepEqual(
    h.routes.map((r) => r.message.topic),
    ['will/d2'],
  );
});

test('kick of a 3.1.1 connection closes it without a DISCONNECT; of an unknown client finds nothing', () => {
  const h = new SessionCoreHarness();
  h.connect('d3', { proto: 4 });
  const { out } = h.adminKick('d3', false);
  const close = out.find((e) => e.t === 'gw' && e.item.kind === GwOut.Close);
  assert.ok(close && close.t === 'gw' && close.item.kind === GwOut.Close);
  assert.equal(close.item.rc, 0xff, '3.1.1 has no server DISCONNECT');
  assert.equal(h.session('d3'), undefined, 'a clean 3.1.1 session ends with its connection');
  assert.deepEqual(h.adminKick('nobody', true).outcome, { found: false, disconnected: false, sessionDiscarded: false });
});

test('sessionInfo shows the connection, subscriptions, queue and expiry', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('d4', { sessionExpiryS: 120, cleanStart: false });
  h.subscribe(c, ['t/1', '$share/g/t/2'], { qos: 2, subscriptionId: 7 });
  const on = sessionInfo(h.session('d4')!);
  assert.equal(on.connected, true);
  assert.equal(on.gateway, 'gw1');
  assert.equal(on.epoch, c.epoch);
  assert.deepEqual(
    on.subscriptions.map((s) => [s.filter, s.qos, s.subscriptionId]),
    [
      ['t/1', 2, 7],
      ['$share/g/t/2', 2, 7],
    ],
  );
  h.connLost(c);
  const off = sessionInfo(h.session('d4')!);
  assert.equal(off.connected, false);
  assert.equal(off.gateway, undefined);
  assert.equal(off.expiresAt, h.now + 120_000);
});

test('with events on, a kick emits client.disconnected (admin_disconnect, 0x98) and a discard session.ended (admin_discarded)', () => {
  const h = new SessionCoreHarness({ emitEvents: true });
  h.connect('d5', { sessionExpiryS: 600, cleanStart: false });
  const kicked = h.adminKick('d5', false).out.flatMap((e) => (e.t === 'event' ? [e.event] : []));
  assert.deepEqual(
    kicked.map((e) => [e.type, 'reason' in e ? e.reason : undefined, 'reasonCode' in e ? e.reasonCode : undefined]),
    [['client.disconnected', 'admin_disconnect', 0x98]],
  );
  const discarded = h.adminKick('d5', true).out.flatMap((e) => (e.t === 'event' ? [e.event] : []));
  assert.deepEqual(
    discarded.map((e) => [e.type, 'reason' in e ? e.reason : undefined]),
    [['session.ended', 'admin_discarded']],
  );
});
