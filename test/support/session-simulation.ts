import { GwOut, type ControlItem, type GatewayOutItem, type PublishItem } from '../../common/src/envelope/gateway-out.js';
import { messageBytes, type Message, type QoS } from '../../common/src/envelope/message.js';
import { SubOp, type SubChangeBatch } from '../../common/src/envelope/router.js';
import {
  LostReason,
  SessIn,
  type ConnectEnv,
  type ConnectReply,
  type DeliveryTarget,
  type ProtocolVersion,
  type SessionInEnv,
  type SubscriptionRequest,
} from '../../common/src/envelope/session-in.js';
import { topicMatchesFilter } from '../../common/src/topic.js';
import { createConnState, type ConnState } from '../../gateway/src/protocol/conn-state.js';
import { encodeControl } from '../../gateway/src/protocol/encode-control.js';
import { encodePublishWithin } from '../../gateway/src/protocol/max-packet-size.js';
import type { Continuation, CountKind, Effect, TimerKind } from '../../session-actor/src/core/effects.js';
import { handleIn } from '../../session-actor/src/core/handle-in.js';
import { onPublish2Routed } from '../../session-actor/src/core/handle-publish2.js';
import { onSubscribeRouted } from '../../session-actor/src/core/handle-subscribe.js';
import { handleTimer } from '../../session-actor/src/core/handle-timer.js';
import { onUnsubscribeRouted } from '../../session-actor/src/core/handle-unsubscribe.js';
import { NEVER_EXPIRES, type Inflight, type SessionSub } from '../../session-actor/src/core/session.js';
import { createShardState, defaultLimits, type SessionLimits, type ShardState } from '../../session-actor/src/core/shard-state.js';

/**
 * Seeded, deterministic simulation of the pure session core (docs/architecture.md: the protocol logic is pure): many
 * simulated MQTT clients on two gateways, external publishers, a brute-force router and the
 * runner's timer table, all on a fake clock, driving handleIn, the router continuations and
 * handleTimer. Faults: connection drops, takeovers, gateway loss, gateway death noticed late
 * (clients back through the other gateway first), stale envelopes (old epochs),
 * duplicated deliveries and acks, router answers late / out of order / failed, late and
 * duplicate timer fires.
 *
 * A reference model of the session lifecycle and the Will rules (docs/architecture.md, "Will semantics") runs
 * beside the core; invariants are checked after every core call and at the end (after the
 * simulation settles: all answers in, all timers fired, every surviving session reconnected).
 * Same seed, same run: only the seeded PRNG below decides anything (never Math.random).
 * Test code only.
 */

/** mulberry32: small, fast, good enough for test schedules. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly f: () => number;
  constructor(seed: number) {
    this.f = mulberry32(seed);
  }
  next(): number {
    return this.f();
  }
  int(n: number): number {
    return Math.floor(this.f() * n);
  }
  chance(p: number): boolean {
    return this.f() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.f() * a.length)]!;
  }
}

/** What a run exercises; derived from the seed by profileForSeed, overridable per test. */
export interface SimProfile {
  seed: number;
  steps: number;
  clients: number;
  limits: SessionLimits;
  /** Timers fire up to this many ms after their deadline (0: exactly at it). */
  timerLatenessMs: number;
  /** Router answers are applied in random order (else FIFO). */
  reorderRouter: boolean;
  /** Probability that a QoS 2 route request fails (status 0x80). */
  routeFailRate: number;
  /** Probability that a SUBSCRIBE's router request fails (ok = false). */
  subscribeFailRate: number;
  /** Probability that an UNSUBSCRIBE's router request fails. */
  unsubscribeFailRate: number;
  /**
   * Probability that a failed SUBSCRIBE/UNSUBSCRIBE request was applied by the router all the
   * same (the answer got lost, not the request): the core must converge either way.
   */
  failedAppliedRate: number;
  /** Probability that an UNSUBSCRIBE names a filter the session holds (else a random one). */
  unsubscribeHeldRate: number;
  /** Per-step probabilities of injected faults. */
  staleReplayRate: number;
  duplicateTimerRate: number;
  duplicateDeliverRate: number;
  duplicateAckRate: number;
  gatewayGoneRate: number;
  /**
   * Probability per step that a gateway dies (kill -9): its sockets and the output queued for
   * it vanish, its clients reconnect through the gateway that lives, and the owner learns of
   * the death only `gatewayDeathNoticeSteps` steps later (heartbeats), in any order with
   * those reconnects.
   */
  gatewayDeathRate: number;
  gatewayDeathNoticeSteps: number;
  /** Publishers attach Message Expiry deadlines. */
  messageExpiry: boolean;
  /** Clients sometimes announce a small Maximum Packet Size. */
  smallMaxPacket: boolean;
  /** How many recent actions a violation carries (default 40). */
  traceLength?: number;
}

export function profileForSeed(seed: number, steps = 2000): SimProfile {
  const r = new Rng(seed ^ 0x5eed5eed);
  const tight = r.chance(0.5);
  const limits: SessionLimits = {
    ...defaultLimits,
    maxInflight: r.pick([1, 2, 3, 8, 32]),
    maxQueuedMessages: tight ? r.pick([3, 5, 10]) : 1000,
    maxQueuedBytes: tight && r.chance(0.3) ? 200 : defaultLimits.maxQueuedBytes,
    queueOverflow: r.chance(0.5) ? 'drop-new' : 'drop-oldest',
    queueQos0: r.chance(0.3),
    v3PersistentExpiryS: r.pick([30, 600, 86400]),
    v3WillDelayS: r.chance(0.3) ? r.pick([1, 5]) : 0,
    suppressWillOnTakeover: r.chance(0.2),
    maxSubscriptionsPerClient: r.chance(0.2) ? 2 : 1000,
    emitEvents: r.chance(0.5),
  };
  return {
    seed,
    steps,
    clients: 3 + r.int(4),
    limits,
    timerLatenessMs: 0,
    reorderRouter: r.chance(0.6),
    routeFailRate: r.chance(0.5) ? 0.1 : 0,
    subscribeFailRate: 0,
    unsubscribeFailRate: 0,
    failedAppliedRate: 0.5,
    unsubscribeHeldRate: 0,
    staleReplayRate: 0.04,
    duplicateTimerRate: 0.02,
    duplicateDeliverRate: 0.02,
    duplicateAckRate: 0.03,
    gatewayGoneRate: 0.003,
    messageExpiry: r.chance(0.3),
    smallMaxPacket: r.chance(0.3),
    // Drawn last, so the draws above (and the runs of older seeds without this fault) stay as they were.
    gatewayDeathNoticeSteps: r.pick([5, 40, 200]),
    gatewayDeathRate: 0.003,
  };
}

export interface Violation {
  kind: string;
  step: number;
  now: number;
  detail: string;
  /** The last actions before the violation, oldest first. */
  trace: string[];
}

export interface SimReport {
  seed: number;
  steps: number;
  violations: Violation[];
  /** Violations per kind (only the first few of each kind are kept in `violations`). */
  kinds: Map<string, number>;
  stats: Record<string, number>;
}

/** Test-of-the-test hooks: a mutator may corrupt the core's output to prove the checks bite. */
export interface SimHooks {
  afterCore?: (st: ShardState, label: string, out: Effect[]) => void;
}

interface MsgInfo {
  uid: string;
  publisher: string;
  seq: number;
  /** Take part in the per-publisher ordering check (external publishers only). */
  ordered: boolean;
}

type RxItem = { t: 'pub'; it: PublishItem } | { t: 'ctl'; type: number; pid: number; rc: number; codes: number[] };

interface SimConn {
  id: number;
  key: string;
  gateway: string;
  epoch: number;
  proto: ProtocolVersion;
  /** Incarnation of the core session this connection attached to. */
  inc: number;
  receiveMaximum: number;
  /** As the gateway sees it: open until it closes or the client goes away. */
  open: boolean;
  rx: RxItem[];
  pendingSubs: Map<number, number>;
  pendingUnsubs: Set<number>;
  /** Envelopes this connection sent, for stale replays later. */
  sent: SessionInEnv[];
  /** The gateway's state of the connection: its encoders check the Maximum Packet Size and assign topic aliases. */
  gw: ConnState;
}

interface SimClient {
  id: string;
  proto: ProtocolVersion;
  conn?: SimConn;
  /** Outbound QoS 2 flows [MQTT-4.3.3]: packet id -> message and state. */
  out2: Map<number, { m: Message; state: 'pub' | 'rel' }>;
  nextPid: number;
  seq: number;
  lastExpiryS: number;
}

interface RefWill {
  connId: number;
  delayS: number;
  state: 'live' | 'pending' | 'must' | 'never';
  dueAt?: number;
  published: number;
  why?: string;
}

/** The reference model of one session (docs/architecture.md "Will semantics", MQTT 3.1.2/3.1.3/3.14). */
interface RefSession {
  conn?: SimConn;
  proto: ProtocolVersion;
  expiryS: number;
  expiresAt?: number;
  will?: RefWill;
}

/**
 * What one SUBSCRIBE/UNSUBSCRIBE did to the session's entries, seen from outside the core:
 * filter -> the entry before the request (prev) and the one it set (mine; SUBSCRIBE only).
 */
interface SubRequest {
  kind: 'sub' | 'unsub';
  filters: string[];
  /** version: the filter's change count this request made; prevVersion: before it (an undo goes back to it). */
  changed: Map<string, { prev?: SessionSub; mine?: SessionSub; version: number; prevVersion: number }>;
}

type PendingAnswer =
  | { kind: 'pubrec'; then: Extract<Continuation, { kind: 'pubrec' }>; status: number }
  | { kind: 'subs'; then: Extract<Continuation, { kind: 'suback' | 'unsuback' }>; ok: boolean; retained: Array<{ index: number; message: Message }> };

