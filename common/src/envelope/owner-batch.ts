import { EnvelopeError } from './codec.js';
import { envelopeReader, envelopeWriter } from './envelope-version.js';

/**
 * Owner-direct batches (docs/sharding.md, "Owner-direct batches"): the session-in envelopes a
 * router or gateway has for the shards one owner process serves, sent in one request to that
 * process's own subject (`ownerIn(token)`) instead of one request per shard subject. The shard
 * subject stays the authority: an owner answers an item of a shard it does not serve (any more)
 * with an empty answer, and the sender sends that item again on the shard's subject.
 *
 * Batch: version, u16 count, count x (u16 shard, bytes item): item = one encoded session-in
 * envelope. Answer: version, u16 count, count x (bytes answer): what the shard subject would
 * have answered (a status byte, TURN_FAILED), or empty = not served here.
 */

export interface OwnerBatchItem {
  shard: number;
  data: Uint8Array;
}

/** At most this many items per batch (the count is a u16); senders split larger ones. */
export const MAX_OWNER_BATCH_ITEMS = 4096;

export function encodeOwnerBatch(items: readonly OwnerBatchItem[]): Buffer {
  if (items.length > MAX_OWNER_BATCH_ITEMS) throw new RangeError(`owner batch of ${items.length} items`);
  const w = envelopeWriter().u16(items.length);
  for (const it of items) w.u16(it.shard).bytes(it.data);
  return w.finish();
}

/** Throws EnvelopeError (only) on bytes it cannot read. Items are views into `data`. */
export function decodeOwnerBatch(data: Uint8Array): OwnerBatchItem[] {
  const r = envelopeReader(data);
  const n = r.count16(6);
  const items: OwnerBatchItem[] = new Array(n);
  for (let i = 0; i < n; i++) items[i] = { shard: r.u16(), data: r.bytes() };
  return items;
}

export function encodeOwnerBatchAnswer(answers: readonly Uint8Array[]): Buffer {
  const w = envelopeWriter().u16(answers.length);
  for (const a of answers) w.bytes(a);
  return w.finish();
}

/** One answer per item of the batch it answers; throws EnvelopeError when the count differs. */
export function decodeOwnerBatchAnswer(data: Uint8Array, items: number): Buffer[] {
  const r = envelopeReader(data);
  const n = r.count16(4);
  if (n !== items) throw new EnvelopeError(`owner batch answer has ${n} answers for ${items} items`);
  const out: Buffer[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = r.bytes();
  return out;
}

/**
 * An owner's answer to a shard-subject request names the owner: `[status, tokenLength, token]`
 * (a status byte below 0xC0 first, so readers of a bare status byte, decodeStatusSafe, read it
 * unchanged). The sender then sends that shard's next envelopes to `ownerIn(token)` in batches.
 */
export function ownerStatus(status: number, token: string): Buffer {
  const t = Buffer.from(token, 'latin1');
  if (status >= 0xc0 || t.length > 255) throw new RangeError('owner status');
  return Buffer.concat([Buffer.from([status, t.length]), t]);
}

/** The owner token an answer carries (ownerStatus), or undefined. */
export function ownerTokenOf(answer: Uint8Array): string | undefined {
  if (answer.length < 3 || answer[0]! >= 0xc0) return undefined;
  const n = answer[1]!;
  if (n === 0 || answer.length < 2 + n) return undefined;
  return Buffer.from(answer.buffer, answer.byteOffset + 2, n).toString('latin1');
}
