import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writer } from '../../common/src/envelope/codec.js';
import { silentLogger } from '../../common/src/log.js';
import { Metrics } from '../../common/src/metrics.js';
import { shardOf } from '../../common/src/shard.js';
import { encodeSession } from '../../session-actor/src/core/session-codec.js';
import type { Session } from '../../session-actor/src/core/session.js';
import { LogSessionStore } from '../../session-actor/src/persistence/log-session-store.js';
import { ShardLogChanges } from '../../session-actor/src/persistence/session-log-changes.js';
import { Batch, ShardReplay } from '../../session-actor/src/persistence/session-log-records.js';
import { FencedError } from '../../session-actor/src/persistence/session-store.js';
import { MemorySessionLog } from '../support/memory-session-log.js';
import { pubAckSeq } from '../../session-actor/src/persistence/session-log-stream.js';
import { isCasConflict } from '../../session-actor/src/persistence/kv-buckets.js';
import { msg, SessionCoreHarness } from '../support/session-core-harness.js';
import { simulate } from '../support/session-simulation.js';

// The session log (docs/sharding.md, "Session log"): what a shard owner appends is the change,
// never the session; replaying the log rebuilds every session exactly.

/** Canonical bytes of a shard's sessions, to compare a replay with the live state. */
function canon(sessions: Iterable<Session>): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of sessions) out.set(s.key, encodeSession(s).toString('hex'));
  return out;
}

function entry(flags: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([flags]), body]);
}

/** Feeds the core's live sessions through the change tracker, one batch per call. */
class Tracked {
  readonly changes = new ShardLogChanges();
  readonly entries: Buffer[] = [];
  private known = new Set<string>();

  write(sessions: Map<string, Session>, snapshot = false): number {
    const w = new Writer();
    if (snapshot) {
      this.changes.snapshot(w, sessions.values());
    } else {
      for (const key of this.known) if (!sessions.has(key)) this.changes.diff(w, key, undefined);
      for (const [key, s] of sessions) this.changes.diff(w, key, s);
    }
    this.known = new Set(sessions.keys());
    if (w.length === 0) return 0;
    const e = entry(Batch.First | Batch.Last | (snapshot ? Batch.Snapshot : 0), w.finish());
    this.entries.push(e);
    return e.length - 1;
  }

  replay(): Map<string, Session> {
    const r = new ShardReplay();
    for (const e of this.entries) r.entry(e);
    return r.finish().sessions;
  }
}

test('replaying the log rebuilds every session of the seeded core simulation, after every core call', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const t = new Tracked();
    let calls = 0;
    let checked = 0;
    const r = simulate(
      seed,
      1500,
      {},
      {
        afterCore: (st) => {
          calls++;
          t.write(st.sessions, calls % 400 === 0);
          if (calls % 25 === 0) {
            assert.deepEqual(canon(t.replay().values()), canon(st.sessions.values()), `seed ${seed}, core call ${calls}`);
            checked++;
          }
        },
      },
    );
    assert.deepEqual([...r.kinds.keys()], []);
    assert.ok(checked > 10, `compared the replay ${checked} times`);
  }
});

test('the bytes written for one more queued message, and for one acknowledgement, do not grow with the queue', () => {
  const cost = (queued: number) => {
    const h = new SessionCoreHarness({ maxQueuedMessages: 1_000_000, maxQueuedBytes: 1 << 30, maxInflight: 10 });
    const c = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600 });
    h.subscribe(c, 'q/#', { qos: 1 });
    const t = new Tracked();
    h.connLost(c);
    for (let i = 0; i < queued; i++) h.deliver(msg('q/a', Buffer.alloc(1024, i), 1), ['dev']);
    t.write(h.st.sessions);
    h.deliver(msg('q/a', Buffer.alloc(1024, 7), 1), ['dev']);
    const enqueue = t.write(h.st.sessions);
    const c2 = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600 });
    t.write(h.st.sessions);
    const first = [...h.session('dev')!.inflight.keys()][0]!;
    h.puback(c2, first); // frees one slot: one more message leaves the queue for the window
    const ack = t.write(h.st.sessions);
    assert.deepEqual(canon(t.replay().values()), canon(h.st.sessions.values()));
    return { enqueue, ack };
  };
  const small = cost(10);
  const large = cost(10_000);
  assert.ok(small.enqueue > 1024, 'the new message itself is written');
  assert.equal(large.enqueue, small.enqueue, 'enqueue at queue length 10 vs 10,000');
  assert.equal(large.ack, small.ack, 'acknowledgement at queue length 10 vs 10,000');
  assert.ok(small.ack < 200, `an acknowledgement writes ${small.ack} bytes`);
});

