import { RingQueue } from '../../../common/src/index.js';

/**
 * Deliver deduplication: a router retries a QoS 1/2 Deliver whose answer was late with the
 * same id; the owner remembers recent ids (bounded, FIFO eviction), each with the serving of
 * the shard that took it, and answers a retry seen by the same serving, once its pending
 * write is done, without delivering again (no duplicate without DUP). A retry reaching a
 * later serving of the shard (dropped without writing, loaded again) is delivered: the copy
 * may not be in the store. Deliberately in memory only (docs/sharding.md, "Known gaps").
 * Runs on the shard owner.
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
