import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { NatsRequestMux, type Config } from '../../../common/src/index.js';
import { jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';

/** Fencing header of every append; stored with the entry, it names the entry before it. */
const EXPECTED_LAST = 'Nats-Expected-Last-Subject-Sequence';

/** One entry of a shard's log as read back. */
export interface LogEntry {
  seq: number;
  data: Uint8Array;
}

/** An entry of some shard's log, as a stream-wide pass delivers it. */
export interface ScannedEntry extends LogEntry {
  /** Shard of the entry's subject (-1: a subject that names none). */
  shard: number;
  /**
   * The sequence its subject ended at when it was appended (its Nats-Expected-Last-Subject-Sequence,
   * stored with it; -1: none): the entry before it in its shard's log, so a reader can tell that
   * it saw every entry of a shard.
   */
  prev: number;
}

/**
 * The JetStream operations the session log needs (one stream, one subject per shard).
 * Only nats-server 2.9 features: per-subject compare-and-set on publish, direct get by
 * subject, purge by subject below a sequence, ordered consumers. Session actors and test support.
 */
export interface SessionLog {
  subject(shard: number): string;
  /** The last entry on the subject (null: empty), by direct get (any replica). */
  last(subject: string): Promise<LogEntry | null>;
  /** The first entry on the subject at or after seq, or null. */
  next(subject: string, seq: number): Promise<LogEntry | null>;
  /** Appends if the subject's last sequence is still expectedLast; resolves the new sequence. */
  append(subject: string, data: Uint8Array, expectedLast: number): Promise<number>;
  /**
   * Hands `each` every shard's entries from sequence `from` on, in stream order, and stops after
   * the first entry at or past `until`. Ends early (short) when the reader caught up with what
   * the server serving it holds, or stalls. Resolves the sequence of the last entry handed over
   * (`from - 1`: none); the caller resumes after it.
   */
  scan(from: number, until: number, each: (e: ScannedEntry) => void): Promise<number>;
  /** Removes the subject's entries below seq. */
  purgeBelow(subject: string, seq: number): Promise<void>;
  /** Largest entry the server accepts (bytes). */
  maxPayload(): number;
}

/**
 * The `<prefix>-session-log` stream, subjects `<prefix>.slog.<shard>`; created when missing,
 * with direct gets allowed (loads read any replica; see LogSessionStore.load for the lag).
 */
export async function openSessionLog(nc: NatsConnection, c: Pick<Config, 'cluster.bucketPrefix' | 'cluster.storage' | 'cluster.replicas' | 'nats.requestTimeoutMs'>): Promise<SessionLog> {
  const prefix = c['cluster.bucketPrefix'];
  const name = `${prefix}-session-log`;
  const jsm = await jetstreamManager(nc);
  const config = {
    name,
    subjects: [`${prefix}.slog.>`],
    storage: c['cluster.storage'] === 'memory' ? StorageType.Memory : StorageType.File,
    num_replicas: c['cluster.replicas'],
    allow_direct: true,
  };
  try {
    const info = await jsm.streams.info(name);
    if (!info.config.allow_direct) await jsm.streams.update(name, { ...info.config, allow_direct: true });
  } catch {
    await jsm.streams.add(config);
  }
  return new NatsSessionLog(nc, new NatsRequestMux(nc), jsm, jetstream(nc), name, prefix, c['nats.requestTimeoutMs']);
}

class NatsSessionLog implements SessionLog {
  constructor(
    private readonly nc: NatsConnection,
    private readonly requests: NatsRequestMux,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly prefix: string,
    private readonly timeoutMs: number,
  ) {}

  subject(shard: number): string {
    return `${this.prefix}.slog.${shard}`;
  }

  /**
   * A direct get, not the stream API's MSG.GET: nats-server 2.9 answers API requests one at a
   * time, which made loading the 500 shards of a dead session actor take seconds. A replica
   * behind its leader may answer with an older last entry; the owner's first append then
   * fails its expected sequence and the shard is loaded again (fenced, nothing lost).
   */
  async last(subject: string): Promise<LogEntry | null> {
    const m = await this.jsm.direct.getMessage(this.stream, { last_by_subj: subject });
    return m ? { seq: m.seq, data: m.data } : null;
  }

  async next(subject: string, seq: number): Promise<LogEntry | null> {
    const m = await this.jsm.direct.getMessage(this.stream, { next_by_subj: subject, seq });
    return m ? { seq: m.seq, data: m.data } : null;
  }

  /**
   * A JetStream publish is a request to the subject; the stream answers with a small JSON
   * acknowledgement. Sent through the bus's request multiplexer rather than js.publish, which
   * allocates per call what nats.js's request() does (see nats-request-mux.ts): one append per
   * shard write, thousands per second under load.
   */
  async append(subject: string, data: Uint8Array, expectedLast: number): Promise<number> {
    const h = natsHeaders();
    h.set(EXPECTED_LAST, String(expectedLast));
    const m = await this.requests.request(subject, data, this.timeoutMs, h);
    return pubAckSeq(m.data);
  }

  /**
   * An ordered push consumer (ephemeral, one replica, no acks, flow-controlled; nats.js
   * recreates it where a delivery went missing) over the whole stream: nats-server 2.9 takes one
   * filter subject per consumer, and the subjects of the shards loaded are spread over the
   * stream anyway. Deleted when done (else the server keeps it for its inactivity threshold).
   * Runs on a shard owner loading many shards (read-shard-logs.ts).
   */
  async scan(from: number, until: number, each: (e: ScannedEntry) => void): Promise<number> {
    const consumer = await this.js.consumers.getPushConsumer(this.stream, { filter_subjects: `${this.prefix}.slog.>`, opt_start_seq: from });
    const slog = `${this.prefix}.slog.`;
    let reached = from - 1;
    let failure: Error | undefined;
    let done = false;
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    let stall: NodeJS.Timeout | undefined;
    const end = () => {
      done = true;
      finish();
    };
    const arm = () => {
      clearTimeout(stall);
      stall = setTimeout(end, this.timeoutMs);
    };
    arm();
    let name = '';
    let dseq = 0;
    const msgs = await consumer.consume({
      callback: (m) => {
        if (done) return;
        // Every delivery must follow the previous one of the same consumer: nats.js recreates an
        // ordered consumer after a gap, and a delivery of the consumer it replaced may still
        // arrive. The scan then ends short (not handing it over); the caller resumes after the
        // last entry handed over, with a consumer of its own.
        if (dseq === 0) name = m.info.consumer;
        if (m.info.consumer !== name || m.info.deliverySequence !== dseq + 1) {
          end();
          return;
        }
        dseq++;
        arm();
        const shard = m.subject.startsWith(slog) ? Number(m.subject.slice(slog.length)) : NaN;
        try {
          const prev = Number(m.headers?.get(EXPECTED_LAST) || -1);
          each({ shard: Number.isInteger(shard) ? shard : -1, seq: m.seq, data: m.data, prev: Number.isInteger(prev) ? prev : -1 });
        } catch (err) {
          failure = err as Error;
          end();
          return;
        }
        reached = m.seq;
        // Caught up with what this server holds (pending 0) before `until`: short, the caller retries.
        if (m.seq >= until || m.info.pending === 0) end();
      },
    });
    try {
      await finished;
    } finally {
      clearTimeout(stall);
      await msgs.close().catch(() => {});
      void consumer.delete().catch(() => {});
    }
    if (failure) throw failure;
    return reached;
  }

  async purgeBelow(subject: string, seq: number): Promise<void> {
    await this.jsm.streams.purge(this.stream, { filter: subject, seq });
  }

  maxPayload(): number {
    return Math.min(this.nc.info?.max_payload ?? 1024 * 1024, 8 * 1024 * 1024);
  }
}

/**
 * The sequence of a JetStream publish acknowledgement (`{"stream":..,"seq":N}`), or throws the
 * stream's error (`{"error":{"err_code":10071,"description":"wrong last sequence: 5"}}`: the
 * compare-and-set failed) with its code in the message (kv-buckets.ts isCasConflict reads it).
 * `what` names the write in that message, so a log line tells a shard-lease check from a log append.
 */
export function pubAckSeq(data: Uint8Array, what = 'session log append'): number {
  let ack: { seq?: unknown; error?: { err_code?: number; code?: number; description?: string } };
  try {
    ack = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as typeof ack;
  } catch {
    throw new Error(`${what}: the stream answered with something that is not a JetStream acknowledgement`);
  }
  if (ack.error) throw new Error(`${what} refused: ${ack.error.description ?? 'unknown'} (${ack.error.err_code ?? ack.error.code ?? '?'})`);
  if (typeof ack.seq !== 'number' || !Number.isSafeInteger(ack.seq) || ack.seq <= 0) throw new Error(`${what}: acknowledgement without a sequence`);
  return ack.seq;
}
