import { encodeGatewayOutChunks, type GatewayOutItem } from '../envelope/gateway-out.js';
import type { SubjectSpace } from '../subjects.js';
import type { Bus } from './bus.js';

/**
 * Output for gateways, one bus message per gateway per event-loop turn (split only at the bus's
 * message size): the items of one turn, in the order added, leave together in `setImmediate`
 * (after the turn's I/O callbacks, not a microtask, so the work of many socket reads and
 * shards completed in one turn shares a message). Used by shard owners for everything they
 * send to connections, and by routers for QoS 0 copies sent straight to online subscribers.
 * Hot path: no per-item allocation beyond the item itself.
 */
export class GatewayOutPerTurn {
  private readonly pending = new Map<string, GatewayOutItem[]>();
  private scheduled = false;

  constructor(
    private readonly bus: Bus,
    private readonly subjects: SubjectSpace,
    /** Called per bus message sent, with its gateway's item count (metrics). */
    private readonly onMessage?: (items: number) => void,
  ) {}

  add(gateway: string, item: GatewayOutItem): void {
    let list = this.pending.get(gateway);
    if (!list) {
      list = [];
      this.pending.set(gateway, list);
    }
    list.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends what is pending now (also called before a stop). */
  flush(): void {
    this.scheduled = false;
    if (this.pending.size === 0) return;
    const max = this.bus.maxPayloadBytes;
    for (const [gw, items] of this.pending) {
      // A turn's output for one gateway can pass the bus's message size (many large PUBLISHes).
      for (const chunk of encodeGatewayOutChunks(items, max)) this.bus.publish(this.subjects.gatewayOut(gw), chunk);
      this.onMessage?.(items.length);
    }
    this.pending.clear();
  }
}
