import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionTimers } from '../../session-actor/src/runner/session-timers.js';

test('session timers: one per session and kind, replaced when re-armed, cancelled with undefined', async () => {
  const t = new SessionTimers(Date.now);
  const fired: string[] = [];
  t.set('s1', 'will', Date.now() + 10_000, () => fired.push('old'));
  t.set('s1', 'will', Date.now(), () => fired.push('will'));
  t.set('s1', 'expiry', Date.now(), () => fired.push('expiry'));
  t.set('s2', 'expiry', Date.now(), () => fired.push('cancelled'));
  t.set('s2', 'expiry', undefined, () => fired.push('never'));
  assert.equal(t.has('s2', 'expiry'), false);
  while (fired.length < 2) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(fired.sort(), ['expiry', 'will']);
  assert.equal(t.has('s1', 'will'), false, 'forgotten once fired');
  t.clearAll();
});
