import type { BusCodec } from '../bus/bus-value.js';
import { knownBits, oneOf } from './codec.js';
import { envelopeReader, envelopeWriter } from './envelope-version.js';
import { MIN_MESSAGE_BYTES, qosBits, readMessage, writeMessage, type Message, type QoS } from './message.js';

/** Envelopes for the router tier. */

/** Gateway/session -> router: route one message. Request (QoS 1/2) or plain publish (QoS 0). */
export interface RoutePublish {
  mountpoint: string;
  message: Message;
  /** Only to members of this `$share` group (a message a leaving member did not complete). */
  group?: string;
  /** Session key the group copy must not go back to. */
  exclude?: string;
  /**
   * Set by the publisher's gateway on QoS 1/2 requests and kept by its retries, so a retried
   * request is routed once (route-dedup.ts) and its Deliver copies keep their ids.
   */
  id?: string;
}

export function encodeRoutePublish(p: RoutePublish): Buffer {
  const w = envelopeWriter().str(p.mountpoint);
  writeMessage(w, p.message);
  // Trailing optional fields: the group pair (empty strings: none; a group name is never
  // empty), then the id. A reader that predates the id ignores trailing bytes.
  if (p.group !== undefined || p.id !== undefined) w.str(p.group ?? '').str(p.exclude ?? '');
  if (p.id !== undefined) w.str(p.id);
  return w.finish();
}

export function decodeRoutePublish(data: Uint8Array): RoutePublish {
  const r = envelopeReader(data);
  const mountpoint = r.str();
  const p: RoutePublish = { mountpoint, message: readMessage(r) };
  if (!r.done) {
    const group = r.str();
    const exclude = r.str();
    if (group !== '') {
      p.group = group;
      p.exclude = exclude;
    }
  }
  if (!r.done) p.id = r.uniqueStr();
  return p;
}

/** Route envelopes as a bus value: handed over as the object in one process (bus-value.ts). */
export const routePublishCodec: BusCodec<RoutePublish> = { encode: encodeRoutePublish, decode: decodeRoutePublish };

/** Route answers: accepted (with or without matching subscribers) or failed. */
export const ROUTE_OK = 0x00;
/**
 * Accepted, but a receiving session's queue is past its bounds (session.queueOverflow =
 * backpressure): the publisher's gateway delays the PUBACK and pauses its input. Readers that
 * predate it take it as accepted (any code below 0x80 is).
 */
export const ROUTE_SLOW = 0x01;
export const ROUTE_NO_MATCH = 0x10;
export const ROUTE_FAILED = 0x80;
export const ROUTE_QUOTA = 0x97;

export const enum SubOp {
  Add = 1,
  Remove = 2,
  /** Remove every subscription of the key (session ended). */
  RemoveKey = 3,
  /** The session (holding shared subscriptions) has a connection again. */
  Online = 4,
  /** The session lost its connection: prefer other members of its `$share` groups [MQTT-4.8.2]. */
  Offline = 5,
}

export interface SubChange {
  op: SubOp;
  key: string;
  mountpoint: string;
  /** Filter without the `$share/<group>/` prefix. */
  filter: string;
  group?: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  subId: number;
}

/**
 * Session -> every router (request; the first router's answer is used): subscription
 * changes, plus the filters whose retained messages the session wants back.
 */
export interface SubChangeBatch {
  changes: SubChange[];
  retainedFor: Array<{ mountpoint: string; filter: string }>;
  /**
   * Where sessions are connected now, for the routers' QoS 0 direct path (docs/sharding.md,
   * "QoS 0 direct"). A trailing optional field (absent: none): a router that predates it
   * ignores it and delivers everything through the owners.
   */
  located?: SessionLocation[];
}

/**
 * One session's connection as its owner knows it: the gateway, connection and epoch that
 * gateway checks, and the client's Maximum Packet Size (0: none). `gateway` '' means the session
 * has no connection (deliveries go through the owner, which queues or drops them).
 */
export interface SessionLocation {
  key: string;
  gateway: string;
  connId: number;
  epoch: number;
  maxPacketBytes: number;
}

export function encodeSubChanges(b: SubChangeBatch): Buffer {
  const w = envelopeWriter().u32(b.changes.length);
  for (const c of b.changes) {
    w.u8(c.op)
      .str(c.key)
      .str(c.mountpoint)
      .str(c.filter)
      .str(c.group ?? '');
    w.u8(c.qos | (c.noLocal ? 4 : 0) | (c.retainAsPublished ? 8 : 0)).u32(c.subId);
  }
  w.u16(b.retainedFor.length);
  for (const f of b.retainedFor) w.str(f.mountpoint).str(f.filter);
  if (b.located !== undefined && b.located.length > 0) {
    w.u32(b.located.length);
    for (const l of b.located) w.str(l.key).str(l.gateway).u32(l.connId).u32(l.epoch).u32(l.maxPacketBytes);
  }
  return w.finish();
}

