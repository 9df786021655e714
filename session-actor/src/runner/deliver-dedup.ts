import { RingQueue } from '../../../common/src/index.js';
import type { Session } from '../core/session.js';

/**
 * How long after loading a shard the ids of the Delivers its stored copies came with are
 * kept: longer than a router retries a Deliver (`cluster.deliverRetryMs`, default 20 s, capped
 * by the request timeout) and than a gateway retries the route request that makes the same ids.
 */
export const STORED_DELIVERS_KEEP_MS = 120_000;

/**
 * Deliver deduplication: a router retries a QoS 1/2 Deliver whose answer was late with the
 * same id; the owner remembers recent ids (bounded, FIFO eviction), each with the serving of
 * the shard that took it, and answers a retry seen by the same serving, once its pending
 * write is done, without delivering again (no duplicate without DUP). A retry reaching a
 * later serving of the shard (dropped, loaded again; or another owner after a crash) is
 * delivered unless the loaded state holds a copy it brought (storedDeliverIds): the copy may
 * not be in the store. Runs on the shard owner.
 */
export class RecentDeliveries<Serving extends object> {
  private readonly ids = new Map<string, Serving>();
  private readonly order = new RingQueue<string>();

  constructor(private readonly capacity: number) {}

  /** True when this serving took the id before (a retry); otherwise remembers it for this serving. */
  seen(id: string, serving: Serving): boolean {
    const prev = this.ids.get(id);
    if (prev === serving) return true;
    if (prev === undefined) this.order.push(id);
    this.ids.set(id, serving);
    if (this.order.length > this.capacity) this.ids.delete(this.order.shift()!);
    return false;
  }

  /** The turn that took the id failed: a retry must be taken again, not answered as a duplicate. */
  forget(id: string): void {
    this.ids.delete(id);
  }
}

/**
 * The ids of the Delivers whose copies these loaded sessions hold, queued or in flight. A
 * Deliver's copies for one shard are written in one turn, and a log batch applies whole, so
 * one stored copy means the previous owner took that Deliver (and its write landed; it may
 * have died before answering the router): the next owner resends what is stored after the
 * takeover and answers the router's retry without delivering it again. Without this a QoS 2
 * subscriber got such a message twice under two packet ids [MQTT-4.3.3]. Runs on the shard
 * owner, at load.
 */
export function storedDeliverIds(sessions: Iterable<Session>): Set<string> {
  const ids = new Set<string>();
  for (const s of sessions) {
    for (const f of s.inflight.values()) if (f.from !== undefined) ids.add(f.from);
    for (const d of s.queue) if (d.from !== undefined) ids.add(d.from);
  }
  return ids;
}
