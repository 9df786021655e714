import { NoRespondersError, type Bus, type BusMsg, type BusSubscription } from './bus/bus.js';
import { type BusBody, bodyBytes } from './bus/bus-value.js';
import { decodeRouterBeat } from './envelope/heartbeat.js';
import { encodeRouteBatch, ROUTE_BATCH_ITEM_OVERHEAD_BYTES } from './envelope/route-batch.js';
import { PerTurnLists } from './bus/per-turn-lists.js';
import { sizeRanges } from './bus/size-ranges.js';
import type { Logger } from './log.js';
import { rendezvousOwner } from './rendezvous.js';
import type { SubjectSpace } from './subjects.js';

const routeItemBytes = (item: Uint8Array): number => item.length + ROUTE_BATCH_ITEM_OVERHEAD_BYTES;

/** A router silent for this many heartbeat periods is taken for dead. */
const SILENT_PERIODS = 3;

export interface RouterChoiceOptions {
  bus: Bus;
  subjects: SubjectSpace;
  /** Shards of the cluster: the choice is made per shard of the publisher's session. */
  shards: number;
  heartbeatMs: number;
  log: Logger;
  now?: () => number;
}

/**
 * Which router a publisher's messages go to. NATS keeps messages of one connection on one
 * subject in order, and one router handles its messages in arrival order, so sending every
 * message of a publisher to the same router keeps them in order [MQTT-4.6.0-6] whatever the
 * number of routers; a queue group would spread them over routers that run in parallel.
 *
 * Routers announce themselves on `routerHeartbeat`; the router of a publisher is the
 * rendezvous owner of its session's shard among the live routers, so a router joining or
 * leaving moves only the publishers it gains or loses. While no router is known (start-up)
 * messages go to the queue group. Runs in every process that routes messages (gateways:
 * PUBLISH from devices; session actors: Wills and QoS 2).
 */
export class RouterChoice {
  /** Router id -> when we last heard it. */
  private readonly seen = new Map<string, number>();
  /** Shard -> subject of its router; empty while no router is known. */
  private table: string[] = [];
  /** Shard -> its router's batch subject when that router takes batches (NATS only). */
  private batchTable: Array<string | undefined> = [];
  /** Routers whose heartbeat says they take QoS 0 batches. */
  private readonly batching = new Set<string>();
  /** Batch subject -> this turn's encoded QoS 0 route publishes for it, in order. */
  private readonly pending = new PerTurnLists<Uint8Array>((subject, items) => this.sendBatch(subject, items));
  private readonly subs: BusSubscription[] = [];
  private timer?: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly o: RouterChoiceOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Follows router heartbeats and asks the routers to announce themselves at once. */
  async start(): Promise<void> {
    const { bus, subjects } = this.o;
    this.subs.push(bus.subscribe(subjects.routerHeartbeat, (m) => this.onBeat(m)));
    await bus.flush();
    bus.publish(subjects.routerProbe, new Uint8Array(0));
    this.timer = setInterval(() => this.sweep(), this.o.heartbeatMs);
    this.timer.unref();
  }

  stop(): void {
    this.flush();
    if (this.timer) clearInterval(this.timer);
    for (const s of this.subs.splice(0)) s.unsubscribe();
  }

  /** The subject to route a message of a session on `shard` to. */
  subjectFor(shard: number): string {
    return this.table.length === 0 ? this.o.subjects.routePublish : this.table[shard]!;
  }

  /**
   * A QoS 0 route publish (no answer) to the shard's router: in this turn's batch for it when
   * that router takes batches (one bus message per router per turn, sent in setImmediate after
   * the turn's socket reads), else on its own. Either way one publisher's messages reach one
   * router in the order sent [MQTT-4.6.0-6].
   */
  publish(shard: number, data: BusBody): void {
    const batch = this.batchTable.length === 0 ? undefined : this.batchTable[shard];
    if (batch === undefined) {
      this.o.bus.publish(this.subjectFor(shard), data);
      return;
    }
    // Batches exist over NATS only (a value handed over in one process never gets here as bytes).
    this.pending.add(batch, bodyBytes(data));
  }

