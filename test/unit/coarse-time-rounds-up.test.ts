import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConnState } from '../../gateway/src/protocol/conn-state.js';
import { fromTicks, toTicks } from '../../gateway/src/protocol/coarse-time.js';

// Keepalive ([MQTT-3.1.2-24] in 3.1.1, [MQTT-3.1.2-22] in 5.0) and the connect timeout count from stored times: a stored time may
// only be later than the real one (the deadline moves out by < 125 ms), never earlier.
test('a time stored in ticks reads back at most 125 ms later, never earlier, and stays a small integer', () => {
  const now = Date.now();
  for (const ms of [now, now + 1, now + 124, now + 125, now + 126, now + 3_600_000 + 7, now - 5_000]) {
    const t = toTicks(ms);
    assert.ok(Number.isInteger(t) && Math.abs(t) < 2 ** 31, `ticks ${t}`);
    const back = fromTicks(t);
    assert.ok(back >= ms && back - ms < 125, `${ms} read back as ${back}`);
  }
  // Eight years of uptime still fit in 31 bits.
  assert.ok(toTicks(now + 8 * 365 * 86_400_000) < 2 ** 31);
});

test('a connection state reads its open and last-packet times back in ms, rounded up', () => {
  const opened = Date.now() + 10;
  const st = createConnState(1, '192.0.2.1:5000', '', opened);
  assert.ok(st.openedAt >= opened && st.openedAt - opened < 125);
  assert.equal(st.lastRxAt, st.openedAt);
  st.lastRxAt = opened + 60_001;
  assert.ok(st.lastRxAt >= opened + 60_001 && st.lastRxAt - (opened + 60_001) < 125);
  assert.ok(st.openedAt < st.lastRxAt);
});
