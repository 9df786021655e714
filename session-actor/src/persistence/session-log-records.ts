import { EnvelopeError, Reader, type Writer, messageBytes, readMessage, writeMessage, type Message, type QoS, type ProtocolVersion } from '../../../common/src/index.js';
import { createSession, inboundQos2ToAdd, inflightToAdd, subsToAdd, type Delivery, type Inflight, type Session, type SessionSub } from '../core/session.js';

/**
 * Records of a shard's session log (docs/sharding.md, "Session log"). Each record is one
 * change, and none grows with a session's queue or subscription count: a message is stored
 * once per shard (MSG) and referenced by number from every queue entry and inflight entry
 * that holds it. Pure: encoding and replay, no I/O. Session actors and test support.
 *
 * Record layout: u8 type, then the fields below. Strings are u16-length-prefixed UTF-8.
 */
export const Rec = {
  /** key, meta fields (everything of a session but subscriptions, inflight and queue). */
  Meta: 1,
  /** key: the session ended. */
  Delete: 2,
  /** key, filter as sent, subscription. */
  SubSet: 3,
  /** key, filter as sent. */
  SubDel: 4,
  /** ref (u32), message: a message stored once for the shard. */
  Msg: 5,
  /** key, ref, delivery options: appended to the session's queue. */
  Enqueue: 6,
  /** key, count (u32): that many taken from the head of the queue (sent, dropped or cleared). */
  Dequeue: 7,
  /** key, packet id, state, ref, delivery options: an inflight entry set (added or changed). */
  InflightSet: 8,
  /** key, packet id. */
  InflightDel: 9,
  /**
   * ref (u32), Deliver id, message: a message stored once for the shard, brought by the
   * router's Deliver of that id (Delivery.from). A reader that predates it fails the load.
   */
  MsgFrom: 10,
} as const;

/** Batch header flags (first byte of every log entry). */
export const Batch = {
  First: 1,
  Last: 2,
  /** The batch is a full snapshot: replay starts from an empty shard. */
  Snapshot: 4,
} as const;

const F_CONN = 1;
const F_WILL = 2;
const F_WILL_DUE = 4;
const F_EXPIRES = 8;
const F_EVER_SUBSCRIBED = 16;

/** The session's meta record body (after the type and key). */
export function writeMeta(w: Writer, s: Session): void {
  let flags = 0;
  if (s.conn) flags |= F_CONN;
  if (s.will) flags |= F_WILL;
  if (s.willDueAt !== undefined) flags |= F_WILL_DUE;
  if (s.expiresAt !== undefined) flags |= F_EXPIRES;
  if (s.everSubscribed) flags |= F_EVER_SUBSCRIBED;
  w.u8(flags).str(s.mountpoint).str(s.clientId).u8(s.proto).u32(s.incarnation).u32(s.epoch);
  if (s.conn) w.str(s.conn.gateway).u32(s.conn.connId);
  w.u32(s.expiryS).u16(s.nextPacketId).u16(s.receiveMaximum).u32(s.maxPacketBytes);
  if (s.will) {
    w.u32(s.will.delayS);
    writeMessage(w, s.will.message);
  }
  if (s.willDueAt !== undefined) w.f64(s.willDueAt);
  if (s.expiresAt !== undefined) w.f64(s.expiresAt);
  // Only 'received' ids are kept: a 'pending' one was being routed when the state was
  // written; the next owner lets the client's resend route it again (at least once).
  let received = 0;
  for (const st of s.inboundQos2.values()) if (st === 'received') received++;
  w.u16(received);
  for (const [id, st] of s.inboundQos2) if (st === 'received') w.u16(id);
}

export function writeSub(w: Writer, key: string, asSent: string, sub: SessionSub): void {
  w.u8(Rec.SubSet)
    .str(key)
    .str(asSent)
    .str(sub.filter)
    .str(sub.group ?? '');
  w.u8(sub.qos | (sub.noLocal ? 4 : 0) | (sub.retainAsPublished ? 8 : 0) | (sub.retainHandling << 4));
  w.u32(sub.subId);
}

