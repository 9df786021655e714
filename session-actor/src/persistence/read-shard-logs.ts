import { BACKOFF, SESSION_LOG_READ_RETRIES, sleepBeforeRetry } from '../../../common/src/index.js';
import { Batch, ShardReplay } from './session-log-records.js';
import type { LogEntry, SessionLog } from './session-log-stream.js';

/**
 * Entry header: u8 batch flags, then the sequence (u48) of the first entry of the shard's last
 * complete snapshot (0: none), so a load starts there without reading what precedes it.
 */
export const HEADER_BYTES = 7;

/**
 * A stream-wide pass delivers every shard's entries in its window, not only those of the shards
 * being loaded; a shard joins the pass only while the window stays within this many sequences per
 * shard in the pass. The others (a shard idle since a snapshot far back, whose few entries are
 * spread over much of the stream) are read with direct gets, a round trip per entry, beside the pass.
 * Measured on nats-server 2.9, loaded 2-core machine: 128 direct gets at once averaged 55 ms each;
 * reading 518 shards (8,935 of their entries, interleaved with the other shards') took 0.79 s in
 * all with a pass, 4.5-6.2 s entry by entry (docs/sharding.md, "Failover time").
 */
const PASS_SEQUENCES_PER_SHARD = 256;
/**
 * Default of `cluster.loadPassMinShards`: fewer shards than this are read with direct gets. A pass
 * costs two stream API requests (create and delete the consumer; nats-server 2.9 answers those one
 * at a time), a handoff of one shard reads its few entries in a few round trips.
 */
export const MIN_PASS_SHARDS = 4;

/** A shard's log as read: its replay, and what the owner continues from. */
export interface ShardRead {
  replay: ShardReplay;
  /** Last sequence on the shard's subject when read (0: empty): the owner's first append expects it (fencing). */
  last: number;
  /** First sequence of the last complete snapshot the newest entry names (0: none). */
  snapSeq: number;
  bytes: number;
  entries: number;
}

/** The snapshot sequence written in an entry's header (0: none, or too short to hold one). */
function snapSeqOf(e: LogEntry | null): number {
  return e && e.data.length >= HEADER_BYTES ? Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).readUIntBE(1, 6) : 0;
}

/**
 * Reads a shard's whole log (up to the last sequence `log.last` reports) into a replay. Direct
 * gets, one entry after the other: no consumer. Shard owners (a load of a few shards, the shards
 * a pass leaves out) and test support. `lastEntry`: the subject's last entry, when already read.
 */
export async function readShardLog(log: SessionLog, shard: number, lastEntry?: LogEntry | null): Promise<ShardRead> {
  const subject = log.subject(shard);
  if (lastEntry === undefined) lastEntry = await log.last(subject);
  const last = lastEntry?.seq ?? 0;
  // Start at the last complete snapshot the newest entry names (nothing before it matters).
  const snapSeq = snapSeqOf(lastEntry);
  const replay = new ShardReplay();
  let seq = Math.max(0, snapSeq - 1);
  let bytes = 0;
  let entries = 0;
  let misses = 0;
  while (seq < last) {
    const e = await log.next(subject, seq + 1);
    if (!e || e.seq > last) {
      // A replica serving direct gets may be behind the leader that told us `last`.
      if (++misses > SESSION_LOG_READ_RETRIES) throw new Error(`session log of shard ${shard} ends at ${e?.seq ?? seq}, expected ${last}`);
      await sleepBeforeRetry(BACKOFF.sessionLogRead, misses);
      continue;
    }
    replay.entry(e.data, HEADER_BYTES);
    seq = e.seq;
    bytes += e.data.length;
    entries++;
  }
  return { replay, last, snapSeq, bytes, entries };
}

/** One shard of a pass: where its log starts and ends, and what was read of it. */
interface PassShard {
  shard: number;
  /** First sequence to replay (its snapshot, or its first entry when it has none). */
  from: number;
  read: ShardRead;
  /** Sequence of the last entry replayed (its `last` once complete). */
  reached: number;
  /**
   * The pass missed an entry of this shard (one came whose predecessor was not the entry replayed
   * before it): its read is thrown away and made again with direct gets.
   */
  broken: boolean;
  /** Replaying from a snapshot the pass jumped to: the read counts only if that snapshot completes. */
  snapshotOpen: boolean;
}

