import { randomBytes } from 'node:crypto';
import {
  type Bus,
  type BusMsg,
  type BusSubscription,
  type Config,
  type Message,
  decodeResyncAnswer,
  decodeRetainedSync,
  BusValue,
  decodeStatusSafe,
  subChangesCodec,
  encodeRetainedAnswer,
  encodeRetainedSync,
  ROUTE_FAILED,
  ROUTE_NO_MATCH,
  ROUTE_OK,
  ROUTE_SLOW,
  ROUTE_QUOTA,
  SubOp,
  type RetainedAnswer,
  type RoutePublish,
  routePublishCodec,
  encodeRouterBeat,
  sessionInCodec,
  SessIn,
  bodyValue,
  type DeliveryTarget,
  type Logger,
  labelledCounter,
  counterFromTotal,
  type Metrics,
  type SubjectSpace,
  NoRespondersError,
  RequestTimeoutError,
  natsConnection,
  BACKOFF,
  retryDelayMs,
  OwnerDirect,
  GatewayOutPerTurn,
  decodeRouteBatch,
} from '../../common/src/index.js';

const QOS_LABEL = ['0', '1', '2'] as const;
/** How long a stopping router keeps taking publishes after announcing its stop. */
const STOP_GRACE_MS = 300;
import { fanOut, fanOutToGroup } from './fan-out.js';
import type { MergedCopies } from './matched-targets.js';
import { RouteDedup } from './route-dedup.js';
import { backendPublishOf, backendPublishReply, encodeReply } from './backend-publish.js';
import { MessageExport } from './message-export.js';
import { RetainedKv } from './persistence/retained-kv.js';
import { retainedCost, RetainedQuota, type RetainedLimit } from './retained-quota.js';
import { createRetainedStore, type RetainedStore } from './index/retained-store.js';
import { SubscriptionIndex } from './index/subscription-index.js';
import { directCopy, type DirectDrop, SessionLocations } from './qos0-direct.js';

export interface RouterDeps {
  bus: Bus;
  subjects: SubjectSpace;
  log: Logger;
  metrics: Metrics;
  now?: () => number;
}

/**
 * The router: subscription index, retained messages, fan-out to shard owners.
 * Any number may run: each publisher sends its messages to one router of its own (chosen
 * by common/src/router-choice.ts among the routers heard on the heartbeat subject, so its
 * messages stay in order), or to the queue group while it knows none; every router
 * receives every subscription change and retained change, and a starting router asks the
 * session owners to replay their subscriptions.
 */
export class RouterService {
  readonly id = randomBytes(6).toString('hex');
  /** Sessions with shared subscriptions that have no connection: other group members go first. */
  private readonly offline = new Set<string>();
  private readonly online = (key: string): boolean => !this.offline.has(key);
  /** Ids of QoS 1/2 Deliver requests: a retry of the same copy carries the same id. */
  private deliverSeq = 0;
  /** Route ids of QoS 1/2 publishes routed lately (a few seconds of traffic at high rates). */
  private readonly routeDedup = new RouteDedup(100_000);
  private readonly index: SubscriptionIndex<MergedCopies>;
  private readonly retained: RetainedStore<Message> = createRetainedStore<Message>();
  private readonly retainedQuota: RetainedQuota;
  private readonly subs: BusSubscription[] = [];
  private heartbeat?: NodeJS.Timeout;
  /** The publish subscriptions (queue group and this router's own subject), drained first on stop. */
  private readonly publishSubs: BusSubscription[] = [];
  /** Publishes answered asynchronously and not answered yet; stop() waits for them. */
  private inflight = 0;
  private readonly idle: Array<() => void> = [];
  private readonly now: () => number;
  private readonly m;
  private started = false;
  /** Persistent retained store (cluster mode); undefined in one-process mode. */
  private retainedKv?: RetainedKv;
  /** KV key -> retained entry, so a delete seen on the watch finds its topic. */
  private readonly retainedKeys = new Map<string, { mountpoint: string; topic: string }>();
  /** Export of device messages to NATS (export.filters); undefined when off. */
  private export?: MessageExport;
  /** Deliver copies go per owner process, batched per turn, once the owner is known (owner-direct.ts). */
  private readonly owners: OwnerDirect;
  /** Messages routed to nobody (shardmq_router_messages_dropped_no_subscribers_total), read at scrape time. */
  private droppedNoSubscribers = 0;
  /** QoS 0 direct path (qos0-direct.ts, docs/sharding.md): where online sessions are connected. */
  private readonly locations = new SessionLocations();
  private readonly directEnabled: boolean;
  /** QoS 0 copies for online subscribers, one message per gateway per turn. */
  private readonly gwOut: GatewayOutPerTurn;
  /** Copies sent direct (read at scrape time), and dropped by a delivery rule. */
  private directSent = 0;
  /** Copies the direct path took (sent or dropped by a rule): the message had subscribers. */
  private directTaken = 0;
  private readonly directDropped: (reason: DirectDrop) => void;

