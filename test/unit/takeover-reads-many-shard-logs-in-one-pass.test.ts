import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../common/src/log.js';
import { Metrics } from '../../common/src/metrics.js';
import { shardOf } from '../../common/src/shard.js';
import { encodeSession } from '../../session-actor/src/core/session-codec.js';
import type { Session } from '../../session-actor/src/core/session.js';
import { LogSessionStore } from '../../session-actor/src/persistence/log-session-store.js';
import { type ReadStats, readShardLogs } from '../../session-actor/src/persistence/read-shard-logs.js';
import { FencedError } from '../../session-actor/src/persistence/session-store.js';
import { MemorySessionLog } from '../support/memory-session-log.js';
import { msg, SessionCoreHarness } from '../support/session-core-harness.js';

// A takeover loads hundreds of shards at once: their logs are read in one stream-wide pass
// (read-shard-logs.ts, docs/sharding.md "Failover time"), entries of all shards interleaved in
// the stream; each shard must come back exactly as its owner left it, up to its own last entry.

const SHARDS = 16;

function canon(sessions: Iterable<Session>): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of sessions) out.set(s.key, encodeSession(s).toString('hex'));
  return out;
}

/** Sessions of `shard` in the harness's live state. */
function ofShard(h: SessionCoreHarness, shard: number): Map<string, Session> {
  return new Map([...h.st.sessions].filter(([k]) => shardOf(k, SHARDS) === shard));
}

/**
 * Fills a log the way a running owner does: offline persistent sessions on every shard, then
 * rounds of one queued message per session, each round writing every shard in turn (so the
 * stream interleaves the shards' entries, and compaction snapshots some of them).
 */
async function ownerWrites(log: MemorySessionLog, rounds: number): Promise<{ h: SessionCoreHarness; owner: LogSessionStore }> {
  const h = new SessionCoreHarness({ maxQueuedMessages: 10_000 });
  const owner = new LogSessionStore(log, SHARDS, silentLogger, new Metrics(false), 8, 0);
  for (let shard = 0; shard < SHARDS; shard++) await owner.load(shard);
  const keys: string[] = [];
  for (let i = 0; i < 4 * SHARDS; i++) {
    const key = `dev${i}`;
    const c = h.connect(key, { cleanStart: false, sessionExpiryS: 3600 });
    h.subscribe(c, 'all', { qos: 1 });
    h.connLost(c);
    keys.push(key);
  }
  for (let round = 0; round <= rounds; round++) {
    if (round > 0) h.deliver(msg('all', `m${round}`, 1), keys);
    for (let shard = 0; shard < SHARDS; shard++) {
      const sessions = ofShard(h, shard);
      await owner.write(shard, [...sessions], sessions);
    }
  }
  return { h, owner };
}

/** A new owner loading `shards` all at once, as a takeover's claims do. */
async function takeOver(log: MemorySessionLog, shards: readonly number[]): Promise<{ store: LogSessionStore; loaded: Map<number, Session[]> }> {
  const store = new LogSessionStore(log, SHARDS, silentLogger, new Metrics(false), 8, 0);
  const loaded = new Map<number, Session[]>();
  await Promise.all(shards.map(async (s) => loaded.set(s, await store.load(s))));
  return { store, loaded };
}

const all = Array.from({ length: SHARDS }, (_, i) => i);

/** Each of `shards` was read, and replays to exactly the owner's live sessions. */
function assertReadsExact(reads: Awaited<ReturnType<typeof readShardLogs>>, h: SessionCoreHarness, shards: readonly number[]): void {
  for (const shard of shards) {
    const r = reads.get(shard);
    assert.ok(r && !(r instanceof Error), `shard ${shard}: ${String(r)}`);
    assert.deepEqual(canon(r.replay.finish().sessions.values()), canon(ofShard(h, shard).values()), `shard ${shard}`);
  }
}

test('shards loaded together are read in one pass over the interleaved log; each comes back exactly, and its next write is not fenced', async () => {
  const log = new MemorySessionLog();
  const { h } = await ownerWrites(log, 30);
  const gets = log.directGets;
  const { store, loaded } = await takeOver(log, all);
  assert.equal(log.scans, 1, 'one pass');
  assert.ok(log.directGets - gets <= 2 * SHARDS, `${log.directGets - gets} direct gets: each shard's last (and first when no snapshot), no entry by entry`);
  for (const shard of all) assert.deepEqual(canon(loaded.get(shard)!), canon(ofShard(h, shard).values()), `shard ${shard}`);
  // The fencing sequence is each shard's own last: the new owner appends to every shard.
  h.deliver(msg('all', 'after', 1), [...h.st.sessions.keys()]);
  for (const shard of all) {
    const sessions = ofShard(h, shard);
    await store.write(shard, [...sessions], sessions);
  }
  const again = await takeOver(log, all);
  for (const shard of all) assert.deepEqual(canon(again.loaded.get(shard)!), canon(ofShard(h, shard).values()), `shard ${shard} after the new owner wrote`);
});

