import { ControlType, GwOut, messageBytes, messageExpired, surelyTooLarge, type Message, type QoS } from '../../../common/src/index.js';
import type { Effect } from './effects.js';
import { type Delivery, type Inflight, type Session, inflightToAdd } from './session.js';
import type { ShardState } from './shard-state.js';

/**
 * Outbound delivery to one session: packet ids, the inflight window, the offline queue.
 * Runs on the shard owner only.
 */

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

function emitPublish(s: Session, d: Delivery, packetId: number, dup: boolean, out: Effect[], early = false): void {
  const c = s.conn!;
  const item = { kind: GwOut.Publish, connId: c.connId, epoch: s.epoch, packetId, qos: d.qos, dup, retain: d.retain, subIds: d.subIds, message: d.message } as const;
  out.push(early ? { t: 'gw', gateway: c.gateway, item, early } : { t: 'gw', gateway: c.gateway, item });
}

/** A QoS 0 PUBLISH to the online session: nothing to remember, so no Delivery record (fan-out hot path). */
function emitQos0(s: Session, message: Message, retain: boolean, subIds: number[], out: Effect[]): void {
  const c = s.conn!;
  const item = { kind: GwOut.Publish, connId: c.connId, epoch: s.epoch, packetId: 0, qos: 0, dup: false, retain, subIds, message } as const;
  out.push({ t: 'gw', gateway: c.gateway, item });
}

/**
 * A control packet for the session's connection; the gateway encodes it for the connection's
 * protocol version. `codes`: the reason code of an ack, or one per filter for SUBACK/UNSUBACK.
 */
export function emitControl(s: Session, type: ControlType, packetId: number, codes: number[], out: Effect[]): void {
  const c = s.conn!;
  out.push({ t: 'gw', gateway: c.gateway, item: { kind: GwOut.Control, connId: c.connId, epoch: s.epoch, type, packetId, codes } });
}

/**
 * [MQTT-3.1.2-25] (5.0) the certain case of a PUBLISH too large for the client, decided here
 * (common/src/delivery-rules.ts); the gateway checks the exact bytes and tells us with
 * PublishDropped.
 */
function tooLarge(s: Session, m: Message): boolean {
  return surelyTooLarge(s.maxPacketBytes, m);
}

function sendNew(s: Session, d: Delivery, out: Effect[], early = false): void {
  if (tooLarge(s, d.message)) {
    out.push({ t: 'count', what: 'too_large_dropped' });
    return;
  }
  if (d.qos === 0) {
    emitPublish(s, d, 0, false, out);
    return;
  }
  const packetId = nextPacketId(s);
  const f: Inflight = { ...d, packetId, state: 'pub' };
  inflightToAdd(s).set(packetId, f);
  emitPublish(s, f, packetId, false, out, early);
}

function expired(m: Message, now: number): boolean {
  return messageExpired(m, now);
}

function windowFree(st: ShardState, s: Session): boolean {
  return s.inflight.size - s.heldCount < windowOf(st, s) && s.heldCount === 0;
}

/**
 * Hands one message to a session: straight to the client when online and the window has
 * room, else to the bounded queue. Order per session is kept: nothing overtakes the queue.
 */