  private constructor(
    private readonly config: Config,
    private readonly deps: RouterDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.retainedQuota = new RetainedQuota(config['router.maxRetainedMessages'], config['router.maxRetainedBytes']);
    const metrics = deps.metrics;
    this.m = {
      routed: labelledCounter(metrics.counter('router_routed_messages_total', 'Messages routed, by QoS.', ['qos'])),
      deliveries: labelledCounter(metrics.counter('router_routed_deliveries_total', 'Session deliveries produced by fan-out, by QoS of the message.', ['qos'])),
      failures: metrics.counter('router_route_failures_total', 'Messages a shard owner did not accept in time.'),
      retriesAnswered: metrics.counter('router_route_retries_answered_total', "Retried QoS 1/2 route requests answered with the first attempt's outcome instead of being routed again."),
      limit: metrics.counter('router_limit_hits_total', 'Times a configured limit was hit, by limit name.', ['limit']),
      apiPublishes: labelledCounter(metrics.counter('router_api_publishes_total', 'Backend publish requests on <prefix>.api.v1.publish, by result (routed, refused).', ['result'])),
    };
    const batches = metrics.counter('router_owner_batches_total', 'Owner-direct batches of Deliver copies sent to session actors (owner-direct.ts).');
    const batchItems = metrics.counter('router_owner_batch_items_total', 'Deliver copies sent in owner-direct batches.');
    this.index = new SubscriptionIndex(config['router.matchCacheTopics'], () => this.m.limit.inc({ limit: 'matchCacheTopics' }));
    this.owners = new OwnerDirect(deps.bus, deps.subjects, (n) => {
      batches.inc();
      batchItems.inc(n);
    });
    this.directEnabled = config['router.qos0Direct'];
    const gwBatches = metrics.counter('router_gateway_batches_total', 'Messages of QoS 0 copies sent straight to gateways (QoS 0 direct path), one per gateway per event-loop turn.');
    this.gwOut = new GatewayOutPerTurn(deps.bus, deps.subjects, () => gwBatches.inc());
    counterFromTotal(metrics.counter('router_direct_deliveries_total', 'QoS 0 copies sent straight to the subscriber gateway instead of through the shard owner.'), () => this.directSent);
    this.directDropped = labelledCounter(
      metrics.counter('router_direct_dropped_total', 'QoS 0 copies the direct path dropped by a delivery rule (expired: Message Expiry passed; too_large: above the client Maximum Packet Size).', [
        'reason',
      ]),
    );
    metrics.gauge('router_located_sessions', 'Connected sessions whose gateway this router knows (QoS 0 direct path).', [], (g) => g.set(this.locations.size));
    counterFromTotal(metrics.counter('router_messages_dropped_no_subscribers_total', 'Messages no subscription matched, not retained either: nobody receives them.'), () => this.droppedNoSubscribers);
    metrics.gauge('router_subscriptions', 'Subscriptions in this router index.', [], (g) => g.set(this.index.size));
    metrics.gauge('router_retained_messages', 'Retained messages held by this router.', [], (g) => g.set(this.retained.size));
    metrics.gauge('router_retained_bytes', 'Topic and payload bytes of the retained messages held by this router.', [], (g) => g.set(this.retainedQuota.bytes));
  }

