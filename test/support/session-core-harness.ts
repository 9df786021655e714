import mqtt from 'mqtt-packet';
import { GwOut, type CloseItem, type GatewayOutItem, type PublishItem } from '../../common/src/envelope/gateway-out.js';
import type { Message, MessageProps, QoS } from '../../common/src/envelope/message.js';
import type { SubChangeBatch } from '../../common/src/envelope/router.js';
import { LostReason, SessIn, type ConnectReply, type DeliveryTarget, type ProtocolVersion, type SessionInEnv, type SubscriptionRequest } from '../../common/src/envelope/session-in.js';
import type { Continuation, CountKind, Effect, TimerKind } from '../../session-actor/src/core/effects.js';
import { handleIn } from '../../session-actor/src/core/handle-in.js';
import { adminKick, type KickOutcome } from '../../session-actor/src/core/admin-kick.js';
import { onPublish2Routed } from '../../session-actor/src/core/handle-publish2.js';
import { onSubscribeRouted } from '../../session-actor/src/core/handle-subscribe.js';
import { handleTimer } from '../../session-actor/src/core/handle-timer.js';
import { onUnsubscribeRouted } from '../../session-actor/src/core/handle-unsubscribe.js';
import type { Session } from '../../session-actor/src/core/session.js';
import { encodeControl } from '../../gateway/src/protocol/encode-control.js';
import { createShardState, defaultLimits, type SessionLimits, type ShardState } from '../../session-actor/src/core/shard-state.js';

/**
 * Test driver for the pure session core: plays gateway, router and runner around
 * handleIn/handleTimer/on*Routed with a fake clock (plain ms numbers). It records every
 * effect, keeps the armed timers the way the runner does (one per session key and kind,
 * re-armed or cancelled by later 'timer' effects), and files 'gw' items per connection.
 * Test code only.
 */

/** One client connection as the gateway knows it. */
export interface Conn {
  key: string;
  clientId: string;
  gateway: string;
  connId: number;
  epoch: number;
  proto: ProtocolVersion;
  sessionPresent: boolean;
}

export interface ConnectOptions {
  proto?: ProtocolVersion;
  cleanStart?: boolean;
  sessionExpiryS?: number;
  receiveMaximum?: number;
  maxPacketBytes?: number;
  gateway?: string;
  connId?: number;
  mountpoint?: string;
  /** Will message and its delay (seconds; MQTT 5 Will Delay Interval). */
  will?: { topic?: string; payload?: string; qos?: QoS; retain?: boolean; delayS?: number };
}

export interface SubscribeOptions {
  qos?: QoS;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  retainHandling?: 0 | 1 | 2;
  /** Gateway-decided reason code; 0xff (default) = let the session process it. */
  rc?: number;
  subscriptionId?: number;
  packetId?: number;
}

/** A route request the core made (Will, inbound QoS 2). */
export interface RouteRecord {
  mountpoint: string;
  message: Message;
  then?: Continuation;
}

/** A subscription change the core sent to the routers. */
export interface SubsRecord {
  batch: SubChangeBatch;
  then?: Continuation;
}

export function msg(topic: string, payload: string | Buffer = 'x', qos: QoS = 1, opts: { retain?: boolean; origin?: string; props?: MessageProps } = {}): Message {
  const m: Message = { topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos, retain: opts.retain ?? false, origin: opts.origin ?? '' };
  if (opts.props) m.props = opts.props;
  return m;
}

/** Decodes one control packet (PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, ...). */
export function decodePacket(bytes: Buffer, proto: ProtocolVersion): mqtt.Packet {
  const p = mqtt.parser({ protocolVersion: proto });
  const got: mqtt.Packet[] = [];
  let err: Error | undefined;
  p.on('packet', (x: mqtt.Packet) => got.push(x));
  p.on('error', (e: Error) => (err = e));
  p.parse(bytes);
  if (err) throw err;
  if (got.length !== 1) throw new Error(`expected one packet, decoded ${got.length}`);
  return got[0]!;
}

function connKey(gateway: string, connId: number): string {
  return `${gateway}#${connId}`;
}

