import { randomInt } from 'node:crypto';
import type { Bus, BusMsg, BusSubscription } from '../../common/src/bus/bus.js';
import type { Config } from '../../common/src/config/settings.js';
import { encodeGatewayOut, type GatewayOutItem } from '../../common/src/envelope/gateway-out.js';
import { decodeHeartbeat } from '../../common/src/envelope/heartbeat.js';
import { decodeRetainedAnswer, decodeStatusSafe, encodeRoutePublish, encodeSubChanges, SubOp, type SubChange, type SubChangeBatch } from '../../common/src/envelope/router.js';
import { decodeSessionIn, encodeConnectReply, SessIn } from '../../common/src/envelope/session-in.js';
import type { Logger } from '../../common/src/log.js';
import { labelledCounter, type Metrics } from '../../common/src/metrics.js';
import type { SubjectSpace } from '../../common/src/subjects.js';
import type { Continuation, Effect, TimerKind } from './core/effects.js';
import { handleIn } from './core/handle-in.js';
import { onPublish2Routed } from './core/handle-publish2.js';
import { onSubscribeRouted } from './core/handle-subscribe.js';
import { onUnsubscribeRouted } from './core/handle-unsubscribe.js';
import { handleTimer } from './core/handle-timer.js';
import { createShardState, type SessionLimits, type ShardState } from './core/shard-state.js';
import { retrying } from '../../common/src/retry.js';

export interface SessionDeps {
  bus: Bus;
  subjects: SubjectSpace;
  log: Logger;
  metrics: Metrics;
  /** Injected clock (tests run on a fake one). */
  now?: () => number;
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
};

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
  };
}

/**
 * The session actor's runner: owns the shards' state, feeds bus envelopes and timers into
 * the pure core (core/handle-in.ts) and performs the effects it returns. The only place in
 * this tier that touches the bus, timers or the clock.
 */
export class SessionService {
  private readonly st: ShardState;
  private readonly subs: BusSubscription[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly pendingOut = new Map<string, GatewayOutItem[]>();
  private flushScheduled = false;
  private readonly now: () => number;
  private readonly gateways = new Map<string, number>();
  private gatewayCheck?: NodeJS.Timeout;
  private readonly counters;
  private started = false;

  private constructor(
    private readonly config: Config,
    private readonly deps: SessionDeps,
  ) {
    this.st = createShardState(limitsFromConfig(config), randomInt(1, 0xffffffff));
    this.now = deps.now ?? Date.now;
    const m = deps.metrics;
    this.counters = {
      events: labelledCounter(m.counter('session_events_total', 'Session envelopes handled, by kind.', ['kind'])),
      outcomes: labelledCounter(m.counter('session_outcomes_total', 'Session outcomes and limit hits (drops, takeovers, Wills, expiries).', ['what'])),
      sessions: m.gauge('sessions', 'Sessions held by this process.', [], (g) => g.set(this.st.sessions.size)),
    };
  }

  static create(config: Config, deps: SessionDeps): SessionService {
    return new SessionService(config, deps);
  }

  /** Exposed for tests and diagnostics. */
  get state(): ShardState {
    return this.st;
  }

  async start(): Promise<void> {
    const { bus, subjects } = this.deps;
    // Issue 5 replaces this with lease-based ownership; the routing is already per shard.
    for (let shard = 0; shard < this.config.shards; shard++) {
      this.subs.push(bus.subscribe(subjects.sessionIn(shard), (m) => this.onEnvelope(m)));
    }
    this.subs.push(bus.subscribe(subjects.routeResync, () => this.resyncRouters()));
    this.subs.push(bus.subscribe(subjects.gatewayHeartbeat, (m) => this.onHeartbeat(m)));
    const hb = this.config['gateway.heartbeatMs'];
    this.gatewayCheck = setInterval(() => this.checkGateways(), hb);
    this.gatewayCheck.unref();
    await bus.flush();
    this.started = true;
    // A router that started before us may hold nothing for our sessions; we hold none yet either.
  }

  ready(): boolean {
    return this.started;
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const s of this.subs.splice(0)) s.unsubscribe();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    if (this.gatewayCheck) clearInterval(this.gatewayCheck);
    this.flushOut();
  }

  private onEnvelope(m: BusMsg): void {
    let e;
    try {
      e = decodeSessionIn(m.data);
    } catch (err) {
      this.deps.log.warn('dropping malformed session envelope', { subject: m.subject, err: err as Error });
      return;
    }
    this.counters.events(KIND_NAMES[e.kind] ?? 'unknown');
    const out: Effect[] = [];
    const reply = handleIn(this.st, e, this.now(), out);
    if (e.kind === SessIn.Connect && reply) m.respond(encodeConnectReply(reply));
    else if (e.kind === SessIn.Deliver) m.respond(Buffer.from([0])); // accepted (persisted, once issue 5 lands)
    this.run(out);
  }

  private run(out: Effect[]): void {
    for (const ef of out) {
      switch (ef.t) {
        case 'gw': {
          let list = this.pendingOut.get(ef.gateway);
          if (!list) {
            list = [];
            this.pendingOut.set(ef.gateway, list);
          }
          list.push(ef.item);
          if (!this.flushScheduled) {
            this.flushScheduled = true;
            queueMicrotask(() => this.flushOut());
          }
          break;
        }
        case 'route':
          this.route(ef.mountpoint, ef.message, ef.then);
          break;
        case 'subs':
          this.changeSubs(ef.batch, ef.then);
          break;
        case 'timer':
          this.setTimer(ef.key, ef.kind, ef.at);
          break;
        case 'count':
          this.counters.outcomes(ef.what);
          break;
      }
    }
  }

