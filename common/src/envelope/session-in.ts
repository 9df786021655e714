import type { BusCodec } from '../bus/bus-value.js';
import { EnvelopeError, knownBits, oneOf } from './codec.js';
import { envelopeReader, envelopeWriter } from './envelope-version.js';
import { qosBits, readMessage, writeMessage, type Message, type QoS } from './message.js';

/**
 * Envelopes sent to a shard owner on `sessionIn(shard)`. Every envelope names the session
 * key; those about a connection carry its epoch, and the owner ignores stale epochs
 * (fencing: a late close of an old socket never touches the new connection).
 */

export const enum SessIn {
  Connect = 1,
  Subscribe = 2,
  Unsubscribe = 3,
  PubAck = 4,
  PubRec = 5,
  PubComp = 6,
  Publish2 = 7,
  PubRel = 8,
  Disconnect = 9,
  ConnLost = 10,
  Deliver = 11,
  /** A gateway announces it restarted or stopped: every connection it held is lost. */
  GatewayGone = 12,
  /**
   * The gateway discarded a QoS 1/2 PUBLISH because its encoded bytes exceed the client's
   * Maximum Packet Size: the owner completes it as if acknowledged [MQTT-3.1.2-25] (5.0).
   */
  PublishDropped = 13,
}

export type ProtocolVersion = 3 | 4 | 5;

export interface Will {
  message: Message;
  delayS: number;
}

export interface ConnectEnv {
  kind: SessIn.Connect;
  key: string;
  mountpoint: string;
  clientId: string;
  gateway: string;
  connId: number;
  proto: ProtocolVersion;
  cleanStart: boolean;
  keepaliveS: number;
  /** MQTT 5 Session Expiry Interval asked for (already capped); undefined for 3.1/3.1.1. */
  sessionExpiryS?: number;
  /** Client's Receive Maximum (MQTT 5), 65535 otherwise. */
  receiveMaximum: number;
  /** Client's Maximum Packet Size (MQTT 5), 0 = no limit. */
  maxPacketBytes: number;
  will?: Will;
  username?: string;
}

export interface SubscriptionRequest {
  /** The filter as the client sent it, `$share/g/f` included. */
  filter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  /** 0xff: to be processed; anything else: a failure reason code the gateway decided (ACL, invalid). */
  rc: number;
}

export interface SubscribeEnv {
  kind: SessIn.Subscribe;
  key: string;
  epoch: number;
  packetId: number;
  subscriptionId: number;
  subs: SubscriptionRequest[];
}

export interface UnsubscribeEnv {
  kind: SessIn.Unsubscribe;
  key: string;
  epoch: number;
  packetId: number;
  filters: string[];
}

export interface AckEnv {
  kind: SessIn.PubAck | SessIn.PubRec | SessIn.PubComp | SessIn.PubRel;
  key: string;
  epoch: number;
  packetId: number;
  rc: number;
}

export interface PublishDroppedEnv {
  kind: SessIn.PublishDropped;
  key: string;
  epoch: number;
  packetId: number;
}

export interface Publish2Env {
  kind: SessIn.Publish2;
  key: string;
  epoch: number;
  packetId: number;
  message: Message;
}

export interface DisconnectEnv {
  kind: SessIn.Disconnect;
  key: string;
  epoch: number;
  rc: number;
  /** MQTT 5 DISCONNECT may change the Session Expiry Interval; undefined: unchanged. */
  sessionExpiryS?: number;
}

export const enum LostReason {
  SocketClosed = 1,
  KeepaliveTimeout = 2,
  ProtocolError = 3,
  GatewayGone = 4,
  ServerShutdown = 5,
  Backpressure = 6,
}

export interface ConnLostEnv {
  kind: SessIn.ConnLost;
  key: string;
  epoch: number;
  reason: LostReason;
}

export interface DeliveryTarget {
  key: string;
  /** Subscription QoS (the delivered QoS is the lower of this and the message's). */
  qos: QoS;
  retainAsPublished: boolean;
  subIds: number[];
  /** Set when the copy came through a `$share` group: re-routed to the group if the session ends. */
  group?: string;
}

/** Router -> shard owner: one message for one or more sessions of that shard. */
export interface DeliverEnv {
  kind: SessIn.Deliver;
  targets: DeliveryTarget[];
  message: Message;
  /** Set by the router on QoS 1/2 copies: a retried request carries the same id (dedupe). */
  id?: string;
}

export interface GatewayGoneEnv {
  kind: SessIn.GatewayGone;
  gateway: string;
}

export type SessionInEnv = ConnectEnv | SubscribeEnv | UnsubscribeEnv | AckEnv | Publish2Env | DisconnectEnv | ConnLostEnv | DeliverEnv | GatewayGoneEnv | PublishDroppedEnv;

