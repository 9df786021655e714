import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSession, encodeSession } from '../../session-actor/src/core/session-codec.js';
import { createSession, inboundQos2ToAdd, inflightToAdd, type Session, subsToAdd } from '../../session-actor/src/core/session.js';
import { rendezvousOwner } from '../../common/src/rendezvous.js';

function sample(): Session {
  const s = createSession('mp\u0000dev/1 *>', 'mp', 'dev/1 *>', 5, 77);
  s.epoch = 123456;
  s.conn = { gateway: 'gw-1', connId: 42 };
  s.expiryS = 3600;
  s.nextPacketId = 9;
  s.receiveMaximum = 10;
  s.maxPacketBytes = 4096;
  s.will = { delayS: 30, message: { topic: 'will/t', payload: Buffer.from('bye'), qos: 1, retain: true, origin: '' } };
  s.willDueAt = 1_700_000_000_123;
  s.expiresAt = 1_700_000_360_000;
  subsToAdd(s).set('$share/g/a/+', { filter: 'a/+', group: 'g', qos: 1, noLocal: false, retainAsPublished: true, retainHandling: 2, subId: 5 });
  subsToAdd(s).set('b/#', { filter: 'b/#', qos: 2, noLocal: true, retainAsPublished: false, retainHandling: 0, subId: 0 });
  inflightToAdd(s).set(7, {
    packetId: 7,
    state: 'pub',
    qos: 1,
    retain: false,
    subIds: [5],
    message: {
      topic: 'a/x',
      payload: Buffer.from([1, 2, 3]),
      qos: 1,
      retain: false,
      origin: 'other',
      props: { contentType: 'bin', expiresAt: 1_700_000_999_000, userProperties: { k: ['v1', 'v2'] } },
    },
  });
  inflightToAdd(s).set(8, { packetId: 8, state: 'rel', held: true, qos: 2, retain: false, subIds: [], message: { topic: 'b/y', payload: Buffer.alloc(0), qos: 2, retain: false, origin: '' } });
  s.heldCount = 1;
  s.queue.push({ qos: 1, retain: true, subIds: [], group: 'grp', message: { topic: 'b/z', payload: Buffer.from('queued'), qos: 1, retain: true, origin: '' } });
  s.queuedBytes = 9; // payload + topic bytes, as the core counts them
  inboundQos2ToAdd(s).set(11, 'received');
  inboundQos2ToAdd(s).set(12, 'pending');
  return s;
}

test('a session survives encode/decode with everything a new owner needs', () => {
  const s = sample();
  const d = decodeSession(encodeSession(s));
  assert.equal(d.key, s.key);
  assert.equal(d.clientId, 'dev/1 *>');
  assert.equal(d.incarnation, 77);
  assert.equal(d.epoch, 123456);
  assert.deepEqual(d.conn, { gateway: 'gw-1', connId: 42 });
  assert.equal(d.expiryS, 3600);
  assert.equal(d.nextPacketId, 9);
  assert.equal(d.receiveMaximum, 10);
  assert.equal(d.maxPacketBytes, 4096);
  assert.equal(d.will?.delayS, 30);
  assert.equal(d.will?.message.payload.toString(), 'bye');
  assert.equal(d.willDueAt, s.willDueAt);
  assert.equal(d.expiresAt, s.expiresAt);
  assert.deepEqual([...d.subs.entries()], [...s.subs.entries()]);
  assert.deepEqual([...d.inflight.keys()], [7, 8]);
  assert.equal(d.inflight.get(8)?.state, 'rel');
  assert.equal(d.inflight.get(8)?.held, true);
  assert.equal(d.heldCount, 1);
  assert.deepEqual(d.inflight.get(7)?.message.props?.userProperties, { k: ['v1', 'v2'] });
  assert.equal(d.queue.length, 1);
  assert.equal(d.queue.peek()?.message.payload.toString(), 'queued');
  assert.equal(d.queuedBytes, 9, 'queued bytes count payload and topic, like the core');
  assert.equal(d.queue.peek()?.group, 'grp');
  assert.equal(d.inflight.get(7)?.group, undefined);
  // A QoS 2 id still being routed is not kept: the resend routes it again (at least once).
  assert.deepEqual([...d.inboundQos2.entries()], [[11, 'received']]);
  // Encoding must not disturb the live queue.
  assert.equal(s.queue.length, 1);
});

test('a session without connection, Will or deadlines round-trips', () => {
  const s = createSession('plain', '', 'plain', 4, 1);
  const d = decodeSession(encodeSession(s));
  assert.equal(d.conn, undefined);
  assert.equal(d.will, undefined);
  assert.equal(d.willDueAt, undefined);
  assert.equal(d.expiresAt, undefined);
  assert.equal(d.subs.size, 0);
});

test('rendezvous hashing: one member owns all, a third member takes about a third and moves nothing else', () => {
  const shards = 1024;
  for (let s = 0; s < shards; s++) assert.equal(rendezvousOwner(['a'], s), 'a');
  const two = Array.from({ length: shards }, (_, s) => rendezvousOwner(['a', 'b'], s));
  const three = Array.from({ length: shards }, (_, s) => rendezvousOwner(['a', 'b', 'c'], s));
  let moved = 0;
  for (let s = 0; s < shards; s++) {
    if (two[s] !== three[s]) {
      moved++;
      assert.equal(three[s], 'c', 'a shard only ever moves to the new member');
    }
  }
  assert.ok(moved > shards / 5 && moved < shards / 2, `moved ${moved}`);
  assert.equal(rendezvousOwner([], 1), undefined);
});