export function writeDeliveryRef(w: Writer, ref: number, d: Delivery): void {
  w.u32(ref)
    .u8(d.qos | (d.retain ? 4 : 0) | (d.group !== undefined ? 8 : 0))
    .u16(d.subIds.length);
  for (const id of d.subIds) w.u32(id);
  if (d.group !== undefined) w.str(d.group);
}

export function writeMsg(w: Writer, ref: number, m: Message, from: string | undefined): void {
  if (from === undefined) w.u8(Rec.Msg).u32(ref);
  else w.u8(Rec.MsgFrom).u32(ref).str(from);
  writeMessage(w, m);
}

/** What replaying a shard's log yields. */
export interface ReplayedShard {
  sessions: Map<string, Session>;
  /** Message refs of the messages still referenced, for the store's store-once table. */
  refs: Map<Message, number>;
  /** Highest message ref seen (new refs continue above it). */
  maxRef: number;
}

/**
 * Replays log entries of one shard, in order. Records of a batch apply only once its last
 * entry is seen (a batch cut short by a crash is ignored); a snapshot batch replaces the
 * whole state. Callers feed every entry of the shard's subject and then call finish().
 */
export class ShardReplay {
  private sessions = new Map<string, Session>();
  private msgs = new Map<number, Message>();
  /** The Deliver id each message ref was written with (MsgFrom), set on its deliveries. */
  private froms = new Map<number, string>();
  private maxRef = 0;
  private open: Uint8Array[] = [];
  private openFlags = 0;

  /** One log entry: flags at data[0], the body from bodyStart on (the store puts a header between). */
  entry(data: Uint8Array, bodyStart = 1): void {
    if (data.length === 0) return;
    const flags = data[0]!;
    if (flags & Batch.First) {
      this.open = []; // an earlier batch that never got its last entry is dropped
      this.openFlags = flags;
    } else if (this.open.length === 0) return; // continuation of a batch whose start was purged or lost
    this.open.push(data.subarray(bodyStart));
    if (!(flags & Batch.Last)) return;
    const parts = this.open;
    this.open = [];
    const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (this.openFlags & Batch.Snapshot) {
      this.sessions = new Map();
      this.msgs = new Map();
      this.froms = new Map();
    }
    this.apply(body);
  }

  finish(): ReplayedShard {
    const refs = new Map<Message, number>();
    for (const [ref, m] of this.msgs) refs.set(m, ref);
    const used = new Set<Message>();
    for (const s of this.sessions.values()) {
      for (const f of s.inflight.values()) used.add(f.message);
      for (const d of s.queue) used.add(d.message);
    }
    for (const m of refs.keys()) if (!used.has(m)) refs.delete(m);
    return { sessions: this.sessions, refs, maxRef: this.maxRef };
  }