function timerId(key: string, kind: TimerKind): string {
  return `${kind}\u0000${key}`;
}

export class SessionCoreHarness {
  readonly st: ShardState;
  now: number;
  /** Every effect ever produced, in order. */
  readonly effects: Effect[] = [];
  /** Armed timers, as the runner keeps them: id -> deadline. */
  readonly timers = new Map<string, { key: string; kind: TimerKind; at: number }>();
  readonly routes: RouteRecord[] = [];
  readonly subChanges: SubsRecord[] = [];
  /** 'gw' items per connection (gateway#connId), in order. */
  readonly gw = new Map<string, GatewayOutItem[]>();
  readonly counts = new Map<CountKind, number>();
  private nextConnId = 1;

  constructor(limits: Partial<SessionLimits> = {}, opts: { now?: number; epochSeed?: number } = {}) {
    this.st = createShardState({ ...defaultLimits, ...limits }, opts.epochSeed ?? 1000);
    this.now = opts.now ?? 1_000_000;
  }

  /** Applies a batch of effects to the harness' bookkeeping; returns it for inspection. */
  private record(out: Effect[]): Effect[] {
    for (const ef of out) {
      this.effects.push(ef);
      switch (ef.t) {
        case 'gw': {
          const id = connKey(ef.gateway, ef.item.connId);
          let list = this.gw.get(id);
          if (!list) this.gw.set(id, (list = []));
          list.push(ef.item);
          break;
        }
        case 'route':
          this.routes.push({ mountpoint: ef.mountpoint, message: ef.message, then: ef.then });
          break;
        case 'subs':
          this.subChanges.push({ batch: ef.batch, then: ef.then });
          break;
        case 'timer': {
          const id = timerId(ef.key, ef.kind);
          if (ef.at === undefined) this.timers.delete(id);
          else this.timers.set(id, { key: ef.key, kind: ef.kind, at: ef.at });
          break;
        }
        case 'count':
          this.counts.set(ef.what, (this.counts.get(ef.what) ?? 0) + 1);
          break;
      }
    }
    return out;
  }

  /** Feeds one envelope to handleIn at the current time. */
  in(e: SessionInEnv): { reply: ConnectReply | undefined; out: Effect[] } {
    const out: Effect[] = [];
    const reply = handleIn(this.st, e, this.now, out);
    return { reply, out: this.record(out) };
  }

  session(key: string): Session | undefined {
    return this.st.sessions.get(key);
  }

  connect(clientId: string, o: ConnectOptions = {}): Conn & { out: Effect[] } {
    const proto = o.proto ?? 5;
    const gateway = o.gateway ?? 'gw1';
    const connId = o.connId ?? this.nextConnId++;
    const mountpoint = o.mountpoint ?? '';
    const key = clientId;
    const w = o.will;
    const { reply, out } = this.in({
      kind: SessIn.Connect,
      key,
      mountpoint,
      clientId,
      gateway,
      connId,
      proto,
      cleanStart: o.cleanStart ?? true,
      keepaliveS: 60,
      sessionExpiryS: proto === 5 ? (o.sessionExpiryS ?? 0) : undefined,
      receiveMaximum: o.receiveMaximum ?? 65535,
      maxPacketBytes: o.maxPacketBytes ?? 0,
      will: w ? { delayS: w.delayS ?? 0, message: msg(w.topic ?? `will/${clientId}`, w.payload ?? 'gone', w.qos ?? 1, { retain: w.retain ?? false, origin: key }) } : undefined,
    });
    if (!reply) throw new Error('Connect gave no reply');
    return { key, clientId, gateway, connId, epoch: reply.epoch, proto, sessionPresent: reply.sessionPresent, out };
  }

  connLost(c: Conn, reason: LostReason = LostReason.SocketClosed): Effect[] {
    return this.in({ kind: SessIn.ConnLost, key: c.key, epoch: c.epoch, reason }).out;
  }

