/**
 * What a connection's output of one event-loop turn looks like to the encoders (connection.ts
 * implements it; the protocol code never touches the socket). Everything queued in one turn
 * leaves in one socket write at the turn's end: the first packet is kept as the Buffer it came
 * in (a fan-out writes one shared Buffer to every subscriber), and from the second on the
 * packets of the turn are copied, or encoded straight, into one buffer of the connection's
 * own, so a busy connection costs one allocation per turn instead of one per packet and a concat.
 * Gateway only.
 */
export interface TurnOutput {
  /** Bytes queued this turn (0: none yet). */
  readonly queuedBytes: number;
  /** Queues a whole packet, by reference: `bytes` is never modified afterwards, by anyone. */
  write(bytes: Buffer): void;
  /**
   * This turn's buffer with room for `n` more bytes at `outEnd`, or undefined when the output
   * is not collected in one buffer (above its copy bound, or the socket is gone): then write() a
   * Buffer. The caller writes one whole packet there and calls committed(n).
   */
  room(n: number): Buffer | undefined;
  /** Where the next packet goes in the buffer room() returned. */
  readonly outEnd: number;
  /** The `n` bytes written at outEnd are a packet: queued. Never modified afterwards. */
  committed(n: number): void;
}
