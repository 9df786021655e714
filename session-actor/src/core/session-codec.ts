import { EnvelopeError, knownBits, oneOf, Reader, Writer } from '../../../common/src/envelope/codec.js';
import { MIN_MESSAGE_BYTES, messageBytes, qosBits, readMessage, writeMessage, type Message } from '../../../common/src/envelope/message.js';
import type { ProtocolVersion } from '../../../common/src/envelope/session-in.js';
import { createSession, type Delivery, type Inflight, type Session, type SessionSub } from './session.js';

/**
 * Binary encoding of one Session for the session store (JetStream KV value). Everything a
 * new shard owner needs to continue the session: subscriptions, inflight window, offline
 * queue, inbound QoS 2 ids, the Will with its absolute deadline and the expiry deadline.
 * No JSON: a session is rewritten on every acknowledged delivery.
 * Pure; any tier may call it.
 */

const VERSION = 1;
const F_HELD = 2;

const F_CONN = 1;
const F_WILL = 2;
const F_WILL_DUE = 4;
const F_EXPIRES = 8;
const F_EVER_SUBSCRIBED = 16;

function writeDelivery(w: Writer, d: Delivery): void {
  w.u8(d.qos | (d.retain ? 4 : 0) | (d.group !== undefined ? 8 : 0)).u16(d.subIds.length);
  for (const id of d.subIds) w.u32(id);
  if (d.group !== undefined) w.str(d.group);
  writeMessage(w, d.message);
}

/** Smallest encoded Delivery: flags, an empty id list, a minimal message. */
const MIN_DELIVERY_BYTES = 1 + 2 + MIN_MESSAGE_BYTES;

function readDelivery(r: Reader): Delivery {
  const f = knownBits(r.u8(), 0x0f, 'delivery flag');
  const n = r.count16(4);
  const subIds: number[] = [];
  for (let i = 0; i < n; i++) subIds.push(r.u32());
  const group = f & 8 ? r.str() : undefined;
  const d: Delivery = { qos: qosBits(f), retain: (f & 4) !== 0, subIds, message: copyMessage(readMessage(r)) };
  if (group !== undefined) d.group = group;
  return d;
}

/** Reader.bytes() returns views into the KV value: copy what the session keeps. */
function copyMessage(m: Message): Message {
  m.payload = Buffer.from(m.payload);
  return m;
}

export function encodeSession(s: Session): Buffer {
  const w = new Writer();
  let flags = 0;
  if (s.conn) flags |= F_CONN;
  if (s.will) flags |= F_WILL;
  if (s.willDueAt !== undefined) flags |= F_WILL_DUE;
  if (s.expiresAt !== undefined) flags |= F_EXPIRES;
  if (s.everSubscribed) flags |= F_EVER_SUBSCRIBED;
  w.u8(VERSION).u8(flags).str(s.key).str(s.mountpoint).str(s.clientId).u8(s.proto).u32(s.incarnation).u32(s.epoch);
  if (s.conn) w.str(s.conn.gateway).u32(s.conn.connId);
  w.u32(s.expiryS).u16(s.nextPacketId).u16(s.receiveMaximum).u32(s.maxPacketBytes);
  if (s.will) {
    w.u32(s.will.delayS);
    writeMessage(w, s.will.message);
  }
  if (s.willDueAt !== undefined) w.f64(s.willDueAt);
  if (s.expiresAt !== undefined) w.f64(s.expiresAt);
  w.u32(s.subs.size);
  for (const [asSent, sub] of s.subs) {
    w.str(asSent).str(sub.filter).str(sub.group ?? '');
    w.u8(sub.qos | (sub.noLocal ? 4 : 0) | (sub.retainAsPublished ? 8 : 0) | (sub.retainHandling << 4));
    w.u32(sub.subId);
  }
  w.u32(s.inflight.size);
  for (const f of s.inflight.values()) {
    w.u16(f.packetId).u8((f.state === 'rel' ? 1 : 0) | (f.held ? F_HELD : 0));
    writeDelivery(w, f);
  }
  // RingQueue has no iterator: rotate it once (same order afterwards).
  const n = s.queue.length;
  w.u32(n);
  for (let i = 0; i < n; i++) {
    const d = s.queue.shift()!;
    writeDelivery(w, d);
    s.queue.push(d);
  }
  // Only 'received' ids are kept: a 'pending' one was being routed when the state was
  // written; the next owner lets the client's resend route it again (at least once).
  let received = 0;
  for (const st of s.inboundQos2.values()) if (st === 'received') received++;
  w.u32(received);
  for (const [id, st] of s.inboundQos2) if (st === 'received') w.u16(id);
  return w.finish();
}