  /** Sends the pending batches now. */
  flush(): void {
    this.pending.flush();
  }

  /** One router's batch, split at the bus's message size. */
  private sendBatch(subject: string, items: Uint8Array[]): void {
    for (const [from, to] of sizeRanges(items, routeItemBytes, this.o.bus.maxPayloadBytes - 16)) this.o.bus.publish(subject, encodeRouteBatch(items, from, to));
  }

  /**
   * A route request to the shard's router. A router that has no subscriber any more (it
   * stopped or died) is dropped at once, before its heartbeats would have gone silent, so the
   * caller's retry goes to the next router.
   */
  request(shard: number, data: BusBody, timeoutMs: number): Promise<BusMsg> {
    // Not an async function: this runs per QoS 1/2 message, and an await costs a generator and
    // promises more than the one `catch` here (docs/operations.md, "QoS 1 latency").
    const subject = this.subjectFor(shard);
    return this.o.bus.request(subject, data, { timeoutMs }).catch((err: unknown) => {
      if (err instanceof NoRespondersError) this.forgetSubject(subject);
      throw err;
    });
  }

  /** Router ids currently in use (tests, logs). */
  routers(): string[] {
    return [...this.seen.keys()].sort();
  }

  private onBeat(m: BusMsg): void {
    // A beat that does not decode, or names an id unfit for a subject, throws: the bus guard
    // drops and counts it.
    const b = decodeRouterBeat(m.data);
    this.o.subjects.routePublishTo(b.routerId);
    const known = this.seen.has(b.routerId);
    // Batches only over NATS, where a message costs a parse on both sides and in nats-server.
    if (b.batches && this.o.bus.kind === 'nats' && !b.stopping && !this.batching.has(b.routerId)) {
      this.batching.add(b.routerId);
      if (known) this.change(() => undefined, 'router takes batches', b.routerId);
    }
    if (b.stopping) {
      if (known) this.change(() => this.seen.delete(b.routerId), 'router stopping', b.routerId);
      return;
    }
    if (known) this.seen.set(b.routerId, this.now());
    else this.change(() => this.seen.set(b.routerId, this.now()), 'router joined', b.routerId);
  }

  private sweep(): void {
    const oldest = this.now() - SILENT_PERIODS * this.o.heartbeatMs;
    for (const [id, at] of this.seen) if (at < oldest) this.change(() => this.seen.delete(id), 'router silent', id);
    for (const id of this.batching) if (!this.seen.has(id)) this.batching.delete(id);
  }

  private forgetSubject(subject: string): void {
    for (const id of this.seen.keys()) {
      if (this.o.subjects.routePublishTo(id) === subject) this.change(() => this.seen.delete(id), 'router gone (no responders)', id);
    }
  }

  /** Applies a membership change and recomputes the router of every shard. */
  private change(apply: () => void, why: string, routerId: string): void {
    apply();
    const ids = this.routers();
    const subjectOf = new Map(ids.map((id) => [id, this.o.subjects.routePublishTo(id)]));
    const table: string[] = ids.length === 0 ? [] : new Array<string>(this.o.shards);
    const batchTable: Array<string | undefined> = ids.length === 0 ? [] : new Array<string | undefined>(this.o.shards);
    if (ids.length > 0) {
      for (let s = 0; s < this.o.shards; s++) {
        const id = rendezvousOwner(ids, s)!;
        table[s] = subjectOf.get(id)!;
        batchTable[s] = this.batching.has(id) ? this.o.subjects.routeBatchTo(id) : undefined;
      }
    }
    // What is pending for a router that moves leaves first, in the order it was sent.
    this.flush();
    this.table = table;
    this.batchTable = batchTable;
    this.o.log.info('routers changed', { why, router: routerId, routers: ids.length });
  }
}
