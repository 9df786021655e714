/**
 * Benchmark payload layout, so a receiver can compute latency and detect loss without parsing text:
 *
 *   offset 0  u32 BE  publisher index
 *   offset 4  u32 BE  sequence number (per publisher, from 0)
 *   offset 8  f64 BE  send time, ms since the Unix epoch with sub-ms precision (wallClockMs())
 *   offset 16 ...     filler up to the requested payload size
 *
 * wallClockMs() is performance.timeOrigin + performance.now(): monotonic within a process and comparable
 * across processes on the same machine, so publishers and subscribers may live in different processes.
 */
import { performance } from 'node:perf_hooks';

export const stampBytes = 16;

export interface Stamp {
  publisher: number;
  seq: number;
  sentAtMs: number;
}

export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A fresh buffer per message on purpose: the MQTT client may still hold the previous one in the socket's
 * write queue, so reusing it would corrupt messages in flight.
 */
export function makeStampedPayload(payloadBytes: number, publisher: number, seq: number, sentAtMs: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.max(stampBytes, payloadBytes));
  buf.writeUInt32BE(publisher >>> 0, 0);
  buf.writeUInt32BE(seq >>> 0, 4);
  buf.writeDoubleBE(sentAtMs, 8);
  if (buf.length > stampBytes) buf.fill(0x61, stampBytes);
  return buf;
}

/** Reads the stamp into `out` (reused by the caller to avoid an object per message); false if too short. */
export function readStamp(payload: Uint8Array, out: Stamp): boolean {
  if (payload.length < stampBytes) return false;
  const view = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  out.publisher = view.readUInt32BE(0);
  out.seq = view.readUInt32BE(4);
  out.sentAtMs = view.readDoubleBE(8);
  return true;
}
