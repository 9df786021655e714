import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SubOp } from '../../common/src/envelope/router.js';
import { SessionCoreHarness } from '../support/session-core-harness.js';

const presence = (h: SessionCoreHarness) =>
  h.subChanges
    .flatMap((r) => r.batch.changes)
    .filter((c) => c.op === SubOp.Online || c.op === SubOp.Offline)
    .map((c) => (c.op === SubOp.Online ? 'online' : 'offline'));

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

test('[MQTT-4.8.2] when a $share member session ends, its uncompleted QoS 1 messages go back to the group, excluding it', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('m1', { cleanStart: true, receiveMaximum: 1 });
  h.subscribe(c, '$share/g/jobs');
  const m = (p: string) => ({ topic: 'jobs', payload: Buffer.from(p), qos: 1 as const, retain: false, origin: 'pub' });
  h.deliver(m('inflight'), [{ key: 'm1', qos: 1, retainAsPublished: false, subIds: [], group: 'g' }]);
  h.deliver(m('queued'), [{ key: 'm1', qos: 1, retainAsPublished: false, subIds: [], group: 'g' }]);
  h.deliver(m('plain'), [{ key: 'm1', qos: 1, retainAsPublished: false, subIds: [] }]);
  const out = h.connLost(c);
  const back = out.filter((e): e is Extract<typeof e, { t: 'route' }> => e.t === 'route');
  assert.deepEqual(
    back.map((r) => [r.message.payload.toString(), r.group, r.exclude]),
    [
      ['inflight', 'g', 'm1'],
      ['queued', 'g', 'm1'],
    ],
  );
  const removeAt = out.findIndex((e) => e.t === 'subs' && e.batch.changes.some((ch) => ch.op === SubOp.RemoveKey));
  const firstRoute = out.findIndex((e) => e.t === 'route');
  assert.ok(removeAt >= 0 && removeAt < firstRoute, 'the member leaves the index before its messages are re-routed');
});