const SUB_OPS: readonly SubOp[] = [SubOp.Add, SubOp.Remove, SubOp.RemoveKey, SubOp.Online, SubOp.Offline];
/** op, four empty strings, options, subscription id. */
const MIN_SUB_CHANGE_BYTES = 1 + 4 * 2 + 1 + 4;
/** Two empty strings, connection id, epoch, maximum packet size. */
const MIN_LOCATION_BYTES = 2 * 2 + 3 * 4;

export function decodeSubChanges(data: Uint8Array): SubChangeBatch {
  const r = envelopeReader(data);
  const n = r.count32(MIN_SUB_CHANGE_BYTES);
  const changes: SubChange[] = [];
  for (let i = 0; i < n; i++) {
    const op = oneOf(r.u8(), SUB_OPS, 'subscription op');
    const key = r.str();
    const mountpoint = r.str();
    const filter = r.str();
    const group = r.str();
    const o = knownBits(r.u8(), 0x0f, 'subscription option');
    const subId = r.u32();
    const c: SubChange = { op, key, mountpoint, filter, qos: qosBits(o), noLocal: (o & 4) !== 0, retainAsPublished: (o & 8) !== 0, subId };
    if (group !== '') c.group = group;
    changes.push(c);
  }
  const m = r.count16(4);
  const retainedFor: SubChangeBatch['retainedFor'] = [];
  for (let i = 0; i < m; i++) retainedFor.push({ mountpoint: r.str(), filter: r.str() });
  if (r.done) return { changes, retainedFor };
  const k = r.count32(MIN_LOCATION_BYTES);
  const located: SessionLocation[] = [];
  for (let i = 0; i < k; i++) located.push({ key: r.str(), gateway: r.str(), connId: r.u32(), epoch: r.u32(), maxPacketBytes: r.u32() });
  return { changes, retainedFor, located };
}

/**
 * Subscription changes as a bus value. In one process the router's index then holds the session
 * key strings the session actor holds, so the Deliver targets it builds look sessions up by the
 * very key object (no string compare per delivery).
 */
export const subChangesCodec: BusCodec<SubChangeBatch> = { encode: encodeSubChanges, decode: decodeSubChanges };

/** Answer to a SubChangeBatch: retained messages per requested filter index. */
export interface RetainedAnswer {
  items: Array<{ index: number; message: Message }>;
}

export function encodeRetainedAnswer(a: RetainedAnswer): Buffer {
  const w = envelopeWriter().u32(a.items.length);
  for (const it of a.items) {
    w.u16(it.index);
    writeMessage(w, it.message);
  }
  return w.finish();
}

export function decodeRetainedAnswer(data: Uint8Array): RetainedAnswer {
  const r = envelopeReader(data);
  const n = r.count32(2 + MIN_MESSAGE_BYTES);
  const items: RetainedAnswer['items'] = [];
  for (let i = 0; i < n; i++) items.push({ index: r.u16(), message: readMessage(r) });
  return { items };
}

/** Router -> other routers: a retained store change (message with empty payload = delete). */
export interface RetainedSync {
  routerId: string;
  mountpoint: string;
  message: Message;
}

export function encodeRetainedSync(s: RetainedSync): Buffer {
  const w = envelopeWriter().str(s.routerId).str(s.mountpoint);
  writeMessage(w, s.message);
  return w.finish();
}

export function decodeRetainedSync(data: Uint8Array): RetainedSync {
  const r = envelopeReader(data);
  const routerId = r.str();
  const mountpoint = r.str();
  return { routerId, mountpoint, message: readMessage(r) };
}

/**
 * Session owner -> starting router, answering its resync: the shards whose subscriptions the
 * owner has just replayed on the subscription subject (sent after them, so they arrived first).
 */
export function encodeResyncAnswer(shards: readonly number[]): Buffer {
  const w = envelopeWriter().u32(shards.length);
  for (const s of shards) w.u32(s);
  return w.finish();
}

export function decodeResyncAnswer(data: Uint8Array): number[] {
  const r = envelopeReader(data);
  const n = r.u32();
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.u32());
  return out;
}

/**
 * Reads a status answer: one byte (no version: statuses are below 0xC0 and never change
 * meaning), or a ConnectReply-shaped answer such as the owner's TURN_FAILED, whose version byte
 * (0xC0 and up, envelope-version.ts) is followed by the code. Anything unreadable is a failure.
 */
export function decodeStatusSafe(data: Uint8Array): number {
  if (data.length === 0) return ROUTE_FAILED;
  const first = data[0]!;
  if (first < 0xc0) return first;
  return data.length > 1 ? data[1]! : ROUTE_FAILED;
}