  disconnect(c: Conn, rc = 0, sessionExpiryS?: number): Effect[] {
    return this.in({ kind: SessIn.Disconnect, key: c.key, epoch: c.epoch, rc, sessionExpiryS }).out;
  }

  /** An operator's disconnect through the admin API (core/admin-kick.ts). */
  adminKick(key: string, discardSession: boolean): { outcome: KickOutcome; out: Effect[] } {
    const out: Effect[] = [];
    const outcome = adminKick(this.st, key, discardSession, this.now, out);
    return { outcome, out: this.record(out) };
  }

  gatewayGone(gateway: string): Effect[] {
    return this.in({ kind: SessIn.GatewayGone, gateway }).out;
  }

  /** SUBSCRIBE; with `ack` (default true) the routers accept at once, returning `retained`. */
  subscribe(c: Conn, filters: string | string[] | SubscriptionRequest[], o: SubscribeOptions & { ack?: boolean; retained?: Array<{ index: number; message: Message }> } = {}): Effect[] {
    const list = Array.isArray(filters) ? filters : [filters];
    const subs: SubscriptionRequest[] = list.map((f) =>
      typeof f === 'string' ? { filter: f, qos: o.qos ?? 1, noLocal: o.noLocal ?? false, retainAsPublished: o.retainAsPublished ?? false, retainHandling: o.retainHandling ?? 0, rc: o.rc ?? 0xff } : f,
    );
    const { out } = this.in({ kind: SessIn.Subscribe, key: c.key, epoch: c.epoch, packetId: o.packetId ?? 1, subscriptionId: o.subscriptionId ?? 0, subs });
    if (o.ack === false) return out;
    const pending = out.find((ef): ef is Extract<Effect, { t: 'subs' }> => ef.t === 'subs' && ef.then?.kind === 'suback');
    if (!pending) return out;
    return out.concat(this.subsRouted(pending.then!, true, o.retained ?? []));
  }

  /** Completes a 'subs' continuation, as the runner does when the routers answer (or fail). */
  subsRouted(then: Continuation, ok: boolean, retained: Array<{ index: number; message: Message }> = []): Effect[] {
    const out: Effect[] = [];
    if (then.kind === 'suback') onSubscribeRouted(this.st, then, ok, retained, this.now, out);
    else if (then.kind === 'unsuback') onUnsubscribeRouted(this.st, then, ok, this.now, out);
    else throw new Error('not a subs continuation');
    return this.record(out);
  }

  unsubscribe(c: Conn, filters: string[], o: { packetId?: number; ack?: boolean } = {}): Effect[] {
    const { out } = this.in({ kind: SessIn.Unsubscribe, key: c.key, epoch: c.epoch, packetId: o.packetId ?? 2, filters });
    if (o.ack === false) return out;
    const pending = out.find((ef): ef is Extract<Effect, { t: 'subs' }> => ef.t === 'subs' && ef.then?.kind === 'unsuback');
    return pending ? out.concat(this.subsRouted(pending.then!, true)) : out;
  }

  /** The router delivers `message` to sessions of this shard. */
  deliver(message: Message, targets: Array<string | DeliveryTarget>, subQos: QoS = 2, id?: string): Effect[] {
    const t = targets.map((x) => (typeof x === 'string' ? { key: x, qos: subQos, retainAsPublished: false, subIds: [] } : x));
    return this.in({ kind: SessIn.Deliver, targets: t, message, ...(id === undefined ? {} : { id }) }).out;
  }

  /** The gateway did not send this PUBLISH: too large for the client's Maximum Packet Size. */
  publishDropped(c: Conn, packetId: number): Effect[] {
    return this.in({ kind: SessIn.PublishDropped, key: c.key, epoch: c.epoch, packetId }).out;
  }

  puback(c: Conn, packetId: number): Effect[] {
    return this.in({ kind: SessIn.PubAck, key: c.key, epoch: c.epoch, packetId, rc: 0 }).out;
  }

  pubrec(c: Conn, packetId: number, rc = 0): Effect[] {
    return this.in({ kind: SessIn.PubRec, key: c.key, epoch: c.epoch, packetId, rc }).out;
  }

