/**
 * Per-publisher sequence accounting for a receiver: detects gaps (loss), duplicates and late arrivals
 * without storing per-message state, except for the last range given up on per publisher (forget):
 * a message of it (or of the last gap) that arrives after all is taken back from `lost` (it was late, not lost; a cluster
 * that takes more than the stall timeout to deliver its first message used to show its whole first
 * window as lost). Memory: one number per publisher, plus that range while one is open.
 * Who may call: the single receiver that owns the tracker.
 */
export type SeqVerdict = 'next' | 'gap' | 'old';

export class SeqTracker {
  /** Next expected sequence per publisher (= highest seen + 1, or advanced by forget()). */
  private readonly expected: Float64Array;
  /** Messages skipped over by a gap, or given up on by forget(), that have not arrived since. */
  lost = 0;
  /** Arrivals with a sequence below the expected one: duplicates (QoS 1 resend) or late after a gap. */
  old = 0;

  /** Per publisher, the last range given up on: its first sequence and which of it arrived since. */
  private readonly forgotten = new Map<number, { from: number; arrived: Uint8Array }>();

  constructor(readonly publishers: number) {
    this.expected = new Float64Array(publishers);
  }

  /** Records an arrival; 'gap' means messages in between were skipped (counted in `lost`). */
  observe(publisher: number, seq: number): SeqVerdict {
    const exp = this.expected[publisher]!;
    if (seq === exp) {
      this.expected[publisher] = seq + 1;
      return 'next';
    }
    if (seq > exp) {
      this.lost += seq - exp;
      this.expected[publisher] = seq + 1;
      this.forgotten.set(publisher, { from: exp, arrived: new Uint8Array(seq - exp) });
      return 'gap';
    }
    this.old++;
    const f = this.forgotten.get(publisher);
    const i = f === undefined ? -1 : seq - f.from;
    if (f !== undefined && i >= 0 && i < f.arrived.length && f.arrived[i] === 0) {
      f.arrived[i] = 1;
      this.lost--;
    }
    return 'old';
  }

  /** Messages from `publisher` accounted for (received or counted lost). */
  accounted(publisher: number): number {
    return this.expected[publisher]!;
  }

  /** Gives up on everything below `sent` (e.g. QoS 0 messages a broker dropped at the tail). */
  forget(publisher: number, sent: number): void {
    const exp = this.expected[publisher]!;
    if (sent > exp) {
      this.lost += sent - exp;
      this.expected[publisher] = sent;
      this.forgotten.set(publisher, { from: exp, arrived: new Uint8Array(sent - exp) });
    }
  }
}
