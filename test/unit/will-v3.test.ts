import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectsOf, SessionCoreHarness } from '../support/session-core-harness.js';

// MQTT 3.1/3.1.1 Will rules (the Will belongs to the connection) and the two opt-in,
// non-standard knobs of docs/architecture.md, "Will semantics": v3WillDelayS and suppressWillOnTakeover.

for (const proto of [3, 4] as const) {
  test(`MQTT ${proto === 3 ? '3.1' : '3.1.1'}: Will on connection loss is published immediately`, () => {
    const h = new SessionCoreHarness();
    // A delay in the envelope must be ignored: 3.1.1 has no Will Delay.
    const c = h.connect('dev1', { proto, cleanStart: false, will: { topic: 'st/dev1', delayS: 30 } });
    const out = h.connLost(c);
    assert.equal(effectsOf(out, 'route').length, 1);
    assert.equal(h.wills()[0]!.topic, 'st/dev1');
    assert.equal(h.timerAt('dev1', 'will'), undefined);
    h.advance(60_000);
    assert.equal(h.wills().length, 1, 'exactly once');
  });
}

test('3.1.1 clean session: Will on connection loss, then the session is gone', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { proto: 4, cleanStart: true, will: {} });
  h.connLost(c);
  assert.equal(h.wills().length, 1);
  assert.equal(h.session('dev1'), undefined);
});

test('[MQTT-3.14.4-3] 3.1.1 DISCONNECT discards the Will', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { proto: 4, cleanStart: false, will: {} });
  h.disconnect(c, 0);
  h.advance(86_400_000);
  assert.equal(h.wills().length, 0);
});

test('3.1.1 DISCONNECT carrying reason 0x04 still discards the Will (0x04 exists only in MQTT 5)', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev1', { proto: 4, cleanStart: false, will: {} });
  h.disconnect(c, 0x04);
  h.advance(60_000);
  assert.equal(h.wills().length, 0);
});

test("[MQTT-3.1.2-8] 3.1.1 takeover publishes the old connection's Will and closes it without a DISCONNECT", () => {
  const h = new SessionCoreHarness();
  const c1 = h.connect('dev1', { proto: 4, cleanStart: false, will: { topic: 'old' } });
  const c2 = h.connect('dev1', { proto: 4, cleanStart: false, will: { topic: 'new' }, gateway: 'gw2' });
  assert.deepEqual(
    h.wills().map((m) => m.topic),
    ['old'],
  );
  assert.equal(c2.sessionPresent, true);
  const [close] = h.closesOf(c1);
  assert.equal(close!.epoch, c1.epoch);
  assert.equal(close!.rc, 0xff, '3.1.1 has no server DISCONNECT: just close');
  // The new connection's Will is armed, not published.
  h.connLost(c2);
  assert.deepEqual(
    h.wills().map((m) => m.topic),
    ['old', 'new'],
  );
});

test('3.1.1 takeover with the v3 Will grace configured still publishes the old Will at once', () => {
  const h = new SessionCoreHarness({ v3WillDelayS: 30 });
  h.connect('dev1', { proto: 4, cleanStart: false, will: {} });
  h.connect('dev1', { proto: 4, cleanStart: false });
  assert.equal(h.wills().length, 1);
});

test('suppressWillOnTakeover: a 3.1.1 takeover does not publish the old Will, connection loss still does', () => {
  const h = new SessionCoreHarness({ suppressWillOnTakeover: true });
  h.connect('dev1', { proto: 4, cleanStart: false, will: { topic: 'old' } });
  const c2 = h.connect('dev1', { proto: 4, cleanStart: false, will: { topic: 'new' } });
  assert.equal(h.wills().length, 0);
  h.advance(3600_000);
  assert.equal(h.wills().length, 0, 'the suppressed Will is gone, not delayed');
  h.connLost(c2);
  assert.deepEqual(
    h.wills().map((m) => m.topic),
    ['new'],
  );
});

test('suppressWillOnTakeover also applies to MQTT 5 takeovers that would publish (Clean Start 1)', () => {
  const h = new SessionCoreHarness({ suppressWillOnTakeover: true });
  h.connect('dev1', { proto: 5, sessionExpiryS: 60, will: { delayS: 0 } });
  h.connect('dev1', { proto: 5, cleanStart: true });
  h.advance(120_000);
  assert.equal(h.wills().length, 0);
});

test('v3WillDelayS (non-standard grace): 3.1.1 Will waits for the grace, then goes out once', () => {
  const h = new SessionCoreHarness({ v3WillDelayS: 20 });
  const c = h.connect('dev1', { proto: 4, cleanStart: false, will: {} });
  h.connLost(c);
  assert.equal(h.wills().length, 0);
  h.advance(19_999);
  assert.equal(h.wills().length, 0);
  h.advance(1);
  assert.equal(h.wills().length, 1);
  h.advance(60_000);
  assert.equal(h.wills().length, 1);
});

for (const cleanStart of [false, true]) {
  test(`v3WillDelayS: a 3.1.1 reconnect within the grace (clean session ${cleanStart ? 1 : 0}) suppresses the Will`, () => {
    const h = new SessionCoreHarness({ v3WillDelayS: 20 });
    const c = h.connect('dev1', { proto: 4, cleanStart: false, will: {} });
    h.connLost(c);
    h.advance(10_000);
    h.connect('dev1', { proto: 4, cleanStart });
    h.advance(60_000);
    assert.equal(h.wills().length, 0);
  });
}

test('v3WillDelayS: DISCONNECT still discards the Will', () => {
  const h = new SessionCoreHarness({ v3WillDelayS: 20 });
  const c = h.connect('dev1', { proto: 4, cleanStart: false, will: {} });
  h.disconnect(c);
  h.advance(60_000);
  assert.equal(h.wills().length, 0);
});

test('v3WillDelayS does not touch MQTT 5 clients (their own Will Delay applies)', () => {
  const h = new SessionCoreHarness({ v3WillDelayS: 20 });
  const c = h.connect('dev1', { proto: 5, sessionExpiryS: 60, will: { delayS: 0 } });
  h.connLost(c);
  assert.equal(h.wills().length, 1);
});

test('v3WillDelayS grace also applies to clean-session 3.1.1 clients (the setting says: all 3.1/3.1.1 clients)', () => {
  const h = new SessionCoreHarness({ v3WillDelayS: 20 });
  const c = h.connect('dev1', { proto: 4, cleanStart: true, will: {} });
  h.connLost(c);
  assert.equal(h.wills().length, 0, 'no Will during the grace');
  h.advance(10_000);
  h.connect('dev1', { proto: 4, cleanStart: true });
  h.advance(60_000);
  assert.equal(h.wills().length, 0, 'a quick reconnect suppresses it');
});