  /** One bus message per gateway per turn: batches deliveries (hot path). */
  private flushOut(): void {
    this.flushScheduled = false;
    for (const [gw, items] of this.pendingOut) {
      this.deps.bus.publish(this.deps.subjects.gatewayOut(gw), encodeGatewayOut(items));
    }
    this.pendingOut.clear();
  }

  private route(mountpoint: string, message: import('../../common/src/envelope/message.js').Message, then?: Continuation): void {
    const { bus, subjects, log } = this.deps;
    const data = encodeRoutePublish({ mountpoint, message });
    const timeoutMs = this.config['nats.requestTimeoutMs'];
    // Wills and QoS 2 messages must reach a router: retry while none answers.
    retrying(() => bus.request(subjects.routePublish, data, { timeoutMs }), { attempts: 8, baseDelayMs: 50 })
      .then((r) => decodeStatusSafe(r.data))
      .catch((err: Error) => {
        log.warn('routing failed', { err, topic: undefined });
        return 0x80;
      })
      .then((status) => {
        if (then?.kind !== 'pubrec') return;
        const out: Effect[] = [];
        onPublish2Routed(this.st, then, status, out);
        this.run(out);
      });
  }

  private changeSubs(batch: SubChangeBatch, then?: Continuation): void {
    const { bus, subjects, log } = this.deps;
    const data = encodeSubChanges(batch);
    const timeoutMs = this.config['nats.requestTimeoutMs'];
    retrying(() => bus.request(subjects.routeSubscription, data, { timeoutMs }), { attempts: 5, baseDelayMs: 50 }).then(
      (r) => this.subsDone(then, true, r.data),
      (err: Error) => {
        log.warn('subscription change not acknowledged by any router', { err });
        this.subsDone(then, false, undefined);
      },
    );
  }

  private subsDone(then: Continuation | undefined, ok: boolean, data: Uint8Array | undefined): void {
    if (!then) return;
    const out: Effect[] = [];
    if (then.kind === 'suback') {
      const retained = ok && data && data.length > 0 ? decodeRetainedAnswer(data).items : [];
      onSubscribeRouted(this.st, then, ok, retained, this.now(), out);
    } else if (then.kind === 'unsuback') onUnsubscribeRouted(this.st, then, out);
    this.run(out);
  }

  private setTimer(key: string, kind: TimerKind, at: number | undefined): void {
    const id = `${kind}\u0000${key}`;
    const old = this.timers.get(id);
    if (old) clearTimeout(old);
    this.timers.delete(id);
    if (at === undefined) return;
    const delay = Math.max(0, at - this.now());
    // setTimeout caps at 2^31-1 ms; longer deadlines re-arm when the first timer fires.
    const t = setTimeout(() => {
      this.timers.delete(id);
      const out: Effect[] = [];
      handleTimer(this.st, key, kind, this.now(), out);
      const s = this.st.sessions.get(key);
      if (s && !s.conn) {
        const due = kind === 'will' ? s.willDueAt : s.expiresAt;
        if (due !== undefined && due > this.now()) this.setTimer(key, kind, due);
      }
      this.run(out);
    }, Math.min(delay, 0x7fffffff));
    t.unref();
    this.timers.set(id, t);
  }

  /** A router (re)started: replay every subscription we hold so its index is complete. */
  private resyncRouters(): void {
    const changes: SubChange[] = [];
    const flush = () => {
      if (changes.length === 0) return;
      this.deps.bus.publish(this.deps.subjects.routeSubscription, encodeSubChanges({ changes: changes.splice(0), retainedFor: [] }));
    };
    for (const s of this.st.sessions.values()) {
      for (const sub of s.subs.values()) {
        changes.push({ op: SubOp.Add, key: s.key, mountpoint: s.mountpoint, filter: sub.filter, group: sub.group, qos: sub.qos, noLocal: sub.noLocal, retainAsPublished: sub.retainAsPublished, subId: sub.subId });
        if (changes.length >= 1000) flush();
      }
    }
    flush();
  }

  private onHeartbeat(m: BusMsg): void {
    try {
      const hb = decodeHeartbeat(m.data);
      if (hb.stopping) this.gatewayGone(hb.gatewayId);
      else this.gateways.set(hb.gatewayId, this.now());
    } catch {
      /* ignore malformed heartbeat */
    }
  }

  /** Gateways silent for 3 heartbeat periods are gone: their connections take the Will path. */
  private checkGateways(): void {
    const limit = this.now() - 3 * this.config['gateway.heartbeatMs'];
    for (const [gw, seen] of this.gateways) {
      if (seen < limit) {
        this.deps.log.warn('gateway went silent; treating its connections as lost', { gateway: gw });
        this.gatewayGone(gw);
      }
    }
  }

  private gatewayGone(gw: string): void {
    this.gateways.delete(gw);
    const out: Effect[] = [];
    handleIn(this.st, { kind: SessIn.GatewayGone, gateway: gw }, this.now(), out);
    this.run(out);
  }
}
