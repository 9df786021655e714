import type { Message, QoS, DeliveryTarget } from '../../common/src/index.js';
import type { ConnState } from './protocol/conn-state.js';

/**
 * The shutdown broadcast (gateway.shutdownBroadcast*, docs/integration.md): on a graceful
 * stop, before the drain closes anyone, every connected client of this gateway is sent one
 * configured PUBLISH, whether or not it subscribed (as fleets did by hand: "reconnect now").
 * It goes through each client's session owner as a Deliver, like any delivery, so the owner
 * assigns the packet id, keeps a QoS 1/2 copy inflight (resent after the reconnect if the
 * client did not acknowledge it) and orders it after what the session already owes. The
 * gateway waits until it wrote the PUBLISH to each of those connections (bounded by
 * gateway.shutdownBroadcastWaitMs), then drains. Gateway only.
 */

export interface ShutdownBroadcast {
  message: Message;
  waitMs: number;
}

export function shutdownBroadcastOf(topic: string | undefined, payload: string, qos: number, waitMs: number): ShutdownBroadcast | undefined {
  if (topic === undefined) return undefined;
  return { message: { topic, payload: Buffer.from(payload), qos: qos as QoS, retain: false, origin: '' }, waitMs };
}

/** The connected clients' sessions, grouped by shard (one Deliver per shard owner). */
export function broadcastTargets(conns: Iterable<ConnState>, qos: QoS): Map<number, DeliveryTarget[]> {
  const byShard = new Map<number, DeliveryTarget[]>();
  for (const c of conns) {
    if (c.phase !== 'connected') continue;
    let list = byShard.get(c.shard);
    if (!list) byShard.set(c.shard, (list = []));
    list.push({ key: c.key, qos, retainAsPublished: false, subIds: [] });
  }
  return byShard;
}

/** The connections still owed the broadcast; written() is called for each PUBLISH the gateway writes. */
export class BroadcastWait {
  private readonly pending = new Map<number, number>();

  constructor(
    conns: Iterable<ConnState>,
    private readonly topic: string,
  ) {
    for (const c of conns) if (c.phase === 'connected') this.pending.set(c.id, c.epoch);
  }

  get done(): boolean {
    return this.pending.size === 0;
  }

  get left(): number {
    return this.pending.size;
  }

  /** A PUBLISH written to connection connId (epoch) on topic. */
  written(connId: number, epoch: number, topic: string, origin: string): void {
    if (origin === '' && topic === this.topic && this.pending.get(connId) === epoch) this.pending.delete(connId);
  }

  /** The connection closed: nothing more to wait for on it. */
  closed(connId: number): void {
    this.pending.delete(connId);
  }
}
