import { indexStateOf } from './core/sub-changes.js';
import { randomBytes, randomInt } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type Bus,
  type BusMsg,
  type BusSubscription,
  natsConnection,
  type Config,
  BusValue,
  bodyValue,
  sessionInCodec,
  routePublishCodec,
  subChangesCodec,
  GatewayOutPerTurn,
  onBusReconnected,
  decodeHeartbeat,
  type Message,
  decodeRetainedAnswer,
  decodeStatusSafe,
  encodeResyncAnswer,
  ROUTE_OK,
  ROUTE_SLOW,
  type SubChange,
  type SubChangeBatch,
  type SessionLocation,
  decodeSessionIn,
  encodeConnectReply,
  SessIn,
  type SessionInEnv,
  decodeOwnerBatch,
  encodeOwnerBatchAnswer,
  ownerStatus,
  type Logger,
  labelledCounter,
  type Metrics,
  RETRY,
  retrying,
  RouterChoice,
  type SubjectSpace,
  errorFields,
  LogEveryNth,
  publishClientEvent,
  adminSubjects,
  type AdminSubjects,
  decodeSessionAdminRequest,
  encodeJson,
  type SessionAdminReply,
} from '../../common/src/index.js';
import type { Continuation, Effect, TimerKind } from './core/effects.js';
import { handleIn } from './core/handle-in.js';
import { onPublish2Routed } from './core/handle-publish2.js';
import { onSubscribeRouted } from './core/handle-subscribe.js';
import { handleTimer } from './core/handle-timer.js';
import { resumeAfterTakeover } from './core/resume-after-takeover.js';
import { onUnsubscribeRouted } from './core/handle-unsubscribe.js';
import { createShardState, type SessionLimits, type ShardState } from './core/shard-state.js';
import { LeaseOwnership } from './ownership/lease-ownership.js';
import { StaticOwnership, type ShardHandler, type ShardOwnership } from './ownership/shard-ownership.js';
import { openSessionBuckets } from './persistence/kv-buckets.js';
import { LogSessionStore } from './persistence/log-session-store.js';
import { openSessionLog } from './persistence/session-log-stream.js';
import { MemorySessionStore, type SessionStore } from './persistence/session-store.js';
import { closeAfterFailedTurn, TURN_FAILED } from './failed-turn.js';
import { RecentDeliveries, STORED_DELIVERS_KEEP_MS, storedDeliverIds } from './runner/deliver-dedup.js';
import { GatewayLiveness } from './runner/gateway-liveness.js';
import { SessionTimers } from './runner/session-timers.js';
import { ReplyAfterContinuation } from './runner/reply-after-continuation.js';
import { WriteBeforeAcknowledge } from './runner/write-before-acknowledge.js';
import { adminKick } from './core/admin-kick.js';
import { sessionInfo } from './core/session-info.js';
import { registerQueueGauges } from './session-queue-gauges.js';

export interface SessionDeps {
  bus: Bus;
  subjects: SubjectSpace;
  log: Logger;
  metrics: Metrics;
  /** Injected clock (tests run on a fake one). */
  now?: () => number;
  /** Member id in the shard lease protocol; default node.id or hostname-pid-random. */
  nodeId?: string;
}

const KIND_NAMES: Record<number, string> = {
  [SessIn.Connect]: 'connect',
  [SessIn.Subscribe]: 'subscribe',
  [SessIn.Unsubscribe]: 'unsubscribe',
  [SessIn.PubAck]: 'puback',
  [SessIn.PubRec]: 'pubrec',
  [SessIn.PubComp]: 'pubcomp',
  [SessIn.Publish2]: 'publish_qos2',
  [SessIn.PubRel]: 'pubrel',
  [SessIn.Disconnect]: 'disconnect',
  [SessIn.ConnLost]: 'conn_lost',
  [SessIn.Deliver]: 'deliver',
  [SessIn.GatewayGone]: 'gateway_gone',
  [SessIn.PublishDropped]: 'publish_dropped',
};

/** An owner-direct batch item of a shard not served here (owner-batch.ts). */
const NOT_SERVED = new Uint8Array(0);
/** Deliver ids remembered to drop router retries (a few seconds of QoS 1/2 traffic). */
const RECENT_DELIVERIES = 50_000;

