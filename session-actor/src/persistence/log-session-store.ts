import { Writer, messageBytes, type Message, type Logger, type Metrics, shardOf } from '../../../common/src/index.js';
import type { Session } from '../core/session.js';
import { isCasConflict } from './kv-buckets.js';
import { ShardLogChanges } from './session-log-changes.js';
import { HEADER_BYTES, MIN_PASS_SHARDS, type ReadStats, readShardLogs, type ShardRead } from './read-shard-logs.js';
import { Batch } from './session-log-records.js';
import { FencedError, type SessionStore } from './session-store.js';
import type { SessionLog } from './session-log-stream.js';

/** Compaction is considered once the log holds this much more than the live state. */
const MIN_GARBAGE_BYTES = 64 * 1024;
/**
 * Entries on one shard's subject beyond which compaction is considered even for a small state:
 * a load reads entries one after the other (a round trip each), so their count is what a
 * takeover waits for. Measured: 518 shards of 20 small sessions each, about 60 entries per
 * shard, took 20 s to load on a loaded 2-core machine; see compactionDue for the amortization.
 */
const MAX_LOG_ENTRIES = 16;
/** Room left in a log entry for the JetStream headers (fencing) and the batch flag. */
const HEADER_ROOM = 4096;
/**
 * Pause between two purges of this process: a purge by subject costs the stream tens of ms
 * (measured 79 ms on a 100,000-message stream, nats-server 2.9), and loads skip what it
 * would remove anyway (they start at the snapshot), so purging is only space reclamation.
 */
const PURGE_SPACING_MS = 1000;

interface Pending {
  body: Buffer;
  snapshot: boolean;
  /** Bytes of body already appended and acknowledged (a batch larger than one entry resumes here). */
  written: number;
  /** Sequence of the batch's first entry, once appended. */
  firstSeq: number;
  /** An append of it was tried: its bytes are fixed from then on (a retry must resend them exactly). */
  tried: boolean;
}

/** What this process knows about one shard's log while it owns the shard. */
interface ShardLog {
  changes: ShardLogChanges;
  /** Last sequence on the shard's subject this owner read or wrote: every append expects it (fencing). */
  lastSeq: number;
  /** First sequence of the last complete snapshot (0: none), written into every entry's header. */
  snapSeq: number;
  /** Encoded batches not yet acknowledged, in order: retried as they are (the tracker moved on). */
  pending: Pending[];
  /**
   * The entry of the last append whose outcome is unknown (timeout, connection lost): the
   * stream may have stored it while its acknowledgement was lost. Its retry then meets it as a
   * compare-and-set conflict, which must not be taken for another owner's write.
   */
  uncertain?: Buffer;
  /** Bytes and entries on the subject (since the last snapshot, which they include). */
  logBytes: number;
  logEntries: number;
  /** Bytes of the snapshot logBytes starts with (0 after a load: unknown, counted as appended). */
  snapBytes: number;
  /** logBytes, and logEntries, at which compaction is considered next. */
  checkAt: number;
  checkEntriesAt: number;
}

/**
 * Sessions as one append-only log per shard in one JetStream stream (session-log-stream.ts):
 * each write appends one entry with the records of what changed (session-log-changes.ts),
 * with `Nats-Expected-Last-Subject-Sequence` set to the last sequence this owner read or
 * wrote, so a paused ex-owner's append fails once the new owner wrote (fencing). When the log
 * holds about twice the live state, a write appends a snapshot instead and purges the
 * subject below it. A shard loads by walking its subject with direct gets, or, when many shards
 * load together (a takeover), all of them in one ordered consumer pass (read-shard-logs.ts).
 * Runs on the shard owner only.
 */
export class LogSessionStore implements SessionStore {
  readonly durable = true;
  private readonly logs = new Map<number, ShardLog>();
  private readonly m;
  /** Loads asked for and not yet read: the next read takes them all at once (each shard once). */
  private queued: Array<{ shard: number; resolve: (r: ShardRead) => void; reject: (err: Error) => void }> = [];
  private reading = false;
  /** subject -> purge below this sequence; one purge at a time, PURGE_SPACING_MS apart. */
  private readonly purges = new Map<string, number>();
  private purging = false;

  constructor(
    private readonly log: SessionLog,
    private readonly shards: number,
    private readonly logger: Logger,
    metrics: Metrics,
    /** Shards whose logs are read at once by direct gets (a takeover claims hundreds together). */
    private readonly loadConcurrency = 128,
    private readonly purgeSpacingMs = PURGE_SPACING_MS,
    /** `cluster.loadPassMinShards`: fewest shards loaded together that are read in one pass (0: never). */
    private readonly passMinShards = MIN_PASS_SHARDS,
  ) {
    this.m = {
      bytes: metrics.counter('session_persisted_bytes_total', 'Bytes appended to the session log (records and snapshots).'),
      writes: metrics.counter('session_writes_total', 'Session log operations, by kind (append, snapshot, purge).', ['op']),
      entriesRead: metrics.counter('session_log_entries_read_total', 'Session log entries read when loading shards.'),
      adopted: metrics.counter('session_log_adopted_appends_total', 'Session log appends whose acknowledgement was lost, found stored in the log and adopted.'),
    };
  }

