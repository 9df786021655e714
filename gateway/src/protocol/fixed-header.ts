/**
 * The MQTT fixed header: the first byte, then the Remaining Length as a Variable Byte Integer
 * of 1 to 4 bytes [MQTT-1.5.5-1] (5.0; 3.1.1 section 2.2.3). For the hand-made encoders.
 */

/** Size of a packet whose Remaining Length is `remaining`. */
export function packetBytes(remaining: number): number {
  return 1 + (remaining < 128 ? 1 : remaining < 16384 ? 2 : remaining < 2097152 ? 3 : 4) + remaining;
}

/** Writes the fixed header at `at` (default: the start of `buf`); returns where the variable header starts. */
export function writeFixedHeader(buf: Buffer, first: number, remaining: number, at = 0): number {
  buf[at] = first;
  let pos = at + 1;
  let x = remaining;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    buf[pos++] = b;
  } while (x > 0);
  return pos;
}
