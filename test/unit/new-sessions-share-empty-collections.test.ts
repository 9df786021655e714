import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, inboundQos2ToAdd, inflightToAdd, setSub, subsToAdd } from '../../session-actor/src/core/session.js';

// Memory per idle session: new sessions share one empty Map for subscriptions, in-flight
// deliveries and inbound QoS 2 ids until they add to one; what one adds never shows in another.
test('sessions start on one shared empty Map, get their own on the first entry, and the shared one never fills', () => {
  const a = createSession('a', '', 'a', 4, 1);
  const b = createSession('b', '', 'b', 4, 1);
  assert.equal(a.subs, b.subs);
  assert.equal(a.inflight, b.inflight);
  assert.equal(a.inboundQos2, b.inboundQos2);
  setSub(a, 'x/#', { filter: 'x/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subId: 0 });
  inflightToAdd(a).set(1, { packetId: 1, state: 'pub', qos: 1, retain: false, subIds: [], message: { topic: 'x/1', payload: Buffer.alloc(0), qos: 1, retain: false, origin: '' } });
  inboundQos2ToAdd(a).set(2, 'pending');
  assert.deepEqual([a.subs.size, a.inflight.size, a.inboundQos2.size], [1, 1, 1]);
  assert.deepEqual([b.subs.size, b.inflight.size, b.inboundQos2.size], [0, 0, 0]);
  assert.notEqual(a.subs, b.subs);
  // Removing from the shared one is harmless; adding to it directly is refused.
  assert.equal(b.subs.delete('x/#'), false);
  b.inboundQos2.clear();
  assert.throws(() => b.inboundQos2.set(3, 'pending'), /shared empty session Map/);
  assert.equal(createSession('c', '', 'c', 4, 1).inboundQos2.size, 0);
  assert.equal(subsToAdd(b), b.subs);
  assert.notEqual(b.subs, createSession('d', '', 'd', 4, 1).subs);
});