  static create(config: Config, deps: RouterDeps): RouterService {
    return new RouterService(config, deps);
  }

  async start(): Promise<void> {
    const { bus, subjects } = this.deps;
    if (bus.kind === 'nats' && this.config['cluster.persistence']) {
      // Load every retained message before taking publishes or subscriptions.
      this.retainedKv = await RetainedKv.open(natsConnection(bus), this.config, this.deps.log);
      await this.retainedKv.follow(
        (mountpoint, m) => this.storeRetained(mountpoint, m, false),
        (key) => {
          const e = this.retainedKeys.get(key);
          if (e) this.dropRetained(e.mountpoint, e.topic);
          this.retainedKeys.delete(key);
        },
      );
    }
    this.export = await MessageExport.open(this.config, bus, subjects, this.deps.log, this.deps.metrics);
    this.subs.push(bus.subscribe(subjects.routeSubscription, (m) => this.onSubChanges(m)));
    this.subs.push(bus.subscribe(subjects.routeRetained, (m) => this.onRetainedSync(m)));
    await bus.flush();
    await this.replaySubscriptions();
    // Envelopes that do not decode are dropped and counted by the bus guard; a publisher's
    // request among them is answered ROUTE_FAILED. A subscription change gets no answer (the
    // session's request then fails or another router answers).
    this.publishSubs.push(bus.subscribe(subjects.routePublish, (m) => this.onPublish(m), { queue: subjects.routerQueue, errorReply: Buffer.from([ROUTE_FAILED]) }));
    this.publishSubs.push(bus.subscribe(subjects.routePublishTo(this.id), (m) => this.onPublish(m), { errorReply: Buffer.from([ROUTE_FAILED]) }));
    this.publishSubs.push(bus.subscribe(subjects.routeBatchTo(this.id), (m) => decodeRouteBatch(m.data, (p) => this.routePublish(p, undefined))));
    if (this.config['api.publishEnabled']) {
      this.publishSubs.push(bus.subscribe(subjects.apiPublish, (m) => this.onBackendPublish(m), { queue: subjects.apiQueue, errorReply: encodeReply({ ok: false, error: 'internal error' }) }));
    }
    this.subs.push(bus.subscribe(subjects.routerProbe, () => this.beat(false)));
    await bus.flush();
    // Announced only once our own subject is subscribed (nobody sends to it before) and the
    // index is complete (publishers stick to the router they pick).
    this.beat(false);
    this.heartbeat = setInterval(() => this.beat(false), this.config['router.heartbeatMs']);
    this.heartbeat.unref();
    this.started = true;
  }

  /**
   * Asks the session owners to replay their subscriptions and, over NATS, waits until their
   * answers cover every shard (asking again for what is missing), at most router.indexWaitMs.
   * Only then may this router take publishes (queue group, own subject, heartbeat): with a partial index it would answer "no
   * matching subscribers" for messages that have subscribers, and the publisher would take
   * the PUBACK for a message nobody gets. No owner answering the first round means no
   * session actor runs yet: owners publish the subscriptions of each shard they load anyway.
   * In one process the session actor starts after the router and does the same.
   */
  private async replaySubscriptions(): Promise<void> {
    const { bus, subjects, log } = this.deps;
    if (bus.kind !== 'nats') {
      bus.publish(subjects.routeResync, new Uint8Array(0));
      return;
    }
    const covered = new Set<number>();
    let answers = 0;
    const reply = `${subjects.routeResync}.answer.${this.id}`;
    const sub = bus.subscribe(reply, (m) => {
      // NATS answers a publish with a reply subject that nobody subscribes to with an empty
      // "no responders" status message: not an owner's answer.
      if (m.data.length === 0) return;
      answers++;
      try {
        for (const s of decodeResyncAnswer(m.data)) covered.add(s);
      } catch (err) {
        log.warn('dropping malformed resync answer', { err: err as Error });
      }
    });
    const shards = this.config.shards;
    const deadline = Date.now() + this.config['router.indexWaitMs'];
    try {
      await bus.flush();
      for (let round = 0; covered.size < shards && Date.now() < deadline; round++) {
        bus.publish(subjects.routeResync, new Uint8Array(0), { reply });
        await new Promise((r) => setTimeout(r, RESYNC_ROUND_MS));
        if (round === 1 && answers === 0) return; // a second round unanswered: no session actor runs
      }
      if (covered.size < shards) log.warn('starting with a partial subscription index: no owner replayed some shards', { missing: shards - covered.size });
      else log.info('subscription index replayed by the session owners', { shards, answers });
    } finally {
      sub.unsubscribe();
    }
  }

