import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GwOut } from '../../common/src/envelope/gateway-out.js';
import { effectsOf, SessionCoreHarness } from '../support/session-core-harness.js';

// MQTT 5 Will Delay Interval (3.1.3.2) and Will publication rules (3.1.2.5), docs/architecture.md, "Will semantics".

test('[MQTT-3.1.3-9] connection lost: no Will before the delay, exactly one Will once it passes', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 3600, will: { topic: 'status/dev1', payload: 'offline', delayS: 30 } });
  const out = h.connLost(c);
  assert.deepEqual(effectsOf(out, 'route'), []);
  assert.equal(h.timerAt('dev1', 'will'), h.now + 30_000);
  assert.equal(h.advance(29_999).length, 0);
  assert.equal(h.wills().length, 0);
  h.advance(1);
  assert.equal(h.wills().length, 1);
  assert.equal(h.wills()[0]!.topic, 'status/dev1');
  assert.equal(h.wills()[0]!.payload.toString(), 'offline');
  assert.equal(h.count('will_published'), 1);
  h.advance(10 * 3600_000);
  assert.equal(h.wills().length, 1, 'the Will is published exactly once');
  assert.equal(h.session('dev1'), undefined, 'session expired after an hour');
});

for (const cleanStart of [false, true]) {
  test(`[MQTT-3.1.3-9] reconnect within the Will Delay (Clean Start ${cleanStart ? 1 : 0}) never sends the Will`, () => {
    const h = new SessionCoreHarness();
    const c = h.connect('dev1', { cleanStart: false, sessionExpiryS: 3600, will: { delayS: 30 } });
    h.connLost(c);
    h.advance(29_000);
    const c2 = h.connect('dev1', { cleanStart, sessionExpiryS: 3600 });
    assert.equal(c2.sessionPresent, !cleanStart);
    assert.equal(h.timerAt('dev1', 'will'), undefined, 'the Will timer is cancelled');
    h.advance(3600_000);
    assert.equal(h.wills().length, 0);
    assert.equal(h.count('will_published'), 0);
  });
}

test('[MQTT-3.1.3-9] 50 drop/reconnect cycles within the delay publish zero Wills', () => {
  const h = new SessionCoreHarness();
  let c = h.connect('dev1', { cleanStart: false, sessionExpiryS: 600, will: { delayS: 10 } });
  for (let i = 0; i < 50; i++) {
    h.connLost(c);
    h.advance(9_000);
    c = h.connect('dev1', { cleanStart: i % 7 === 3, sessionExpiryS: 600, will: { delayS: 10 } });
    h.advance(1_000);
  }
  assert.equal(h.wills().length, 0);
  // The last connection still owes its Will when it drops for good.
  h.connLost(c);
  h.advance(10_000);
  assert.equal(h.wills().length, 1);
});

test('[MQTT-3.1.3-9] session expiry shorter than the Will Delay: the Will goes out when the session ends', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 5, will: { delayS: 60 } });
  const t0 = h.now;
  h.connLost(c);
  h.advance(4_999);
  assert.equal(h.wills().length, 0);
  const fired = h.advance(1);
  assert.equal(h.now, t0 + 5_000);
  assert.equal(effectsOf(fired, 'route').length, 1, 'Will published by the expiry');
  assert.ok(fired.some((ef) => ef.t === 'count' && ef.what === 'session_expired'));
  assert.equal(h.session('dev1'), undefined);
  h.advance(120_000);
  assert.equal(h.wills().length, 1, 'the late Will timer does nothing');
});

test('[MQTT-3.1.3-9] session expiry 0 with a Will Delay: the session ends at once and the Will goes with it', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 0, will: { delayS: 60 } });
  h.connLost(c);
  assert.equal(h.wills().length, 1);
  assert.equal(h.session('dev1'), undefined);
  assert.equal(h.timerAt('dev1', 'will'), undefined);
  h.advance(60_000);
  assert.equal(h.wills().length, 1);
});

test('Will Delay 0: the Will is published immediately on connection loss', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 3600, will: { delayS: 0 } });
  const out = h.connLost(c);
  assert.equal(effectsOf(out, 'route').length, 1);
  assert.equal(h.timerAt('dev1', 'will'), undefined);
  assert.ok(h.session('dev1'), 'the session itself outlives the connection');
});

