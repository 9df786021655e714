import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { BusValue, type BusBody } from './bus-value.js';
import { HandlerGuard } from './handler-guard.js';
import { PendingTable, tokenGeneration, tokenSlot, tokenText } from './pending-table.js';
import { RequestLatency } from './request-latency.js';
import {
  NoRespondersError,
  RequestTimeoutError,
  type Bus,
  type BusHandler,
  type BusHeaders,
  type BusMsg,
  type BusStatus,
  type BusSubscription,
  type PublishOptions,
  type RequestOptions,
  type SubscribeOptions,
} from './bus.js';
import { hasWildcard, isValidPublishSubject, isValidSubscribeSubject, tokensMatch } from './subject-match.js';

/**
 * In-process bus: the embedded default when every role runs in one process.
 * Passes the same contract tests as the NATS bus (test/unit/bus-contract.test.ts).
 *
 * Semantics worth knowing:
 * - Delivery is asynchronous: a handler never runs inside the publisher's call stack.
 *   Deliveries queue in one FIFO ring, drained first in a microtask and then in batches of
 *   `maxBatch` with setImmediate between batches, so a flood (or two handlers ping-ponging)
 *   cannot starve socket I/O. One FIFO for all subscribers keeps publish order per subscriber.
 * - Payloads are NOT copied: every subscriber receives the very Uint8Array the publisher
 *   passed. The publisher must treat a buffer as immutable once published, and handlers
 *   must not modify `msg.data` (other subscribers see the same bytes). Headers are copied
 *   once per publish (they are rare and small).
 * - A BusValue (bus-value.ts) is handed over as the object: the receiver reads it with bodyValue
 *   and never decodes; `msg.data` encodes it only when some receiver asks for the bytes (once,
 *   however many ask). Like bytes, the object is shared by every subscriber and must never be
 *   modified once published.
 * - Queue groups: each message goes to one member of each group, round-robin; members of
 *   one group may subscribe with different (overlapping) filters, as in NATS.
 * - request() fails with NoRespondersError when no subscription of any kind matches the
 *   subject at publish time, like nats-server's no-responders status.
 * - A handler that throws is counted and logged (handler-guard.ts) and otherwise ignored.
 * - After unsubscribe(), a subscription gets nothing more, not even deliveries already queued.
 */
export interface MemoryBusOptions {
  /** Where to report handler exceptions. Default: dropped. */
  log?: Logger;
  /** Where handler failures and malformed envelopes are counted (handler-guard.ts). */
  metrics?: Metrics;
  /** Deliveries run per event-loop task before yielding to I/O (setImmediate). */
  maxBatch?: number;
}

const DEFAULT_MAX_BATCH = 2048;
/** Route cache entries before it is cleared wholesale (distinct published subjects). */
const MAX_CACHED_ROUTES = 16384;
const INITIAL_RING_CAPACITY = 1024;

let busCounter = 0;

export function createMemoryBus(opts: MemoryBusOptions = {}): Bus {
  return new MemoryBus(opts);
}

class MemSub implements BusSubscription {
  closed = false;
  constructor(
    readonly bus: MemoryBus,
    readonly subject: string,
    readonly tokens: readonly string[] | undefined,
    readonly handler: BusHandler,
    readonly queue: string | undefined,
  ) {}

  unsubscribe(): void {
    if (this.closed) return;
    this.closed = true;
    this.bus.remove(this);
  }

  drain(): Promise<void> {
    this.unsubscribe();
    return Promise.resolve();
  }
}

class QueueGroup {
  next = 0;
  constructor(readonly members: MemSub[]) {}

  pick(): MemSub {
    const m = this.members[this.next]!;
    this.next = this.next + 1 === this.members.length ? 0 : this.next + 1;
    return m;
  }
}

/** Who receives a message published to one subject (valid until subscriptions change). */
interface Route {
  readonly plain: readonly MemSub[];
  readonly groups: readonly QueueGroup[];
}

const EMPTY_ROUTE: Route = { plain: [], groups: [] };

class MemMsg implements BusMsg {
  constructor(
    private readonly bus: MemoryBus,
    readonly subject: string,
    private readonly body: BusBody,
    readonly reply: string | undefined,
    readonly headers: BusHeaders | undefined,
  ) {}

  get data(): Uint8Array {
    const b = this.body;
    return b instanceof BusValue ? b.bytes() : b;
  }

  get value(): BusValue<unknown> | undefined {
    const b = this.body;
    return b instanceof BusValue ? b : undefined;
  }