interface ArmedTimer {
  key: string;
  kind: TimerKind;
  at: number;
  fireAt: number;
}

interface IndexEntry {
  filter: string;
  group?: string;
  qos: QoS;
  noLocal: boolean;
  rap: boolean;
  subId: number;
}

const DROP_KINDS: ReadonlySet<CountKind> = new Set<CountKind>(['queue_full_dropped', 'queue_oldest_dropped', 'expired_dropped', 'too_large_dropped']);
const TOPICS = ['t/a', 't/b', 'u/x', 'u/y/z'];
const FILTERS = ['t/a', 't/+', 't/#', '#', 'u/x', 'u/#', '+/a', 'will/#', '+/+/z', '$share/g1/t/#', '$share/g1/t/a', '$share/g2/u/#'];
const GATEWAYS = ['gwA', 'gwB'];
const KEEP_PER_KIND = 3;
const KIND_NAMES: Record<number, string> = {
  [SessIn.Subscribe]: 'Subscribe',
  [SessIn.Unsubscribe]: 'Unsubscribe',
  [SessIn.PubAck]: 'PubAck',
  [SessIn.PubRec]: 'PubRec',
  [SessIn.PubComp]: 'PubComp',
  [SessIn.Publish2]: 'Publish2',
  [SessIn.PubRel]: 'PubRel',
  [SessIn.Disconnect]: 'Disconnect',
  [SessIn.ConnLost]: 'ConnLost',
  [SessIn.PublishDropped]: 'PublishDropped',
};

function connKey(gateway: string, connId: number): string {
  return `${gateway}#${connId}`;
}

function timerId(key: string, kind: TimerKind): string {
  return `${kind}\u0000${key}`;
}

/** A control item as the client reads it: encoded by the gateway, decoded by hand. */
function onWire(it: ControlItem, proto: ProtocolVersion): ReturnType<typeof decodeControl> {
  return decodeControl(encodeControl(proto, it), proto);
}

/** Hand decoder for the control packets the gateway encodes (acks, SUBACK, UNSUBACK). */
export function decodeControl(b: Buffer, proto: ProtocolVersion): { type: number; pid: number; rc: number; codes: number[] } {
  const type = b[0]! >> 4;
  let i = 1;
  let mult = 1;
  let len = 0;
  let byte: number;
  do {
    byte = b[i++]!;
    len += (byte & 127) * mult;
    mult *= 128;
  } while (byte & 128);
  const end = i + len;
  const pid = (b[i]! << 8) | b[i + 1]!;
  i += 2;
  let rc = 0;
  const codes: number[] = [];
  if (type >= 4 && type <= 7) rc = len > 2 ? b[i]! : 0;
  else if (type === 9 || type === 11) {
    if (proto === 5) {
      let pl = 0;
      let m = 1;
      do {
        byte = b[i++]!;
        pl += (byte & 127) * m;
        m *= 128;
      } while (byte & 128);
      i += pl;
    }
    for (; i < end; i++) codes.push(b[i]!);
  }
  return { type, pid, rc, codes };
}

export class SessionSimulation {
  readonly profile: SimProfile;
  readonly st: ShardState;
  private readonly rng: Rng;
  now = 1_000_000;
  private step = 0;
  private phase: 'run' | 'settle' = 'run';
  private readonly clients: SimClient[] = [];
  private readonly conns = new Map<string, SimConn>();
  private nextConnId = 1;
  private readonly inbox: SessionInEnv[] = [];
  private readonly gwq = new Map<string, GatewayOutItem[]>();
  /** Dead gateways and the step at which the owner learns of the death (GatewayGone). */
  private readonly deadGateways = new Map<string, number>();
  private readonly pending: PendingAnswer[] = [];
  private readonly pendingSubsOps = new Map<string, number>();
  private readonly timers = new Map<string, ArmedTimer>();
  private readonly index = new Map<string, Map<string, IndexEntry>>();
  private readonly retainedStore = new Map<string, Message>();
  private readonly info = new WeakMap<Message, MsgInfo>();
  private readonly pubSeq = [0, 0];
  private readonly ref = new Map<string, RefSession>();
  private readonly wills = new Map<number, RefWill>();
  /** `${inc}|${uid}` -> times a connection of that session incarnation got it (QoS > 0). */
  private readonly received = new Map<string, number>();
  private readonly lastSeq = new Map<string, number>();
  private readonly duplicated = new Set<string>();
  /** Inbound QoS 2: uid -> accepted routes; `${inc}:${pid}` -> routed, not yet released. */
  private readonly q2Accepted = new Map<string, number>();
  private readonly q2Routed = new Map<string, { key: string; inc: number; pid: number }>();
  /** Epochs each inflight entry was sent on (Receive Maximum is per connection [MQTT-3.3.4-9]). */
  private readonly sentOn = new WeakMap<Inflight, Set<number>>();
  private readonly trace: string[] = [];
  /** Keys whose SUBSCRIBE / UNSUBSCRIBE router request failed; uids whose QoS 2 route failed. */
  private readonly failedSubscribe = new Set<string>();
  private readonly failedUnsubscribe = new Set<string>();
  private readonly failedRoutes = new Set<string>();
  /** Keys the core sent a removal for while the session held the filter (bugs-sim.md #6). */
  private readonly resentRemoval = new Set<string>();
  /** Each subscription change request's effect on the session, by its continuation. */
  private readonly subRequests = new WeakMap<Continuation, SubRequest>();
  private lastSubRequest?: SubRequest;
  /** `${key}\0${filter}` -> how often a request or an undo changed that session entry. */
  private readonly filterVersion = new Map<string, number>();
  private readonly hooks: SimHooks;
  readonly violations: Violation[] = [];
  readonly kinds = new Map<string, number>();
  readonly stats: Record<string, number> = {};

  constructor(profile: SimProfile, hooks: SimHooks = {}) {
    this.profile = profile;
    this.hooks = hooks;
    this.rng = new Rng(profile.seed);
    this.st = createShardState(profile.limits, 1 + this.rng.int(1_000_000));
    const protos: ProtocolVersion[] = [5, 4, 5, 3, 5, 4];
    for (let i = 0; i < profile.clients; i++) {
      this.clients.push({ id: `c${i}`, proto: protos[i % protos.length]!, out2: new Map(), nextPid: 1, seq: 0, lastExpiryS: 0 });
    }
    for (const g of GATEWAYS) this.gwq.set(g, []);
  }

  // ---------------------------------------------------------------- bookkeeping helpers

  private bump(stat: string, n = 1): void {
    this.stats[stat] = (this.stats[stat] ?? 0) + n;
  }

  private log(line: string): void {
    this.trace.push(`#${this.step} t=${this.now} ${line}`);
    if (this.trace.length > (this.profile.traceLength ?? 40)) this.trace.shift();
  }

  private violate(kind: string, detail: string): void {
    const n = (this.kinds.get(kind) ?? 0) + 1;
    this.kinds.set(kind, n);
    if (n <= KEEP_PER_KIND) this.violations.push({ kind, step: this.step, now: this.now, detail, trace: [...this.trace] });
  }

  private infoOf(m: Message): MsgInfo {
    let i = this.info.get(m);
    if (!i) {
      // A copy the core made (shared re-route): same payload, hence same uid; not ordered.
      const uid = m.payload.toString();
      const colon = uid.lastIndexOf(':');
      i = { uid, publisher: uid.slice(0, colon), seq: Number(uid.slice(colon + 1)), ordered: false };
      this.info.set(m, i);
    }
    return i;
  }

  private makeMessage(topic: string, qos: QoS, publisher: string, seq: number, ordered: boolean, origin: string, retain = false): Message {
    const uid = `${publisher}:${seq}`;
    const m: Message = { topic, payload: Buffer.from(uid), qos, retain, origin };
    this.info.set(m, { uid, publisher, seq, ordered });
    return m;
  }

  /** QoS > 0 deliveries held by each session incarnation: inc -> uid -> count. */
  private held(): Map<number, Map<string, number>> {
    const res = new Map<number, Map<string, number>>();
    for (const s of this.st.sessions.values()) {
      const m = new Map<string, number>();
      for (const f of s.inflight.values()) {
        const u = this.infoOf(f.message).uid;
        m.set(u, (m.get(u) ?? 0) + 1);
      }
      for (const d of s.queue) {
        if (d.qos === 0) continue;
        const u = this.infoOf(d.message).uid;
        m.set(u, (m.get(u) ?? 0) + 1);
      }
      res.set(s.incarnation, m);
    }
    return res;
  }

  private digest(key: string): string {
    const s = this.st.sessions.get(key);
    if (!s) return 'none';
    const fl: string[] = [];
    for (const f of s.inflight.values()) fl.push(`${f.packetId}${f.state}${f.held ? 'h' : ''}`);
    const subs = [...s.subs].map(([f, x]) => `${f}=${x.qos}`).join(',');
    return [
      s.incarnation,
      s.epoch,
      s.conn ? connKey(s.conn.gateway, s.conn.connId) : '-',
      s.will ? 'W' : '-',
      s.willDueAt,
      s.expiresAt,
      s.expiryS,
      fl.join(','),
      s.queue.length,
      s.queuedBytes,
      subs,
      [...s.inboundQos2].join(','),
      s.nextPacketId,
    ].join('|');
  }

  // ---------------------------------------------------------------- the one way into the core