/**
 * Reads the logs of many shards at once (the shards a takeover claims together). Each shard's
 * last entry comes by direct get as for a single load (its sequence is the fencing sequence, its
 * header the snapshot to start at); then ONE ordered consumer pass over the whole stream, from
 * the smallest start of the shards in the pass to the largest last, hands each entry to its
 * shard's replay and skips the entries of other shards, instead of a direct get per entry
 * (thousands of sequential round trips when hundreds of shards move). Shards whose log starts
 * too far back for the pass (PASS_SEQUENCES_PER_SHARD) are read with direct gets beside it.
 * Resolves, per shard, its read or the error that kept it from loading. Runs on the claiming
 * shard owner (LogSessionStore.load batches the loads of a claim round into one call).
 */
export async function readShardLogs(
  log: SessionLog,
  shards: readonly number[],
  concurrency: number,
  stats?: ReadStats,
  /** Fewest shards worth a pass (0: never a pass, every shard by direct gets). */
  passMinShards = MIN_PASS_SHARDS,
): Promise<Map<number, ShardRead | Error>> {
  const t0 = performance.now();
  const out = new Map<number, ShardRead | Error>();
  const lasts = new Map<number, LogEntry | null>();
  const starts = new Map<number, number>();
  await eachLimited(shards, concurrency, async (shard) => {
    try {
      const subject = log.subject(shard);
      const e = await log.last(subject);
      lasts.set(shard, e);
      if (!e) return;
      // No snapshot yet: the log starts at the subject's first entry (one more direct get).
      const snap = snapSeqOf(e);
      starts.set(shard, snap > 0 ? snap : ((await log.next(subject, 1))?.seq ?? e.seq));
    } catch (err) {
      out.set(shard, err as Error);
    }
  });
  const pass = passMinShards > 0 ? passShards(starts, lasts, passMinShards) : [];
  const t1 = performance.now();
  const inPass = new Set(pass.map((p) => p.shard));
  const direct = shards.filter((s) => !out.has(s) && !inPass.has(s));
  const readDirect = (list: readonly number[]) =>
    eachLimited(list, concurrency, async (shard) => {
      out.set(shard, await readShardLog(log, shard, lasts.get(shard)).catch((err: Error) => err));
    });
  await Promise.all([
    pass.length > 0
      ? readPass(log, pass, out, stats).then(async (again) => {
          if (stats) stats.reread = again.length;
          // A pass that missed entries of many shards (one that began late) is tried once more
          // for those shards alone; what that misses too is read with direct gets.
          const missed = new Set(again);
          const retry = again.length >= passMinShards ? passShards(new Map([...starts].filter(([s]) => missed.has(s))), lasts, passMinShards) : [];
          const retried = new Set(retry.map((p) => p.shard));
          const direct = again.filter((s) => !retried.has(s));
          if (retry.length > 0) direct.push(...(await readPass(log, retry, out, stats)));
          if (stats) stats.direct = direct.length;
          return readDirect(direct);
        })
      : undefined,
    readDirect(direct),
  ]);
  if (stats) {
    stats.lastsMs = Math.round(t1 - t0);
    stats.restMs = Math.round(performance.now() - t1);
    stats.passShards = pass.length;
  }
  return out;
}

/** Where a read of many shards spent its time (the owner logs it: failovers are split with it). */
export interface ReadStats {
  /** Reading every shard's last entry (and first, when it has no snapshot). */
  lastsMs?: number;
  /** The pass and the direct reads beside it. */
  restMs?: number;
  passShards?: number;
  /** Entries the pass delivered (of every shard in its window) and the scans it took. */
  scanned?: number;
  scans?: number;
  /** Shards of the pass read again because the pass missed some of their entries (a second pass first). */
  reread?: number;
  /** Of those, shards read with direct gets (the second pass missed them too, or they were too few for one). */
  direct?: number;
}

/**
 * The shards read by the pass: by start, newest first, as many as keep the window (largest last
 * - start + 1) within PASS_SEQUENCES_PER_SHARD per shard; none when fewer than minShards.
 */