  respond(data: Uint8Array, headers?: BusHeaders): boolean {
    if (this.reply === undefined) return false;
    this.bus.publish(this.reply, data, headers ? { headers } : undefined);
    return true;
  }
}

/** FIFO of (handler target, message) pairs; grows by doubling, never shifts arrays. */
class DeliveryRing {
  private subs: (MemSub | undefined)[];
  private msgs: (MemMsg | undefined)[];
  private head = 0;
  private count = 0;

  constructor(capacity: number) {
    this.subs = new Array<MemSub | undefined>(capacity);
    this.msgs = new Array<MemMsg | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(sub: MemSub, msg: MemMsg): void {
    if (this.count === this.subs.length) this.grow();
    const i = (this.head + this.count) & (this.subs.length - 1);
    this.subs[i] = sub;
    this.msgs[i] = msg;
    this.count++;
  }

  /** Removes the oldest entry; the caller reads it through lastSub/lastMsg. */
  shift(): boolean {
    if (this.count === 0) return false;
    const i = this.head;
    this.lastSub = this.subs[i]!;
    this.lastMsg = this.msgs[i]!;
    this.subs[i] = undefined;
    this.msgs[i] = undefined;
    this.head = (i + 1) & (this.subs.length - 1);
    this.count--;
    return true;
  }

  lastSub: MemSub | undefined;
  lastMsg: MemMsg | undefined;

  clear(): void {
    this.subs.fill(undefined);
    this.msgs.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.lastSub = undefined;
    this.lastMsg = undefined;
  }

  private grow(): void {
    const cap = this.subs.length;
    const subs = new Array<MemSub | undefined>(cap * 2);
    const msgs = new Array<MemMsg | undefined>(cap * 2);
    for (let k = 0; k < cap; k++) {
      const j = (this.head + k) & (cap - 1);
      subs[k] = this.subs[j];
      msgs[k] = this.msgs[j];
    }
    this.subs = subs;
    this.msgs = msgs;
    this.head = 0;
  }
}

interface PendingRequest {
  readonly subject: string;
  /** Set right after the request gets its token (the timeout must know the token). */
  timer: NodeJS.Timeout | undefined;
  /** When it was sent (RequestLatency.start). */
  readonly start: number;
  readonly resolve: (m: BusMsg) => void;
  readonly reject: (e: Error) => void;
}

class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  /** Nothing to split for: in-process delivery has no message size limit. */
  readonly maxPayloadBytes = Number.MAX_SAFE_INTEGER;

  private readonly guard: HandlerGuard;
  private readonly latency: RequestLatency;
  private readonly maxBatch: number;
  /** Subscriptions without wildcards, by subject. Arrays are replaced, never mutated. */
  private readonly exact = new Map<string, MemSub[]>();
  /** Subscriptions with wildcards; expected to be few (e.g. `mqtt.sess.*.in`). */
  private wildcard: MemSub[] = [];
  /** Published subject -> receivers; cleared whenever a subscription comes or goes. */
  private readonly routes = new Map<string, Route>();
  /**
   * Whether some subscription may match a reply subject (`_INBOX.…`); undefined until asked
   * after a subscription came or went. Replies (one per request: every QoS 1 route and
   * delivery) skip the uncached route lookup when nobody can be listening.
   */
  private inboxListened: boolean | undefined;

  private readonly ring = new DeliveryRing(INITIAL_RING_CAPACITY);
  private scheduled = false;
  private readonly drainNow = () => this.drain();

  /** `_INBOX.<bus>.` — reply subjects of this bus's requests; never cached as routes. */
  private readonly inboxPrefix: string;
  /** Requests awaiting a reply; a reply subject is `inboxPrefix` + its token (pending-table.ts). */
  private readonly pending = new PendingTable<PendingRequest>();

  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;

  constructor(opts: MemoryBusOptions) {
    this.guard = new HandlerGuard(opts.log, opts.metrics);
    this.latency = new RequestLatency(opts.metrics);
    this.maxBatch = Math.max(1, opts.maxBatch ?? DEFAULT_MAX_BATCH);
    this.inboxPrefix = `_INBOX.mem${++busCounter}.`;
  }

