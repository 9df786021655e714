/**
 * Finds MQTT packet boundaries in the raw byte stream so an oversized packet is refused
 * from its fixed header, before any of it is buffered (mqtt-packet does not bound sizes:
 * docs/robustness.md), and so the connection knows where the last whole packet of a chunk
 * ends (it keeps only the bytes after it). Allocation-free; one instance per connection.
 * Gateway only.
 */
export class FrameGuard {
  /** Body bytes still to skip in the current packet. */
  private remaining = 0;
  /** Fixed-header progress: 0 = expecting the type byte; 1..4 = reading length bytes. */
  private headerPos = 0;
  private length = 0;
  private multiplier = 1;
  /** After scan: offset just past the last packet that ended in the chunk, or -1 when none did. */
  lastEnd = -1;

  /** After scan: the chunk ended inside a packet (its fixed header or body). */
  get midPacket(): boolean {
    return this.remaining > 0 || this.headerPos > 0;
  }

  /**
   * Scans a chunk. Returns 'ok', 'too-large' (a packet announces more than maxPacketBytes: passed
   * in rather than kept, as every connection of a listener has the same),
   * or 'malformed' (a Remaining Length longer than 4 bytes [MQTT-1.5.5]).
   */
  scan(chunk: Uint8Array, maxPacketBytes: number): 'ok' | 'too-large' | 'malformed' {
    let i = 0;
    const n = chunk.length;
    this.lastEnd = -1;
    while (i < n) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, n - i);
        this.remaining -= skip;
        i += skip;
        if (this.remaining === 0) this.lastEnd = i;
        continue;
      }
      const b = chunk[i++]!;
      if (this.headerPos === 0) {
        this.headerPos = 1;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.length += (b & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      if (b & 0x80) {
        if (++this.headerPos > 4) return 'malformed';
        continue;
      }
      const total = 1 + this.headerPos + this.length;
      if (total > maxPacketBytes) return 'too-large';
      this.remaining = this.length;
      this.headerPos = 0;
      if (this.length === 0) this.lastEnd = i;
    }
    return 'ok';
  }
}