export function encodeSessionIn(e: SessionInEnv): Buffer {
  const w = envelopeWriter();
  w.u8(e.kind);
  switch (e.kind) {
    case SessIn.Connect:
      w.str(e.key).str(e.mountpoint).str(e.clientId).str(e.gateway).u32(e.connId).u8(e.proto).bool(e.cleanStart).u16(e.keepaliveS);
      // A presence flag, not a sentinel: 0xFFFFFFFF is a real value ("never expires", MQTT 5.0 section 3.1.2.11.2).
      w.bool(e.sessionExpiryS !== undefined)
        .u32(e.sessionExpiryS ?? 0)
        .u16(e.receiveMaximum)
        .u32(e.maxPacketBytes);
      w.bool(e.will !== undefined);
      if (e.will) {
        w.u32(e.will.delayS);
        writeMessage(w, e.will.message);
      }
      w.bool(e.username !== undefined);
      if (e.username !== undefined) w.str(e.username);
      break;
    case SessIn.Subscribe:
      w.str(e.key).u32(e.epoch).u16(e.packetId).u32(e.subscriptionId).u16(e.subs.length);
      for (const s of e.subs) {
        w.str(s.filter)
          .u8(s.qos | (s.noLocal ? 4 : 0) | (s.retainAsPublished ? 8 : 0) | (s.retainHandling << 4))
          .u8(s.rc);
      }
      break;
    case SessIn.Unsubscribe:
      w.str(e.key).u32(e.epoch).u16(e.packetId).u16(e.filters.length);
      for (const f of e.filters) w.str(f);
      break;
    case SessIn.PubAck:
    case SessIn.PubRec:
    case SessIn.PubComp:
    case SessIn.PubRel:
      w.str(e.key).u32(e.epoch).u16(e.packetId).u8(e.rc);
      break;
    case SessIn.Publish2:
      w.str(e.key).u32(e.epoch).u16(e.packetId);
      writeMessage(w, e.message);
      break;
    case SessIn.Disconnect:
      w.str(e.key)
        .u32(e.epoch)
        .u8(e.rc)
        .bool(e.sessionExpiryS !== undefined)
        .u32(e.sessionExpiryS ?? 0);
      break;
    case SessIn.ConnLost:
      w.str(e.key).u32(e.epoch).u8(e.reason);
      break;
    case SessIn.Deliver:
      w.u16(e.targets.length);
      for (const t of e.targets) {
        w.str(t.key)
          .u8(t.qos | (t.retainAsPublished ? 4 : 0) | (t.group !== undefined ? 8 : 0))
          .u8(t.subIds.length);
        for (const id of t.subIds) w.u32(id);
        if (t.group !== undefined) w.str(t.group);
      }
      writeMessage(w, e.message);
      if (e.id !== undefined) w.str(e.id);
      break;
    case SessIn.GatewayGone:
      w.str(e.gateway);
      break;
    case SessIn.PublishDropped:
      w.str(e.key).u32(e.epoch).u16(e.packetId);
      break;
  }
  return w.finish();
}

/** Session-in envelopes as a bus value: handed over as the object in one process (bus-value.ts). */
export const sessionInCodec: BusCodec<SessionInEnv> = { encode: encodeSessionIn, decode: decodeSessionIn };

const PROTOCOLS: readonly ProtocolVersion[] = [3, 4, 5];
const LOST_REASONS: readonly LostReason[] = [
  LostReason.SocketClosed,
  LostReason.KeepaliveTimeout,
  LostReason.ProtocolError,
  LostReason.GatewayGone,
  LostReason.ServerShutdown,
  LostReason.Backpressure,
];

/** Retain Handling 3 is a Protocol Error [MQTT-3.8.3-5] (5.0): never sent by a gateway. */
function retainHandlingBits(o: number): 0 | 1 | 2 {
  const rh = (o >> 4) & 3;
  if (rh === 3) throw new EnvelopeError('invalid retain handling 3');
  return rh as 0 | 1 | 2;
}

