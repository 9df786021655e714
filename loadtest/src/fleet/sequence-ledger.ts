/**
 * Acknowledged-versus-received accounting for one direction of the fleet's QoS 1 traffic (telemetry:
 * device -> backend; commands: backend -> device). Every message carries (stream, sequence): the
 * device index and a per-device sequence number. Three growable bitsets per stream say which sequences
 * the publisher got a PUBACK for, which the receivers got, and which the publisher may have sent twice
 * (in flight when its connection died: mqtt.js resends them after reconnecting).
 *
 * Why bitsets and not a count: several `$share` members receive one device's telemetry, so arrivals
 * are not in order, and a duplicate must be told from a first copy exactly.
 * Memory: 3 bits per message sent. Who may call: the scenario that owns the ledger (one thread).
 */

/** A set of non-negative integers that grows as needed (one bit each). */
class GrowableBits {
  private bits = new Uint8Array(16);

  has(n: number): boolean {
    const byte = n >>> 3;
    return byte < this.bits.length && (this.bits[byte]! & (1 << (n & 7))) !== 0;
  }

  /** Sets bit n; returns true when it was not set before. */
  add(n: number): boolean {
    const byte = n >>> 3;
    if (byte >= this.bits.length) {
      let size = this.bits.length * 2;
      while (size <= byte) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (n & 7);
    if ((this.bits[byte]! & mask) !== 0) return false;
    this.bits[byte] = this.bits[byte]! | mask;
    return true;
  }
}

export type Arrival = 'first' | 'duplicate-with-dup' | 'duplicate-without-dup' | 'duplicate-resent-by-publisher';

export interface LedgerCounts {
  /** Publishes issued (the client may still hold some unsent while disconnected). */
  sent: number;
  /** PUBACK received with a success code. */
  acknowledged: number;
  /** PUBACK with an error reason code (MQTT 5), or the client gave up on the message. */
  refused: number;
  /** First copies received. */
  received: number;
  /** Second copies with DUP set: the broker resending an unacknowledged delivery [MQTT-3.3.1-1]. */
  duplicatesWithDup: number;
  /** A second copy without DUP of a message its publisher sent only once: the broker routed it twice. */
  duplicatesWithoutDup: number;
  /** A second copy without DUP of a message its publisher may have sent twice (a new message at QoS 1 [MQTT-4.3.2]). */
  duplicatesResentByPublisher: number;
}

export class SequenceLedger {
  private readonly acked: GrowableBits[];
  private readonly received: GrowableBits[];
  private readonly maybeResent: GrowableBits[];
  /** Next sequence per stream (= messages issued on it). */
  private readonly nextSeq: Float64Array;
  /** Acknowledged and not received yet, kept up to date so waiting for the drain costs nothing per poll. */
  private owed = 0;
  readonly counts: LedgerCounts = {
    sent: 0,
    acknowledged: 0,
    refused: 0,
    received: 0,
    duplicatesWithDup: 0,
    duplicatesWithoutDup: 0,
    duplicatesResentByPublisher: 0,
  };

  constructor(readonly streams: number) {
    const make = () => Array.from({ length: streams }, () => new GrowableBits());
    this.acked = make();
    this.received = make();
    this.maybeResent = make();
    this.nextSeq = new Float64Array(streams);
  }

  /** Takes the next sequence number of a stream for a publish about to be issued. */
  issue(stream: number): number {
    const seq = this.nextSeq[stream]!;
    this.nextSeq[stream] = seq + 1;
    this.counts.sent++;
    return seq;
  }

  issued(stream: number): number {
    return this.nextSeq[stream]!;
  }

  acknowledge(stream: number, seq: number): void {
    if (!this.acked[stream]!.add(seq)) return;
    this.counts.acknowledged++;
    if (!this.received[stream]!.has(seq)) this.owed++;
  }

  refuse(): void {
    this.counts.refused++;
  }

  /**
   * The publisher of `stream` lost its connection: every issued sequence without a PUBACK yet may be
   * sent again after the reconnect, so a second copy of it without DUP is the publisher's doing.
   */
  publisherLostConnection(stream: number): void {
    const acked = this.acked[stream]!;
    const resent = this.maybeResent[stream]!;
    const n = this.nextSeq[stream]!;
    for (let seq = 0; seq < n; seq++) if (!acked.has(seq)) resent.add(seq);
  }

  /** Records an arrival; `dup` is the DUP flag of the PUBLISH the receiver got. */
  receive(stream: number, seq: number, dup: boolean): Arrival {
    if (this.received[stream]!.add(seq)) {
      this.counts.received++;
      if (this.acked[stream]!.has(seq)) this.owed--;
      return 'first';
    }
    if (dup) {
      this.counts.duplicatesWithDup++;
      return 'duplicate-with-dup';
    }
    if (this.maybeResent[stream]!.has(seq)) {
      this.counts.duplicatesResentByPublisher++;
      return 'duplicate-resent-by-publisher';
    }
    this.counts.duplicatesWithoutDup++;
    return 'duplicate-without-dup';
  }

  /** Acknowledged messages not received (yet): lost, once the drain is over. */
  acknowledgedNotReceived(): number {
    return this.owed;
  }

  /** Streams (devices) with acknowledged messages not received yet. */
  streamsOwed(): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.streams; s++) {
      const n = this.nextSeq[s]!;
      for (let seq = 0; seq < n; seq++) {
        if (this.acked[s]!.has(seq) && !this.received[s]!.has(seq)) {
          out.push(s);
          break;
        }
      }
    }
    return out;
  }

  /** Up to `max` (stream, sequence) pairs acknowledged and not received, for the report. */
  examplesNotReceived(max: number): [number, number][] {
    const out: [number, number][] = [];
    for (let s = 0; s < this.streams && out.length < max; s++) {
      const n = this.nextSeq[s]!;
      for (let seq = 0; seq < n && out.length < max; seq++) if (this.acked[s]!.has(seq) && !this.received[s]!.has(seq)) out.push([s, seq]);
    }
    return out;
  }

  /** Issued messages whose publisher has had no answer yet. */
  unanswered(): number {
    return this.counts.sent - this.counts.acknowledged - this.counts.refused;
  }
}