  publish(subject: string, data: BusBody, opts?: PublishOptions): void {
    if (this.closed) throw new Error('bus closed');
    let reply: string | undefined;
    let headers: BusHeaders | undefined;
    if (opts !== undefined) {
      reply = opts.reply;
      if (opts.headers !== undefined) headers = { ...opts.headers };
    }

    if (subject.charCodeAt(0) === 95 /* _ */ && subject.startsWith(this.inboxPrefix)) {
      this.publishToInbox(subject, data, reply, headers);
      return;
    }

    const route = this.route(subject, true);
    const nPlain = route.plain.length;
    const nGroups = route.groups.length;
    if (nPlain === 0 && nGroups === 0) return;
    const msg = new MemMsg(this, subject, data, reply, headers);
    for (let i = 0; i < nPlain; i++) this.ring.push(route.plain[i]!, msg);
    for (let i = 0; i < nGroups; i++) this.ring.push(route.groups[i]!.pick(), msg);
    this.schedule();
  }

  subscribe(subject: string, handler: BusHandler, opts?: SubscribeOptions): BusSubscription {
    if (this.closing || this.closed) throw new Error('bus closed');
    if (!isValidSubscribeSubject(subject)) throw new Error(`invalid bus subject: ${JSON.stringify(subject)}`);
    const queue = opts?.queue;
    if (queue !== undefined && (queue.length === 0 || /\s/.test(queue))) {
      throw new Error(`invalid queue group: ${JSON.stringify(queue)}`);
    }
    const wild = hasWildcard(subject);
    const sub = new MemSub(this, subject, wild ? subject.split('.') : undefined, this.guard.wrap(subject, handler, opts?.errorReply), queue);
    if (wild) {
      this.wildcard = [...this.wildcard, sub];
    } else {
      const list = this.exact.get(subject);
      this.exact.set(subject, list ? [...list, sub] : [sub]);
    }
    this.subscriptionsChanged();
    return sub;
  }

  /** Called by MemSub.unsubscribe only. */
  remove(sub: MemSub): void {
    if (sub.tokens !== undefined) {
      this.wildcard = this.wildcard.filter((s) => s !== sub);
    } else {
      const list = this.exact.get(sub.subject);
      if (list) {
        const rest = list.filter((s) => s !== sub);
        if (rest.length === 0) this.exact.delete(sub.subject);
        else this.exact.set(sub.subject, rest);
      }
    }
    this.subscriptionsChanged();
  }

  private subscriptionsChanged(): void {
    this.routes.clear();
    this.inboxListened = undefined;
  }

  /** A superset of the subscriptions that can match `_INBOX.…`: an exact `_INBOX…` subject, or a wildcard whose first token can be `_INBOX`. */
  private someoneListensOnInboxes(): boolean {
    if (this.inboxListened !== undefined) return this.inboxListened;
    let listened = false;
    for (const s of this.exact.keys()) if (s.startsWith('_INBOX')) listened = true;
    for (const s of this.wildcard) {
      const first = s.tokens![0];
      if (first === '*' || first === '>' || first === '_INBOX') listened = true;
    }
    this.inboxListened = listened;
    return listened;
  }

  /** Timed as the NATS bus's requests are, without a promise per request for it (RequestLatency.start). */
  request(subject: string, data: BusBody, opts: RequestOptions): Promise<BusMsg> {
    if (this.closed) return this.failed(new Error('bus closed'));
    let route: Route;
    try {
      route = this.route(subject, true);
    } catch (err) {
      return this.failed(err);
    }
    if (route.plain.length === 0 && route.groups.length === 0) {
      return this.failed(new NoRespondersError(subject));
    }
    const timeoutMs = opts.timeoutMs;
    const start = this.latency.start();
    return new Promise<BusMsg>((resolve, reject) => {
      const p: PendingRequest = { subject, timer: undefined, start, resolve, reject };
      const slot = this.pending.add(p);
      const generation = this.pending.generationOf(slot);
      p.timer = setTimeout(() => {
        this.pending.take(slot, generation);
        const err = new RequestTimeoutError(subject, timeoutMs);
        this.latency.failed(err);
        reject(err);
      }, timeoutMs);
      const inbox = this.inboxPrefix + tokenText(slot, generation);
      this.publish(subject, data, opts.headers ? { reply: inbox, headers: opts.headers } : { reply: inbox });
    });
  }

  private failed(err: unknown): Promise<never> {
    this.latency.failed(err);
    return Promise.reject(err);
  }