/** Throws EnvelopeError (only) on a stored value it cannot read. */
export function decodeSession(data: Uint8Array): Session {
  const r = new Reader(data);
  const version = r.u8();
  if (version !== VERSION) throw new EnvelopeError(`unknown session encoding version ${version}`);
  const flags = knownBits(r.u8(), F_CONN | F_WILL | F_WILL_DUE | F_EXPIRES | F_EVER_SUBSCRIBED, 'session flag');
  const key = r.str();
  const mountpoint = r.str();
  const clientId = r.str();
  const proto = oneOf<ProtocolVersion>(r.u8(), [3, 4, 5], 'protocol version');
  const incarnation = r.u32();
  const s = createSession(key, mountpoint, clientId, proto, incarnation);
  s.epoch = r.u32();
  if (flags & F_CONN) s.conn = { gateway: r.str(), connId: r.u32() };
  s.expiryS = r.u32();
  s.nextPacketId = r.u16();
  s.receiveMaximum = r.u16();
  s.maxPacketBytes = r.u32();
  if (flags & F_WILL) {
    const delayS = r.u32();
    s.will = { delayS, message: copyMessage(readMessage(r)) };
  }
  if (flags & F_WILL_DUE) s.willDueAt = r.finite();
  if (flags & F_EXPIRES) s.expiresAt = r.finite();
  if (flags & F_EVER_SUBSCRIBED) s.everSubscribed = true;
  const nSubs = r.count32(2 + 2 + 2 + 1 + 4);
  for (let i = 0; i < nSubs; i++) {
    const asSent = r.str();
    const filter = r.str();
    const group = r.str();
    const o = knownBits(r.u8(), 0x3f, 'subscription option');
    const subId = r.u32();
    const retainHandling = oneOf<0 | 1 | 2>((o >> 4) & 3, [0, 1, 2], 'retain handling');
    const sub: SessionSub = { filter, qos: qosBits(o), noLocal: (o & 4) !== 0, retainAsPublished: (o & 8) !== 0, retainHandling, subId };
    if (group !== '') sub.group = group;
    s.subs.set(asSent, sub);
  }
  const nInflight = r.count32(2 + 1 + MIN_DELIVERY_BYTES);
  for (let i = 0; i < nInflight; i++) {
    const packetId = r.u16();
    // Packet ids are 1..65535 [MQTT-2.2.1-3] and unique in flight: a duplicate would count a
    // held slot twice and leave the window and the map disagreeing.
    if (packetId === 0 || s.inflight.has(packetId)) throw new EnvelopeError(`invalid or repeated in-flight packet id ${packetId}`);
    const o = knownBits(r.u8(), 1 | F_HELD, 'in-flight flag');
    const f: Inflight = { ...readDelivery(r), packetId, state: o & 1 ? 'rel' : 'pub' };
    if (o & F_HELD) {
      f.held = true;
      s.heldCount++;
    }
    s.inflight.set(packetId, f);
  }
  const nQueue = r.count32(MIN_DELIVERY_BYTES);
  for (let i = 0; i < nQueue; i++) {
    const d = readDelivery(r);
    s.queue.push(d);
    s.queuedBytes += messageBytes(d.message);
  }
  const nQos2 = r.count32(2);
  for (let i = 0; i < nQos2; i++) s.inboundQos2.set(r.u16(), 'received');
  return s;
}