export function limitsFromConfig(c: Config): SessionLimits {
  return {
    maxInflight: c['session.maxInflight'],
    maxQueuedMessages: c['session.maxQueuedMessages'],
    maxQueuedBytes: c['session.maxQueuedBytes'],
    queueOverflow: c['session.queueOverflow'],
    queueQos0: c['session.queueQos0'],
    maxExpiryS: c['session.maxExpiryS'],
    v3PersistentExpiryS: c['session.v3PersistentExpiryS'],
    v3WillDelayS: c['session.v3WillDelayS'],
    suppressWillOnTakeover: c['session.suppressWillOnTakeover'],
    maxSubscriptionsPerClient: c['mqtt.maxSubscriptionsPerClient'],
    emitEvents: c['events.enabled'],
  };
}

/** A shard this process serves: its sessions, its inbox subscription, its pending writes. */
interface Served {
  st: ShardState;
  inbox?: BusSubscription;
  /** Admin API requests about this shard's sessions (admin-subjects.ts). */
  admin?: BusSubscription;
  writes: WriteBeforeAcknowledge;
  /**
   * Ids of the Delivers whose copies the loaded state holds (Delivery.from), for a while after
   * a load: a router's retry of one of them is a duplicate (runner/deliver-dedup.ts).
   */
  storedDelivers?: Set<string>;
}

/**
 * The session actor's runner: serves the shards the ownership grants (all of them in
 * one-process mode; by lease in a cluster), feeds bus envelopes and timers into the pure
 * core (core/handle-in.ts) and performs the effects it returns. The only place in this
 * tier that touches the bus, timers or the clock.
 *
 * The rules it holds live in runner/: write before acknowledge (cluster mode: nothing a turn
 * produced leaves the process before the shard's change is in the session log), Deliver
 * deduplication, gateway liveness, session timers.
 */
export class SessionService implements ShardHandler {
  private readonly served = new Map<number, Served>();
  private readonly subs: BusSubscription[] = [];
  private readonly timers: SessionTimers;
  /** One message per gateway per turn (hot path). */
  private readonly gwOut: GatewayOutPerTurn;
  private readonly now: () => number;
  private readonly gateways: GatewayLiveness;
  /**
   * Deliver ids taken recently, each with the serving of the shard that took it: a retry is
   * dropped only by the same serving. After the shard was dropped without writing (a lost
   * lease) and loaded again, perhaps by this same process, the copy is not in the store, so
   * a retry must be delivered, not deduplicated (that acknowledged a message nobody held).
   */
  private readonly recentDeliveries = new RecentDeliveries<Served>(RECENT_DELIVERIES);
  private readonly replyAfter = new ReplyAfterContinuation();
  private readonly counters;
  private readonly limits: SessionLimits;
  private ownership: ShardOwnership;
  private store: SessionStore = new MemorySessionStore();
  private readonly nodeId: string;
  /** The router this owner's Wills and QoS 2 messages go to, per shard (their order). */
  private readonly routers: RouterChoice;
  private started = false;
  private readonly failedTurnLog = new LogEveryNth();
  private readonly admin: AdminSubjects;
  /** This process's address for owner-direct batches (random per start), and answers that name it. */
  private readonly ownerToken = randomBytes(6).toString('hex');
  private readonly durableBus: boolean;
  private readonly ack: Buffer;
  private readonly ackSlow: Buffer;