export function deliver(st: ShardState, s: Session, message: Message, qos: QoS, retain: boolean, subIds: number[], now: number, out: Effect[], group?: string, from?: string): void {
  if (expired(message, now)) {
    out.push({ t: 'count', what: 'expired_dropped' });
    return;
  }
  if (qos === 0 && s.conn && s.queue.length === 0) {
    // What sendNew does for QoS 0, without the Delivery it would not keep.
    if (tooLarge(s, message)) out.push({ t: 'count', what: 'too_large_dropped' });
    else emitQos0(s, message, retain, subIds, out);
    return;
  }
  const d: Delivery = { message, qos, retain, subIds };
  if (group !== undefined) d.group = group;
  if (from !== undefined) d.from = from;
  if (s.conn && s.queue.length === 0) {
    if (qos === 0 || windowFree(st, s)) {
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
  const bytes = messageBytes(d.message);
  const lim = st.limits;
  if (lim.maxQueuedMessages === 0 || bytes > lim.maxQueuedBytes) {
    out.push({ t: 'count', what: 'queue_full_dropped' });
    return;
  }
  const full = s.queue.length >= lim.maxQueuedMessages || s.queuedBytes + bytes > lim.maxQueuedBytes;
  if (full && lim.queueOverflow === 'backpressure') {
    // Nothing acknowledged is dropped while the publishers slow down (the runner answers the
    // router "accepted, slow down"); twice the bounds is the hard limit that keeps memory bounded.
    if (s.queue.length >= 2 * lim.maxQueuedMessages || s.queuedBytes + bytes > 2 * lim.maxQueuedBytes) {
      out.push({ t: 'count', what: 'queue_full_dropped' });
      return;
    }
    out.push({ t: 'count', what: 'queue_over_limit' });
    s.queue.push(d);
    s.queuedBytes += bytes;
    return;
  }
  while (s.queue.length >= lim.maxQueuedMessages || s.queuedBytes + bytes > lim.maxQueuedBytes) {
    if (lim.queueOverflow === 'drop-new') {
      out.push({ t: 'count', what: 'queue_full_dropped' });
      return;
    }
    const old = s.queue.shift()!;
    s.queuedBytes -= messageBytes(old.message);
    out.push({ t: 'count', what: 'queue_oldest_dropped' });
  }
  s.queue.push(d);
  s.queuedBytes += bytes;
}

function resend(s: Session, f: Inflight, out: Effect[], early = false): void {
  if (f.state === 'rel') emitControl(s, ControlType.PubRel, f.packetId, [0], out);
  else emitPublish(s, f, f.packetId, true, out, early);
}

/**
 * Moves held resends, then queued deliveries, into the window while the client is online.
 * `early` (an ack freed the window; never at CONNECT, whose CONNACK must go first): held
 * PUBLISH resends (their packet ids are stored) and QoS 1 messages from the stored queue may
 * leave before this turn's write. If this owner died before writing which packet id a queued
 * QoS 1 message went out with, the next owner sends it again from the queue under a new id:
 * a duplicate at most, which QoS 1 allows [MQTT-4.3.2]; never a loss. QoS 2 messages always
 * wait for the write: a second id for the same message would be delivered twice [MQTT-4.3.3].
 */
export function drain(st: ShardState, s: Session, now: number, out: Effect[], early = false): void {
  if (!s.conn) return;
  const win = windowOf(st, s);
  if (s.heldCount > 0) {
    for (const f of s.inflight.values()) {
      if (s.inflight.size - s.heldCount >= win) return;
      if (!f.held) continue;
      f.held = false;
      s.heldCount--;
      resend(s, f, out, early);
    }
  }
  while (s.queue.length > 0) {
    const d = s.queue.peek()!;
    if (d.qos > 0 && s.inflight.size >= win) return;
    s.queue.shift();
    s.queuedBytes -= messageBytes(d.message);
    if (expired(d.message, now)) {
      out.push({ t: 'count', what: 'expired_dropped' });
      continue;
    }
    sendNew(s, d, out, early && d.qos === 1);
  }
}

/**
 * After a reconnect with a kept session: resend unacknowledged PUBLISH (DUP set) and PUBREL
 * with their original packet ids, in order [MQTT-4.4.0-1], no more at once than the client's
 * new Receive Maximum allows [MQTT-3.3.4-9]; the rest follow as acks arrive. Then the queue.
 */
export function resendInflight(st: ShardState, s: Session, now: number, out: Effect[]): void {
  const win = windowOf(st, s);
  let sent = 0;
  s.heldCount = 0;
  for (const [id, f] of s.inflight) {
    if (f.state === 'pub' && tooLarge(s, f.message)) {
      s.inflight.delete(id);
      out.push({ t: 'count', what: 'too_large_dropped' });
      continue;
    }
    if (sent < win) {
      f.held = false;
      resend(s, f, out);
      sent++;
    } else {
      f.held = true;
      s.heldCount++;
    }
  }
  drain(st, s, now, out);
}

/** Removes an acknowledged inflight entry. */
export function release(s: Session, packetId: number): void {
  const f = s.inflight.get(packetId);
  if (!f) return;
  if (f.held) s.heldCount--;
  s.inflight.delete(packetId);
}

/**
 * QoS 1/2 messages a session got through a `$share` group and did not complete go back to the
 * group when the session ends [MQTT-4.8.2: "SHOULD send the Application Message to another
 * Client that is subscribed to the same Shared Subscription"]. PUBREL-stage ones were received.
 */
export function returnSharedDeliveries(s: Session, out: Effect[]): void {
  const back = (d: Delivery) => {
    if (d.group === undefined || d.qos === 0) return;
    out.push({ t: 'route', mountpoint: s.mountpoint, message: { ...d.message, retain: false }, group: d.group, exclude: s.key });
  };
  for (const f of s.inflight.values()) if (f.state === 'pub') back(f);
  for (const d of s.queue) back(d);
}

/** Empties the session's owed deliveries (clean start / session end). */
export function discardDeliveries(s: Session): void {
  s.inflight.clear();
  s.heldCount = 0;
  s.queue.clear();
  s.queuedBytes = 0;
  s.inboundQos2.clear();
}