test('a message delivered to many sessions of one shard is written once', () => {
  const h = new SessionCoreHarness();
  const keys: string[] = [];
  for (let i = 0; i < 50; i++) {
    const c = h.connect(`dev${i}`, { cleanStart: false, sessionExpiryS: 3600 });
    h.subscribe(c, 'fan/#', { qos: 1 });
    h.connLost(c);
    keys.push(`dev${i}`);
  }
  const t = new Tracked();
  t.write(h.st.sessions);
  h.deliver(msg('fan/x', Buffer.alloc(10_000, 1), 1), keys);
  const bytes = t.write(h.st.sessions);
  assert.ok(bytes > 10_000 && bytes < 2 * 10_000, `50 sessions queued one 10 kB message: ${bytes} bytes written`);
  assert.deepEqual(canon(t.replay().values()), canon(h.st.sessions.values()));
});

test('replay ignores a batch cut short (its last entry never written) and applies the next one', () => {
  const h = new SessionCoreHarness();
  const c = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600 });
  h.subscribe(c, 'a', { qos: 1 });
  const t = new Tracked();
  t.write(h.st.sessions);
  const before = canon(h.st.sessions.values());
  // A crash between the entries of a batch: only its first entry reached the log.
  const w = new Writer();
  h.subscribe(c, 'b', { qos: 1 });
  new ShardLogChanges().snapshot(w, h.st.sessions.values());
  t.entries.push(entry(Batch.First | Batch.Snapshot, w.finish()));
  assert.deepEqual(canon(t.replay().values()), before);
  // The owner after the crash appends its own batch: it applies to the state before the cut one.
  t.write(h.st.sessions);
  assert.deepEqual(canon(t.replay().values()), canon(h.st.sessions.values()));
  assert.notDeepEqual(canon(h.st.sessions.values()), before);
});

test('store: a batch larger than the max payload spans entries; reload, compaction and purge keep the state', async () => {
  const log = new MemorySessionLog(8 * 1024);
  const shards = 4;
  const h = new SessionCoreHarness();
  const key = 'deep';
  const shard = shardOf(key, shards);
  const store = new LogSessionStore(log, shards, silentLogger, new Metrics(false), 64, 0);
  assert.deepEqual(await store.load(shard), []);
  const c = h.connect(key, { cleanStart: false, sessionExpiryS: 3600 });
  h.subscribe(c, 'q', { qos: 1 });
  h.connLost(c);
  await store.write(shard, [[key, h.session(key)]], h.st.sessions);
  // 40 kB in one write: five entries of at most 8 kB.
  for (let i = 0; i < 40; i++) h.deliver(msg('q', Buffer.alloc(1000, i), 1), [key]);
  const appends = log.appends;
  await store.write(shard, [[key, h.session(key)]], h.st.sessions);
  assert.ok(log.appends - appends >= 5, `${log.appends - appends} entries`);
  // Reconnect and acknowledge everything, one write per acknowledgement: the log compacts.
  const c2 = h.connect(key, { cleanStart: false, sessionExpiryS: 3600 });
  for (let n = 0; n < 200; n++) {
    const s = h.session(key)!;
    const id = [...s.inflight.keys()][0];
    if (id === undefined) break;
    h.puback(c2, id);
    await store.write(shard, [[key, h.session(key)]], h.st.sessions);
  }
  for (let i = 0; i < 400; i++) {
    h.deliver(msg('q', Buffer.alloc(500, i), 1), [key]);
    const id = [...h.session(key)!.inflight.keys()][0]!;
    h.puback(c2, id);
    await store.write(shard, [[key, h.session(key)]], h.st.sessions);
  }
  // Purges run in the background, one after the other (loads start at the snapshot anyway).
  for (let i = 0; i < 500 && log.heldBytes(log.subject(shard)) >= 100_000; i++) await new Promise((r) => setTimeout(r, 10));
  const held = log.heldBytes(log.subject(shard));
  assert.ok(held < 100_000, `the log holds ${held} bytes after ${log.appendedBytes} appended (compacted)`);
  const fresh = new LogSessionStore(log, shards, silentLogger, new Metrics(false));
  const loaded = await fresh.load(shard);
  assert.deepEqual(canon(loaded), canon(h.st.sessions.values()));
});