test('[MQTT-3.14.4-3] DISCONNECT 0x00 discards the Will', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 60, will: { delayS: 5 } });
  h.disconnect(c, 0x00);
  assert.equal(h.timerAt('dev1', 'will'), undefined);
  h.advance(120_000);
  assert.equal(h.wills().length, 0);
  assert.equal(h.session('dev1'), undefined, 'expired after 60 s');
});

test('DISCONNECT 0x04 (with Will message) publishes the Will after its delay', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 60, will: { delayS: 5 } });
  h.disconnect(c, 0x04);
  h.advance(4_999);
  assert.equal(h.wills().length, 0);
  h.advance(1);
  assert.equal(h.wills().length, 1);
});

test('DISCONNECT 0x04 with Will Delay 0 and session expiry 0 publishes the Will at once', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 0, will: { delayS: 0 } });
  const out = h.disconnect(c, 0x04);
  assert.equal(effectsOf(out, 'route').length, 1);
  assert.equal(h.session('dev1'), undefined);
});

test('DISCONNECT may shorten the session expiry below the Will Delay: Will at session end', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 3600, will: { delayS: 60 } });
  h.disconnect(c, 0x04, 10);
  h.advance(10_000);
  assert.equal(h.wills().length, 1);
  assert.equal(h.session('dev1'), undefined);
});

test('[fencing] a stale ConnLost (old epoch) after a reconnect does nothing', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 3600, will: { delayS: 30 } });
  h.connLost(c1);
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 3600, will: { delayS: 30 } });
  assert.notEqual(c2.epoch, c1.epoch);
  const out = h.connLost(c1); // the old gateway reports the old socket late
  assert.deepEqual(out, []);
  assert.ok(h.session('dev1')!.conn, 'the new connection is untouched');
  assert.equal(h.session('dev1')!.will?.delayS, 30, "the new connection's Will is kept");
  h.advance(3600_000);
  assert.equal(h.wills().length, 0);
  // ... and a stale DISCONNECT 0x00 must not discard the new connection's Will either.
  h.disconnect(c1, 0x00);
  h.connLost(c2);
  h.advance(30_000);
  assert.equal(h.wills().length, 1);
});

test('a stale ConnLost after a takeover does nothing to the new connection', () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 3600, will: { delayS: 30 } });
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 3600, will: { delayS: 30 }, gateway: 'gw2' });
  assert.deepEqual(h.connLost(c1), []);
  assert.equal(h.session('dev1')!.conn?.gateway, 'gw2');
  assert.equal(h.session('dev1')!.epoch, c2.epoch);
  h.advance(60_000);
  assert.equal(h.wills().length, 0);
});

test('duplicate Will timer fires publish the Will once', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 3600, will: { delayS: 30 } });
  h.connLost(c);
  h.advance(30_000);
  assert.equal(h.wills().length, 1);
  assert.deepEqual(h.fireTimer('dev1', 'will'), []);
  h.advance(1);
  assert.deepEqual(h.fireTimer('dev1', 'will'), []);
  assert.equal(h.wills().length, 1);
});

test('an early (stale) Will timer fire before the deadline publishes nothing and re-arms the stored deadline', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 3600, will: { delayS: 30 } });
  h.connLost(c);
  const due = h.timerAt('dev1', 'will');
  h.advance(10_000);
  assert.deepEqual(
    h.fireTimer('dev1', 'will').map((e) => (e.t === 'timer' ? [e.t, e.at] : [e.t])),
    [['timer', due]],
  );
  assert.equal(h.wills().length, 0);
  h.advance(20_000);
  assert.equal(h.wills().length, 1);
});

test("a Will timer left over from an earlier disconnect does not fire the next connection's Will early", () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 3600, will: { delayS: 30 } });
  h.connLost(c1);
  h.advance(10_000);
  const c2 = h.connect('dev1', { cleanStart: false, sessionExpiryS: 3600, will: { delayS: 30 } });
  h.connLost(c2); // new deadline: now + 30 s
  const due = h.timerAt('dev1', 'will');
  h.advance(20_000); // the first deadline passes
  assert.deepEqual(
    h.fireTimer('dev1', 'will').map((e) => (e.t === 'timer' ? [e.t, e.at] : [e.t])),
    [['timer', due]],
    'a stale runner timer at the old deadline only re-arms the new one',
  );
  assert.equal(h.wills().length, 0);
  h.advance(10_000);
  assert.equal(h.wills().length, 1);
});

