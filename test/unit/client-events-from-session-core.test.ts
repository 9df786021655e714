import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OwnerClientEvent } from '../../common/src/integration/client-events.js';
import type { Effect } from '../../session-actor/src/core/effects.js';
import { SessionCoreHarness } from '../support/session-core-harness.js';

/**
 * The client lifecycle events the session core emits (docs/integration.md): which facts, in
 * which order, with epochs that order one client's connections even on a clock that stands
 * still, and none at all while events.enabled is off.
 */

const eventsOf = (out: Effect[]): OwnerClientEvent[] => out.flatMap((e) => (e.t === 'event' ? [e.event] : []));

test('events off (the default): no event effects at all', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('quiet', { will: { delayS: 0 } });
  const out = [...c.out, ...h.connLost(c)];
  assert.deepEqual(eventsOf(out), []);
});

test('takeover on a standing clock: disconnected (takeover) gets a smaller epoch than the new connected, and every epoch is at least now', () => {
  const h = new SessionCoreHarness({ emitEvents: true });
  const a = h.connect('dev', { proto: 4, cleanStart: false });
  const b = h.connect('dev', { proto: 4, cleanStart: false, gateway: 'gw2' });
  const events = [...eventsOf(a.out), ...eventsOf(b.out)];
  assert.deepEqual(
    events.map((e) => e.type),
    ['session.created', 'client.connected', 'client.disconnected', 'client.connected'],
  );
  const epochs = events.map((e) => e.epoch);
  assert.deepEqual(
    [...epochs].sort((x, y) => x - y),
    epochs,
    'increasing in emission order',
  );
  assert.equal(new Set(epochs).size, epochs.length, 'strictly');
  assert.ok(epochs.every((e) => e >= h.now));
  const gone = events[2]!;
  assert.ok(gone.type === 'client.disconnected' && gone.reason === 'takeover');
  const again = events[3]!;
  assert.ok(again.type === 'client.connected' && again.sessionPresent && again.gateway === 'gw2' && again.protocol === 4);
});

test('Will with a delay: published once when the delay ends, never when the client is back in time', () => {
  const h = new SessionCoreHarness({ emitEvents: true });
  const c = h.connect('late', { sessionExpiryS: 60, will: { delayS: 5, topic: 'wills/late', payload: 'gone' } });
  const lost = eventsOf(h.connLost(c));
  assert.deepEqual(
    lost.map((e) => [e.type, 'reason' in e ? e.reason : '']),
    [['client.disconnected', 'socket_closed']],
  );
  const fired = eventsOf(h.advance(6000));
  assert.deepEqual(
    fired.map((e) => e.type),
    ['client.will_published'],
  );
  assert.ok(fired[0]!.type === 'client.will_published' && fired[0]!.topic === 'wills/late' && fired[0]!.payloadBytes === 4);
  assert.deepEqual(eventsOf(h.advance(6000)), [], 'once');

  const d = h.connect('quick', { sessionExpiryS: 60, will: { delayS: 5 } });
  h.connLost(d);
  const back = h.connect('quick', { cleanStart: false, sessionExpiryS: 60 });
  assert.deepEqual(
    eventsOf(back.out).map((e) => e.type),
    ['client.connected'],
  );
  assert.deepEqual(
    eventsOf(h.advance(6000)).filter((e) => e.type === 'client.will_published'),
    [],
  );
});

test('session expiry: one session.ended (expired) when the interval passes; clean start ends the old session with clean_start', () => {
  const h = new SessionCoreHarness({ emitEvents: true });
  const c = h.connect('exp', { sessionExpiryS: 10 });
  const closed = eventsOf(h.disconnect(c));
  assert.deepEqual(
    closed.map((e) => [e.type, 'reason' in e ? e.reason : '', 'reasonCode' in e ? e.reasonCode : '']),
    [['client.disconnected', 'client_disconnect', 0]],
  );
  const expired = eventsOf(h.advance(11_000));
  assert.deepEqual(
    expired.map((e) => [e.type, 'reason' in e ? e.reason : '']),
    [['session.ended', 'expired']],
  );

  const p = h.connect('fresh', { sessionExpiryS: 300 });
  h.disconnect(p);
  const restart = eventsOf(h.connect('fresh', { cleanStart: true }).out);
  assert.deepEqual(
    restart.map((e) => [e.type, 'reason' in e ? e.reason : '']),
    [
      ['session.ended', 'clean_start'],
      ['session.created', ''],
      ['client.connected', ''],
    ],
  );
});

test('subscribed and unsubscribed carry the filters the session now holds or dropped; a refused SUBSCRIBE (routers unreachable) emits nothing', () => {
  const h = new SessionCoreHarness({ emitEvents: true });
  const c = h.connect('subs');
  const sub = h.subscribe(c, ['a/+', '$share/g/b'], { qos: 1, ack: false });
  const then = sub.find((e) => e.t === 'subs')!;
  assert.ok(then.t === 'subs' && then.then);
  const ok = eventsOf(h.subsRouted(then.then, true));
  assert.deepEqual(ok, [
    {
      type: 'client.subscribed',
      subscriptions: [
        { filter: 'a/+', qos: 1 },
        { filter: '$share/g/b', qos: 1 },
      ],
      ts: h.now,
      epoch: ok[0]!.epoch,
      mountpoint: '',
      clientId: 'subs',
    },
  ]);
  const failed = h.subscribe(c, ['c'], { qos: 0, ack: false }).find((e) => e.t === 'subs')!;
  assert.ok(failed.t === 'subs' && failed.then);
  assert.deepEqual(eventsOf(h.subsRouted(failed.then, false)), []);
  const unsub = h.unsubscribe(c, ['a/+', 'never'], { ack: false }).find((e) => e.t === 'subs')!;
  assert.ok(unsub.t === 'subs' && unsub.then);
  assert.deepEqual(
    eventsOf(h.subsRouted(unsub.then, true)).map((e) => e.type === 'client.unsubscribed' && e.filters),
    [['a/+']],
  );
});