  private apply(body: Uint8Array): void {
    const r = new Reader(body);
    while (!r.done) {
      const type = r.u8();
      if (type === Rec.Msg || type === Rec.MsgFrom) {
        const ref = r.u32();
        if (type === Rec.MsgFrom) this.froms.set(ref, r.str());
        else this.froms.delete(ref);
        const m = readMessage(r);
        m.payload = Buffer.from(m.payload); // the entry's buffer is not kept
        this.msgs.set(ref, m);
        if (ref > this.maxRef) this.maxRef = ref;
        continue;
      }
      const key = r.str();
      switch (type) {
        case Rec.Meta:
          this.meta(r, key);
          break;
        case Rec.Delete:
          this.sessions.delete(key);
          break;
        case Rec.SubSet: {
          const asSent = r.str();
          const filter = r.str();
          const group = r.str();
          const o = r.u8();
          const subId = r.u32();
          const sub: SessionSub = { filter, qos: (o & 3) as QoS, noLocal: (o & 4) !== 0, retainAsPublished: (o & 8) !== 0, retainHandling: ((o >> 4) & 3) as 0 | 1 | 2, subId };
          if (group !== '') sub.group = group;
          const into = this.session(key);
          if (into) subsToAdd(into).set(asSent, sub);
          break;
        }
        case Rec.SubDel: {
          const asSent = r.str();
          this.session(key)?.subs.delete(asSent);
          break;
        }
        case Rec.Enqueue: {
          const d = this.delivery(r);
          const s = this.session(key);
          if (s && d) {
            s.queue.push(d);
            s.queuedBytes += messageBytes(d.message);
          }
          break;
        }
        case Rec.Dequeue: {
          let n = r.u32();
          const s = this.session(key);
          while (s && n-- > 0 && s.queue.length > 0) s.queuedBytes -= messageBytes(s.queue.shift()!.message);
          break;
        }
        case Rec.InflightSet: {
          const packetId = r.u16();
          if (packetId === 0) throw new EnvelopeError('inflight packet id 0 [MQTT-2.2.1-3]');
          const o = r.u8();
          const d = this.delivery(r);
          const s = this.session(key);
          if (!s || !d) break;
          const old = s.inflight.get(packetId);
          if (old?.held) s.heldCount--;
          const f: Inflight = { ...d, packetId, state: o & 1 ? 'rel' : 'pub' };
          if (o & 2) {
            f.held = true;
            s.heldCount++;
          }
          inflightToAdd(s).set(packetId, f);
          break;
        }
        case Rec.InflightDel: {
          const packetId = r.u16();
          const s = this.session(key);
          const old = s?.inflight.get(packetId);
          if (!s || !old) break;
          if (old.held) s.heldCount--;
          s.inflight.delete(packetId);
          break;
        }
        default:
          throw new EnvelopeError(`unknown session log record ${type}`);
      }
    }
  }

  private session(key: string): Session | undefined {
    return this.sessions.get(key);
  }

  private delivery(r: Reader): Delivery | undefined {
    const ref = r.u32();
    const f = r.u8();
    const n = r.u16();
    const subIds: number[] = [];
    for (let i = 0; i < n; i++) subIds.push(r.u32());
    const group = f & 8 ? r.str() : undefined;
    const message = this.msgs.get(ref);
    if (!message) return undefined; // cannot happen in a well-formed log: MSG precedes its refs
    const d: Delivery = { qos: (f & 3) as QoS, retain: (f & 4) !== 0, subIds, message };
    if (group !== undefined) d.group = group;
    const from = this.froms.get(ref);
    if (from !== undefined) d.from = from;
    return d;
  }

  /** A meta record: updates the session, or starts it afresh when its incarnation changed. */
  private meta(r: Reader, key: string): void {
    const flags = r.u8();
    const mountpoint = r.str();
    const clientId = r.str();
    const proto = r.u8() as ProtocolVersion;
    const incarnation = r.u32();
    let s = this.sessions.get(key);
    if (!s || s.incarnation !== incarnation) {
      s = createSession(key, mountpoint, clientId, proto, incarnation);
      this.sessions.set(key, s);
    }
    s.proto = proto;
    s.epoch = r.u32();
    if (flags & F_CONN) s.conn = { gateway: r.str(), connId: r.u32() };
    else delete s.conn;
    s.expiryS = r.u32();
    s.nextPacketId = r.u16();
    s.receiveMaximum = r.u16();
    s.maxPacketBytes = r.u32();
    if (flags & F_WILL) {
      const delayS = r.u32();
      const message = readMessage(r);
      message.payload = Buffer.from(message.payload);
      s.will = { delayS, message };
    } else delete s.will;
    if (flags & F_WILL_DUE) s.willDueAt = r.f64();
    else delete s.willDueAt;
    if (flags & F_EXPIRES) s.expiresAt = r.f64();
    else delete s.expiresAt;
    if (flags & F_EVER_SUBSCRIBED) s.everSubscribed = true;
    s.inboundQos2.clear();
    const n = r.u16();
    for (let i = 0; i < n; i++) inboundQos2ToAdd(s).set(r.u16(), 'received');
  }
}
