import { GwOut } from '../../../common/src/envelope/gateway-out.js';
import type { Message, QoS } from '../../../common/src/envelope/message.js';
import type { Effect } from './effects.js';
import { ackPacket } from './packets.js';
import type { Delivery, Inflight, Session } from './session.js';
import type { ShardState } from './shard-state.js';

/**
 * Outbound delivery to one session: packet ids, the inflight window, the offline queue.
 * Runs on the shard owner only.
 */

/** Upper bound of the encoded PUBLISH size, to honour the client's Maximum Packet Size. */
function publishSizeBound(m: Message, subIds: number[]): number {
  let props = 0;
  const p = m.props;
  if (p) {
    if (p.contentType) props += 3 + Buffer.byteLength(p.contentType);
    if (p.responseTopic) props += 3 + Buffer.byteLength(p.responseTopic);
    if (p.correlationData) props += 3 + p.correlationData.length;
    if (p.expiresAt !== undefined) props += 5;
    if (p.payloadFormatIndicator !== undefined) props += 2;
    if (p.userProperties) {
      for (const [k, v] of Object.entries(p.userProperties)) {
        for (const x of Array.isArray(v) ? v : [v]) props += 5 + Buffer.byteLength(k) + Buffer.byteLength(x);
      }
    }
  }
  props += subIds.length * 5 + 3; // subscription identifiers + a topic alias
  const remaining = 2 + Buffer.byteLength(m.topic) + 2 + 4 + props + m.payload.length;
  return remaining + 5;
}

export function windowOf(st: ShardState, s: Session): number {
  return Math.min(st.limits.maxInflight, s.receiveMaximum);
}

function nextPacketId(s: Session): number {
  // Skip ids still inflight [MQTT-2.2.1-3]; the window (<= 65535) guarantees a free one.
  for (;;) {
    const id = s.nextPacketId;
    s.nextPacketId = id === 0xffff ? 1 : id + 1;
    if (!s.inflight.has(id)) return id;
  }
}

function emitPublish(s: Session, d: Delivery, packetId: number, dup: boolean, out: Effect[]): void {
  const c = s.conn!;
  out.push({
    t: 'gw',
    gateway: c.gateway,
    item: { kind: GwOut.Publish, connId: c.connId, epoch: s.epoch, packetId, qos: d.qos, dup, retain: d.retain, subIds: d.subIds, message: d.message },
  });
}

function emitPacket(s: Session, bytes: Buffer, out: Effect[]): void {
  const c = s.conn!;
  out.push({ t: 'gw', gateway: c.gateway, item: { kind: GwOut.Packet, connId: c.connId, epoch: s.epoch, bytes } });
}

export { emitPacket };

function sendNew(s: Session, d: Delivery, out: Effect[]): void {
  if (d.qos === 0) {
    emitPublish(s, d, 0, false, out);
    return;
  }
  const packetId = nextPacketId(s);
  const f: Inflight = { ...d, packetId, state: 'pub' };
  s.inflight.set(packetId, f);
  emitPublish(s, f, packetId, false, out);
}

function expired(d: Delivery, now: number): boolean {
  const e = d.message.props?.expiresAt;
  return e !== undefined && e <= now;
}

/**
 * Hands one message to a session: straight to the client when online and the window has
 * room, else to the bounded queue. Order per session is kept: nothing overtakes the queue.
 */
export function deliver(st: ShardState, s: Session, message: Message, qos: QoS, retain: boolean, subIds: number[], now: number, out: Effect[]): void {
  const d: Delivery = { message, qos, retain, subIds };
  if (expired(d, now)) {
    out.push({ t: 'count', what: 'expired_dropped' });
    return;
  }
  // [MQTT-3.1.2-25] never send a packet larger than the client's Maximum Packet Size: drop it as if sent.
  if (s.maxPacketBytes > 0 && publishSizeBound(message, subIds) > s.maxPacketBytes) {
    out.push({ t: 'count', what: 'too_large_dropped' });
    return;
  }
  if (s.conn && s.queue.length === 0) {
    if (qos === 0 || s.inflight.size < windowOf(st, s)) {
      sendNew(s, d, out);
      return;
    }
  } else if (!s.conn && qos === 0 && !st.limits.queueQos0) {
    out.push({ t: 'count', what: 'qos0_offline_dropped' });
    return;
  }
  enqueue(st, s, d, out);
}

function enqueue(st: ShardState, s: Session, d: Delivery, out: Effect[]): void {
  const bytes = d.message.payload.length;
  const lim = st.limits;
  while (s.queue.length >= lim.maxQueuedMessages || (s.queue.length > 0 && s.queuedBytes + bytes > lim.maxQueuedBytes)) {
    if (lim.queueOverflow === 'drop-new' || s.queue.length === 0) {
      out.push({ t: 'count', what: 'queue_full_dropped' });
      return;
    }
    const old = s.queue.shift()!;
    s.queuedBytes -= old.message.payload.length;
    out.push({ t: 'count', what: 'queue_oldest_dropped' });
  }
  if (lim.maxQueuedMessages === 0 || bytes > lim.maxQueuedBytes) {
    out.push({ t: 'count', what: 'queue_full_dropped' });
    return;
  }
  s.queue.push(d);
  s.queuedBytes += bytes;
}

/** Moves queued deliveries into the window while the client is online. */
export function drain(st: ShardState, s: Session, now: number, out: Effect[]): void {
  if (!s.conn) return;
  const win = windowOf(st, s);
  while (s.queue.length > 0) {
    const d = s.queue.peek()!;
    if (d.qos > 0 && s.inflight.size >= win) return;
    s.queue.shift();
    s.queuedBytes -= d.message.payload.length;
    if (expired(d, now)) {
      out.push({ t: 'count', what: 'expired_dropped' });
      continue;
    }
    sendNew(s, d, out);
  }
}

/**
 * After a reconnect with a kept session: resend unacknowledged PUBLISH (DUP set) and PUBREL
 * with their original packet ids, in order [MQTT-4.4.0-1], then drain the queue.
 */
export function resendInflight(st: ShardState, s: Session, now: number, out: Effect[]): void {
  for (const f of s.inflight.values()) {
    if (f.state === 'rel') emitPacket(s, ackPacket('pubrel', f.packetId, 0, s.proto), out);
    else emitPublish(s, f, f.packetId, true, out);
  }
  drain(st, s, now, out);
}

/** Empties the session's owed deliveries (clean start / session end). */
export function discardDeliveries(s: Session): void {
  s.inflight.clear();
  s.queue.clear();
  s.queuedBytes = 0;
  s.inboundQos2.clear();
}