function passShards(starts: ReadonlyMap<number, number>, lasts: ReadonlyMap<number, LogEntry | null>, minShards: number): PassShard[] {
  const byStart = [...starts].sort((a, b) => b[1] - a[1]);
  let end = 0;
  let take = 0;
  for (let k = 0; k < byStart.length; k++) {
    const [shard, from] = byStart[k]!;
    end = Math.max(end, lasts.get(shard)!.seq);
    if (end - from + 1 <= PASS_SEQUENCES_PER_SHARD * (k + 1)) take = k + 1;
  }
  if (take < minShards) return [];
  return byStart.slice(0, take).map(([shard, from]) => {
    const last = lasts.get(shard)!;
    return { shard, from, reached: 0, broken: false, snapshotOpen: false, read: { replay: new ShardReplay(), last: last.seq, snapSeq: snapSeqOf(last), bytes: 0, entries: 0 } };
  });
}

/**
 * The pass itself: `log.scan` from the smallest start up to the largest last. A scan that ends
 * short (the server answering it is behind the leader that gave the lasts, or the consumer
 * stalled) is resumed after the last entry it delivered, with the session log read backoff.
 *
 * A shard's read counts only if the pass provably handed over every entry of it from its start
 * to its last: the first must be its start, and each later one must name the one before it as
 * its predecessor (the expected-last-sequence its append carried, stored with it). Measured on
 * nats-server 2.9 with leases moving back and forth: some passes began hundreds of sequences
 * after the start they were created with, and the shards whose first entries fell in that gap
 * replayed without them, losing the sessions those entries held (docs/sharding.md). A jump to
 * the first entry of a snapshot is allowed when that snapshot completes (it replaces everything
 * before it). Shards not read whole are returned, to be read again with direct gets; a pass
 * that fails returns them all. Runs on the claiming shard owner.
 */
async function readPass(log: SessionLog, pass: readonly PassShard[], out: Map<number, ShardRead | Error>, stats?: ReadStats): Promise<number[]> {
  const byShard = new Map(pass.map((p) => [p.shard, p]));
  let from = Infinity;
  let end = 0;
  for (const p of pass) {
    from = Math.min(from, p.from);
    end = Math.max(end, p.read.last);
  }
  let misses = 0;
  let reached = from - 1;
  try {
    while (reached < end) {
      if (stats) stats.scans = (stats.scans ?? 0) + 1;
      const at = await log.scan(reached + 1, end, (e) => {
        if (stats) stats.scanned = (stats.scanned ?? 0) + 1;
        const p = byShard.get(e.shard);
        if (!p || p.broken || e.seq < p.from || e.seq > p.read.last || e.seq <= p.reached) return;
        const flags = e.data.length > 0 ? e.data[0]! : 0;
        const snapshotStart = (flags & (Batch.First | Batch.Snapshot)) === (Batch.First | Batch.Snapshot);
        const follows = p.reached === 0 ? e.seq === p.from : e.prev === p.reached;
        if (!follows) {
          if (!snapshotStart) {
            p.broken = true;
            return;
          }
          p.snapshotOpen = true;
        }
        if ((flags & (Batch.Last | Batch.Snapshot)) === (Batch.Last | Batch.Snapshot)) p.snapshotOpen = false;
        p.read.replay.entry(e.data, HEADER_BYTES);
        p.reached = e.seq;
        p.read.bytes += e.data.length;
        p.read.entries++;
      });
      if (at >= end) break;
      if (at > reached) misses = 0;
      reached = Math.max(reached, at);
      if (++misses > SESSION_LOG_READ_RETRIES) throw new Error(`session log pass ends at ${reached}, expected ${end}`);
      await sleepBeforeRetry(BACKOFF.sessionLogRead, misses);
    }
  } catch {
    return pass.map((p) => p.shard);
  }
  const again: number[] = [];
  for (const p of pass) {
    if (p.broken || p.snapshotOpen || p.reached !== p.read.last) again.push(p.shard);
    else out.set(p.shard, p.read);
  }
  return again;
}

/** Runs fn over items, at most n at a time. */
async function eachLimited<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