  /**
   * Calls the core once and checks everything. `accepted` names the QoS > 0 deliveries the
   * call is expected to hand to sessions (router deliveries, retained messages); `after`
   * updates the reference model before the effects are judged.
   */
  private call(
    label: string,
    fn: (out: Effect[]) => ConnectReply | undefined | void,
    o: { accepted?: Array<{ inc: number; uid: string }>; after?: (reply: ConnectReply | undefined) => void; noopKey?: string } = {},
  ): ConnectReply | undefined {
    this.log(label);
    this.bump('core_calls');
    const before = this.held();
    const preConn = new Map<string, { gateway: string; connId: number; epoch: number }>();
    for (const s of this.st.sessions.values()) if (s.conn) preConn.set(s.key, { gateway: s.conn.gateway, connId: s.conn.connId, epoch: s.epoch });
    const noopBefore = o.noopKey !== undefined ? this.digest(o.noopKey) : '';
    const out: Effect[] = [];
    const reply = fn(out) ?? undefined;
    this.hooks.afterCore?.(this.st, label, out);
    o.after?.(reply);
    if (o.noopKey !== undefined) {
      const d = this.digest(o.noopKey);
      if (out.length > 0 || d !== noopBefore) this.violate('stale-not-ignored', `${label}: effects ${out.map((e) => e.t).join(',')}; state ${noopBefore} -> ${d}`);
    }
    let drops = 0;
    for (const ef of out) {
      switch (ef.t) {
        case 'gw':
          this.onGw(ef.gateway, ef.item, preConn, label);
          break;
        case 'route':
          // No `$share` subscriptions here, so no group re-route (ef.group) is expected.
          if (ef.group !== undefined) {
            // [MQTT-4.8.2] a shared delivery the ended session did not complete goes back to its group.
            this.bump('shared_rerouted');
            this.routeToSubscribers(ef.message, { group: ef.group, exclude: ef.exclude });
          } else this.onRoute(ef.message, ef.then, label);
          break;
        case 'subs':
          this.onSubs(ef.batch, ef.then);
          break;
        case 'timer':
          this.onTimerEffect(ef.key, ef.kind, ef.at);
          break;
        case 'count':
          this.bump(`count.${ef.what}`);
          if (DROP_KINDS.has(ef.what)) drops++;
          break;
      }
    }
    // Inbound QoS 2 ids the core released (PUBREL, failure, session end).
    for (const [id, r] of this.q2Routed) {
      const s = this.st.sessions.get(r.key);
      if (!s || s.incarnation !== r.inc || !s.inboundQos2.has(r.pid)) this.q2Routed.delete(id);
    }
    this.checkAccounting(label, before, o.accepted ?? [], drops);
    this.checkSessions(label);
    return reply;
  }

  /** Every 'gw' item must target the session's current connection (takeover Close: the old one). */
  private onGw(gateway: string, it: GatewayOutItem, preConn: Map<string, { gateway: string; connId: number; epoch: number }>, label: string): void {
    const c = this.conns.get(connKey(gateway, it.connId));
    if (!c) {
      this.violate('output-to-unknown-connection', `${label}: ${gateway}#${it.connId}`);
      return;
    }
    const s = this.st.sessions.get(c.key);
    const current = s !== undefined && s.conn !== undefined && s.conn.gateway === gateway && s.conn.connId === it.connId && s.epoch === it.epoch && c.epoch === it.epoch;
    const p = preConn.get(c.key);
    const closingOld = it.kind === GwOut.Close && p !== undefined && p.gateway === gateway && p.connId === it.connId && p.epoch === it.epoch;
    if (!current && !closingOld) {
      this.violate(
        'output-for-stale-epoch',
        `${label}: item kind ${it.kind} to ${gateway}#${it.connId} epoch ${it.epoch}; session epoch ${s?.epoch} conn ${s?.conn ? connKey(s.conn.gateway, s.conn.connId) : '-'}`,
      );
    }
    if (it.kind === GwOut.Publish) {
      const inf = this.infoOf(it.message);
      if (s && inf.ordered && !it.dup && !it.retain) {
        // Order per publisher, topic and QoS within one session [MQTT-4.6.0], as the session
        // sends them (two connections of a takeover race may each see their part later).
        const ok = `${s.incarnation}|${inf.publisher}|${it.message.topic}|${it.qos}`;
        const last = this.lastSeq.get(ok) ?? -1;
        if (inf.seq < last || (inf.seq === last && !this.duplicated.has(inf.uid))) {
          this.violate('order', `${label}: ${s.key} sent ${inf.uid} on ${it.message.topic} q${it.qos} after seq ${last}`);
        }
        if (inf.seq > last) this.lastSeq.set(ok, inf.seq);
      }
      if (it.qos > 0) {
        const f = s?.inflight.get(it.packetId);
        if (it.packetId < 1 || it.packetId > 0xffff) this.violate('packet-id-range', `${label}: ${it.packetId}`);
        if (!f || f.message !== it.message) this.violate('publish-without-inflight', `${label}: packet id ${it.packetId} of ${inf.uid}`);
        else {
          let set = this.sentOn.get(f);
          if (!set) this.sentOn.set(f, (set = new Set()));
          set.add(it.epoch);
        }
      } else if (it.packetId !== 0) this.violate('packet-id-range', `${label}: QoS 0 with packet id ${it.packetId}`);
    }
    this.gwq.get(gateway)!.push(it);
  }

  private onRoute(m: Message, then: Continuation | undefined, label: string): void {
    const inf = this.infoOf(m);
    if (then) {
      if (then.kind !== 'pubrec') {
        this.violate('bad-continuation', `${label}: route with ${then.kind}`);
        return;
      }
      const id = `${then.incarnation}:${then.packetId}`;
      if (this.q2Routed.has(id)) this.violate('qos2-routed-twice-unreleased', `${label}: packet id ${then.packetId} of ${then.key} (${inf.uid})`);
      this.q2Routed.set(id, { key: then.key, inc: then.incarnation, pid: then.packetId });
      this.bump('qos2_routed');
      const fail = this.phase === 'run' && this.rng.chance(this.profile.routeFailRate);
      let status = 0x80;
      if (!fail) {
        const n = (this.q2Accepted.get(inf.uid) ?? 0) + 1;
        this.q2Accepted.set(inf.uid, n);
        if (n > 1) this.violate('qos2-forwarded-twice', `${label}: ${inf.uid} accepted by the router ${n} times`);
        status = this.routeToSubscribers(m) ? 0 : 0x10;
      }
      if (status >= 0x80) this.failedRoutes.add(inf.uid);
      this.pending.push({ kind: 'pubrec', then, status });
      return;
    }
    // A route without continuation is a Will.
    const connId = Number(inf.publisher.startsWith('W') ? inf.publisher.slice(1) : NaN);
    const w = this.wills.get(connId);
    if (!w) this.violate('unexpected-route', `${label}: ${inf.uid}`);
    else {
      w.published++;
      if (w.state !== 'must') this.violate('will-not-owed', `${label}: Will of connection ${connId} published while ${w.state}${w.why ? ` (${w.why})` : ''}`);
      if (w.published > 1) this.violate('will-published-twice', `${label}: Will of connection ${connId} published ${w.published} times`);
    }
    this.bump('wills');
    this.routeToSubscribers(m);
  }

  private onSubs(batch: SubChangeBatch, then: Continuation | undefined): void {
    const isUnsub = then?.kind === 'unsuback';
    const rate = isUnsub ? this.profile.unsubscribeFailRate : this.profile.subscribeFailRate;
    // Fire-and-forget changes (undo, re-sent removals, RemoveKey) always reach the router.
    const ok = !then || this.phase !== 'run' || !this.rng.chance(rate);
    if (!ok) (isUnsub ? this.failedUnsubscribe : this.failedSubscribe).add(then.key);
    const applied = ok || this.rng.chance(this.profile.failedAppliedRate);
    if (then && this.lastSubRequest && then.kind !== 'pubrec') this.subRequests.set(then, this.lastSubRequest);
    const retained: Array<{ index: number; message: Message }> = [];
    if (applied) {
      for (const c of batch.changes) {
        if (c.op === SubOp.RemoveKey) this.index.delete(c.key);
        else if (c.op === SubOp.Remove) this.index.get(c.key)?.delete(c.group !== undefined ? `$share/${c.group}/${c.filter}` : c.filter);
        else if (c.op === SubOp.Add) {
          let m = this.index.get(c.key);
          if (!m) this.index.set(c.key, (m = new Map()));
          const raw = c.group !== undefined ? `$share/${c.group}/${c.filter}` : c.filter;
          m.set(raw, { filter: c.filter, group: c.group, qos: c.qos, noLocal: c.noLocal, rap: c.retainAsPublished, subId: c.subId });
        } // other ops (online/offline hints for `$share` member choice) change no subscription
      }
      if (ok) {
        batch.retainedFor.forEach((r, index) => {
          for (const [topic, message] of this.retainedStore) if (topicMatchesFilter(r.filter, topic)) retained.push({ index, message });
        });
      }
    }
    if (!then) return;
    if (then.kind === 'pubrec') {
      this.violate('bad-continuation', 'subs with pubrec');
      return;
    }
    this.pendingSubsOps.set(then.key, (this.pendingSubsOps.get(then.key) ?? 0) + 1);
    this.pending.push({ kind: 'subs', then, ok, retained });
  }

  private onTimerEffect(key: string, kind: TimerKind, at: number | undefined): void {
    const id = timerId(key, kind);
    if (at === undefined) {
      this.timers.delete(id);
      return;
    }
    const late = this.profile.timerLatenessMs > 0 && this.phase === 'run' ? this.rng.int(this.profile.timerLatenessMs + 1) : 0;
    this.timers.set(id, { key, kind, at, fireAt: Math.max(at, this.now) + late });
  }