  ready(): boolean {
    return this.started;
  }

  /**
   * Announces the stop (publishers pick other routers), then leaves the publish subjects
   * only after its in-flight work is answered: the subscriptions are drained (publishes
   * NATS already sent here are still routed), then every QoS 1/2 publish waits for its
   * owners' answers (bounded by cluster.deliverRetryMs) and is answered, so no publisher
   * times out and re-sends a message already delivered (a duplicate without DUP).
   * Subscription changes keep being applied meanwhile.
   */
  async stop(): Promise<void> {
    this.started = false;
    // Publishers move to the other routers first; what they sent us meanwhile still arrives.
    if (this.heartbeat) clearInterval(this.heartbeat);
    try {
      this.beat(true);
      await this.deps.bus.flush();
      // Messages publishers sent before they heard the stop are still on their way to us.
      await new Promise((r) => setTimeout(r, STOP_GRACE_MS));
    } catch {
      /* bus already closed */
    }
    // Then leave: what NATS already sent us is still routed, and every publish in flight answered.
    await Promise.all(this.publishSubs.splice(0).map((s) => s.drain()));
    while (this.inflight > 0) await new Promise<void>((r) => this.idle.push(r));
    this.gwOut.flush();
    for (const s of this.subs.splice(0)) s.unsubscribe();
    this.retainedKv?.stop();
  }

  private beat(stopping: boolean): void {
    this.deps.bus.publish(this.deps.subjects.routerHeartbeat, encodeRouterBeat({ routerId: this.id, stopping, batches: true }));
  }

  private onPublish(msg: BusMsg): void {
    // One process: the gateway's object itself (never modified here: the retained store, the
    // export and every shard's Deliver share it). Over NATS: decoded.
    const p = bodyValue(msg, routePublishCodec);
    this.routePublish(p, msg.reply ? (status) => void msg.respond(statusBytes(status)) : undefined);
  }

  /** A backend publish (backend-publish.ts): routed like a device's, answered in JSON. */
  private onBackendPublish(msg: BusMsg): void {
    const p = backendPublishOf(msg, { maxTopicLevels: this.config['mqtt.maxTopicLevels'], maxPacketBytes: this.config['mqtt.maxPacketBytes'] });
    if (!('message' in p)) {
      this.m.apiPublishes('refused');
      msg.respond(encodeReply(p));
      return;
    }
    this.m.apiPublishes('routed');
    this.routePublish(p, msg.reply ? (status) => void msg.respond(encodeReply(backendPublishReply(status))) : undefined);
  }

