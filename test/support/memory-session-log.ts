import type { LogEntry, SessionLog } from '../../session-actor/src/persistence/session-log-stream.js';

/**
 * A SessionLog in memory with JetStream's semantics for what the store uses: one sequence
 * across subjects, per-subject expected-last-sequence (the error text of nats-server), next by
 * subject, purge below a sequence. Counts appended bytes. Test support only.
 */
export class MemorySessionLog implements SessionLog {
  private seq = 0;
  readonly entries = new Map<string, LogEntry[]>();
  appendedBytes = 0;
  appends = 0;
  /** Appends that fail (as a lost connection would) while > 0; decremented per failure. */
  failNext = 0;
  /** Appends stored whose acknowledgement is then lost (a timeout), while > 0. */
  loseAckNext = 0;

  constructor(private readonly payload = 1024 * 1024) {}

  subject(shard: number): string {
    return `t.slog.${shard}`;
  }

  async last(subject: string): Promise<LogEntry | null> {
    const l = this.entries.get(subject);
    return l && l.length > 0 ? l[l.length - 1]! : null;
  }

  private async lastSeq(subject: string): Promise<number> {
    return (await this.last(subject))?.seq ?? 0;
  }

  async next(subject: string, seq: number): Promise<LogEntry | null> {
    return this.entries.get(subject)?.find((e) => e.seq >= seq) ?? null;
  }

  async append(subject: string, data: Uint8Array, expectedLast: number): Promise<number> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('connection lost (simulated)');
    }
    if (data.length > this.payload) throw new Error('maximum payload exceeded');
    const last = await this.lastSeq(subject);
    if (last !== expectedLast) throw new Error(`wrong last sequence: ${last}`);
    let l = this.entries.get(subject);
    if (!l) this.entries.set(subject, (l = []));
    l.push({ seq: ++this.seq, data: Buffer.from(data) });
    this.appendedBytes += data.length;
    this.appends++;
    if (this.loseAckNext > 0) {
      this.loseAckNext--;
      throw new Error('TIMEOUT (simulated: stored, acknowledgement lost)');
    }
    return this.seq;
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