  flush(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('bus closed'));
    if (this.ring.size === 0) return Promise.resolve();
    // A marker at the tail of the FIFO: when it runs, everything queued before it has run.
    return new Promise<void>((resolve) => {
      const marker = new MemSub(this, '', undefined, () => resolve(), undefined);
      this.ring.push(marker, new MemMsg(this, '', EMPTY, undefined, undefined));
      this.schedule();
    });
  }

  close(): Promise<void> {
    // Idempotent: shutdown paths may race to close the shared bus.
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  /** The memory bus has no connection; it never reports a status. */
  onStatus(_cb: (status: BusStatus) => void): void {}

  private async doClose(): Promise<void> {
    this.closing = true;
    // Drain: deliver what was published before close (handlers may still publish meanwhile).
    await this.flush();
    this.closed = true;
    this.ring.clear();
    for (const list of this.exact.values()) for (const s of list) s.closed = true;
    for (const s of this.wildcard) s.closed = true;
    this.exact.clear();
    this.wildcard = [];
    this.subscriptionsChanged();
    for (const p of this.pending.takeAll()) {
      clearTimeout(p.timer);
      const err = new Error(`bus closed before a reply to ${p.subject} arrived`);
      this.latency.failed(err);
      p.reject(err);
    }
  }

  private publishToInbox(subject: string, data: BusBody, reply: string | undefined, headers: BusHeaders | undefined): void {
    const slot = tokenSlot(subject, this.inboxPrefix.length);
    const generation = tokenGeneration(subject, this.inboxPrefix.length);
    const p = this.pending.get(slot, generation);
    let msg: MemMsg | undefined;
    if (p !== undefined) {
      // First reply wins; later ones go nowhere (NATS request() unsubscribes after one).
      this.pending.take(slot, generation);
      clearTimeout(p.timer);
      this.latency.answered(p.start);
      msg = new MemMsg(this, subject, data, reply, headers);
      const target = new MemSub(this, subject, undefined, p.resolve, undefined);
      this.ring.push(target, msg);
      // The usual case: a reply to a request of ours (its subject is valid: we made it) that no
      // subscription can also match.
      if (!this.someoneListensOnInboxes()) {
        this.schedule();
        return;
      }
    }
    // Someone may also listen on `_INBOX.>`; uncached so unique inboxes do not fill the cache.
    const route = this.route(subject, false);
    if (route.plain.length !== 0 || route.groups.length !== 0) {
      msg ??= new MemMsg(this, subject, data, reply, headers);
      for (const s of route.plain) this.ring.push(s, msg);
      for (const g of route.groups) this.ring.push(g.pick(), msg);
    }
    if (msg !== undefined) this.schedule();
  }

  private route(subject: string, cache: boolean): Route {
    const hit = this.routes.get(subject);
    if (hit !== undefined) return hit;
    if (!isValidPublishSubject(subject)) throw new Error(`invalid bus subject: ${JSON.stringify(subject)}`);

    const plain: MemSub[] = [];
    let byQueue: Map<string, MemSub[]> | undefined;
    const add = (s: MemSub) => {
      if (s.queue === undefined) {
        plain.push(s);
        return;
      }
      byQueue ??= new Map();
      const members = byQueue.get(s.queue);
      if (members) members.push(s);
      else byQueue.set(s.queue, [s]);
    };
    const exact = this.exact.get(subject);
    if (exact) for (const s of exact) add(s);
    if (this.wildcard.length !== 0) {
      const tokens = subject.split('.');
      for (const s of this.wildcard) if (tokensMatch(s.tokens!, tokens)) add(s);
    }

    let route: Route;
    if (plain.length === 0 && byQueue === undefined) route = EMPTY_ROUTE;
    else route = { plain, groups: byQueue ? [...byQueue.values()].map((m) => new QueueGroup(m)) : [] };
    if (cache) {
      if (this.routes.size >= MAX_CACHED_ROUTES) this.routes.clear();
      this.routes.set(subject, route);
    }
    return route;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.drainNow);
  }

  /** Runs up to maxBatch deliveries; yields to I/O with setImmediate when more remain. */
  private drain(): void {
    const ring = this.ring;
    let n = this.maxBatch;
    while (n-- > 0 && ring.shift()) {
      const sub = ring.lastSub!;
      if (sub.closed) continue;
      // Subscription handlers are guarded (they never throw); flush markers and request
      // resolvers are ours and do not throw.
      sub.handler(ring.lastMsg!);
    }
    ring.lastSub = undefined;
    ring.lastMsg = undefined;
    if (ring.size !== 0) setImmediate(this.drainNow);
    else this.scheduled = false;
  }
}

const EMPTY = new Uint8Array(0);
