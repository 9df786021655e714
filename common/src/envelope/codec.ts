/**
 * A tiny binary writer/reader for bus envelopes. Hot path: no JSON, one allocation per
 * encoded envelope (the final copy out of a reused scratch buffer).
 * Strings are u16-length-prefixed UTF-8 (MQTT strings are at most 65535 bytes);
 * byte blobs are u32-length-prefixed.
 *
 * The Reader trusts nothing: every read checks the bytes that remain and throws EnvelopeError
 * (never RangeError from Buffer internals), and counts are checked against the bytes left
 * before a decoder loops or allocates (count16/count32), so a lying length costs nothing.
 */

import { utf8Interned } from '../interned-string.js';
import { EnvelopeError } from './envelope-error.js';

export { EnvelopeError } from './envelope-error.js';

let scratch = Buffer.allocUnsafe(64 * 1024);

export class Writer {
  private buf = scratch;
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    if (size <= 4 * 1024 * 1024) scratch = next;
  }

  u8(v: number): this {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }
  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }
  u16(v: number): this {
    if (v > 0xffff || v < 0) throw new RangeError(`u16 out of range: ${v}`);
    this.ensure(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 8;
    b[p + 1] = v;
    this.pos = p + 2;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    const b = this.buf;
    const p = this.pos;
    v >>>= 0;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
    return this;
  }
  /** Non-negative integer up to 2^53, as a double (timestamps in ms). */
  f64(v: number): this {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
    return this;
  }
  str(s: string): this {
    const len = s.length;
    // Every UTF-16 unit takes at least one byte.
    if (len > 0xffff) throw new RangeError('string longer than 65535 bytes');
    // Room for the worst case (3 bytes per UTF-16 unit), so the string is encoded in one pass.
    this.ensure(2 + 3 * len);
    const b = this.buf;
    const start = this.pos + 2;
    let n = 0;
    // Hot path: short ASCII strings (topics, session keys) are cheaper byte by byte than through
    // Buffer.byteLength + Buffer.write (two native calls).
    if (len <= 64) {
      for (; n < len; n++) {
        const c = s.charCodeAt(n);
        if (c >= 0x80) break;
        b[start + n] = c;
      }
    }
    if (n < len) n = b.write(s, start, 'utf8');
    if (n > 0xffff) throw new RangeError('string longer than 65535 bytes');
    b[start - 2] = n >>> 8;
    b[start - 1] = n;
    this.pos = start + n;
    return this;
  }
  bytes(b: Uint8Array): this {
    const n = b.length;
    this.u32(n);
    this.ensure(n);
    this.buf.set(b, this.pos);
    this.pos += n;
    return this;
  }
  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }
  /** A copy of bytes [start, end) written so far. */
  slice(start: number, end: number): Buffer {
    return Buffer.from(this.buf.subarray(start, end));
  }
  /** Whether the bytes written from start on equal b exactly. */
  equals(start: number, b: Buffer): boolean {
    return this.pos - start === b.length && this.buf.compare(b, 0, b.length, start, this.pos) === 0;
  }
  /** Forgets everything written from pos on. */
  truncate(pos: number): void {
    if (pos < this.pos) this.pos = pos;
  }
  /** Copies the encoded bytes out; the writer must not be used afterwards. */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }
}

export class Reader {
  private pos = 0;
  private readonly buf: Buffer;
  constructor(data: Uint8Array, offset = 0) {
    this.buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.pos = offset;
  }
  u8(): number {
    if (this.pos >= this.buf.length) throw truncated();
    return this.buf[this.pos++]!;
  }
  bool(): boolean {
    return this.u8() !== 0;
  }
  u16(): number {
    const p = this.pos;
    const b = this.buf;
    if (p + 2 > b.length) throw truncated();
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }
  u32(): number {
    const p = this.pos;
    const b = this.buf;
    if (p + 4 > b.length) throw truncated();
    this.pos = p + 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }
  f64(): number {
    if (this.pos + 8 > this.buf.length) throw truncated();
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  str(): string {
    const n = this.u16();
    if (this.pos + n > this.buf.length) throw truncated();
    const s = utf8Interned(this.buf, this.pos, n);
    this.pos += n;
    return s;
  }
  /** A string that never repeats (a request id): decoded without the cache, which it would only churn. */
  uniqueStr(): string {
    const n = this.u16();
    if (this.pos + n > this.buf.length) throw truncated();
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  /** A view into the envelope (no copy): callers that keep it must not mutate it. */
  bytes(): Buffer {
    const n = this.u32();
    if (this.pos + n > this.buf.length) throw truncated();
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  /**
   * A u16 element count, refused when `n * minBytesEach` exceeds the bytes left: a decoder
   * looping over it can then never run past the data nor build a huge array from a lie.
   */
  count16(minBytesEach: number): number {
    return this.checkCount(this.u16(), minBytesEach);
  }
  /** As count16, for u8 counts. */
  count8(minBytesEach: number): number {
    return this.checkCount(this.u8(), minBytesEach);
  }
  /** As count16, for u32 counts. */
  count32(minBytesEach: number): number {
    return this.checkCount(this.u32(), minBytesEach);
  }
  /** A finite double (timestamps): NaN and infinities never come from an encoder. */
  finite(): number {
    const v = this.f64();
    if (!Number.isFinite(v)) throw new EnvelopeError(`non-finite number ${v}`);
    return v;
  }
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  private checkCount(n: number, minBytesEach: number): number {
    if (n * minBytesEach > this.buf.length - this.pos) throw new EnvelopeError(`count ${n} exceeds the ${this.buf.length - this.pos} bytes left`);
    return n;
  }
}

/** Throws EnvelopeError unless `v` is one of `allowed` (enum values read off the wire). */
export function oneOf<T extends number>(v: number, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly number[]).includes(v)) throw new EnvelopeError(`invalid ${what} ${v}`);
  return v as T;
}

/** Throws EnvelopeError when `flags` has bits outside `known` (reserved for a future version). */
export function knownBits(flags: number, known: number, what: string): number {
  if ((flags & ~known) !== 0) throw new EnvelopeError(`unknown ${what} bits 0x${flags.toString(16)}`);
  return flags;
}

function truncated(): EnvelopeError {
  return new EnvelopeError('envelope truncated');
}
