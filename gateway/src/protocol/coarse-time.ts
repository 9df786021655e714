/**
 * Times a connection keeps for its whole life (when it opened, when it last sent a packet), stored
 * as small integers: eighths of a second since this module was loaded. A field holding Date.now()
 * (about 1.7e12, beyond V8's small integers, which stop at 2^31) costs every connection a separate 16-byte heap
 * number; a count of eighths stays a small integer for 8 years of uptime.
 *
 * Rounded up, so a deadline computed from a stored time (keepalive: [MQTT-3.1.2-24] in 3.1.1,
 * [MQTT-3.1.2-22] in 5.0; connect timeout; both swept every 500 ms) falls at most 125 ms later,
 * never earlier. Pure; anyone may use it.
 */
const TICK_MS = 125;
const BASE_MS = Date.now();

/** Epoch ms -> ticks (rounded up). */
export function toTicks(ms: number): number {
  return Math.ceil((ms - BASE_MS) / TICK_MS);
}

/** Ticks -> epoch ms. */
export function fromTicks(ticks: number): number {
  return BASE_MS + ticks * TICK_MS;
}
