/**
 * What a connection's output of one event-loop turn looks like to the encoders (connection.ts
 * implements it; the protocol code never touches the socket). Everything queued in one turn
 * leaves in one socket write at the turn's end: the first packet is kept as the Buffer it came
 * in (a fan-out writes one shared Buffer to every subscriber), the next few are gathered, and a
 * connection that gets many (a fan-in's subscriber) has a region of a shared slab where they are
 * copied, or encoded straight (room), so it costs no allocation per packet and no concat.
 * Gateway only.
 */
export interface TurnOutput {
  /** Bytes queued this turn (0: none yet). */
  readonly queuedBytes: number;
  /** Queues a whole packet, by reference: `bytes` is never modified afterwards, by anyone. */
  write(bytes: Buffer): void;
  /**
   * This turn's region with room for `n` more bytes at `outEnd`, or undefined when the output is
   * not collected in a region (too few packets yet, above its copy bound, or the socket is gone):
   * then write() a Buffer. The caller writes one whole packet there and calls committed(n).
   */
  room(n: number): Buffer | undefined;
  /** Where the next packet goes in the buffer room() returned. */
  readonly outEnd: number;
  /** The `n` bytes written at outEnd are a packet: queued. Never modified afterwards. */
  committed(n: number): void;
}
