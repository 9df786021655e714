import { envelopeReader, envelopeWriter } from './envelope-version.js';
import { decodeRoutePublish, type RoutePublish } from './router.js';

/**
 * Gateway -> one router, on `routeBatchTo(routerId)`: the QoS 0 route publishes of one
 * event-loop turn for that router, each a whole RoutePublish envelope, in the order sent. One
 * bus message instead of one per PUBLISH (the per-message cost of NATS on both sides was the
 * largest item of a fan-in profile: docs/sharding.md, "Route batches"). Only sent to routers
 * whose heartbeat says they take batches.
 */

/** The batch of `items` (encoded RoutePublish envelopes). */
export function encodeRouteBatch(items: readonly Uint8Array[], from = 0, to = items.length): Buffer {
  const w = envelopeWriter().u32(to - from);
  for (let i = from; i < to; i++) w.bytes(items[i]!);
  return w.finish();
}

/** Bytes one item adds to a batch around its envelope (its length). */
export const ROUTE_BATCH_ITEM_OVERHEAD_BYTES = 4;

/**
 * Visits each publish in order. Throws EnvelopeError at the first item it cannot read; the
 * ones before it were visited (each stands alone).
 */
export function decodeRouteBatch(data: Uint8Array, visit: (p: RoutePublish) => void): void {
  const r = envelopeReader(data);
  const n = r.count32(ROUTE_BATCH_ITEM_OVERHEAD_BYTES);
  for (let i = 0; i < n; i++) visit(decodeRoutePublish(r.bytes()));
}