  async load(shard: number): Promise<Session[]> {
    const { replay, last, snapSeq, bytes, entries } = await this.read(shard);
    this.m.entriesRead.inc(entries);
    const r = replay.finish();
    for (const [key, s] of r.sessions) {
      if (shardOf(s.key, this.shards) === shard) continue;
      this.logger.warn('session stored under the wrong shard; ignored (was the shard count changed?)', { shard });
      r.sessions.delete(key);
    }
    this.logs.set(shard, { changes: ShardLogChanges.fromReplay(r), lastSeq: last, snapSeq, pending: [], logBytes: bytes, logEntries: entries, snapBytes: 0, checkAt: 0, checkEntriesAt: 0 });
    return [...r.sessions.values()];
  }

  async write(shard: number, entries: ReadonlyArray<readonly [string, Session | undefined]>, sessions: ReadonlyMap<string, Session>): Promise<void> {
    const l = this.logs.get(shard);
    if (!l) throw new FencedError(shard, new Error('shard not loaded by this store'));
    // Encode now (synchronously): the records are the change up to this instant.
    const w = new Writer();
    const snapshot = this.compactionDue(l, sessions);
    if (snapshot) l.changes.snapshot(w, sessions.values());
    else for (const [key, s] of entries) l.changes.diff(w, key, s);
    if (w.length > 0) {
      const body = w.finish();
      const tail = l.pending[l.pending.length - 1];
      // A snapshot makes earlier unwritten changes moot, except a batch already tried: the log
      // may end with some of it, so its retry must resend it exactly (and finish it) first.
      const tried = l.pending[0]?.tried ? [l.pending[0]] : [];
      if (snapshot) l.pending = [...tried, { body, snapshot: true, written: 0, firstSeq: 0, tried: false }];
      else if (tail && !tail.snapshot && !tail.tried) tail.body = Buffer.concat([tail.body, body]);
      else l.pending.push({ body, snapshot, written: 0, firstSeq: 0, tried: false });
    }
    while (l.pending.length > 0) {
      const p = l.pending[0]!;
      const firstSeq = await this.append(shard, l, p);
      l.pending.shift();
      if (p.snapshot) {
        l.logBytes = p.body.length;
        l.snapBytes = p.body.length;
        l.logEntries = Math.ceil(p.body.length / this.chunkBytes());
        l.checkAt = Math.max(2 * p.body.length, MIN_GARBAGE_BYTES);
        l.checkEntriesAt = l.logEntries + MAX_LOG_ENTRIES;
        l.snapSeq = firstSeq;
        // Everything before the snapshot is moot (loads start at it): reclaim it, unhurried.
        this.purgeLater(this.log.subject(shard), firstSeq);
      }
    }
  }

  /**
   * A shard's log, read together with every other shard asked for meanwhile: a takeover claims
   * hundreds of shards in one round (their claims answer within tens of ms), and one read of
   * many shards is a single pass over the stream (read-shard-logs.ts). A read starts as soon as
   * none runs; what is asked during it waits for the next one. Runs on the claiming shard owner.
   */
  private read(shard: number): Promise<ShardRead> {
    return new Promise<ShardRead>((resolve, reject) => {
      this.queued.push({ shard, resolve, reject });
      if (!this.reading) {
        this.reading = true;
        setImmediate(() => void this.readQueued());
      }
    });
  }

