import type { LogEntry, ScannedEntry, SessionLog } from '../../session-actor/src/persistence/session-log-stream.js';

/**
 * A SessionLog in memory with JetStream's semantics for what the store uses: one sequence
 * across subjects, per-subject expected-last-sequence (the error text of nats-server), next by
 * subject, purge below a sequence. Counts appended bytes. Test support only.
 */
export class MemorySessionLog implements SessionLog {
  private seq = 0;
  /** Per subject, its entries; `prev` is the expected last sequence the append carried. */
  readonly entries = new Map<string, Array<LogEntry & { prev: number }>>();
  appendedBytes = 0;
  appends = 0;
  /** Appends that fail (as a lost connection would) while > 0; decremented per failure. */
  failNext = 0;
  /** Appends stored whose acknowledgement is then lost (a timeout), while > 0. */
  loseAckNext = 0;

  /** Scans (stream-wide passes) started, and the entries they handed over. */
  scans = 0;
  scannedEntries = 0;
  /** Direct gets answered (last and next). */
  directGets = 0;
  /**
   * The server answering scans is this many entries behind (a replica catching up): a scan
   * ends there, as a consumer caught up with its server does; it catches up by one entry per scan.
   */
  scanBehind = 0;
  /** A scan hands over at most this many entries, then stalls (ends short). */
  scanStallAfter = Infinity;
  /** Sequences scans never deliver (an entry the serving server lacks for good). */
  readonly scanHides = new Set<number>();
  /** The next scan begins this many entries after the start it was given (a pass that began late); once. */
  scanStartsLateOnce = 0;

  constructor(private readonly payload = 1024 * 1024) {}

  subject(shard: number): string {
    return `t.slog.${shard}`;
  }

  async last(subject: string): Promise<LogEntry | null> {
    this.directGets++;
    const l = this.entries.get(subject);
    return l && l.length > 0 ? l[l.length - 1]! : null;
  }

  private lastSeq(subject: string): number {
    return this.entries.get(subject)?.at(-1)?.seq ?? 0;
  }

  async next(subject: string, seq: number): Promise<LogEntry | null> {
    this.directGets++;
    return this.entries.get(subject)?.find((e) => e.seq >= seq) ?? null;
  }

  async append(subject: string, data: Uint8Array, expectedLast: number): Promise<number> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('connection lost (simulated)');
    }
    if (data.length > this.payload) throw new Error('maximum payload exceeded');
    const last = this.lastSeq(subject);
    if (last !== expectedLast) throw new Error(`wrong last sequence: ${last}`);
    let l = this.entries.get(subject);
    if (!l) this.entries.set(subject, (l = []));
    l.push({ seq: ++this.seq, data: Buffer.from(data), prev: expectedLast });
    this.appendedBytes += data.length;
    this.appends++;
    if (this.loseAckNext > 0) {
      this.loseAckNext--;
      throw new Error('TIMEOUT (simulated: stored, acknowledgement lost)');
    }
    return this.seq;
  }

  async scan(from: number, until: number, each: (e: ScannedEntry) => void): Promise<number> {
    this.scans++;
    const all: ScannedEntry[] = [];
    for (const [subject, l] of this.entries) for (const e of l) if (e.seq >= from && !this.scanHides.has(e.seq)) all.push({ ...e, shard: Number(subject.slice('t.slog.'.length)) });
    all.sort((a, b) => a.seq - b.seq);
    const late = this.scanStartsLateOnce;
    this.scanStartsLateOnce = 0;
    const held = all.slice(late, Math.max(late, all.length - this.scanBehind));
    if (this.scanBehind > 0) this.scanBehind--;
    let reached = from - 1;
    let handed = 0;
    for (const e of held) {
      if (handed++ >= this.scanStallAfter) break;
      each(e);
      this.scannedEntries++;
      reached = e.seq;
      if (e.seq >= until) break;
    }
    return reached;
  }

  async purgeBelow(subject: string, seq: number): Promise<void> {
    const l = this.entries.get(subject);
    if (l)
      this.entries.set(
        subject,
        l.filter((e) => e.seq >= seq),
      );
  }

  maxPayload(): number {
    return this.payload;
  }

  /** Bytes held on a subject. */
  heldBytes(subject: string): number {
    return (this.entries.get(subject) ?? []).reduce((n, e) => n + e.data.length, 0);
  }
}