test('the Will keeps its topic, payload, QoS and retain flag', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 10, will: { topic: 'a/b', payload: 'bye', qos: 2, retain: true, delayS: 1 } });
  h.connLost(c);
  h.advance(1_000);
  const [w] = h.wills();
  assert.equal(w!.topic, 'a/b');
  assert.equal(w!.payload.toString(), 'bye');
  assert.equal(w!.qos, 2);
  assert.equal(w!.retain, true);
});

test('GatewayGone starts the Will path for every connection of that gateway only', () => {
  const h = new SessionCoreHarness();
  h.connect('a', { sessionExpiryS: 60, will: { delayS: 0 }, gateway: 'gwA' });
  h.connect('b', { sessionExpiryS: 60, will: { delayS: 5 }, gateway: 'gwA' });
  h.connect('c', { sessionExpiryS: 60, will: { delayS: 0 }, gateway: 'gwB' });
  h.gatewayGone('gwA');
  assert.deepEqual(
    h.wills().map((m) => m.topic),
    ['will/a'],
  );
  h.advance(5_000);
  assert.deepEqual(
    h.wills().map((m) => m.topic),
    ['will/a', 'will/b'],
  );
  assert.ok(h.session('c')!.conn, 'gwB connections are untouched');
});

test('a Will is never sent to a connection as a gateway item: it goes to the router', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 60, will: { delayS: 0 } });
  const out = h.connLost(c);
  assert.equal(effectsOf(out, 'gw').length, 0);
  assert.equal(effectsOf(out, 'route')[0]!.then, undefined, 'Wills are routed without a continuation');
  assert.equal(h.itemsFor(c).filter((it) => it.kind === GwOut.Close).length, 0);
});

test('Will Delay equal to the session expiry: exactly one Will, whichever timer fires first', () => {
  for (const first of ['will', 'expiry'] as const) {
    const h = new SessionCoreHarness();
    const c = h.connect('dev1', { sessionExpiryS: 10, will: { delayS: 10 } });
    h.connLost(c);
    h.now += 10_000;
    h.fireTimer('dev1', first);
    h.fireTimer('dev1', first === 'will' ? 'expiry' : 'will');
    h.advance(1);
    assert.equal(h.wills().length, 1, `${first} first`);
    assert.equal(h.session('dev1'), undefined);
  }
});

test('[MQTT-3.1.3-9] a Will timer that fires a millisecond early re-arms itself: the Will still goes out once, at its deadline', () => {
  // Node fires timers on the event loop's cached clock, which can run ahead of the wall clock
  // the deadline was set with; deciding "early" with a second clock read once lost Wills.
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 3600, will: { topic: 'status/dev1', payload: 'offline', delayS: 4 } });
  h.connLost(c);
  const due = h.timerAt('dev1', 'will')!;
  h.advance(3_999);
  const early = h.fireTimer('dev1', 'will');
  assert.deepEqual(effectsOf(early, 'route'), [], 'no Will before the delay');
  assert.deepEqual(
    effectsOf(early, 'timer').map((t) => [t.kind, t.at]),
    [['will', due]],
    'the early timer is armed again for the same deadline',
  );
  h.advance(1);
  assert.equal(h.wills().length, 1);
  h.advance(10_000);
  assert.equal(h.wills().length, 1, 'exactly once');
});

test('a session expiry timer that fires early re-arms itself; the session ends at its deadline', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { sessionExpiryS: 5 });
  h.connLost(c);
  const due = h.timerAt('dev1', 'expiry')!;
  h.advance(4_999);
  const early = h.fireTimer('dev1', 'expiry');
  assert.equal(h.session('dev1')?.key, 'dev1', 'not ended before the expiry');
  assert.deepEqual(
    effectsOf(early, 'timer').map((t) => [t.kind, t.at]),
    [['expiry', due]],
  );
  h.advance(1);
  assert.equal(h.session('dev1'), undefined, 'ended at the deadline');
});
