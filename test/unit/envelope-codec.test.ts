import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EnvelopeError, Reader, Writer } from '../../common/src/envelope/codec.js';

/** The layout the codec promises: u16 big-endian byte length, then UTF-8. */
function expectedStr(s: string): Buffer {
  const body = Buffer.from(s, 'utf8');
  const head = Buffer.alloc(2);
  head.writeUInt16BE(body.length);
  return Buffer.concat([head, body]);
}

const strings = [
  '',
  'a',
  'bench/run-1234/pub-57/data',
  'x'.repeat(64),
  'x'.repeat(65),
  'a/ü/c',
  `${'y'.repeat(63)}é`,
  '日本語/トピック',
  '😀/emoji',
  'lone \ud800 surrogate',
  '\u0000nul',
  'z'.repeat(5000),
];

test('strings encode as u16 length + UTF-8 and read back unchanged', () => {
  for (const s of strings) {
    const buf = new Writer().str(s).finish();
    assert.deepEqual(buf, expectedStr(s), JSON.stringify(s.slice(0, 20)));
    const back = new Reader(buf).str();
    assert.equal(back, Buffer.from(s, 'utf8').toString('utf8'));
    // Request ids are read without the string cache, with the same result.
    assert.equal(new Reader(buf).uniqueStr(), back);
  }
});

test('several fields in a row keep their order and positions', () => {
  const w = new Writer()
    .u8(7)
    .str('héllo')
    .u16(65535)
    .u32(0xfedcba98)
    .str('world')
    .bool(true)
    .u32(-1)
    .f64(1.5e12)
    .bytes(Buffer.from([1, 2, 3]));
  const buf = w.finish();
  const r = new Reader(buf);
  assert.equal(r.u8(), 7);
  assert.equal(r.str(), 'héllo');
  assert.equal(r.u16(), 65535);
  assert.equal(r.u32(), 0xfedcba98);
  assert.equal(r.str(), 'world');
  assert.equal(r.bool(), true);
  assert.equal(r.u32(), 0xffffffff);
  assert.equal(r.f64(), 1.5e12);
  assert.deepEqual(r.bytes(), Buffer.from([1, 2, 3]));
  assert.equal(r.done, true);
  const ref = Buffer.alloc(7);
  ref.writeUInt16BE(65535, 0);
  ref.writeUInt32BE(0xfedcba98, 2);
  assert.deepEqual(buf.subarray(1 + 2 + 6, 1 + 2 + 6 + 6), ref.subarray(0, 6));
});

test('limits: strings over 65535 bytes and u16 out of range throw; truncated input throws', () => {
  assert.throws(() => new Writer().str('a'.repeat(65536)), RangeError);
  assert.throws(() => new Writer().str('é'.repeat(40000)), RangeError); // 80000 bytes
  assert.doesNotThrow(() => new Writer().str('a'.repeat(65535)));
  assert.throws(() => new Writer().u16(65536), RangeError);
  assert.throws(() => new Writer().u16(-1), RangeError);
  assert.throws(() => new Reader(Buffer.from([0])).u16(), EnvelopeError);
  assert.throws(() => new Reader(Buffer.from([0, 0, 0])).u32(), EnvelopeError);
  assert.throws(() => new Reader(Buffer.from([0, 5, 0x61])).str(), EnvelopeError);
  assert.throws(() => new Reader(Buffer.from([0, 0, 0, 0, 0, 0, 0])).f64(), EnvelopeError);
  // A count larger than the bytes left is refused before any loop or allocation.
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0])).count32(1), EnvelopeError);
});

test('the scratch buffer grows for large envelopes and later envelopes are independent copies', () => {
  const big = Buffer.alloc(200 * 1024, 9);
  const a = new Writer().str('first').bytes(big).finish();
  const b = new Writer().str('second').finish();
  const r = new Reader(a);
  assert.equal(r.str(), 'first');
  assert.deepEqual(r.bytes(), big);
  assert.equal(new Reader(b).str(), 'second');
});

test('short strings read again (the interning cache) equal a fresh UTF-8 decode of their bytes, collisions and invalid UTF-8 included', () => {
  const bodies: Buffer[] = [];
  // More distinct short strings than the cache has slots, so slots collide and are replaced.
  for (let i = 0; i < 10_000; i++) bodies.push(Buffer.from(`t/${i.toString(36)}/d`, 'utf8'));
  // Same length, one byte apart; multi-byte characters; bytes that are not UTF-8; 64 and 65 bytes.
  bodies.push(Buffer.from('abcd'), Buffer.from('abce'), Buffer.from('ü/é'), Buffer.from([0xff, 0xfe, 0x41]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]));
  bodies.push(Buffer.alloc(64, 0x61), Buffer.alloc(65, 0x61), Buffer.alloc(0));
  const framed = bodies.map((b) => {
    const head = Buffer.alloc(2);
    head.writeUInt16BE(b.length);
    return Buffer.concat([head, b]);
  });
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < framed.length; i++) {
      // Each round reads from a fresh copy: equal bytes at another address give the same string.
      const r = new Reader(Buffer.from(framed[i]!));
      assert.equal(r.str(), bodies[i]!.toString('utf8'), `string ${i}, round ${round}`);
      assert.equal(r.done, true);
    }
  }
});
