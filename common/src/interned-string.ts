/**
 * Short strings decoded from bytes, by a hash of their bytes. The same topics, session keys and
 * mountpoints are decoded again on every hop of every message (the PUBLISH topic at the gateway,
 * then every bus envelope: gateway -> router -> shard owner -> gateway); a hit returns the string
 * already decoded: no native UTF-8 decode, no new string, and Map lookups keyed by it reuse its
 * cached hash. A slot holds the exact bytes it was decoded from, so a hit returns what decoding
 * those bytes returns (invalid UTF-8 included). Direct-mapped: a collision replaces the slot.
 * Bounded: 4096 strings of at most 64 bytes (256 KiB of bytes). Anyone may call it (one thread).
 */
const MAX_INTERNED_BYTES = 64;
const INTERN_SLOTS = 4096;
const internedBytes = Buffer.alloc(INTERN_SLOTS * MAX_INTERNED_BYTES);
const internedLengths = new Int32Array(INTERN_SLOTS).fill(-1);
const interned: string[] = new Array<string>(INTERN_SLOTS).fill('');

/** `b.toString('utf8', pos, pos + n)`, from the cache for short strings. */
export function utf8Interned(b: Buffer, pos: number, n: number): string {
  if (n === 0) return '';
  if (n > MAX_INTERNED_BYTES) return b.toString('utf8', pos, pos + n);
  // FNV-1a over the bytes.
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[pos + i]!, 0x01000193);
  const slot = (h >>> 0) & (INTERN_SLOTS - 1);
  const base = slot * MAX_INTERNED_BYTES;
  if (internedLengths[slot] === n) {
    let i = 0;
    while (i < n && internedBytes[base + i] === b[pos + i]) i++;
    if (i === n) return interned[slot]!;
  }
  const s = b.toString('utf8', pos, pos + n);
  b.copy(internedBytes, base, pos, pos + n);
  internedLengths[slot] = n;
  interned[slot] = s;
  return s;
}
