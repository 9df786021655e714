/**
 * Per-publisher sequence accounting for a receiver: detects gaps (loss), duplicates and late arrivals
 * without storing per-message state. Fixed memory: one number per publisher.
 * Who may call: the single receiver that owns the tracker.
 */
export type SeqVerdict = 'next' | 'gap' | 'old';

export class SeqTracker {
  /** Next expected sequence per publisher (= highest seen + 1, or advanced by forget()). */
  private readonly expected: Float64Array;
  /** Messages skipped over by a gap, or given up on by forget(). */
  lost = 0;
  /** Arrivals with a sequence below the expected one: duplicates (QoS 1 resend) or late after a gap. */
  old = 0;

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
      return 'gap';
    }
    this.old++;
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
    }
  }
}