test('a pass over some shards skips the entries of the others, and the old owner is fenced on the shards taken', async () => {
  const log = new MemorySessionLog();
  const { h, owner } = await ownerWrites(log, 20);
  const taken = all.filter((s) => s % 3 !== 0);
  const { store, loaded } = await takeOver(log, taken);
  assert.equal(log.scans, 1);
  assert.deepEqual(
    [...loaded.keys()].sort((a, b) => a - b),
    taken,
  );
  for (const shard of taken) assert.deepEqual(canon(loaded.get(shard)!), canon(ofShard(h, shard).values()), `shard ${shard}`);
  // The new owner writes a shard it took; the old owner (paused meanwhile) cannot append over it.
  const shard = taken[0]!;
  const sessions = new Map(loaded.get(shard)!.map((s) => [s.key, s]));
  const key = [...sessions.keys()][0]!;
  sessions.get(key)!.expiryS = 7;
  await store.write(shard, [[key, sessions.get(key)]], sessions);
  h.deliver(msg('all', 'late', 1), [key]);
  const old = ofShard(h, shard);
  await assert.rejects(owner.write(shard, [[key, old.get(key)]], old), FencedError);
});

for (const [what, endsShort, minScans] of [
  ['a pass served by a replica behind the leader resumes until it reaches every shard’s last entry', (log: MemorySessionLog) => (log.scanBehind = 3), 2],
  ['a pass that stalls is resumed after the last entry it delivered; nothing is replayed twice', (log: MemorySessionLog) => (log.scanStallAfter = 25), 3],
] as const) {
  test(what, async () => {
    const log = new MemorySessionLog();
    const { h } = await ownerWrites(log, 10);
    endsShort(log);
    const { loaded } = await takeOver(log, all);
    assert.ok(log.scans >= minScans, `${log.scans} scans`);
    for (const shard of all) assert.deepEqual(canon(loaded.get(shard)!), canon(ofShard(h, shard).values()), `shard ${shard}`);
  });
}

for (const [what, hide] of [
  ['its last entry', (l: ReadonlyArray<{ seq: number }>) => [l.at(-1)!.seq]],
  ['an entry in the middle', (l: ReadonlyArray<{ seq: number }>) => [l[Math.floor(l.length / 2)]!.seq]],
  ['its first entries (a pass that began late, as nats-server 2.9 did under lease churn)', (l: ReadonlyArray<{ seq: number }>) => l.slice(0, 2).map((e) => e.seq)],
] as const) {
  test(`a pass that misses ${what} of a shard: that shard is read again with direct gets, exactly; the others come from the pass`, async () => {
    const log = new MemorySessionLog();
    const { h } = await ownerWrites(log, 10);
    const victim = 5;
    for (const seq of hide(log.entries.get(log.subject(victim))!)) log.scanHides.add(seq);
    const stats: ReadStats = {};
    const reads = await readShardLogs(log, all, 8, stats);
    assert.equal(stats.passShards, SHARDS, 'every shard was in the pass');
    assert.equal(stats.reread, 1, 'one shard read again');
    assert.equal(stats.direct, 1, 'with direct gets');
    assertReadsExact(reads, h, all);
  });
}

test('a pass that began late, missing the first entries of many shards, is made again for those shards; nothing is read entry by entry', async () => {
  const log = new MemorySessionLog();
  const { h } = await ownerWrites(log, 10);
  log.scanStartsLateOnce = 3 * SHARDS;
  const stats: ReadStats = {};
  const reads = await readShardLogs(log, all, 8, stats);
  assert.ok((stats.reread ?? 0) >= 4, `${stats.reread} shards read again`);
  assert.equal(stats.direct, 0);
  assert.equal(log.scans, 2);
  assertReadsExact(reads, h, all);
});

test('a shard idle since a snapshot far back in the stream is read with direct gets beside the pass', async () => {
  const log = new MemorySessionLog();
  const { h } = await ownerWrites(log, 0);
  assert.ok(log.entries.size === SHARDS);
  // Shards 1.. keep writing (each write snapshots soon): shard 0's log now starts far back.
  const busy = new LogSessionStore(log, SHARDS, silentLogger, new Metrics(false), 8, 0);
  for (const shard of all.slice(1)) await busy.load(shard);
  for (let round = 0; round < 400; round++) {
    for (const shard of all.slice(1)) {
      const sessions = ofShard(h, shard);
      const key = [...sessions.keys()][round % sessions.size]!;
      sessions.get(key)!.expiryS = 100 + round;
      await busy.write(shard, [[key, sessions.get(key)]], sessions);
    }
  }
  const reads = await readShardLogs(log, all, 8);
  assert.equal(log.scans, 1);
  assert.ok(log.scannedEntries < 256 * SHARDS, `the pass delivered ${log.scannedEntries} entries: it did not start at shard 0's log`);
  assertReadsExact(reads, h, all);
});

test('one shard loaded alone (a handoff) is read with direct gets, no pass', async () => {
  const log = new MemorySessionLog();
  const { h } = await ownerWrites(log, 5);
  const { loaded } = await takeOver(log, [3]);
  assert.equal(log.scans, 0);
  assert.deepEqual(canon(loaded.get(3)!), canon(ofShard(h, 3).values()));
});

test('with the pass turned off (cluster.loadPassMinShards 0) shards loaded together are read with direct gets, exactly', async () => {
  const log = new MemorySessionLog();
  const { h } = await ownerWrites(log, 10);
  const store = new LogSessionStore(log, SHARDS, silentLogger, new Metrics(false), 8, 0, 0);
  const loaded = await Promise.all(all.map((s) => store.load(s)));
  assert.equal(log.scans, 0);
  for (const shard of all) assert.deepEqual(canon(loaded[shard]!), canon(ofShard(h, shard).values()), `shard ${shard}`);
});