  /**
   * The router: brute-force matching, one target per session for its ordinary subscriptions
   * (highest QoS, No Local), plus one member per `$share` group. `only`: a group re-route.
   */
  private routeToSubscribers(m: Message, only?: { group: string; exclude?: string }): boolean {
    const targets: DeliveryTarget[] = [];
    const groups = new Map<string, Array<{ key: string; e: IndexEntry }>>();
    for (const [key, subs] of this.index) {
      let best = -1;
      const subIds: number[] = [];
      let rap = false;
      for (const e of subs.values()) {
        if (!topicMatchesFilter(e.filter, m.topic)) continue;
        if (e.group !== undefined) {
          if (only && (e.group !== only.group || key === only.exclude)) continue;
          let g = groups.get(e.group);
          if (!g) groups.set(e.group, (g = []));
          g.push({ key, e });
          continue;
        }
        if (only) continue;
        if (e.noLocal && m.origin === key) continue; // [MQTT-3.8.3-3]
        if (e.qos > best) best = e.qos;
        if (e.subId) subIds.push(e.subId);
        rap ||= e.rap;
      }
      if (best >= 0) targets.push({ key, qos: best as QoS, retainAsPublished: rap, subIds });
    }
    for (const [group, members] of groups) {
      const { key, e } = this.phase === 'run' ? this.rng.pick(members) : members[0]!;
      targets.push({ key, qos: e.qos, retainAsPublished: e.rap, subIds: e.subId ? [e.subId] : [], group });
      // A session may get it twice (ordinary + shared), and a re-route is older than what
      // followed: such messages are left out of the ordering check.
      this.duplicated.add(this.infoOf(m).uid);
      this.info.get(m)!.ordered = false;
    }
    if (targets.length === 0) return false;
    const env: SessionInEnv = { kind: SessIn.Deliver, targets, message: m };
    this.inbox.push(env);
    if (this.phase === 'run' && this.rng.chance(this.profile.duplicateDeliverRate)) {
      // A router retry after a lost answer: the same delivery twice (QoS 1 allows duplicates).
      this.duplicated.add(this.infoOf(m).uid);
      this.inbox.push(env);
      this.bump('fault.duplicate_deliver');
    }
    return true;
  }

  // ---------------------------------------------------------------- invariants after each call

  /**
   * Every QoS > 0 delivery a session accepted stays in its inflight window or queue until the
   * client got it (and acknowledged it), a counted drop happened, or the session ended.
   */
  private checkAccounting(label: string, before: Map<number, Map<string, number>>, accepted: Array<{ inc: number; uid: string }>, drops: number): void {
    const after = this.held();
    const acc = new Map<number, Map<string, number>>();
    for (const a of accepted) {
      let m = acc.get(a.inc);
      if (!m) acc.set(a.inc, (m = new Map()));
      m.set(a.uid, (m.get(a.uid) ?? 0) + 1);
    }
    const incs = new Set<number>([...before.keys(), ...after.keys(), ...acc.keys()]);
    let unjustified = 0;
    const lost: string[] = [];
    for (const inc of incs) {
      const b = before.get(inc);
      const a = after.get(inc);
      const n = acc.get(inc);
      const uids = new Set<string>([...(b?.keys() ?? []), ...(a?.keys() ?? []), ...(n?.keys() ?? [])]);
      const alive = a !== undefined;
      for (const u of uids) {
        const left = (b?.get(u) ?? 0) + (n?.get(u) ?? 0) - (a?.get(u) ?? 0);
        if (left < 0) this.violate('delivery-appeared', `${label}: ${u} held ${-left} more time(s) by incarnation ${inc} than accepted`);
        if (left <= 0 || !alive) continue; // nothing left, or the session ended
        if ((this.received.get(`${inc}|${u}`) ?? 0) > 0) continue;
        unjustified += left;
        lost.push(`${u}@${inc}`);
      }
    }
    if (unjustified > drops) this.violate('message-lost', `${label}: ${lost.join(' ')} left the session without reaching a client; ${drops} counted drop(s)`);
  }

  private checkSessions(label: string): void {
    const lim = this.profile.limits;
    for (const s of this.st.sessions.values()) {
      // Core bookkeeping.
      let held = 0;
      for (const [id, f] of s.inflight) {
        if (id < 1 || id > 0xffff || f.packetId !== id) this.violate('packet-id-range', `${label}: ${s.key} inflight key ${id} entry ${f.packetId}`);
        if (f.qos === 0) this.violate('qos0-inflight', `${label}: ${s.key} ${id}`);
        if (f.held) held++;
      }
      if (held !== s.heldCount) this.violate('held-count', `${label}: ${s.key} heldCount ${s.heldCount}, ${held} entries held`);
      let bytes = 0;
      for (const d of s.queue) bytes += messageBytes(d.message);
      if (bytes !== s.queuedBytes) this.violate('queued-bytes', `${label}: ${s.key} queuedBytes ${s.queuedBytes}, actual ${bytes}`);
      if (s.queue.length > lim.maxQueuedMessages) this.violate('queue-limit', `${label}: ${s.key} ${s.queue.length} queued`);
      if (s.nextPacketId < 1 || s.nextPacketId > 0xffff) this.violate('packet-id-range', `${label}: nextPacketId ${s.nextPacketId}`);
      if (s.conn) {
        const c = this.conns.get(connKey(s.conn.gateway, s.conn.connId));
        const win = Math.min(lim.maxInflight, c ? c.receiveMaximum : 65535);
        // [MQTT-3.3.4-9] at most Receive Maximum unacknowledged QoS > 0 PUBLISH on this connection.
        let onConn = 0;
        for (const f of s.inflight.values()) if (this.sentOn.get(f)?.has(s.epoch)) onConn++;
        if (onConn > win) this.violate('receive-maximum-exceeded', `${label}: ${s.key} ${onConn} unacknowledged PUBLISH on epoch ${s.epoch}, window ${win}`);
        // No stuck window: while online, the queue only waits for a full window (a QoS 0 head
        // exposed by drop-oldest may wait for the next acknowledgement too).
        const head = s.queue.peek();
        if (head && s.heldCount === 0 && s.inflight.size < win) this.violate('queue-stuck', `${label}: ${s.key} queue ${s.queue.length} head QoS ${head.qos}, inflight ${s.inflight.size}/${win}`);
        if (s.heldCount > 0 && s.inflight.size - s.heldCount < win) this.violate('held-stuck', `${label}: ${s.key} ${s.heldCount} held, ${s.inflight.size - s.heldCount} active of ${win}`);
      }
    }
    // Reference model agreement (session lifecycle, Will, deadlines, runner timers).
    const keys = new Set<string>([...this.ref.keys(), ...this.st.sessions.keys()]);
    for (const key of keys) {
      const r = this.ref.get(key);
      const s = this.st.sessions.get(key);
      if (!r || !s) {
        this.violate('session-existence', `${label}: ${key} model ${r ? 'exists' : 'ended'}, core ${s ? 'exists' : 'ended'}`);
        if (r && !s) this.refEnd(key, r, 'resync');
        continue;
      }
      const rc = r.conn ? r.conn.epoch : undefined;
      const sc = s.conn ? s.epoch : undefined;
      if (rc !== sc) this.violate('connection-mismatch', `${label}: ${key} model epoch ${rc}, core ${sc}`);
      if (r.expiryS !== s.expiryS) this.violate('expiry-mismatch', `${label}: ${key} model ${r.expiryS}, core ${s.expiryS}`);
      if (r.expiresAt !== s.expiresAt) this.violate('expiry-deadline-mismatch', `${label}: ${key} model ${r.expiresAt}, core ${s.expiresAt}`);
      const rw = r.will;
      const wantDue = rw && rw.state === 'pending' ? rw.dueAt : undefined;
      if ((rw !== undefined) !== (s.will !== undefined) || wantDue !== s.willDueAt) {
        this.violate('will-state-mismatch', `${label}: ${key} model ${rw ? `${rw.state}@${rw.dueAt}` : 'none'}, core ${s.will ? 'will' : 'none'}@${s.willDueAt}`);
      }
      const wt = this.timers.get(timerId(key, 'will'));
      if ((wt?.at ?? undefined) !== wantDue) this.violate('will-timer-mismatch', `${label}: ${key} armed ${wt?.at}, due ${wantDue}`);
      const et = this.timers.get(timerId(key, 'expiry'));
      if ((et?.at ?? undefined) !== r.expiresAt) this.violate('expiry-timer-mismatch', `${label}: ${key} armed ${et?.at}, due ${r.expiresAt}`);
    }
    // Router index and session subscriptions agree once no change is in flight.
    for (const key of new Set<string>([...this.index.keys(), ...this.st.sessions.keys()])) {
      if ((this.pendingSubsOps.get(key) ?? 0) > 0) continue;
      this.checkSubs(label, key);
    }
  }

  private checkSubs(label: string, key: string): void {
    const s = this.st.sessions.get(key);
    const idx = this.index.get(key);
    const a = s
      ? [...s.subs]
          .map(([f, x]) => `${f}=${x.qos}`)
          .sort()
          .join(',')
      : '';
    const b = idx
      ? [...idx]
          .map(([f, x]) => `${f}=${x.qos}`)
          .sort()
          .join(',')
      : '';
    if (a === b) return;
    // Attributed to the known causes (router failures), so other divergences stay visible.
    let kind = 'subscriptions-diverged';
    if (this.resentRemoval.has(key)) kind = 'subscriptions-diverged-after-resent-removal';
    else if (this.failedUnsubscribe.has(key)) kind = 'subscriptions-diverged-after-failed-unsubscribe';
    else if (this.failedSubscribe.has(key)) kind = 'subscriptions-diverged-after-failed-subscribe';
    this.violate(kind, `${label}: ${key} session {${a}} router {${b}}`);
  }

  private bumpFilter(key: string, filter: string): number {
    const id = `${key}\0${filter}`;
    const v = (this.filterVersion.get(id) ?? 0) + 1;
    this.filterVersion.set(id, v);
    return v;
  }

  // ---------------------------------------------------------------- reference model