  /**
   * Routes one message: retained store, export, fan-out. `answer` (the publisher waits) gets
   * the route status; for QoS 1/2 only once every owning shard (and the export stream, and the
   * retained store) took it.
   */
  private routePublish(p: RoutePublish, answer: ((status: number) => void) | undefined): void {
    const m = p.message;
    if (p.id !== undefined && answer) {
      const first = this.routeDedup.previous(p.id);
      if (first) {
        // A retry of a publish this router routes or routed: answer as the first attempt did.
        this.m.retriesAnswered.inc();
        void first.then(answer);
        return;
      }
    }
    this.m.routed(QOS_LABEL[m.qos]);
    if (m.retain && m.payload.length > 0 && this.retainedLimitHit(p.mountpoint, m) !== undefined) {
      // The retained store is full: refuse the whole message (not delivered either), so an
      // MQTT 5 publisher told 0x97 Quota exceeded [MQTT 5.0 3.4.2.1] knows nobody got it.
      answer?.(ROUTE_QUOTA);
      return;
    }
    // Device messages only (a broker-made one has no origin), once: not a `$share` re-route.
    const exported = this.export && m.origin !== '' && p.group === undefined ? this.export.offer(p.mountpoint, m, p.id) : undefined;
    // A retained message is durable before the publisher hears it was accepted.
    let stored: Promise<number> | undefined = exported;
    if (m.retain) {
      this.storeRetained(p.mountpoint, m, this.retainedKv === undefined);
      const kept = this.retainedKv?.store(p.mountpoint, m).then(
        () => ROUTE_OK,
        (err: Error) => {
          this.deps.log.warn('retained message not persisted', { err });
          return ROUTE_FAILED;
        },
      );
      if (kept) stored = stored ? Promise.all([stored, kept]).then(([a, b]) => Math.max(a, b)) : kept;
    }
    const sentBefore = this.directSent;
    const takenBefore = this.directTaken;
    const byShard =
      p.group === undefined
        ? fanOut(this.index, this.config.shards, p.mountpoint, m, this.online, this.directEnabled && this.locations.size > 0 ? this.sendDirect : undefined)
        : fanOutToGroup(this.index, this.config.shards, p.mountpoint, m, p.group, p.exclude ?? '', this.online);
    const direct = this.directSent - sentBefore;
    if (direct > 0) this.m.deliveries(QOS_LABEL[m.qos], direct);
    if (m.qos === 0 || !answer || byShard.size === 0) {
      for (const [shard, targets] of byShard) {
        this.m.deliveries(QOS_LABEL[m.qos], targets.length);
        this.owners.publish(shard, new BusValue(sessionInCodec, { kind: SessIn.Deliver, targets, message: m }));
      }
      const code = byShard.size === 0 && this.directTaken === takenBefore ? ROUTE_NO_MATCH : ROUTE_OK;
      // A message nobody receives, counted once: on its first routing (a `$share` re-route that
      // finds no other member still delivered to the message's other subscribers), and not when
      // the retained store keeps it for later subscribers.
      if (code === ROUTE_NO_MATCH && p.group === undefined && !m.retain) this.droppedNoSubscribers++;
      if (!answer) return;
      if (!stored) answer(code);
      else this.answerLater(stored.then((c) => answer(c >= 0x80 ? c : code)));
      return;
    }
    const outcome = this.deliverAcked(p.id, m, byShard, stored);
    this.answerLater((p.id === undefined ? outcome : this.routeDedup.track(p.id, outcome)).then(answer));
  }

  /**
   * The QoS 0 direct path: a copy with delivered QoS 0 for a connected session goes in this
   * turn's message to its gateway (the gateway drops, and counts, a copy whose connection is
   * gone or has another epoch: at most once [MQTT-4.3.1]). Returns true when it took the copy
   * (sent, or dropped by a delivery rule as the owner would). Runs on a router.
   */
  private readonly sendDirect = (t: DeliveryTarget, m: Message): boolean => {
    const at = this.locations.get(t.key);
    const copy = directCopy(t, m, at, this.now());
    if (copy === undefined) return false;
    this.directTaken++;
    if (typeof copy === 'string') this.directDropped(copy);
    else {
      this.directSent++;
      this.gwOut.add(at!.gateway, copy);
    }
    return true;
  };

  /** Counts a publish answered asynchronously, so stop() waits for its answer. */
  private answerLater(answered: Promise<void>): void {
    this.inflight++;
    void answered.finally(() => {
      if (--this.inflight === 0) for (const r of this.idle.splice(0)) r();
    });
  }

