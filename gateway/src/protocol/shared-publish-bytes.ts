import type { PublishItem } from '../../../common/src/index.js';
import type { ConnState } from './conn-state.js';
import { plainPublishBytes, writePlainPublish } from './encode-publish.js';
import type { TurnOutput } from './turn-output.js';
import { byteView } from './byte-view.js';

/**
 * Writes QoS 0 deliveries with nothing per connection in the packet (no packet id, no
 * Subscription Identifier, no topic alias, no Message Expiry that counts down, 3.1.1 or 5.0
 * without properties), encoding each message once for every connection that gets it. A message
 * fanned out to many subscribers reaches the gateway as one item per connection (the owners
 * batch them per gateway and turn, so they arrive together); those items encode to the same
 * bytes, and the same bytes go to every socket instead of an encoding each.
 *
 * Remembers where the last message encoded is; a message equal in topic, payload and flags (the
 * same message delivered through several shard owners arrives as separate copies) reuses those
 * bytes: queued as they are on a connection without a turn region, copied into the region of one
 * that has one. A message not held is encoded straight into the connection's turn region when it
 * has one (a fan-in: one subscriber gets every message), else into a Buffer of its own. Either
 * way the bytes are never modified after encoding (bytes queued in a turn region are never
 * written again: connection.ts), so holding and sharing them is safe. Gateway only.
 */
export class SharedPublishBytes {
  private topic = '';
  /** Buffer.byteLength(topic). */
  private topicBytes = 0;
  private payload: Buffer | undefined;
  /** dup | retain << 1 | v5 << 2 of the bytes held, -1 when none. */
  private flags = -1;
  /** The bytes held: `heldLen` bytes at `heldAt` of `held` (a Buffer of their own, or a connection's turn buffer). */
  private held: Buffer | undefined;
  private heldAt = 0;
  private heldLen = 0;

  /**
   * Queues the delivery on `out`. Returns undefined when it is not one for shared bytes (the
   * caller encodes it for the connection alone), false when it is larger than the client's
   * Maximum Packet Size (not queued) [MQTT-3.1.2-24] (5.0), true when queued.
   */
  write(c: ConnState, it: PublishItem, out: TurnOutput): boolean | undefined {
    if (it.qos !== 0) return undefined; // a packet id per connection
    const m = it.message;
    const v5 = c.proto === 5;
    if (v5 && (m.props !== undefined || it.subIds.length > 0 || c.clientAliasMax > 0)) return undefined;
    const flags = (it.dup ? 1 : 0) | (it.retain ? 2 : 0) | (v5 ? 4 : 0);
    const max = c.clientMaxPacketBytes;
    const held = this.payload;
    if (this.held !== undefined && flags === this.flags && m.topic === this.topic && held !== undefined && samePayload(m.payload, held)) {
      const n = this.heldLen;
      if (max !== 0 && n > max) return false;
      const buf = out.queuedBytes === 0 ? undefined : out.room(n);
      const bytes = this.whole();
      if (buf === undefined) out.write(bytes);
      else {
        buf.set(bytes, out.outEnd);
        out.committed(n);
      }
      return true;
    }
    // A fan-in's messages come in runs from one publisher: its topic's length is known then.
    const topicBytes = m.topic === this.topic ? this.topicBytes : Buffer.byteLength(m.topic);
    const n = plainPublishBytes(topicBytes, m.payload.length, 0, v5);
    if (max !== 0 && n > max) return false;
    const buf = out.queuedBytes === 0 ? undefined : out.room(n);
    this.topic = m.topic;
    this.topicBytes = topicBytes;
    this.payload = m.payload;
    this.flags = flags;
    this.heldLen = n;
    if (buf === undefined) {
      const own = Buffer.allocUnsafe(n);
      writePlainPublish(own, 0, m.topic, topicBytes, m.payload, 0, 0, it.dup, it.retain, v5);
      this.held = own;
      this.heldAt = 0;
      out.write(own);
    } else {
      const at = out.outEnd;
      writePlainPublish(buf, at, m.topic, topicBytes, m.payload, 0, 0, it.dup, it.retain, v5);
      this.held = buf;
      this.heldAt = at;
      out.committed(n);
    }
    return true;
  }

  /** The bytes held as a Buffer of their own (a view of the turn buffer they were encoded in, made once). */
  private whole(): Buffer {
    const b = this.held!;
    if (this.heldAt === 0 && this.heldLen === b.length) return b;
    const view = byteView(b, this.heldAt, this.heldLen);
    this.held = view;
    this.heldAt = 0;
    return view;
  }
}

/** Above this, payloads are compared natively (Buffer.equals); below, a loop is cheaper than the call. */
const NATIVE_COMPARE_BYTES = 256;

/**
 * Equal bytes. Messages of a fan-in are all different, and usually of one length: a short loop
 * stops at their first difference (a sequence number near the start) without Buffer.equals' native call.
 */
function samePayload(a: Buffer, b: Buffer): boolean {
  if (a === b) return true;
  const n = a.length;
  if (n !== b.length) return false;
  if (n > NATIVE_COMPARE_BYTES) return a.equals(b);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}