  private refEnd(key: string, r: RefSession, why: string): void {
    if (r.will && (r.will.state === 'pending' || r.will.state === 'live')) this.refMust(r.will, `session ended (${why})`);
    r.will = undefined;
    this.ref.delete(key);
  }

  private refMust(w: RefWill, why: string): void {
    w.state = 'must';
    w.why = why;
  }

  private refNever(w: RefWill, why: string): void {
    w.state = 'never';
    w.why = why;
  }

  /** The connection of `r` closed: docs/architecture.md "Will semantics" (and the 3.1.1 grace knob). */
  private refClose(key: string, r: RefSession, how: 'lost' | 'disc0' | 'disc4', sessionExpiryS?: number): void {
    if (how === 'disc0' && r.will) {
      this.refNever(r.will, 'DISCONNECT discards the Will');
      r.will = undefined;
    }
    if (how !== 'lost' && sessionExpiryS !== undefined && r.proto === 5) r.expiryS = Math.min(sessionExpiryS, this.profile.limits.maxExpiryS);
    r.conn = undefined;
    const w = r.will;
    if (w) {
      if (w.delayS === 0) {
        this.refMust(w, 'connection closed, no delay');
        r.will = undefined;
      } else {
        w.state = 'pending';
        w.dueAt = this.now + w.delayS * 1000;
      }
    }
    if (r.expiryS === 0) {
      if (r.proto !== 5 && r.will) {
        r.expiresAt = r.will.dueAt;
        return;
      }
      this.refEnd(key, r, 'expiry 0');
      return;
    }
    if (r.expiryS !== NEVER_EXPIRES) r.expiresAt = this.now + r.expiryS * 1000;
  }

  private refConnect(c: SimConn, e: ConnectEnv): boolean {
    const lim = this.profile.limits;
    let r = this.ref.get(e.key);
    if (r && !r.conn) {
      // Deadlines that passed before their timer fired are applied first, as if the timers
      // had run: the owed Will goes out (once), an expired session ends [MQTT-3.1.2-23].
      if (r.will && r.will.state === 'pending' && r.will.dueAt! <= this.now) {
        this.refMust(r.will, 'Will Delay passed before the reconnect (late timer)');
        r.will = undefined;
      }
      if (r.expiresAt !== undefined && r.expiresAt <= this.now) {
        this.refEnd(e.key, r, 'expired before the reconnect (late timer)');
        r = undefined;
      }
    }
    if (r) {
      const w = r.will;
      if (r.conn) {
        if (w) {
          if (lim.suppressWillOnTakeover) this.refNever(w, 'takeover (suppressed)');
          else if (r.proto !== 5) this.refMust(w, 'takeover, 3.1.1');
          else if (w.delayS === 0 || e.cleanStart || r.expiryS === 0) this.refMust(w, 'takeover, delay 0 or session ends');
          else this.refNever(w, 'takeover within the delay');
        }
      } else if (w) this.refNever(w, 'reconnect within the delay');
      r.will = undefined;
      r.conn = undefined;
      r.expiresAt = undefined;
      if (e.cleanStart || r.expiryS === 0) {
        this.refEnd(e.key, r, 'clean start');
        r = undefined;
      }
    }
    const present = r !== undefined;
    if (!r) {
      r = { proto: e.proto, expiryS: 0 };
      this.ref.set(e.key, r);
    }
    r.proto = e.proto;
    r.conn = c;
    r.expiryS = e.proto === 5 ? Math.min(e.sessionExpiryS ?? 0, lim.maxExpiryS) : e.cleanStart ? 0 : lim.v3PersistentExpiryS;
    if (e.will) {
      const w: RefWill = { connId: c.id, delayS: e.proto === 5 ? e.will.delayS : lim.v3WillDelayS, state: 'live', published: 0 };
      this.wills.set(c.id, w);
      r.will = w;
    }
    return present;
  }

  /** A timer for (key, kind) fired at `now` (by the runner or as a duplicate). */
  private refTimer(key: string, kind: TimerKind): void {
    const r = this.ref.get(key);
    if (!r || r.conn) return;
    if (kind === 'will') {
      if (r.will && r.will.state === 'pending' && r.will.dueAt! <= this.now) {
        this.refMust(r.will, 'Will Delay passed');
        r.will = undefined;
      }
      return;
    }
    if (r.expiresAt !== undefined && r.expiresAt <= this.now) this.refEnd(key, r, 'expired');
  }

  // ---------------------------------------------------------------- actors

  private allocPid(cl: SimClient): number {
    for (;;) {
      const id = cl.nextPid;
      cl.nextPid = id === 0xffff ? 1 : id + 1;
      const c = cl.conn;
      if (cl.out2.has(id) || (c && (c.pendingSubs.has(id) || c.pendingUnsubs.has(id)))) continue;
      return id;
    }
  }

  /** The gateway forwards a client's packet to the shard owner (only while the socket is open). */
  private send(c: SimConn, e: SessionInEnv): void {
    if (!c.open) return;
    this.inbox.push(e);
    c.sent.push(e);
    if (c.sent.length > 30) c.sent.shift();
    const isAck = e.kind === SessIn.PubAck || e.kind === SessIn.PubRec || e.kind === SessIn.PubComp || e.kind === SessIn.PubRel || e.kind === SessIn.Publish2;
    if (isAck && this.phase === 'run' && this.rng.chance(this.profile.duplicateAckRate)) {
      this.inbox.push(e);
      this.bump('fault.duplicate_ack');
    }
  }

  private connect(cl: SimClient, opts: { cleanStart?: boolean; will?: boolean; final?: boolean } = {}): void {
    const r = this.rng;
    if (!opts.final && r.chance(0.05)) cl.proto = r.pick([3, 4, 5] as ProtocolVersion[]);
    const proto = cl.proto;
    const gateway = r.pick(this.liveGateways());
    const id = this.nextConnId++;
    const cleanStart = opts.cleanStart ?? r.chance(0.25);
    const sessionExpiryS = proto === 5 ? (opts.final ? cl.lastExpiryS : r.pick([0, 0, 2, 10, 60, 3600, NEVER_EXPIRES])) : undefined;
    const receiveMaximum = proto === 5 && !opts.final ? r.pick([1, 2, 3, 10, 65535]) : 65535;
    const maxPacketBytes = proto === 5 && this.profile.smallMaxPacket && !opts.final && r.chance(0.3) ? r.pick([16, 20, 24, 40]) : 0;
    const e: ConnectEnv = { kind: SessIn.Connect, key: cl.id, mountpoint: '', clientId: cl.id, gateway, connId: id, proto, cleanStart, keepaliveS: 60, receiveMaximum, maxPacketBytes };
    if (sessionExpiryS !== undefined) e.sessionExpiryS = sessionExpiryS;
    if (opts.will ?? r.chance(0.6)) {
      const m = this.makeMessage(`will/${cl.id}`, r.pick([0, 1, 2] as QoS[]), `W${id}`, 0, false, cl.id);
      e.will = { message: m, delayS: proto === 5 ? r.pick([0, 0, 1, 5, 30, 120]) : 0 };
    }
    const gw = createConnState(id, 'sim', '', this.now);
    gw.proto = proto;
    gw.clientMaxPacketBytes = maxPacketBytes;
    // Every third 5.0 connection lets the gateway assign topic aliases (from the id, not the rng: seeds replay as before).
    gw.clientAliasMax = proto === 5 && id % 3 === 0 ? 2 : 0;
    const c: SimConn = { id, key: cl.id, gateway, epoch: 0, proto, inc: 0, receiveMaximum, open: true, rx: [], pendingSubs: new Map(), pendingUnsubs: new Set(), sent: [], gw };
    this.conns.set(connKey(gateway, id), c);
    let present = false;
    const reply = this.call(
      `connect ${cl.id} v${proto} conn ${id}@${gateway} clean=${cleanStart ? 1 : 0} exp=${sessionExpiryS} rm=${receiveMaximum} mps=${maxPacketBytes} will=${e.will ? `${e.will.delayS}s` : '-'}`,
      (out) => handleIn(this.st, e, this.now, out),
      {
        after: (rep) => {
          c.epoch = rep!.epoch;
          c.inc = this.st.sessions.get(cl.id)!.incarnation;
          present = this.refConnect(c, e);
        },
      },
    );
    if (!reply) return;
    if (reply.sessionPresent !== present) this.violate('session-present', `connect ${cl.id}: core says ${reply.sessionPresent}, model ${present}`);
    cl.conn = c;
    cl.lastExpiryS = sessionExpiryS ?? 0;
    if (!reply.sessionPresent)
      cl.out2.clear(); // the client discards its session state too
    else {
      // [MQTT-4.4.0-1] resend unacknowledged PUBLISH (DUP) and PUBREL with their ids.
      for (const [pid, f] of cl.out2) {
        if (f.state === 'pub') this.send(c, { kind: SessIn.Publish2, key: cl.id, epoch: c.epoch, packetId: pid, message: f.m });
        else this.send(c, { kind: SessIn.PubRel, key: cl.id, epoch: c.epoch, packetId: pid, rc: 0 });
      }
    }
    this.bump('connects');
  }

