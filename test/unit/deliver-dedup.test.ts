import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writer } from '../../common/src/envelope/codec.js';
import { ShardLogChanges } from '../../session-actor/src/persistence/session-log-changes.js';
import { Batch, ShardReplay } from '../../session-actor/src/persistence/session-log-records.js';
import { RecentDeliveries, storedDeliverIds } from '../../session-actor/src/runner/deliver-dedup.js';
import { msg, SessionCoreHarness } from '../support/session-core-harness.js';

test('a router retry of a Deliver id already taken by the same serving is recognised; the memory is bounded', () => {
  const serving = {};
  const r = new RecentDeliveries(3);
  assert.equal(r.seen('a', serving), false);
  assert.equal(r.seen('a', serving), true, 'the retry');
  r.seen('b', serving);
  r.seen('c', serving);
  r.seen('d', serving); // evicts 'a'
  assert.equal(r.seen('b', serving), true);
  assert.equal(r.seen('a', serving), false, 'forgotten after capacity newer ids');
});

test('a retry reaching a later serving of the shard (reloaded after a lost lease) is delivered, not dropped', () => {
  const r = new RecentDeliveries(10);
  const first = {};
  const second = {};
  r.seen('x', first);
  assert.equal(r.seen('x', second), false, 'the copy may not be in the store');
  assert.equal(r.seen('x', second), true);
});

test('the next owner knows the Delivers whose copies the session log holds, queued or in flight, also through a snapshot', () => {
  const h = new SessionCoreHarness();
  const online = h.connect('online', { cleanStart: false, sessionExpiryS: 3600 });
  h.subscribe(online, 'd/#', { qos: 2 });
  const off = h.connect('offline', { cleanStart: false, sessionExpiryS: 3600 });
  h.subscribe(off, 'd/#', { qos: 2 });
  h.connLost(off);
  h.deliver(msg('d/a', Buffer.from('a'), 2), ['online', 'offline'], 2, 'r1.0');
  h.deliver(msg('d/b', Buffer.from('b'), 2), ['offline'], 2); // no id: not a router's Deliver
  const changes = new ShardLogChanges();
  const entries: Buffer[] = [];
  const write = (snapshot: boolean) => {
    const w = new Writer();
    if (snapshot) changes.snapshot(w, h.st.sessions.values());
    else for (const [k, s] of h.st.sessions) changes.diff(w, k, s);
    entries.push(Buffer.concat([Buffer.from([Batch.First | Batch.Last | (snapshot ? Batch.Snapshot : 0)]), w.finish()]));
  };
  const loaded = () => {
    const r = new ShardReplay();
    for (const e of entries) r.entry(e);
    return storedDeliverIds(r.finish().sessions.values());
  };
  write(false);
  assert.deepEqual([...loaded()], ['r1.0'], 'in flight on one session, queued on the other');
  write(true);
  assert.deepEqual([...loaded()], ['r1.0'], 'a snapshot keeps the id');
  // Completed on the online session, and the offline one starts clean: nothing holds it.
  const inflight = [...h.session('online')!.inflight.keys()][0]!;
  h.pubrec(online, inflight);
  h.pubcomp(online, inflight);
  h.connect('offline', { cleanStart: true });
  write(false);
  assert.deepEqual([...loaded()], []);
});