  private async readQueued(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        // A shard asked for twice (never by the ownership, which loads a shard once at a time)
        // is read again by the next read: each load replays its own read.
        const batch = new Map<number, (typeof this.queued)[number]>();
        const later: typeof this.queued = [];
        for (const q of this.queued) {
          if (batch.has(q.shard)) later.push(q);
          else batch.set(q.shard, q);
        }
        this.queued = later;
        const t0 = performance.now();
        const stats: ReadStats = {};
        const reads = await readShardLogs(this.log, [...batch.keys()], this.loadConcurrency, stats, this.passMinShards).catch((err: Error) => err);
        // Most of a takeover's time after the claims: logged so a failover can be split up.
        if (batch.size > 1) this.logger.info('session logs read', { shards: batch.size, ms: Math.round(performance.now() - t0), ...stats });
        for (const [shard, w] of batch) {
          const r = reads instanceof Error ? reads : (reads.get(shard) ?? new Error(`session log of shard ${shard} not read`));
          if (r instanceof Error) w.reject(r);
          else w.resolve(r);
        }
      }
    } finally {
      this.reading = false;
    }
  }

  forget(shard: number): void {
    this.logs.delete(shard);
  }

  /** Queues a purge (below seq: always safe, a complete snapshot starts there) and runs the queue. */
  private purgeLater(subject: string, seq: number): void {
    this.purges.set(subject, Math.max(seq, this.purges.get(subject) ?? 0));
    if (this.purging) return;
    this.purging = true;
    void (async () => {
      try {
        for (;;) {
          const next = this.purges.entries().next();
          if (next.done) return;
          const [s, below] = next.value;
          this.purges.delete(s);
          this.m.writes.inc({ op: 'purge' });
          // A failed purge only leaves garbage that loads skip; a later snapshot purges it.
          await this.log.purgeBelow(s, below).catch((err: Error) => this.logger.warn('session log purge failed', { subject: s, err }));
          await new Promise((r) => setTimeout(r, this.purgeSpacingMs).unref());
        }
      } finally {
        this.purging = false;
      }
    })();
  }

  /**
   * Amortized compaction: a snapshot costs about the live state, and is written only once the
   * log holds more than that in garbage, so each appended byte pays for at most a constant
   * share of snapshots. More than MAX_LOG_ENTRIES entries since the last snapshot also trigger
   * it once the bytes appended since then are at least half the live state (still amortized:
   * a snapshot then costs at most twice what was appended since the last one), which folds a
   * log of many small entries, garbage or not (a shard filling with new sessions), into a few
   * entries, so a takeover reads a shard in a few round trips.
   */
  private compactionDue(l: ShardLog, sessions: ReadonlyMap<string, Session>): boolean {
    if (l.logBytes < l.checkAt && l.logEntries < l.checkEntriesAt) return false;
    const live = liveBytes(sessions);
    const garbage = l.logBytes - live;
    const appended = l.logBytes - l.snapBytes;
    if (garbage > live + MIN_GARBAGE_BYTES || (l.logEntries >= l.checkEntriesAt && 2 * appended >= live)) return true;
    // Look again once about as much was appended again (the estimate walks the shard: amortized).
    l.checkAt = l.logBytes + Math.max(MIN_GARBAGE_BYTES, live / 2);
    l.checkEntriesAt = l.logEntries + Math.max(MAX_LOG_ENTRIES, Math.ceil(live / 1024));
    return false;
  }

  private chunkBytes(): number {
    return Math.max(4096, this.log.maxPayload() - HEADER_ROOM);
  }

  /**
   * Appends one batch (several entries when larger than the max payload), resuming after the
   * chunks already acknowledged; returns its first sequence.
   */
  private async append(shard: number, l: ShardLog, p: Pending): Promise<number> {
    const subject = this.log.subject(shard);
    const chunk = this.chunkBytes();
    for (let off = p.written; off < p.body.length || off === 0; off += chunk) {
      const end = Math.min(p.body.length, off + chunk);
      const flags = (off === 0 ? Batch.First : 0) | (end === p.body.length ? Batch.Last : 0) | (p.snapshot ? Batch.Snapshot : 0);
      const data = Buffer.allocUnsafe(HEADER_BYTES + end - off);
      data[0] = flags;
      data.writeUIntBE(l.snapSeq, 1, 6);
      p.body.copy(data, HEADER_BYTES, off, end);
      p.tried = true;
      const seq = await this.appendEntry(shard, l, subject, data);
      l.lastSeq = seq;
      if (off === 0) p.firstSeq = seq;
      p.written = end;
      l.logBytes += data.length;
      l.logEntries++;
      this.m.bytes.inc(data.length);
      this.m.writes.inc({ op: p.snapshot ? 'snapshot' : 'append' });
      if (end === p.body.length) break;
    }
    return p.firstSeq;
  }

  /**
   * One compare-and-set append. A conflict right after an append whose outcome was unknown is
   * checked against the log: if the subject's last entry is exactly the entry this owner sent,
   * the stream stored it and only its acknowledgement was lost (seen when a NATS node is killed
   * mid-append), so the write is adopted. Any other conflict means another owner wrote: fenced.
   */
  private async appendEntry(shard: number, l: ShardLog, subject: string, data: Buffer): Promise<number> {
    try {
      const seq = await this.log.append(subject, data, l.lastSeq);
      l.uncertain = undefined;
      return seq;
    } catch (err) {
      if (!isCasConflict(err)) {
        l.uncertain = data;
        throw err;
      }
      const sent = l.uncertain;
      l.uncertain = undefined;
      if (sent?.equals(data)) {
        const last = await this.log.last(subject);
        if (last && last.seq > l.lastSeq && Buffer.from(last.data.buffer, last.data.byteOffset, last.data.byteLength).equals(data)) {
          this.m.adopted.inc();
          return last.seq;
        }
      }
      throw new FencedError(shard, err);
    }
  }
}

/** Bytes a snapshot of the sessions would take, roughly (each message once). */
function liveBytes(sessions: ReadonlyMap<string, Session>): number {
  let n = 0;
  const seen = new Set<Message>();
  const msg = (m: Message) => {
    if (seen.has(m)) return;
    seen.add(m);
    n += 16 + messageBytes(m);
  };
  for (const s of sessions.values()) {
    n += 96 + s.key.length * 2 + s.subs.size * 48 + (s.queue.length + s.inflight.size) * 24;
    for (const f of s.inflight.values()) msg(f.message);
    for (const d of s.queue) msg(d.message);
  }
  return n;
}