/** Decodes an envelope from the bus. Throws EnvelopeError (only) on bytes it cannot read. */
export function decodeSessionIn(data: Uint8Array): SessionInEnv {
  const r = envelopeReader(data);
  const kind = r.u8() as SessIn;
  switch (kind) {
    case SessIn.Connect: {
      const key = r.str();
      const mountpoint = r.str();
      const clientId = r.str();
      const gateway = r.str();
      const connId = r.u32();
      const proto = oneOf(r.u8(), PROTOCOLS, 'protocol version');
      const cleanStart = r.bool();
      const keepaliveS = r.u16();
      const hasExp = r.bool();
      const exp = r.u32();
      const receiveMaximum = r.u16();
      const maxPacketBytes = r.u32();
      const e: ConnectEnv = { kind, key, mountpoint, clientId, gateway, connId, proto, cleanStart, keepaliveS, receiveMaximum, maxPacketBytes };
      if (hasExp) e.sessionExpiryS = exp;
      if (r.bool()) {
        const delayS = r.u32();
        e.will = { delayS, message: readMessage(r) };
      }
      if (r.bool()) e.username = r.str();
      return e;
    }
    case SessIn.Subscribe: {
      const key = r.str();
      const epoch = r.u32();
      const packetId = r.u16();
      const subscriptionId = r.u32();
      const n = r.count16(4);
      const subs: SubscriptionRequest[] = [];
      for (let i = 0; i < n; i++) {
        const filter = r.str();
        const o = knownBits(r.u8(), 0x3f, 'subscription option');
        const rc = r.u8();
        subs.push({ filter, qos: qosBits(o), noLocal: (o & 4) !== 0, retainAsPublished: (o & 8) !== 0, retainHandling: retainHandlingBits(o), rc });
      }
      return { kind, key, epoch, packetId, subscriptionId, subs };
    }
    case SessIn.Unsubscribe: {
      const key = r.str();
      const epoch = r.u32();
      const packetId = r.u16();
      const n = r.count16(2);
      const filters: string[] = [];
      for (let i = 0; i < n; i++) filters.push(r.str());
      return { kind, key, epoch, packetId, filters };
    }
    case SessIn.PubAck:
    case SessIn.PubRec:
    case SessIn.PubComp:
    case SessIn.PubRel:
      return { kind, key: r.str(), epoch: r.u32(), packetId: r.u16(), rc: r.u8() };
    case SessIn.Publish2: {
      const key = r.str();
      const epoch = r.u32();
      const packetId = r.u16();
      return { kind, key, epoch, packetId, message: readMessage(r) };
    }
    case SessIn.Disconnect: {
      const key = r.str();
      const epoch = r.u32();
      const rc = r.u8();
      const hasExp = r.bool();
      const exp = r.u32();
      const e: DisconnectEnv = { kind, key, epoch, rc };
      if (hasExp) e.sessionExpiryS = exp;
      return e;
    }
    case SessIn.ConnLost:
      return { kind, key: r.str(), epoch: r.u32(), reason: oneOf(r.u8(), LOST_REASONS, 'lost reason') };
    case SessIn.Deliver: {
      const n = r.count16(4);
      const targets: DeliveryTarget[] = [];
      for (let i = 0; i < n; i++) {
        const key = r.str();
        const o = knownBits(r.u8(), 0x0f, 'delivery target flag');
        const k = r.count8(4);
        const subIds: number[] = [];
        for (let j = 0; j < k; j++) subIds.push(r.u32());
        const t: DeliveryTarget = { key, qos: qosBits(o), retainAsPublished: (o & 4) !== 0, subIds };
        if (o & 8) t.group = r.str();
        targets.push(t);
      }
      const d: DeliverEnv = { kind, targets, message: readMessage(r) };
      if (!r.done) d.id = r.uniqueStr();
      return d;
    }
    case SessIn.GatewayGone:
      return { kind, gateway: r.str() };
    case SessIn.PublishDropped:
      return { kind, key: r.str(), epoch: r.u32(), packetId: r.u16() };
    default:
      throw new EnvelopeError(`unknown session envelope kind ${kind as number}`);
  }
}

/** CONNECT answer from the shard owner (reply to the Connect request). */
export interface ConnectReply {
  /** CONNACK reason code (0 = accepted). */
  rc: number;
  sessionPresent: boolean;
  epoch: number;
  /**
   * The owner process's token for owner-direct batches (envelope/owner-batch.ts), appended in
   * envelope 1.x (a reader of an earlier 1.x ignores it; absent from earlier owners).
   */
  ownerToken?: string;
}

export function encodeConnectReply(r: ConnectReply): Buffer {
  const w = envelopeWriter().u8(r.rc).bool(r.sessionPresent).u32(r.epoch);
  if (r.ownerToken !== undefined) w.str(r.ownerToken);
  return w.finish();
}

/** Throws EnvelopeError on a reply it cannot read (the gateway then refuses the CONNECT). */
export function decodeConnectReply(data: Uint8Array): ConnectReply {
  const r = envelopeReader(data);
  const reply: ConnectReply = { rc: r.u8(), sessionPresent: r.bool(), epoch: r.u32() };
  if (!r.done) reply.ownerToken = r.str();
  return reply;
}