  private constructor(
    private readonly config: Config,
    private readonly deps: SessionDeps,
  ) {
    this.limits = limitsFromConfig(config);
    // Over NATS every answer names this process, so routers and gateways batch to it directly.
    this.durableBus = deps.bus.kind === 'nats';
    this.ack = this.durableBus ? ownerStatus(ROUTE_OK, this.ownerToken) : Buffer.from([ROUTE_OK]);
    this.ackSlow = this.durableBus ? ownerStatus(ROUTE_SLOW, this.ownerToken) : Buffer.from([ROUTE_SLOW]);
    this.admin = adminSubjects(config['nats.subjectPrefix']);
    this.gwOut = new GatewayOutPerTurn(deps.bus, deps.subjects);
    this.now = deps.now ?? Date.now;
    this.nodeId =
      deps.nodeId ??
      config['node.id'] ??
      `${hostname()
        .replace(/[^A-Za-z0-9_-]/g, '-')
        .slice(0, 40)}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.ownership = new StaticOwnership(config.shards);
    this.routers = new RouterChoice({ bus: deps.bus, subjects: deps.subjects, shards: config.shards, heartbeatMs: config['router.heartbeatMs'], log: deps.log });
    this.timers = new SessionTimers(this.now);
    this.gateways = new GatewayLiveness(
      config['gateway.heartbeatMs'],
      this.now,
      (gw, why) => {
        if (why === 'silent') this.deps.log.warn('gateway went silent; treating its connections as lost', { gateway: gw });
        this.gatewayGone(gw);
      },
      (gw) => this.resumeConnected(undefined, gw, 'resent_after_bus_gap'),
    );
    const m = deps.metrics;
    this.counters = {
      events: labelledCounter(m.counter('session_events_total', 'Session envelopes handled, by kind.', ['kind'])),
      outcomes: labelledCounter(m.counter('session_outcomes_total', 'Session outcomes and limit hits (drops, takeovers, Wills, expiries).', ['what'])),
      sessions: m.gauge('session_sessions', 'Sessions held by this process.', [], (g) => g.set(this.sessionCount())),
      writeSeconds: m.histogram(
        'session_write_seconds',
        "Time to write one shard's changed sessions durably (what acknowledgements and sends wait for).",
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      ),
      loadSeconds: m.histogram('session_shard_load_seconds', "Time to load one shard's sessions from the store and start serving it.", [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
      loaded: m.counter('session_sessions_loaded_total', 'Sessions loaded from the store when taking a shard.'),
      writeFailures: m.counter('session_write_failures_total', 'Session state writes that failed (retried), not counting fencing.'),
      turnFailures: labelledCounter(m.counter('session_turn_failures_total', 'Shard turns in which the session core threw (bugs): effects discarded, connection closed.', ['entry'])),
    };
    registerQueueGauges(m, () => [...this.served.values()].map((s) => s.st));
  }

  static create(config: Config, deps: SessionDeps): SessionService {
    return new SessionService(config, deps);
  }

  /** Sessions of every served shard (tests and diagnostics). */
  sessionCount(): number {
    let n = 0;
    for (const s of this.served.values()) n += s.st.sessions.size;
    return n;
  }

  /** The state of a served shard (tests and diagnostics). */
  shardState(shard: number): ShardState | undefined {
    return this.served.get(shard)?.st;
  }

  /** Shards this process serves now (the admin API's cluster view). */
  servedShards(): number[] {
    return [...this.served.keys()].sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    const { bus, subjects, log } = this.deps;
    if (bus.kind === 'nats' && this.config['cluster.persistence']) {
      const c = this.config;
      const nc = natsConnection(bus);
      const buckets = await openSessionBuckets(nc, c);
      this.store = new LogSessionStore(await openSessionLog(nc, c), c.shards, log, this.deps.metrics, c['cluster.loadConcurrency'], undefined, c['cluster.loadPassMinShards']);
      const ttl = c['cluster.leaseTtlMs'];
      this.ownership = new LeaseOwnership(buckets.leases, buckets.members, {
        nodeId: this.nodeId,
        shards: c.shards,
        leaseTtlMs: ttl,
        leaseRenewMs: Math.min(c['cluster.leaseRenewMs'], Math.floor(ttl / 3)),
        leaseSafetyMs: Math.min(c['cluster.leaseSafetyMs'], Math.floor(ttl / 3)),
        handoffTimeoutMs: c['cluster.handoffTimeoutMs'],
        log,
        metrics: this.deps.metrics,
        now: this.now,
        renewLease: buckets.renewLease,
      });
    } else if (bus.kind === 'nats') {
      log.warn('cluster.persistence is off: this session actor owns every shard in memory; run only one');
    }
    this.subs.push(bus.subscribe(subjects.routeResync, (m) => this.resyncRouters(m)));
    this.subs.push(bus.subscribe(subjects.gatewayHeartbeat, (m) => this.onHeartbeat(m)));
    // Our own bus connection came back: what we sent gateways during the gap may be lost.
    onBusReconnected(bus, () => {
      if (this.store.durable) this.resumeConnected(undefined, undefined, 'resent_after_bus_gap');
    });
    if (this.durableBus) this.subs.push(bus.subscribe(subjects.ownerIn(this.ownerToken), (m) => this.onOwnerBatch(m)));
    this.gateways.start();
    await this.routers.start();
    await this.ownership.start(this);
    this.started = true;
    log.info('session actor serving', { node: this.nodeId, shards: this.ownership.ownedCount, durable: this.store.durable });
  }

  ready(): boolean {
    return this.started && this.ownership.settled();
  }

  async stop(): Promise<void> {
    this.started = false;
    // Hands every shard to the remaining members (writes everything first).
    await this.ownership.stop().catch((err: Error) => this.deps.log.error('shard handoff at stop failed', { err }));
    for (const s of this.subs.splice(0)) s.unsubscribe();
    this.routers.stop();
    for (const shard of [...this.served.keys()]) this.drop(shard);
    this.timers.clearAll();
    this.gateways.stop();
    this.flushOut();
  }

  // ---- ShardHandler: called by the ownership ----

  async acquire(shard: number, how: 'handoff' | 'takeover' = 'takeover'): Promise<void> {
    const t0 = performance.now();
    const sessions = await this.store.load(shard);
    const st = createShardState(this.limits, randomInt(1, 0xffffffff));
    for (const s of sessions) st.sessions.set(s.key, s);
    const served: Served = { st, writes: this.shardWrites(shard, st) };
    // Only a store that outlives its owner can hold copies a dead owner took and did not answer.
    const stored = this.store.durable ? storedDeliverIds(sessions) : undefined;
    if (stored !== undefined && stored.size > 0) {
      served.storedDelivers = stored;
      setTimeout(() => delete served.storedDelivers, STORED_DELIVERS_KEEP_MS).unref();
    }
    this.served.set(shard, served);
    const changes: SubChange[] = [];
    const located: SessionLocation[] = [];
    for (const s of sessions) {
      // A new owner re-arms the Will and expiry deadlines (absolute, so no time is lost).
      if (!s.conn) {
        if (s.willDueAt !== undefined) this.setTimer(shard, s.key, 'will', s.willDueAt);
        if (s.expiresAt !== undefined) this.setTimer(shard, s.key, 'expiry', s.expiresAt);
      } else this.gateways.knowOf(s.conn.gateway); // silent from now on: declared gone (Will path)
      indexStateOf(s, changes, located);
    }
    // Routers that started while nobody served this shard learn its subscriptions now.
    this.publishSubs(changes, located);
    // A request whose envelope does not decode, or whose turn throws, is answered TURN_FAILED.
    served.inbox = this.deps.bus.subscribe(this.deps.subjects.sessionIn(shard), (m) => this.onEnvelope(shard, m), { errorReply: TURN_FAILED });
    served.admin = this.deps.bus.subscribe(this.admin.session(shard), (m) => this.onAdmin(shard, m));
    await this.deps.bus.flush();
    if (how === 'takeover' && this.store.durable) this.resumeConnected(shard);
    this.counters.loaded.inc(sessions.length);
    this.counters.loadSeconds.observe((performance.now() - t0) / 1000);
  }

  /**
   * What may not have reached the connected sessions' gateways (core/resume-after-takeover.ts):
   * after a takeover of `shard` (the previous owner may have died before sending), or, for every
   * served shard, after a bus interruption of this process or of gateway `gateway` (what was sent
   * through the NATS node that died may be lost). Runs on the shard owner.
   */
  private resumeConnected(shard: number | undefined, gateway?: string, what: 'resent_after_takeover' | 'resent_after_bus_gap' = 'resent_after_takeover'): void {
    const shards = shard === undefined ? [...this.served.keys()] : [shard];
    for (const sh of shards) {
      const sv = this.served.get(sh);
      if (!sv) continue;
      for (const s of sv.st.sessions.values()) {
        if (!s.conn || (gateway !== undefined && s.conn.gateway !== gateway)) continue;
        const out: Effect[] = [];
        try {
          if (!resumeAfterTakeover(sv.st, s, this.now(), out)) continue;
        } catch (err) {
          this.turnFailed(sh, 'resume_after_takeover', s.key, err);
          continue;
        }
        this.counters.outcomes(what);
        this.commit(sh, [s.key], out);
      }
    }
  }

  async release(shard: number): Promise<void> {
    const sv = this.served.get(shard);
    if (!sv) return;
    sv.inbox?.unsubscribe();
    sv.inbox = undefined;
    sv.admin?.unsubscribe();
    sv.admin = undefined;
    // Let router requests in flight finish (their continuations change state), then write.
    const deadline = this.now() + Math.max(100, this.config['cluster.handoffTimeoutMs'] - 500);
    while (sv.writes.busy && this.now() < deadline && this.served.get(shard) === sv) await sv.writes.waitIdle(50);
    if (this.served.get(shard) !== sv) return;
    await sv.writes.flush();
    this.flushOut();
    this.drop(shard);
  }

  lost(shard: number): void {
    this.drop(shard);
  }

  /** Stops serving a shard and forgets its state and timers (after a write, or fenced). */
  private drop(shard: number): void {
    const sv = this.served.get(shard);
    if (!sv) return;
    this.served.delete(shard);
    sv.inbox?.unsubscribe();
    sv.admin?.unsubscribe();
    for (const s of sv.st.sessions.values()) {
      this.clearTimer(s.key, 'will');
      this.clearTimer(s.key, 'expiry');
    }
    sv.writes.dispose();
    this.replyAfter.drop(shard);
    this.store.forget(shard);
  }

  // ---- turns ----

  private onEnvelope(shard: number, m: BusMsg): void {
    // An EnvelopeError goes to the bus guard: counted, logged (rate-limited), answered TURN_FAILED.
    // One process: the sender's object itself (the core never modifies an envelope). Over NATS: decoded.
    this.take(shard, bodyValue(m, sessionInCodec), m.reply ? (d) => void m.respond(d) : undefined);
  }

  /**
   * An owner-direct batch (envelope/owner-batch.ts): each item is taken as if it had come on its
   * shard's subject, in order; an item of a shard not served here is answered empty (the sender
   * sends it again on the shard subject) or, in a batch nobody waits for (QoS 0 copies), passed
   * on to that subject. The batch is answered once every item is (each after its shard's write).
   * Runs on a session actor (NATS bus).
   */
  private onOwnerBatch(m: BusMsg): void {
    const items = decodeOwnerBatch(m.data);
    if (!m.reply) {
      for (const it of items) {
        if (this.served.has(it.shard)) this.takeGuarded(it.shard, it.data, undefined);
        else this.deps.bus.publish(this.deps.subjects.sessionIn(it.shard), it.data);
      }
      return;
    }
    const answers: Uint8Array[] = new Array(items.length);
    let left = items.length;
    const answered = (i: number, d: Uint8Array) => {
      if (answers[i] !== undefined) return;
      answers[i] = d;
      if (--left === 0) m.respond(encodeOwnerBatchAnswer(answers));
    };
    if (left === 0) m.respond(encodeOwnerBatchAnswer(answers));
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (!this.served.has(it.shard)) answered(i, NOT_SERVED);
      else this.takeGuarded(it.shard, it.data, (d) => answered(i, d));
    }
  }

  /** take() for one batch item: an item that does not decode fails alone (counted, TURN_FAILED). */
  private takeGuarded(shard: number, data: Uint8Array, reply: ((d: Uint8Array) => void) | undefined): void {
    try {
      this.take(shard, decodeSessionIn(data), reply);
    } catch (err) {
      this.counters.outcomes('batch_item_undecodable');
      const n = this.failedTurnLog.hit('batch_item');
      if (n !== undefined) this.deps.log.warn('owner batch item does not decode; answered as a failed turn', { shard, occurrences: n, ...errorFields(err) });
      reply?.(TURN_FAILED);
    }
  }

  /**
   * One session-in envelope of `shard`, from its subject or an owner-direct batch: a turn of the
   * pure core, then commit (write before acknowledge). `reply` answers the sender, when it waits.
   * Runs on the shard owner.
   */
  private take(shard: number, e: SessionInEnv, reply: ((d: Uint8Array) => void) | undefined): void {
    const sv = this.served.get(shard);
    if (!sv) return;
    this.counters.events(KIND_NAMES[e.kind] ?? 'unknown');
    if (e.kind === SessIn.Deliver && e.id !== undefined) {
      if (sv.storedDelivers?.has(e.id) || this.recentDeliveries.seen(e.id, sv)) {
        // A router retry of a copy we already took (our answer was late), or one the loaded
        // state holds (the previous owner wrote it, then died before answering): deliver
        // nothing again (no duplicate without DUP); answer once what is pending is written.
        this.counters.outcomes('deliver_retry_deduplicated');
        this.commit(shard, [], [], reply ? () => reply(this.ack) : undefined);
        return;
      }
    }
    // A gateway's resend of a SUBSCRIBE, UNSUBSCRIBE or QoS 2 PUBLISH still being routed: answered with it.
    if (reply && this.replyAfter.join(shard, e, () => reply(this.ack))) return;
    const out: Effect[] = [];
    const st = sv.st;
    let connectReply;
    try {
      connectReply = handleIn(st, e, this.now(), out);
    } catch (err) {
      // A retry of this Deliver must be taken again, not answered as a duplicate.
      if (e.kind === SessIn.Deliver && e.id !== undefined) this.recentDeliveries.forget(e.id);
      this.turnFailed(shard, KIND_NAMES[e.kind] ?? 'unknown', 'key' in e ? e.key : undefined, err);
      reply?.(TURN_FAILED);
      return;
    }
    let respond: (() => void) | undefined;
    if (e.kind === SessIn.Connect) {
      if (connectReply && reply) {
        const d = encodeConnectReply(this.durableBus ? { ...connectReply, ownerToken: this.ownerToken } : connectReply);
        respond = () => reply(d);
      }
    } else if (reply) {
      // Deliver accepted (durably), or any envelope sent as a request. A Deliver that queued
      // past a session's bounds (backpressure policy) also asks the publisher to slow down.
      const slow = e.kind === SessIn.Deliver && out.some((ef) => ef.t === 'count' && ef.what === 'queue_over_limit');
      const d = slow ? this.ackSlow : this.ack;
      respond = () => reply(d);
    }
    // Sessions to write before the turn's effects leave; a store that keeps nothing (one
    // process without persistence) writes nothing, so a Deliver need not look every target up again.
    const dirty: string[] = [];
    if (this.store.durable)
      switch (e.kind) {
        case SessIn.Deliver:
          for (const t of e.targets) {
            const s = st.sessions.get(t.key);
            // QoS 0 to an online session with an empty queue changes nothing worth writing.
            if (s && (Math.min(t.qos, e.message.qos) > 0 || !s.conn || s.queue.length > 0)) dirty.push(t.key);
          }
          break;
        case SessIn.GatewayGone:
          break; // not sent on the bus by gateways; handled in gatewayGone()
        default:
          dirty.push(e.key);
      }
    // A PUBACK/PUBCOMP (or a PUBLISH the gateway dropped as too large) only frees a packet id:
    // the gateway just needs to know an owner took it (a lost one would stall the window), so
    // answer at once and write it with the next write.
    const lazy = e.kind === SessIn.PubAck || e.kind === SessIn.PubComp || e.kind === SessIn.PublishDropped;
    if (lazy && respond) {
      respond();
      respond = undefined;
    }
    // A SUBACK, UNSUBACK or PUBREC comes from a continuation: the answer waits for it.
    this.commit(shard, dirty, out, this.replyAfter.hold(shard, e, out, respond), lazy);
  }

  /**
   * An admin API request about one session of `shard`: `info` is answered from the state at
   * once; `kick` is a turn like any other (its close and the session's end are written before
   * the answer and the DISCONNECT leave, write-before-acknowledge). A request that does not
   * decode goes to the bus guard (counted, no answer: the API process times out).
   */
  private onAdmin(shard: number, m: BusMsg): void {
    const sv = this.served.get(shard);
    if (!sv) return;
    const req = decodeSessionAdminRequest(m.data);
    this.counters.events(`admin_${req.op}`);
    if (req.op === 'info') {
      const s = sv.st.sessions.get(req.key);
      const reply: SessionAdminReply = s ? { found: true, info: sessionInfo(s) } : { found: false };
      m.respond(encodeJson(reply));
      return;
    }
    const out: Effect[] = [];
    let outcome;
    try {
      outcome = adminKick(sv.st, req.key, req.discardSession, this.now(), out);
    } catch (err) {
      this.turnFailed(shard, 'admin_kick', req.key, err);
      return;
    }
    const data = encodeJson({ found: outcome.found, disconnected: outcome.disconnected, sessionDiscarded: outcome.sessionDiscarded });
    if (!outcome.found) {
      m.respond(encodeJson({ found: false }));
      return;
    }
    this.commit(shard, [req.key], out, () => void m.respond(data));
  }

  /**
   * The core threw in a turn of `shard` (a bug): the turn's effects are already discarded by
   * the caller (they were never committed, so nothing unwritten is acknowledged); count, log
   * with the stack (rate-limited) and close the session's connection (failed-turn.ts). The
   * in-memory session keeps whatever the core changed before it threw and is not marked dirty
   * by this turn; see docs/robustness.md for why.
   */
  private turnFailed(shard: number, entry: string, key: string | undefined, err: unknown): void {
    this.counters.turnFailures(entry);
    const n = this.failedTurnLog.hit(entry);
    if (n !== undefined) this.deps.log.error('session turn failed; its effects are discarded and the connection closed', { shard, entry, occurrences: n, ...errorFields(err) });
    const sv = this.served.get(shard);
    if (sv) this.run(shard, closeAfterFailedTurn(sv.st, key));
  }

  /**
   * Ends a turn of one shard: timers and counters now; everything visible outside waits
   * for the write of the sessions the turn changed (fast path: nothing changed and nothing
   * waiting, so nothing to wait for).
   */
  private commit(shard: number, dirty: readonly string[], out: Effect[], respond?: () => void, lazy = false): void {
    const sv = this.served.get(shard);
    if (!sv) return;
    if (!this.store.durable) {
      this.run(shard, out);
      respond?.();
      return;
    }
    if (!this.ownership.mayWrite(shard)) {
      // The lease may have expired (e.g. this process was paused): another owner may
      // already serve the shard, so nothing of this turn may leave the process.
      this.deps.log.warn('lease no longer valid; dropping the shard', { shard });
      this.drop(shard);
      this.ownership.abandon(shard);
      return;
    }
    const deferred: Effect[] = [];
    for (const ef of out) {
      if (ef.t === 'timer' || ef.t === 'count') this.runOne(shard, ef);
      else deferred.push(ef);
    }
    sv.writes.commit(dirty, deferred, respond, lazy);
  }

  /** The write-before-acknowledge rule of one shard, wired to this runner and the store. */
  private shardWrites(shard: number, st: ShardState): WriteBeforeAcknowledge {
    return new WriteBeforeAcknowledge({
      write: async (keys) => {
        const end = this.counters.writeSeconds.startTimer();
        await this.store.write(
          shard,
          keys.map((k) => [k, st.sessions.get(k)] as const),
          st.sessions,
        );
        end();
      },
      mayWrite: () => this.ownership.mayWrite(shard),
      lose: (why) => {
        if (why === 'lease') this.deps.log.warn('lease no longer valid before writing; dropping the shard', { shard });
        else this.deps.log.warn('another owner wrote this shard; dropping it', { shard });
        this.drop(shard);
        this.ownership.abandon(shard);
      },
      release: (effects, replies) => {
        this.run(shard, effects);
        for (const r of replies) r();
      },
      failed: (err, failures) => {
        this.counters.writeFailures.inc();
        if (failures === 1 || failures % 20 === 0) this.deps.log.warn('session write failed; retrying', { shard, err });
      },
    });
  }

  private run(shard: number, out: Effect[]): void {
    for (const ef of out) this.runOne(shard, ef);
  }

  private runOne(shard: number, ef: Effect): void {
    switch (ef.t) {
      case 'gw': {
        this.gwOut.add(ef.gateway, ef.item);
        break;
      }
      case 'route':
        this.route(shard, ef.mountpoint, ef.message, ef.then, ef.group, ef.exclude);
        break;
      case 'subs':
        this.changeSubs(shard, ef.batch, ef.then);
        break;
      case 'timer':
        this.setTimer(shard, ef.key, ef.kind, ef.at);
        break;
      case 'count':
        this.counters.outcomes(ef.what);
        break;
      case 'event':
        // Per connection, never per message: JSON is fine here (docs/integration.md).
        publishClientEvent(this.deps.bus, this.deps.subjects, ef.event);
        break;
    }
  }

  /** Sends this turn's gateway output now. */
  private flushOut(): void {
    this.gwOut.flush();
  }

  /** Counts a router request of a turn of `shard` as outstanding; returns the serving it belongs to. */
  private opStarted(shard: number): Served | undefined {
    const sv = this.served.get(shard);
    sv?.writes.opStarted();
    return sv;
  }

  /**
   * The request is done: counted off the serving it started under, which is returned only while
   * it still serves the shard (not if the shard was dropped, or dropped and loaded again since:
   * a continuation of the old state must not run on the new one).
   */
  private opDone(shard: number, started: Served | undefined): Served | undefined {
    started?.writes.opDone();
    return started !== undefined && this.served.get(shard) === started ? started : undefined;
  }

  private route(shard: number, mountpoint: string, message: Message, then?: Continuation, group?: string, exclude?: string): void {
    const { log } = this.deps;
    const data = new BusValue(routePublishCodec, { mountpoint, message, group, exclude });
    const timeoutMs = this.config['nats.requestTimeoutMs'];
    const started = then ? this.opStarted(shard) : undefined;
    // Wills and QoS 2 messages must reach a router: retry while none answers. The router of
    // the session's shard, as the gateway picks it: one publisher's messages stay in order.
    retrying(() => this.routers.request(shard, data, timeoutMs), RETRY.ownerPublishToRouter)
      .then((r) => decodeStatusSafe(r.data))
      .catch((err: Error) => {
        log.warn('routing failed', { err });
        return 0x80;
      })
      .then((status) => {
        if (then?.kind !== 'pubrec') return;
        // Shard gone (dropped or fenced): no answer, so the gateway sends the PUBLISH again to the next owner.
        const sv = this.opDone(shard, started);
        if (!sv) return;
        const respond = this.replyAfter.take(then);
        const out: Effect[] = [];
        try {
          onPublish2Routed(sv.st, then, status, out);
        } catch (err) {
          respond?.();
          this.turnFailed(shard, 'pubrec_continuation', then.key, err);
          return;
        }
        this.commit(shard, [then.key], out, respond);
      });
  }

  private changeSubs(shard: number, batch: SubChangeBatch, then?: Continuation): void {
    const { bus, subjects, log } = this.deps;
    const data = new BusValue(subChangesCodec, batch);
    const timeoutMs = this.config['nats.requestTimeoutMs'];
    const started = then ? this.opStarted(shard) : undefined;
    retrying(() => bus.request(subjects.routeSubscription, data, { timeoutMs }), RETRY.subscriptionsToRouter).then(
      (r) => this.subsDone(shard, started, then, true, r.data),
      (err: Error) => {
        log.warn('subscription change not acknowledged by any router', { err });
        this.subsDone(shard, started, then, false, undefined);
      },
    );
  }

  private subsDone(shard: number, started: Served | undefined, then: Continuation | undefined, ok: boolean, data: Uint8Array | undefined): void {
    if (!then) return;
    // Shard gone (dropped or fenced): no answer, so the gateway sends the packet again to the next owner.
    const sv = this.opDone(shard, started);
    if (!sv) return;
    const respond = this.replyAfter.take(then);
    const out: Effect[] = [];
    try {
      if (then.kind === 'suback') {
        // An undecodable answer fails this turn like a core exception: no SUBACK from guesses.
        const retained = ok && data && data.length > 0 ? decodeRetainedAnswer(data).items : [];
        onSubscribeRouted(sv.st, then, ok, retained, this.now(), out);
      } else if (then.kind === 'unsuback') onUnsubscribeRouted(sv.st, then, ok, this.now(), out);
    } catch (err) {
      respond?.();
      this.turnFailed(shard, `${then.kind}_continuation`, then.key, err);
      return;
    }
    this.commit(shard, [then.key], out, respond);
  }

  private clearTimer(key: string, kind: TimerKind): void {
    this.timers.clear(key, kind);
  }

  private setTimer(shard: number, key: string, kind: TimerKind, at: number | undefined): void {
    this.timers.set(key, kind, at, () => {
      const sv = this.served.get(shard);
      if (!sv) return;
      const out: Effect[] = [];
      try {
        handleTimer(sv.st, key, kind, this.now(), out);
      } catch (err) {
        // Not re-armed: a deadline that throws would throw again at once.
        this.turnFailed(shard, `timer_${kind}`, key, err);
        return;
      }
      // A timer that fired early comes back re-armed in `out` (core/handle-timer.ts).
      this.commit(shard, [key], out);
    });
  }

  /** Subscriptions, then connections (a router applies a location only to a known key's copies). */
  private publishSubs(changes: SubChange[], located: SessionLocation[]): void {
    for (let i = 0; i < changes.length; i += 1000) {
      this.deps.bus.publish(this.deps.subjects.routeSubscription, new BusValue(subChangesCodec, { changes: changes.slice(i, i + 1000), retainedFor: [] }));
    }
    for (let i = 0; i < located.length; i += 1000) {
      this.deps.bus.publish(this.deps.subjects.routeSubscription, new BusValue(subChangesCodec, { changes: [], retainedFor: [], located: located.slice(i, i + 1000) }));
    }
  }

  /**
   * A router (re)started: replay every subscription we hold so its index is complete, then
   * tell it which shards that covered (after the replay, on the same connection: it arrives
   * last), so it joins the publish queue group only once every shard is covered.
   */
  private resyncRouters(m: BusMsg): void {
    const changes: SubChange[] = [];
    const located: SessionLocation[] = [];
    for (const sv of this.served.values()) {
      for (const s of sv.st.sessions.values()) indexStateOf(s, changes, located);
    }
    this.publishSubs(changes, located);
    if (m.reply) m.respond(encodeResyncAnswer([...this.served.keys()]));
  }

  /** A heartbeat that does not decode is dropped and counted by the bus guard. */
  private onHeartbeat(m: BusMsg): void {
    const hb = decodeHeartbeat(m.data);
    this.gateways.heard(hb.gatewayId, hb.stopping, hb.busReconnects);
  }

  /**
   * Every owner handles the gone gateway's connections of its own shards only, so each
   * connection takes the Will path exactly once cluster-wide (the state written says so).
   */
  private gatewayGone(gw: string): void {
    for (const [shard, sv] of this.served) {
      const keys: string[] = [];
      for (const s of sv.st.sessions.values()) if (s.conn?.gateway === gw) keys.push(s.key);
      if (keys.length === 0) continue;
      const out: Effect[] = [];
      try {
        handleIn(sv.st, { kind: SessIn.GatewayGone, gateway: gw }, this.now(), out);
      } catch (err) {
        this.turnFailed(shard, 'gateway_gone', undefined, err);
        continue;
      }
      this.commit(shard, keys, out);
    }
  }
}
