import { RingQueue } from '../../common/src/index.js';

/**
 * A publisher's gateway retries a QoS 1/2 route request whose answer did not come in time,
 * with the same route id. Routing it again would deliver a second copy without DUP, so the
 * router answers a retry with the outcome of the first attempt: the same pending promise
 * while that attempt runs, its status for a while after. Bounded: the oldest finished ids
 * are forgotten first. Runs on a router; a retry that reaches another router is caught by
 * the shard owners instead (their Deliver ids derive from the route id).
 */
export class RouteDedup {
  private readonly pending = new Map<string, Promise<number>>();
  private readonly done = new Map<string, number>();
  private readonly order = new RingQueue<string>();

  constructor(private readonly maxRemembered: number) {}

  /** The first attempt's outcome for `id`, or undefined: this is the first attempt. */
  previous(id: string): Promise<number> | undefined {
    const p = this.pending.get(id);
    if (p) return p;
    const status = this.done.get(id);
    return status === undefined ? undefined : Promise.resolve(status);
  }

  /** Tracks the first attempt of `id`; resolves with its status. */
  track(id: string, outcome: Promise<number>): Promise<number> {
    this.pending.set(id, outcome);
    return outcome.then((status) => {
      this.pending.delete(id);
      this.done.set(id, status);
      this.order.push(id);
      if (this.order.length > this.maxRemembered) this.done.delete(this.order.shift()!);
      return status;
    });
  }
}
