/**
 * Splits `items` into consecutive [from, to) ranges whose bytes (each item's `bytesOf`) stay
 * within `maxBytes` and whose length stays within `maxItems`, keeping order; an item larger than
 * `maxBytes` alone gets a range of its own (the bus then refuses it, counted, and only it).
 * Used by the batching senders (owner-direct batches, route batches) to stay below NATS's
 * max_payload. Hot path: one pass, no per-item allocation.
 */
export function sizeRanges<T>(items: readonly T[], bytesOf: (item: T) => number, maxBytes: number, maxItems = Number.POSITIVE_INFINITY): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let from = 0;
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    const b = bytesOf(items[i]!);
    if (i > from && (i - from >= maxItems || bytes + b > maxBytes)) {
      out.push([from, i]);
      from = i;
      bytes = 0;
    }
    bytes += b;
  }
  if (from < items.length) out.push([from, items.length]);
  return out;
}