test('store: a failed append is retried with the next write; nothing of it is lost', async () => {
  const log = new MemorySessionLog();
  const h = new SessionCoreHarness();
  const store = new LogSessionStore(log, 1, silentLogger, new Metrics(false));
  await store.load(0);
  const c = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600 });
  h.subscribe(c, 'a', { qos: 1 });
  h.connLost(c);
  h.deliver(msg('a', 'one', 1), ['dev']);
  log.failNext = 1;
  await assert.rejects(store.write(0, [['dev', h.session('dev')]], h.st.sessions), /connection lost/);
  h.deliver(msg('a', 'two', 1), ['dev']);
  await store.write(0, [['dev', h.session('dev')]], h.st.sessions);
  const loaded = await new LogSessionStore(log, 1, silentLogger, new Metrics(false)).load(0);
  assert.deepEqual(canon(loaded), canon(h.st.sessions.values()));
  assert.equal(loaded[0]!.queue.length, 2);
});

test('store: an owner whose shard another owner has written since is fenced', async () => {
  const log = new MemorySessionLog();
  const h = new SessionCoreHarness();
  const old = new LogSessionStore(log, 1, silentLogger, new Metrics(false));
  await old.load(0);
  const c = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600 });
  await old.write(0, [['dev', h.session('dev')]], h.st.sessions);
  // A new owner loads and writes (the old one was paused meanwhile).
  const next = new LogSessionStore(log, 1, silentLogger, new Metrics(false));
  const sessions = new Map((await next.load(0)).map((s) => [s.key, s]));
  sessions.get('dev')!.expiryS = 7;
  await next.write(0, [['dev', sessions.get('dev')]], sessions);
  h.subscribe(c, 'late', { qos: 1 });
  await assert.rejects(old.write(0, [['dev', h.session('dev')]], h.st.sessions), FencedError);
});

test('store: an append stored but not acknowledged is adopted by its retry, not taken for another owner', async () => {
  const log = new MemorySessionLog(4096 + 8 * 1024);
  const h = new SessionCoreHarness();
  const metrics = new Metrics(false);
  const store = new LogSessionStore(log, 1, silentLogger, metrics);
  await store.load(0);
  const c = h.connect('dev', { cleanStart: false, sessionExpiryS: 3600 });
  h.subscribe(c, 'a', { qos: 1 });
  h.connLost(c);
  await store.write(0, [['dev', h.session('dev')]], h.st.sessions);
  // One small batch, then one spanning several entries, each losing an acknowledgement.
  for (const [n, bytes] of [
    [1, 10],
    [3, 10_000],
  ] as const) {
    for (let lost = 0; lost < n; lost++) {
      h.deliver(msg('a', Buffer.alloc(bytes, lost), 1), ['dev']);
      log.loseAckNext = 1;
      await assert.rejects(store.write(0, [['dev', h.session('dev')]], h.st.sessions), /TIMEOUT/);
    }
    // More changes arrive before the retry: they follow the batch that was tried, unmixed.
    h.deliver(msg('a', 'after', 1), ['dev']);
    await store.write(0, [['dev', h.session('dev')]], h.st.sessions);
  }
  const loaded = await new LogSessionStore(log, 1, silentLogger, new Metrics(false)).load(0);
  assert.deepEqual(canon(loaded), canon(h.st.sessions.values()));
  assert.equal(loaded[0]!.queue.length, 6);
  assert.match(await metrics.registry.metrics(), /shardmq_session_log_adopted_appends_total 4/);
  // A conflict not preceded by an unknown outcome is still another owner's write.
  const other = new LogSessionStore(log, 1, silentLogger, new Metrics(false));
  const sessions = new Map((await other.load(0)).map((s) => [s.key, s]));
  sessions.get('dev')!.expiryS = 7;
  await other.write(0, [['dev', sessions.get('dev')]], sessions);
  h.deliver(msg('a', 'late', 1), ['dev']);
  await assert.rejects(store.write(0, [['dev', h.session('dev')]], h.st.sessions), FencedError);
});

test('a JetStream acknowledgement gives its sequence; a refused compare-and-set is a conflict; garbage is an error', () => {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o));
  assert.equal(pubAckSeq(enc({ stream: 's', seq: 42 })), 42);
  assert.throws(
    () => pubAckSeq(enc({ error: { code: 400, err_code: 10071, description: 'wrong last sequence: 5' } })),
    (err: Error) => isCasConflict(err),
  );
  for (const bad of [Buffer.from('{'), enc({ stream: 's' }), enc({ seq: -1 }), enc({ seq: 1.5 })]) {
    assert.throws(
      () => pubAckSeq(bad),
      (err: Error) => !isCasConflict(err),
    );
  }
});
