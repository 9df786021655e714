/**
 * A tiny binary writer/reader for bus envelopes. Hot path: no JSON, one allocation per
 * encoded envelope (the final copy out of a reused scratch buffer).
 * Strings are u16-length-prefixed UTF-8 (MQTT strings are at most 65535 bytes);
 * byte blobs are u32-length-prefixed.
 */

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
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }
  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }
  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
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
    const n = Buffer.byteLength(s);
    if (n > 0xffff) throw new RangeError('string longer than 65535 bytes');
    this.ensure(2 + n);
    this.buf.writeUInt16BE(n, this.pos);
    this.buf.write(s, this.pos + 2, n, 'utf8');
    this.pos += 2 + n;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.ensure(4 + b.length);
    this.buf.writeUInt32BE(b.length, this.pos);
    this.buf.set(b, this.pos + 4);
    this.pos += 4 + b.length;
    return this;
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
    if (this.pos >= this.buf.length) throw new RangeError('envelope truncated');
    return this.buf[this.pos++]!;
  }
  bool(): boolean {
    return this.u8() !== 0;
  }
  u16(): number {
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  str(): string {
    const n = this.u16();
    if (this.pos + n > this.buf.length) throw new RangeError('envelope truncated');
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  /** A view into the envelope (no copy): callers that keep it must not mutate it. */
  bytes(): Buffer {
    const n = this.u32();
    if (this.pos + n > this.buf.length) throw new RangeError('envelope truncated');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
}