  /**
   * QoS 1/2: acknowledge to the publisher only once every shard owner accepted its copy
   * (written to its store). While a shard has no owner (failover, handoff) the request
   * finds no responder: retry until the deadline, which stays below the publisher-side
   * request timeout so the gateway rarely re-sends a publish we are still routing (and when
   * it does, route-dedup.ts answers the retry). Runs on a router.
   */
  private deliverAcked(routeId: string | undefined, m: Message, byShard: ReadonlyMap<number, DeliveryTarget[]>, stored: Promise<number> | undefined): Promise<number> {
    const timeoutMs = this.config['nats.requestTimeoutMs'];
    const deadline = Date.now() + Math.max(500, Math.min(this.config['cluster.deliverRetryMs'], timeoutMs - 500));
    const attemptMs = Math.max(1000, Math.floor(timeoutMs / 3));
    // The usual case, one shard and nothing stored: its answer is the outcome, without the
    // array and Promise.all the general case allocates per message.
    if (stored === undefined && byShard.size === 1) {
      for (const [shard, targets] of byShard) return this.deliverToOwner(routeId, m, shard, targets, deadline, attemptMs).then((code) => this.counted(outcomeOf(code)));
    }
    const waits: Promise<number>[] = stored ? [stored] : [];
    for (const [shard, targets] of byShard) waits.push(this.deliverToOwner(routeId, m, shard, targets, deadline, attemptMs));
    return Promise.all(waits).then((codes) => {
      let outcome = ROUTE_OK;
      for (const c of codes) outcome = Math.max(outcome, outcomeOf(c));
      return this.counted(outcome);
    });
  }

  /** One shard's Deliver, retried until the deadline; its status, or ROUTE_FAILED. */
  private deliverToOwner(routeId: string | undefined, m: Message, shard: number, targets: DeliveryTarget[], deadline: number, attemptMs: number): Promise<number> {
    this.m.deliveries(QOS_LABEL[m.qos], targets.length);
    // The copy's id derives from the route id when there is one: a retry of the same publish
    // that reached another router makes the same ids, and the owner takes the copy once.
    const id = routeId !== undefined ? `${routeId}.${shard}` : `${this.id.slice(0, 6)}${(++this.deliverSeq).toString(36)}`;
    // Encoded at most once (over NATS), whatever the retries.
    const data = new BusValue(sessionInCodec, { kind: SessIn.Deliver, targets, message: m, id });
    return requestUntil((t) => this.owners.request(shard, data, t), deadline, attemptMs).then(decodeStatusSafe, routeFailed);
  }

  /** A publish's outcome, a failed one counted once. */
  private counted(outcome: number): number {
    if (outcome === ROUTE_FAILED) this.m.failures.inc();
    return outcome;
  }

  /** Retained store change [MQTT-3.3.1-5..7]: an empty payload clears the topic. */
  private storeRetained(mountpoint: string, m: Message, broadcast: boolean): void {
    if (m.payload.length === 0) this.dropRetained(mountpoint, m.topic);
    else {
      // Also bounds what other routers replicate and what the KV store loads.
      if (this.retainedLimitHit(mountpoint, m) !== undefined) return;
      const previous = this.retained.set(mountpoint, m.topic, m);
      this.retainedQuota.bytes += retainedCost(m.topic, m) - (previous === undefined ? 0 : retainedCost(m.topic, previous));
    }
    if (this.retainedKv) {
      const k = RetainedKv.keyOf(mountpoint, m.topic);
      if (m.payload.length === 0) this.retainedKeys.delete(k);
      else this.retainedKeys.set(k, { mountpoint, topic: m.topic });
    }
    if (broadcast) this.deps.bus.publish(this.deps.subjects.routeRetained, encodeRetainedSync({ routerId: this.id, mountpoint, message: m }));
  }

  private dropRetained(mountpoint: string, topic: string): void {
    const previous = this.retained.get(mountpoint, topic);
    if (previous === undefined) return;
    this.retained.delete(mountpoint, topic);
    this.retainedQuota.bytes -= retainedCost(topic, previous);
  }

  /** The retained bound storing m would pass (counted), or undefined when it fits. */
  private retainedLimitHit(mountpoint: string, m: Message): RetainedLimit | undefined {
    const previous = this.retained.get(mountpoint, m.topic);
    const hit = this.retainedQuota.check(this.retained.size, previous === undefined ? undefined : retainedCost(m.topic, previous), retainedCost(m.topic, m));
    if (hit !== undefined) this.m.limit.inc({ limit: hit });
    return hit;
  }

