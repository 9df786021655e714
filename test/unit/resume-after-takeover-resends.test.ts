import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Effect } from '../../session-actor/src/core/effects.js';
import { resumeAfterTakeover } from '../../session-actor/src/core/resume-after-takeover.js';
import { GwOut } from '../../common/src/envelope/gateway-out.js';
import { msg, SessionCoreHarness } from '../support/session-core-harness.js';

// A shard taken over (not handed off): a connected session's in-flight deliveries, recorded as sent
// by an owner that may have died before sending them, go out again with DUP and their packet ids.

function publishes(out: Effect[]) {
  return out.flatMap((ef) => (ef.t === 'gw' && ef.item.kind === GwOut.Publish ? [{ id: ef.item.packetId, dup: ef.item.dup, payload: ef.item.message.payload.toString() }] : []));
}

test('a connected session gets its in-flight PUBLISHes again, DUP set, original ids, then its queue within the window', () => {
  const h = new SessionCoreHarness({ maxInflight: 2 });
  const c = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600 });
  h.subscribe(c, 't/#');
  for (const p of ['a', 'b', 'c']) h.deliver(msg('t/x', p), ['dev'], 1);
  const s = h.session('dev')!;
  assert.equal(s.inflight.size, 2);
  assert.equal(s.queue.length, 1);
  const ids = [...s.inflight.keys()];

  const out: Effect[] = [];
  assert.equal(resumeAfterTakeover(h.st, s, h.now, out), true);
  assert.deepEqual(publishes(out), [
    { id: ids[0], dup: true, payload: 'a' },
    { id: ids[1], dup: true, payload: 'b' },
  ]);
  // The window is full: the queued one waits for an ack, as usual.
  assert.equal(s.queue.length, 1);
  const after = publishes(h.puback(c, ids[0]!));
  assert.deepEqual(
    after.map((p) => [p.payload, p.dup]),
    [['c', false]],
  );
});

test('an offline session, or one with nothing owed, is left alone', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('idle', { cleanStart: false, sessionExpiryS: 3600 });
  const out: Effect[] = [];
  assert.equal(resumeAfterTakeover(h.st, h.session('idle')!, h.now, out), false);
  h.subscribe(c, 't/#');
  h.disconnect(c, 0);
  h.deliver(msg('t/x', 'q'), ['idle'], 1);
  assert.equal(h.session('idle')!.queue.length, 1);
  assert.equal(resumeAfterTakeover(h.st, h.session('idle')!, h.now, out), false);
  assert.equal(out.length, 0);
});