  private processEnvelope(e: SessionInEnv): void {
    let label: string;
    let noopKey: string | undefined;
    let accepted: Array<{ inc: number; uid: string }> | undefined;
    let after: (() => void) | undefined;
    if (e.kind === SessIn.Deliver) {
      const inf = this.infoOf(e.message);
      accepted = [];
      for (const t of e.targets) {
        const s = this.st.sessions.get(t.key);
        if (s && Math.min(t.qos, e.message.qos) > 0) accepted.push({ inc: s.incarnation, uid: inf.uid });
      }
      label = `deliver ${inf.uid} ${e.message.topic} q${e.message.qos} -> ${e.targets.map((t) => `${t.key}/q${t.qos}`).join(',')}`;
    } else if (e.kind === SessIn.GatewayGone) {
      label = `gateway-gone ${e.gateway}`;
    } else if (e.kind === SessIn.Connect) {
      throw new Error('Connect goes through connect()');
    } else {
      const s = this.st.sessions.get(e.key);
      if (!s || s.epoch !== e.epoch) noopKey = e.key;
      label = `in ${KIND_NAMES[e.kind] ?? e.kind} ${e.key} epoch ${e.epoch}${'packetId' in e ? ` pid ${e.packetId}` : ''}${'rc' in e ? ` rc ${e.rc}` : ''}${e.kind === SessIn.Subscribe ? ` ${e.subs.map((x) => `${x.filter}/q${x.qos}${x.rc !== 0xff ? `/rc${x.rc}` : ''}`).join(' ')}` : ''}${e.kind === SessIn.Unsubscribe ? ` ${e.filters.join(' ')}` : ''}${noopKey ? ' (stale)' : ''}`;
      if (e.kind === SessIn.Disconnect || e.kind === SessIn.ConnLost) {
        const key = e.key;
        after = () => {
          const r = this.ref.get(key);
          if (!r || !r.conn || r.conn.epoch !== e.epoch) return;
          if (e.kind === SessIn.ConnLost) this.refClose(key, r, 'lost');
          else this.refClose(key, r, r.proto === 5 && e.rc === 0x04 ? 'disc4' : 'disc0', e.sessionExpiryS);
        };
      } else if ((e.kind === SessIn.Subscribe || e.kind === SessIn.Unsubscribe) && s && s.epoch === e.epoch && s.conn) {
        // Remember what the request changed, to judge the core's undo if the router fails.
        const before = new Map(s.subs);
        const filters = e.kind === SessIn.Subscribe ? e.subs.map((x) => x.filter) : e.filters;
        const kind = e.kind === SessIn.Subscribe ? 'sub' : 'unsub';
        after = () => {
          const changed = new Map<string, { prev?: SessionSub; mine?: SessionSub; version: number; prevVersion: number }>();
          for (const f of filters) {
            const was = before.get(f);
            const now = s.subs.get(f);
            // (A filter twice in one SUBSCRIBE: still the entry before the request is what an undo restores.)
            if (was === now || changed.has(f)) continue;
            const prevVersion = this.filterVersion.get(`${e.key}\0${f}`) ?? 0;
            changed.set(f, { prev: was, mine: now, version: this.bumpFilter(e.key, f), prevVersion });
          }
          this.lastSubRequest = { kind, filters, changed };
        };
      }
    }
    this.call(label, (out) => handleIn(this.st, e, this.now, out), { accepted, after, noopKey });
    this.lastSubRequest = undefined;
  }

  private liveGateways(): string[] {
    return GATEWAYS.filter((g) => !this.deadGateways.has(g));
  }

  /**
   * kill -9 of a gateway: every socket on it is gone (its clients will reconnect, through the
   * other gateway), output on its way to it is lost, and it sends nothing more. The owner is
   * told only later (applyGatewayDeaths), as heartbeats would.
   */
  private gatewayDies(g: string): void {
    this.deadGateways.set(g, this.step + this.profile.gatewayDeathNoticeSteps);
    for (const c of this.conns.values()) if (c.gateway === g && c.open) c.open = false;
    this.gwq.get(g)!.length = 0;
    this.log(`gateway ${g} dies (owner learns at step ${this.deadGateways.get(g)})`);
  }

  /** The owner notices dead gateways whose silence lasted long enough (all of them: `all`). */
  private applyGatewayDeaths(all: boolean): void {
    for (const [g, at] of [...this.deadGateways]) {
      if (!all && this.step < at) continue;
      this.gatewayGone(g);
      this.deadGateways.delete(g); // a new gateway process may take the name from now on
    }
  }

  private gatewayGone(g: string): void {
    for (const c of this.conns.values()) if (c.gateway === g) c.open = false;
    this.call(`gateway-gone ${g}`, (out) => handleIn(this.st, { kind: SessIn.GatewayGone, gateway: g }, this.now, out), {
      after: () => {
        for (const [key, r] of [...this.ref]) if (r.conn && r.conn.gateway === g) this.refClose(key, r, 'lost');
      },
    });
  }

  private answerRouter(a: PendingAnswer): void {
    if (a.kind === 'pubrec') {
      this.call(`routed pubrec ${a.then.key} pid ${a.then.packetId} epoch ${a.then.epoch} status ${a.status}`, (out) => onPublish2Routed(this.st, a.then, a.status, out));
      return;
    }
    const then = a.then;
    this.pendingSubsOps.set(then.key, (this.pendingSubsOps.get(then.key) ?? 1) - 1);
    const s = this.st.sessions.get(then.key);
    const live = s !== undefined && s.incarnation === then.incarnation;
    const answered = live && s.epoch === then.epoch && s.conn !== undefined;
    const req = this.subRequests.get(then);
    // The model of the answer: what the session's subscriptions must be afterwards (by entry
    // identity) and, for MQTT 5 UNSUBACK, each filter's reason code.
    let expected: Map<string, SessionSub> | undefined;
    const restored = new Set<string>();
    /** Removed filters changed by a later request and absent again (bugs-sim.md #7). */
    const changedSince = new Set<string>();
    const beforeAnswer = live ? new Map(s.subs) : undefined;
    if (live && req) {
      expected = new Map(s.subs);
      if (!a.ok && req.kind === 'sub') {
        // Undo only what is still this SUBSCRIBE's entry; a later change of the filter stands.
        for (const [f, { prev, mine }] of req.changed) {
          if (s.subs.get(f) !== mine) continue;
          if (prev) expected.set(f, prev);
          else expected.delete(f);
          this.bump('subscribe_undone');
        }
      } else if (!a.ok && req.kind === 'unsub' && s.proto === 5) {
        // MQTT 5: a removed filter that no later request changed (a change undone by its own
        // failure does not count) comes back (UNSUBACK 0x80).
        for (const [f, { prev, version }] of req.changed) {
          if (this.filterVersion.get(`${then.key}\0${f}`) !== version || !prev) {
            if (prev && !s.subs.has(f)) changedSince.add(f);
            continue;
          }
          expected.set(f, prev);
          restored.add(f);
          this.bump('unsubscribe_restored');
        }
      } // 3.1.1 (or success): the session's subscriptions stay as they are
    }
    const proto = s?.proto ?? 5;
    let out: Effect[] = [];
    const after = (): void => {
      // A removal sent again (3.1.1 failed UNSUBSCRIBE) must not hit a filter the session holds
      // again: the router would drop a live subscription (bugs-sim.md #6).
      const held = this.st.sessions.get(then.key);
      for (const e of out) {
        if (e.t !== 'subs' || e.then || !held || held.incarnation !== then.incarnation) continue;
        for (const ch of e.batch.changes) {
          const raw = ch.group !== undefined ? `$share/${ch.group}/${ch.filter}` : ch.filter;
          if (ch.op === SubOp.Remove && held.subs.has(raw)) {
            this.resentRemoval.add(then.key);
            this.violate('removal-sent-for-held-filter', `${then.kind} ${then.key} pid ${then.packetId} ok=${a.ok}: Remove ${raw} while the session holds it`);
          }
        }
      }
      if (!expected) return;
      const got = this.st.sessions.get(then.key)!.subs;
      const diff: string[] = [];
      const repeatedDiff: string[] = [];
      const changedSinceDiff: string[] = [];
      const repeated = new Set(req!.filters.filter((f, i) => req!.filters.indexOf(f) !== i));
      for (const f of new Set([...expected.keys(), ...got.keys(), ...beforeAnswer!.keys()])) {
        if (expected.get(f) !== got.get(f)) {
          // Kept apart: a filter repeated in one SUBSCRIBE is a known core bug (bugs-sim.md #5).
          (req!.kind === 'sub' && repeated.has(f) ? repeatedDiff : changedSince.has(f) ? changedSinceDiff : diff).push(`${f}: want ${expected.get(f)?.qos ?? 'none'} got ${got.get(f)?.qos ?? 'none'}`);
        }
        // An undo puts the filter back where it was before this request.
        const ch = req!.changed.get(f);
        if (beforeAnswer!.get(f) !== got.get(f)) {
          if (ch) this.filterVersion.set(`${then.key}\0${f}`, ch.prevVersion);
          else this.bumpFilter(then.key, f);
        }
      }
      if (diff.length > 0)
        this.violate(req!.kind === 'sub' ? 'subscribe-answer-wrong-subscriptions' : 'unsubscribe-answer-wrong-subscriptions', `${then.key} pid ${then.packetId} ok=${a.ok}: ${diff.join('; ')}`);
      if (changedSinceDiff.length > 0)
        this.violate('unsubscribe-undo-after-later-change', `${then.key} pid ${then.packetId}: ${changedSinceDiff.join('; ')} (subscribed and unsubscribed again since)`);
      if (repeatedDiff.length > 0) this.violate('subscribe-undo-of-repeated-filter', `${then.key} pid ${then.packetId} ok=${a.ok} filters ${req!.filters.join(' ')}: ${repeatedDiff.join('; ')}`);
    };
    if (then.kind === 'unsuback') {
      this.call(`routed unsuback ${then.key} pid ${then.packetId} ok=${a.ok}`, (o) => onUnsubscribeRouted(this.st, then, a.ok, this.now, (out = o)), { after });
    } else {
      const accepted: Array<{ inc: number; uid: string }> = [];
      if (a.ok && answered) {
        for (const r of a.retained) {
          const want = then.retained[r.index];
          if (want && Math.min(want.qos, r.message.qos) > 0) accepted.push({ inc: s.incarnation, uid: this.infoOf(r.message).uid });
          this.bump('retained_answered');
        }
      }
      this.call(
        `routed suback ${then.key} pid ${then.packetId} epoch ${then.epoch} ok=${a.ok} retained ${a.retained.length}`,
        (o) => onSubscribeRouted(this.st, then, a.ok, a.retained, this.now, (out = o)),
        { accepted, after },
      );
    }
    // The acknowledgement: exactly one, on the request's connection if it is still current.
    const type = then.kind === 'suback' ? 9 : 11;
    const acks = out.flatMap((e) => (e.t === 'gw' && e.item.kind === GwOut.Control ? [onWire(e.item, proto)] : [])).filter((d) => d.type === type && d.pid === then.packetId);
    if (acks.length !== (answered ? 1 : 0)) this.violate('ack-count', `${then.kind} ${then.key} pid ${then.packetId}: ${acks.length} sent, connection ${answered ? 'current' : 'gone'}`);
    const ack = acks[0];
    if (!ack) return;
    if (!a.ok && then.kind === 'suback' && ack.codes.some((c) => c < 0x80)) {
      this.violate('failed-subscribe-granted', `${then.key} pid ${then.packetId}: SUBACK ${ack.codes.map((c) => c.toString(16)).join(',')} although the router failed`);
    }
    if (then.kind === 'unsuback' && proto === 5 && req) {
      // [MQTT-3.11.3] 0x00 removed, 0x11 no such subscription; 0x80 the failed removal was undone.
      const want = req.filters.map((f) => (restored.has(f) ? 0x80 : req.changed.has(f) ? 0x00 : 0x11));
      const wrong = req.filters.filter((_f, i) => want[i] !== ack.codes[i]);
      const kind = wrong.length > 0 && wrong.every((f) => changedSince.has(f)) ? 'unsubscribe-undo-after-later-change' : 'unsuback-codes';
      if (want.join(',') !== ack.codes.join(',')) this.violate(kind, `${then.key} pid ${then.packetId} ok=${a.ok}: want ${want.join(',')} got ${ack.codes.join(',')}`);
    }
  }