  private onRetainedSync(msg: BusMsg): void {
    const s = decodeRetainedSync(msg.data);
    if (s.routerId !== this.id) this.storeRetained(s.mountpoint, { ...s.message, payload: Buffer.from(s.message.payload) }, false);
  }

  private onSubChanges(msg: BusMsg): void {
    const b = bodyValue(msg, subChangesCodec);
    for (const c of b.changes) {
      if (c.op === SubOp.Add) {
        this.index.add(c.mountpoint, c.filter, { key: c.key, qos: c.qos, noLocal: c.noLocal, retainAsPublished: c.retainAsPublished, subId: c.subId || undefined }, c.group);
      } else if (c.op === SubOp.Remove) this.index.remove(c.mountpoint, c.filter, c.key, c.group);
      else if (c.op === SubOp.Offline) this.offline.add(c.key);
      else if (c.op === SubOp.Online) this.offline.delete(c.key);
      else {
        this.index.removeKey(c.key);
        this.offline.delete(c.key);
        this.locations.forget(c.key);
      }
    }
    if (b.located !== undefined && this.directEnabled) for (const l of b.located) this.locations.apply(l);
    if (!msg.reply) return;
    const answer: RetainedAnswer = { items: [] };
    const now = this.now();
    b.retainedFor.forEach((f, index) => {
      this.retained.match(f.mountpoint, f.filter, (_topic, message) => {
        const exp = message.props?.expiresAt;
        if (exp !== undefined && exp <= now) return;
        answer.items.push({ index, message });
      });
    });
    msg.respond(encodeRetainedAnswer(answer));
  }
}

/** One immutable one-byte answer per route status, shared by every answer (no Buffer per QoS 1 publish). */
const STATUS_BYTES: Buffer[] = [];

function statusBytes(status: number): Buffer {
  return (STATUS_BYTES[status] ??= Buffer.from([status]));
}

/** How long a starting router waits for resync answers before asking again for the missing shards. */
const RESYNC_ROUND_MS = 500;

/**
 * What one shard's status makes of the publish (the worst over its shards wins, in this order):
 * any failure fails it; a shard that queued past a session's bounds asks the publisher to slow down.
 */
function outcomeOf(code: number): number {
  return code >= 0x80 ? ROUTE_FAILED : code === ROUTE_SLOW ? ROUTE_SLOW : ROUTE_OK;
}

const routeFailed = (): number => ROUTE_FAILED;

/**
 * A request retried with backoff while nobody answers (a shard between owners), each
 * attempt bounded by attemptMs and by what is left until the deadline. Router only.
 */
function requestUntil(attempt: (timeoutMs: number) => Promise<Uint8Array>, deadline: number, attemptMs: number): Promise<Uint8Array> {
  // The first attempt outside an async function: almost every Deliver is answered at once, and
  // the async loop below costs a generator and its promises per message.
  return attempt(attemptBound(deadline, attemptMs)).catch((err: unknown) => retryUntil(attempt, deadline, attemptMs, err));
}

async function retryUntil(attempt: (timeoutMs: number) => Promise<Uint8Array>, deadline: number, attemptMs: number, firstErr: unknown): Promise<Uint8Array> {
  let err = firstErr;
  for (let retry = 1; ; retry++) {
    const retriable = err instanceof NoRespondersError || err instanceof RequestTimeoutError;
    const delay = retryDelayMs(BACKOFF.deliverToOwner, retry);
    if (!retriable || Date.now() + delay >= deadline) throw err;
    await new Promise((r) => setTimeout(r, delay));
    try {
      return await attempt(attemptBound(deadline, attemptMs));
    } catch (e) {
      err = e;
    }
  }
}

/** An owner killed with our request in hand never answers: bound each attempt. */
function attemptBound(deadline: number, attemptMs: number): number {
  return Math.max(100, Math.min(deadline - Date.now(), attemptMs));
}
