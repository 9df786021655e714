import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SubOp } from '../../common/src/envelope/router.js';
import { SessionCoreHarness } from '../support/session-core-harness.js';

const presence = (h: SessionCoreHarness) =>
  h.subChanges.flatMap((r) => r.batch.changes).filter((c) => c.op === SubOp.Online || c.op === SubOp.Offline).map((c) => (c.op === SubOp.Online ? 'online' : 'offline'));

test('[MQTT-4.8.2] a persistent session with a $share subscription tells the routers when it goes offline and comes back', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('member', { cleanStart: false, sessionExpiryS: 600 });
  h.subscribe(c, '$share/g/jobs');
  h.connLost(c);
  h.connect('member', { cleanStart: false, sessionExpiryS: 600 });
  assert.deepEqual(presence(h), ['offline', 'online']);
});

test('a session without shared subscriptions announces no presence', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('plain', { cleanStart: false, sessionExpiryS: 600 });
  h.subscribe(c, 'jobs');
  h.connLost(c);
  h.connect('plain', { cleanStart: false, sessionExpiryS: 600 });
  assert.deepEqual(presence(h), []);
});
