import { Writer, type Message, RingQueue } from '../../../common/src/index.js';
import type { Delivery, Inflight, Session, SessionSub } from '../core/session.js';
import { Rec, writeDeliveryRef, writeMeta, writeMsg, writeSub, type ReplayedShard } from './session-log-records.js';

/** What the log holds of one session: compared with the live session to find the change. */
interface Written {
  incarnation: number;
  meta: Buffer;
  subsVersion: number;
  subs: Map<string, SessionSub>;
  /** The queued deliveries the log holds, in order (the same objects as the live queue's). */
  queue: RingQueue<Delivery>;
  /** Per packet id: the entry object and the state/held flags last written. */
  inflight: Map<number, { f: Inflight; state: 'pub' | 'rel'; held: boolean }>;
}

/**
 * The change tracker of one shard's session log: remembers what the log holds of each
 * session and turns the sessions a turn touched into log records of what changed, in
 * O(change): queued deliveries are compared by identity from the head (FIFO: a prefix left,
 * a suffix arrived), inflight entries per packet id (the window is bounded), subscriptions
 * only when the session's subsVersion moved, and the meta fields as one small record when
 * their bytes differ. A message shared by several sessions is written once (Msg record) and
 * referenced by number. Pure: no I/O. Runs on the shard owner only.
 */
export class ShardLogChanges {
  private written = new Map<string, Written>();
  /** Messages the log holds, by object: written once, referenced by every session holding it. */
  private refs = new WeakMap<Message, number>();
  private nextRef = 1;

  /** Starts from what a replay of the log produced (the sessions' objects become the reference). */
  static fromReplay(r: ReplayedShard): ShardLogChanges {
    const c = new ShardLogChanges();
    c.nextRef = r.maxRef + 1;
    for (const [m, ref] of r.refs) c.refs.set(m, ref);
    const w = new Writer();
    for (const s of r.sessions.values()) c.remember(s, w);
    return c;
  }

  /**
   * Appends the records that bring the log from what it holds to the given sessions
   * (undefined: ended) into w. Afterwards the tracker assumes the log holds them: the caller
   * must write w's bytes (and retry the same bytes on failure) before anything else.
   */
  diff(w: Writer, key: string, s: Session | undefined): void {
    const old = this.written.get(key);
    if (!s) {
      if (!old) return;
      w.u8(Rec.Delete).str(key);
      this.written.delete(key);
      return;
    }
    if (!old || old.incarnation !== s.incarnation) {
      // A new session (or a new incarnation under the same key): the meta record starts it afresh.
      this.remember(s, w);
      return;
    }
    this.meta(w, s, old);
    if (old.subsVersion !== s.subsVersion) this.subs(w, s, old);
    this.inflight(w, s, old);
    this.queue(w, s, old);
  }

  /** Writes the whole shard as a snapshot body (the caller marks the batch as a snapshot). */
  snapshot(w: Writer, sessions: Iterable<Session>): void {
    this.written = new Map();
    this.refs = new WeakMap();
    this.nextRef = 1;
    for (const s of sessions) this.remember(s, w);
  }

  /** Sessions the log holds. */
  get size(): number {
    return this.written.size;
  }

  /** Writes a session in full (meta, subscriptions, inflight, queue) and remembers it. */
  private remember(s: Session, w: Writer): void {
    w.u8(Rec.Meta).str(s.key);
    const bodyStart = w.length;
    writeMeta(w, s);
    const o: Written = { incarnation: s.incarnation, meta: w.slice(bodyStart, w.length), subsVersion: s.subsVersion, subs: new Map(), queue: new RingQueue(), inflight: new Map() };
    this.written.set(s.key, o);
    for (const [asSent, sub] of s.subs) {
      writeSub(w, s.key, asSent, sub);
      o.subs.set(asSent, sub);
    }
    for (const f of s.inflight.values()) this.setInflight(w, s.key, f, o);
    for (const d of s.queue) this.enqueue(w, s.key, d, o);
  }

  private meta(w: Writer, s: Session, o: Written): void {
    const start = w.length;
    w.u8(Rec.Meta).str(s.key);
    const bodyStart = w.length;
    writeMeta(w, s);
    if (w.equals(bodyStart, o.meta)) w.truncate(start);
    else o.meta = w.slice(bodyStart, w.length);
  }

  private subs(w: Writer, s: Session, o: Written): void {
    for (const asSent of o.subs.keys()) {
      if (s.subs.has(asSent)) continue;
      w.u8(Rec.SubDel).str(s.key).str(asSent);
      o.subs.delete(asSent);
    }
    for (const [asSent, sub] of s.subs) {
      if (o.subs.get(asSent) === sub) continue;
      writeSub(w, s.key, asSent, sub);
      o.subs.set(asSent, sub);
    }
    o.subsVersion = s.subsVersion;
  }

  /**
   * Inflight entries kept their object keep their position in both maps; entries removed or
   * replaced are deleted first, then new and changed ones set in the live order, so a replay
   * rebuilds the same order (resends go out in it [MQTT-4.4.0-1]).
   */
  private inflight(w: Writer, s: Session, o: Written): void {
    for (const [id, x] of o.inflight) {
      if (s.inflight.get(id) === x.f) continue;
      w.u8(Rec.InflightDel).str(s.key).u16(id);
      o.inflight.delete(id);
    }
    for (const f of s.inflight.values()) {
      const x = o.inflight.get(f.packetId);
      if (x && x.state === f.state && x.held === (f.held === true)) continue;
      this.setInflight(w, s.key, f, o);
    }
  }

  private setInflight(w: Writer, key: string, f: Inflight, o: Written): void {
    const ref = this.ref(w, f.message, f.from);
    w.u8(Rec.InflightSet)
      .str(key)
      .u16(f.packetId)
      .u8((f.state === 'rel' ? 1 : 0) | (f.held ? 2 : 0));
    writeDeliveryRef(w, ref, f);
    o.inflight.set(f.packetId, { f, state: f.state, held: f.held === true });
  }

  /** FIFO: the log's queue minus a prefix is a prefix of the live queue; the rest is new. */
  private queue(w: Writer, s: Session, o: Written): void {
    const head = s.queue.peek();
    let gone = 0;
    while (o.queue.length > 0 && o.queue.peek() !== head) {
      o.queue.shift();
      gone++;
    }
    if (gone > 0) w.u8(Rec.Dequeue).str(s.key).u32(gone);
    for (let i = o.queue.length; i < s.queue.length; i++) this.enqueue(w, s.key, s.queue.at(i)!, o);
  }

  private enqueue(w: Writer, key: string, d: Delivery, o: Written): void {
    const ref = this.ref(w, d.message, d.from);
    w.u8(Rec.Enqueue).str(key);
    writeDeliveryRef(w, ref, d);
    o.queue.push(d);
  }

  /**
   * The message's ref, writing the message first if the log does not hold it yet, with the id
   * of the Deliver that brought it (one per message and shard: the router's ids are per route
   * and shard).
   */
  private ref(w: Writer, m: Message, from: string | undefined): number {
    let ref = this.refs.get(m);
    if (ref === undefined) {
      ref = this.nextRef++;
      this.refs.set(m, ref);
      writeMsg(w, ref, m, from);
    }
    return ref;
  }
}
