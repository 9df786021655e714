import { encodeGatewayOutChunks, gatewayOutCodec, type GatewayOutItem } from '../envelope/gateway-out.js';
import type { SubjectSpace } from '../subjects.js';
import type { Bus } from './bus.js';
import { BusValue } from './bus-value.js';
import { PerTurnLists } from './per-turn-lists.js';

/**
 * Output for gateways, one bus message per gateway per event-loop turn (split only at the bus's
 * message size), items in the order added. Used by shard owners for everything they send to
 * connections, and by routers for QoS 0 copies sent straight to online subscribers.
 */
export class GatewayOutPerTurn {
  private readonly lists: PerTurnLists<GatewayOutItem>;

  constructor(bus: Bus, subjects: SubjectSpace, onMessage?: (items: number) => void) {
    const inProcess = bus.kind === 'memory';
    this.lists = new PerTurnLists((gateway, items) => {
      // One process: the item array itself (bus-value.ts), nothing to split; PerTurnLists forgets
      // it once sent and nobody here touches it again.
      if (inProcess) bus.publish(subjects.gatewayOut(gateway), new BusValue(gatewayOutCodec, items));
      // A turn's output for one gateway can pass the bus's message size (many large PUBLISHes).
      else for (const chunk of encodeGatewayOutChunks(items, bus.maxPayloadBytes)) bus.publish(subjects.gatewayOut(gateway), chunk);
      onMessage?.(items.length);
    });
  }

  add(gateway: string, item: GatewayOutItem): void {
    this.lists.add(gateway, item);
  }

  /** Sends what is pending now (also called before a stop). */
  flush(): void {
    this.lists.flush();
  }
}