  private fireTimer(t: ArmedTimer, duplicate: boolean): void {
    if (!duplicate) this.timers.delete(timerId(t.key, t.kind));
    this.call(`${duplicate ? 'duplicate ' : ''}timer ${t.kind} ${t.key} (due ${t.at})`, (out) => handleTimer(this.st, t.key, t.kind, this.now, out), {
      after: () => this.refTimer(t.key, t.kind),
    });
    if (!duplicate) {
      // The runner re-arms a deadline still ahead (session-service.ts setTimer).
      const s = this.st.sessions.get(t.key);
      if (s && !s.conn) {
        const due = t.kind === 'will' ? s.willDueAt : s.expiresAt;
        if (due !== undefined && due > this.now && !this.timers.has(timerId(t.key, t.kind))) this.timers.set(timerId(t.key, t.kind), { key: t.key, kind: t.kind, at: due, fireAt: due });
      }
    }
  }

  /** Moves the clock, firing due timers in order at their (possibly late) fire time. */
  private advance(ms: number): void {
    const end = this.now + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      let next: ArmedTimer | undefined;
      for (const t of this.timers.values()) if (t.fireAt <= end && (!next || t.fireAt < next.fireAt)) next = t;
      if (!next) break;
      if (next.fireAt > this.now) this.now = next.fireAt;
      this.fireTimer(next, false);
    }
    this.now = end;
  }

  /** The gateway hands items to its sockets; Close ends the socket (the gateway then reports it lost). */
  private gatewayDeliver(g: string, n: number): void {
    const q = this.gwq.get(g)!;
    if (this.deadGateways.has(g)) {
      q.length = 0; // published to a subject nobody reads any more
      return;
    }
    for (let i = 0; i < n && q.length > 0; i++) {
      const it = q.shift()!;
      const c = this.conns.get(connKey(g, it.connId));
      if (!c || !c.open || c.epoch !== it.epoch) continue; // closed socket or an older connection's output
      if (it.kind === GwOut.Close) {
        c.open = false;
        this.log(`gateway closes ${c.key} conn ${c.id} rc ${it.rc}`);
        this.inbox.push({ kind: SessIn.ConnLost, key: c.key, epoch: c.epoch, reason: LostReason.ProtocolError });
        continue;
      }
      if (it.kind === GwOut.Publish) {
        if (encodePublishWithin(c.gw, it, this.now) === undefined) {
          // [MQTT-3.1.2-25] (5.0) too large for this client: not sent; the owner completes it.
          this.bump('gateway.publish_too_large_dropped');
          if (it.qos > 0) this.inbox.push({ kind: SessIn.PublishDropped, key: c.key, epoch: c.epoch, packetId: it.packetId });
          continue;
        }
        const inf = this.infoOf(it.message);
        if (it.qos > 0) {
          const k = `${c.inc}|${inf.uid}`;
          this.received.set(k, (this.received.get(k) ?? 0) + 1);
        }
        c.rx.push({ t: 'pub', it });
        continue;
      }
      if (it.kind !== GwOut.Control) {
        this.violate('unexpected-item', `${c.key} conn ${c.id}: item kind ${it.kind}`);
        continue;
      }
      c.rx.push({ t: 'ctl', ...onWire(it, c.proto) });
    }
  }

  /** The client reads what arrived and answers as MQTT says. */
  private clientProcess(cl: SimClient, c: SimConn, n: number): void {
    for (let i = 0; i < n && c.rx.length > 0; i++) {
      if (!c.open) {
        c.rx.length = 0;
        return;
      }
      const x = c.rx.shift()!;
      if (x.t === 'pub') {
        const it = x.it;
        if (it.qos === 1) this.send(c, { kind: SessIn.PubAck, key: c.key, epoch: c.epoch, packetId: it.packetId, rc: 0 });
        else if (it.qos === 2) {
          const rc = c.proto === 5 && this.phase === 'run' && this.rng.chance(0.03) ? 0x80 : 0;
          this.send(c, { kind: SessIn.PubRec, key: c.key, epoch: c.epoch, packetId: it.packetId, rc });
        }
        continue;
      }
      switch (x.type) {
        case 6: // PUBREL -> PUBCOMP
          this.send(c, { kind: SessIn.PubComp, key: c.key, epoch: c.epoch, packetId: x.pid, rc: 0 });
          break;
        case 5: {
          // PUBREC for our QoS 2 PUBLISH
          const f = cl.conn === c ? cl.out2.get(x.pid) : undefined;
          if (f && x.rc >= 0x80) cl.out2.delete(x.pid);
          else {
            if (f) f.state = 'rel';
            this.send(c, { kind: SessIn.PubRel, key: c.key, epoch: c.epoch, packetId: x.pid, rc: 0 });
          }
          break;
        }
        case 7: {
          const f = cl.conn === c ? cl.out2.get(x.pid) : undefined;
          if (f && f.state === 'rel') cl.out2.delete(x.pid);
          break;
        }
        case 9: {
          const want = c.pendingSubs.get(x.pid);
          if (want === undefined) this.violate('unexpected-suback', `${c.key} conn ${c.id} pid ${x.pid}`);
          else if (want !== x.codes.length) this.violate('suback-codes', `${c.key} pid ${x.pid}: ${x.codes.length} codes for ${want} filters`);
          c.pendingSubs.delete(x.pid);
          break;
        }
        case 11:
          if (!c.pendingUnsubs.delete(x.pid)) this.violate('unexpected-unsuback', `${c.key} conn ${c.id} pid ${x.pid}`);
          break;
        default:
          this.violate('unexpected-packet', `${c.key} conn ${c.id} type ${x.type}`);
      }
    }
  }

  private externalPublish(): void {
    const r = this.rng;
    const p = r.int(2);
    const seq = ++this.pubSeq[p]!;
    const m = this.makeMessage(r.pick(TOPICS), r.pick([0, 1, 1, 2] as QoS[]), `P${p}`, seq, true, '', r.chance(0.1));
    if (this.profile.messageExpiry && r.chance(0.3)) m.props = { expiresAt: this.now + r.pick([50, 1000, 30_000]) };
    if (m.retain) this.retainedStore.set(m.topic, m);
    this.log(`publish ${this.infoOf(m).uid} ${m.topic} q${m.qos}${m.retain ? ' retain' : ''}`);
    this.routeToSubscribers(m);
  }

  private subscribe(cl: SimClient, c: SimConn): void {
    const r = this.rng;
    const n = 1 + r.int(2);
    const subs: SubscriptionRequest[] = [];
    for (let i = 0; i < n; i++) {
      const filter = r.pick(FILTERS);
      subs.push({
        filter,
        qos: r.pick([0, 1, 2] as QoS[]),
        noLocal: c.proto === 5 && !filter.startsWith('$share/') && r.chance(0.3), // [MQTT-3.8.3-4]
        retainAsPublished: c.proto === 5 && r.chance(0.3),
        retainHandling: c.proto === 5 ? r.pick([0, 1, 2] as const) : 0,
        rc: r.chance(0.05) ? 0x87 : 0xff,
      });
    }
    const pid = this.allocPid(cl);
    c.pendingSubs.set(pid, n);
    this.send(c, { kind: SessIn.Subscribe, key: c.key, epoch: c.epoch, packetId: pid, subscriptionId: c.proto === 5 && r.chance(0.3) ? 1 + r.int(5) : 0, subs });
  }

  private unsubscribe(cl: SimClient, c: SimConn): void {
    const pid = this.allocPid(cl);
    c.pendingUnsubs.add(pid);
    // A filter the session holds, to exercise the removal paths (no draw when off: same runs).
    const held = this.profile.unsubscribeHeldRate > 0 ? [...(this.st.sessions.get(c.key)?.subs.keys() ?? [])] : [];
    const filter = held.length > 0 && this.rng.chance(this.profile.unsubscribeHeldRate) ? this.rng.pick(held) : this.rng.pick(FILTERS);
    this.send(c, { kind: SessIn.Unsubscribe, key: c.key, epoch: c.epoch, packetId: pid, filters: [filter] });
  }

  private publish2(cl: SimClient, c: SimConn): void {
    if (cl.out2.size >= 4) return;
    const pid = this.allocPid(cl);
    const m = this.makeMessage(this.rng.pick(TOPICS), 2, `C${cl.id}`, ++cl.seq, false, cl.id);
    cl.out2.set(pid, { m, state: 'pub' });
    this.send(c, { kind: SessIn.Publish2, key: c.key, epoch: c.epoch, packetId: pid, message: m });
  }

  private staleReplay(): void {
    const old: SessionInEnv[] = [];
    for (const c of this.conns.values()) {
      const s = this.st.sessions.get(c.key);
      if (s && s.epoch === c.epoch) continue;
      for (const e of c.sent) old.push(e);
    }
    if (old.length === 0) return;
    const e = this.rng.pick(old);
    this.bump('fault.stale_replay');
    this.processEnvelope(e);
  }

  private duplicateTimer(): void {
    const cl = this.rng.pick(this.clients);
    const kind: TimerKind = this.rng.chance(0.5) ? 'will' : 'expiry';
    const armed = this.timers.get(timerId(cl.id, kind));
    this.bump('fault.duplicate_timer');
    this.fireTimer({ key: cl.id, kind, at: armed?.at ?? -1, fireAt: this.now }, true);
  }

  // ---------------------------------------------------------------- schedule

  private stepOnce(): void {
    const r = this.rng;
    const p = this.profile;
    if (r.chance(p.staleReplayRate)) this.staleReplay();
    if (r.chance(p.duplicateTimerRate)) this.duplicateTimer();
    if (r.chance(p.gatewayGoneRate)) {
      this.bump('fault.gateway_gone');
      this.gatewayGone(r.pick(GATEWAYS));
    }
    if (p.gatewayDeathRate > 0 && r.chance(p.gatewayDeathRate) && this.deadGateways.size === 0) {
      this.bump('fault.gateway_death');
      this.gatewayDies(r.pick(GATEWAYS));
    }
    this.applyGatewayDeaths(false);
    const x = r.int(100);
    if (x < 24) {
      const k = 1 + r.int(3);
      for (let i = 0; i < k && this.inbox.length > 0; i++) this.processEnvelope(this.inbox.shift()!);
    } else if (x < 42) {
      this.gatewayDeliver(r.pick(GATEWAYS), 1 + r.int(4));
    } else if (x < 56) {
      const cl = r.pick(this.clients);
      // Clients are sometimes slow: they read but a few items now and then.
      for (const c of this.conns.values()) if (c.key === cl.id && c.open) this.clientProcess(cl, c, 1 + r.int(4));
    } else if (x < 64) {
      if (this.pending.length > 0) {
        const i = p.reorderRouter ? r.int(this.pending.length) : 0;
        if (i !== 0) this.bump('fault.router_answer_reordered');
        const [a] = this.pending.splice(i, 1);
        this.answerRouter(a!);
      }
    } else if (x < 73) {
      this.externalPublish();
    } else if (x < 80) {
      const y = r.next();
      this.advance(y < 0.7 ? r.int(400) : y < 0.95 ? 1000 + r.int(15_000) : 60_000 + r.int(150_000));
    } else {
      const cl = r.pick(this.clients);
      const c = cl.conn && cl.conn.open ? cl.conn : undefined;
      const y = r.int(100);
      if (!c) {
        if (y < 45) this.connect(cl);
      } else if (y < 5) {
        this.bump('takeovers');
        this.connect(cl); // a second device with the same client id, or a reconnect before the close was seen
      } else if (y < 17) {
        c.open = false;
        this.inbox.push({ kind: SessIn.ConnLost, key: c.key, epoch: c.epoch, reason: LostReason.SocketClosed });
        this.log(`socket of ${c.key} conn ${c.id} drops`);
      } else if (y < 27) {
        const rc = c.proto === 5 && r.chance(0.4) ? 0x04 : 0x00;
        const exp = c.proto === 5 && cl.lastExpiryS > 0 && r.chance(0.3) ? r.pick([0, 5, 3600]) : undefined;
        this.send(c, { kind: SessIn.Disconnect, key: c.key, epoch: c.epoch, rc, sessionExpiryS: exp });
        c.open = false;
        this.log(`client ${c.key} conn ${c.id} sends DISCONNECT 0x${rc.toString(16)}`);
      } else if (y < 55) this.subscribe(cl, c);
      else if (y < 65) this.unsubscribe(cl, c);
      else this.publish2(cl, c);
    }
  }

  /** Everything in flight is answered, delivered and acknowledged (no new faults). */
  private settle(): void {
    for (let round = 0; round < 1000; round++) {
      let progress = false;
      while (this.inbox.length > 0) {
        this.processEnvelope(this.inbox.shift()!);
        progress = true;
      }
      while (this.pending.length > 0) {
        this.answerRouter(this.pending.shift()!);
        progress = true;
      }
      for (const g of GATEWAYS) {
        const q = this.gwq.get(g)!;
        if (q.length > 0) {
          this.gatewayDeliver(g, q.length);
          progress = true;
        }
      }
      for (const cl of this.clients) {
        for (const c of this.conns.values()) {
          if (c.key === cl.id && c.rx.length > 0) {
            this.clientProcess(cl, c, c.rx.length);
            progress = true;
          }
        }
      }
      if (!progress) return;
    }
    this.violate('no-quiescence', 'the simulation did not settle in 1000 rounds');
  }

  run(): SimReport {
    for (this.step = 1; this.step <= this.profile.steps; this.step++) this.stepOnce();
    this.finish();
    return { seed: this.profile.seed, steps: this.profile.steps, violations: this.violations, kinds: this.kinds, stats: this.stats };
  }

  /** Settles, lets every deadline pass, reconnects every surviving session and checks the end state. */
  private finish(): void {
    this.phase = 'settle';
    this.log('--- settle');
    this.applyGatewayDeaths(true);
    this.settle();
    for (let guard = 0; guard < 1000 && this.timers.size > 0; guard++) {
      let next: ArmedTimer | undefined;
      for (const t of this.timers.values()) if (!next || t.fireAt < next.fireAt) next = t;
      this.advance(Math.max(0, next!.fireAt - this.now));
      this.settle();
    }
    // Every owed Will went out exactly once; no other did.
    for (const w of this.wills.values()) {
      if (w.state === 'must' && w.published !== 1) this.violate('owed-will-not-published', `Will of connection ${w.connId} (${w.why}) published ${w.published} times`);
      if (w.state === 'pending') this.violate('will-still-pending', `Will of connection ${w.connId} due ${w.dueAt}, now ${this.now}`);
    }
    // Reconnect the surviving offline sessions so their queues drain.
    for (const cl of this.clients) {
      const s = this.st.sessions.get(cl.id);
      if (s && !s.conn) this.connect(cl, { cleanStart: false, will: false, final: true });
    }
    this.settle();
    for (const s of this.st.sessions.values()) {
      if (!s.conn) continue;
      if (s.inflight.size > 0 || s.queue.length > 0) {
        this.violate(
          'delivery-stuck',
          `${s.key}: ${s.inflight.size} inflight (${[...s.inflight.values()].map((f) => `${f.packetId}${f.state}${f.held ? 'h' : ''}`).join(',')}), ${s.queue.length} queued after settling`,
        );
      }
    }
    for (const cl of this.clients) {
      const c = cl.conn;
      if (!c || !c.open) continue;
      const afterFailure = [...cl.out2.values()].every((f) => this.failedRoutes.has(this.infoOf(f.m).uid));
      if (cl.out2.size > 0)
        this.violate(
          afterFailure ? 'qos2-publish-stuck-after-route-failure' : 'qos2-publish-stuck',
          `${cl.id}: QoS 2 publishes never completed: ${[...cl.out2].map(([pid, f]) => `${pid}:${f.state}:${this.infoOf(f.m).uid}`).join(' ')}`,
        );
      if (c.pendingSubs.size > 0) this.violate('suback-missing', `${cl.id} conn ${c.id}: no SUBACK for ${[...c.pendingSubs.keys()].join(',')}`);
      if (c.pendingUnsubs.size > 0) this.violate('unsuback-missing', `${cl.id} conn ${c.id}: no UNSUBACK for ${[...c.pendingUnsubs].join(',')}`);
    }
    for (const key of new Set<string>([...this.index.keys(), ...this.st.sessions.keys()])) this.checkSubs('end', key);
  }
}

/** Runs one seed; `patch` adjusts the seed's profile. */
export function simulate(seed: number, steps = 2000, patch: Partial<SimProfile> = {}, hooks: SimHooks = {}): SimReport {
  const p = { ...profileForSeed(seed, steps), ...patch };
  return new SessionSimulation(p, hooks).run();
}

/** A readable account of a report's violations (seed first, so it can be replayed). */
export function describeViolations(r: SimReport, only?: (kind: string) => boolean): string {
  const lines: string[] = [];
  for (const v of r.violations) {
    if (only && !only(v.kind)) continue;
    lines.push(`seed ${r.seed} step ${v.step} t=${v.now}: ${v.kind}: ${v.detail}`);
    for (const t of v.trace.slice(-15)) lines.push(`    ${t}`);
  }
  const counts = [...r.kinds]
    .filter(([k]) => !only || only(k))
    .map(([k, n]) => `${k} x${n}`)
    .join(', ');
  return `seed ${r.seed}: ${counts}\n${lines.join('\n')}`;
}