  pubcomp(c: Conn, packetId: number): Effect[] {
    return this.in({ kind: SessIn.PubComp, key: c.key, epoch: c.epoch, packetId, rc: 0 }).out;
  }

  /** Inbound QoS 2 PUBLISH from the client. */
  publish2(c: Conn, packetId: number, message: Message): Effect[] {
    return this.in({ kind: SessIn.Publish2, key: c.key, epoch: c.epoch, packetId, message }).out;
  }

  pubrel(c: Conn, packetId: number): Effect[] {
    return this.in({ kind: SessIn.PubRel, key: c.key, epoch: c.epoch, packetId, rc: 0 }).out;
  }

  /** Completes a 'route' continuation (router status: < 0x80 accepted). */
  routed(then: Continuation | undefined, status = 0): Effect[] {
    if (!then || then.kind !== 'pubrec') throw new Error('not a pubrec continuation');
    const out: Effect[] = [];
    onPublish2Routed(this.st, then, status, out);
    return this.record(out);
  }

  /** Calls handleTimer directly (a duplicate or stale fire), without touching the armed set. */
  fireTimer(key: string, kind: TimerKind): Effect[] {
    const out: Effect[] = [];
    handleTimer(this.st, key, kind, this.now, out);
    return this.record(out);
  }

  /**
   * Moves the clock forward by `ms`, firing due timers in deadline order at their deadline
   * (the runner's behaviour with an exact clock). Returns the effects of the fired timers.
   */
  advance(ms: number): Effect[] {
    const end = this.now + ms;
    const fired: Effect[] = [];
    for (;;) {
      let next: { id: string; key: string; kind: TimerKind; at: number } | undefined;
      for (const [id, t] of this.timers) if (t.at <= end && (!next || t.at < next.at)) next = { id, ...t };
      if (!next) break;
      this.timers.delete(next.id);
      if (next.at > this.now) this.now = next.at;
      const out: Effect[] = [];
      handleTimer(this.st, next.key, next.kind, this.now, out);
      fired.push(...this.record(out));
    }
    this.now = end;
    return fired;
  }

  timerAt(key: string, kind: TimerKind): number | undefined {
    return this.timers.get(timerId(key, kind))?.at;
  }

  /** Everything sent to one connection. */
  itemsFor(c: Pick<Conn, 'gateway' | 'connId'>): GatewayOutItem[] {
    return this.gw.get(connKey(c.gateway, c.connId)) ?? [];
  }

  publishesTo(c: Pick<Conn, 'gateway' | 'connId'>): PublishItem[] {
    return this.itemsFor(c).filter((it): it is PublishItem => it.kind === GwOut.Publish);
  }

  closesOf(c: Pick<Conn, 'gateway' | 'connId'>): CloseItem[] {
    return this.itemsFor(c).filter((it): it is CloseItem => it.kind === GwOut.Close);
  }

  /** Control packets (Control items) sent to one connection, as the gateway encodes them, decoded. */
  packetsTo(c: Pick<Conn, 'gateway' | 'connId' | 'proto'>): mqtt.Packet[] {
    const res: mqtt.Packet[] = [];
    for (const it of this.itemsFor(c)) if (it.kind === GwOut.Control) res.push(decodePacket(encodeControl(c.proto, it), c.proto));
    return res;
  }

  /** Forgets what was sent to a connection so far (to look at what follows). */
  clearItems(c: Pick<Conn, 'gateway' | 'connId'>): void {
    this.gw.delete(connKey(c.gateway, c.connId));
  }

  /** Will messages routed so far (route effects without a continuation). */
  wills(): Message[] {
    return this.routes.filter((r) => r.then === undefined).map((r) => r.message);
  }

  count(what: CountKind): number {
    return this.counts.get(what) ?? 0;
  }
}

/** Effects of one kind out of an effects array. */
export function effectsOf<T extends Effect['t']>(out: Effect[], t: T): Array<Extract<Effect, { t: T }>> {
  return out.filter((ef): ef is Extract<Effect, { t: T }> => ef.t === t);
}
