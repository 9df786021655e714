import type { PublishItem } from '../../../common/src/index.js';
import type { ConnState } from './conn-state.js';
import { encodePlainPublish } from './encode-publish.js';

/**
 * One encoded PUBLISH for every connection that gets identical bytes. A message fanned out to
 * many subscribers reaches the gateway as one item per connection (the owners batch them per
 * gateway and turn, so they arrive together); at QoS 0 with nothing per connection in the
 * packet (no packet id, no Subscription Identifier, no topic alias, no Message Expiry that
 * counts down, 3.1.1 or 5.0 without properties) those items encode to the same bytes, and the
 * same Buffer is written to every socket instead of one copy each.
 *
 * Remembers the last message encoded; a message equal in topic, payload and flags (the same
 * message delivered through several shard owners arrives as separate copies) reuses its bytes.
 * Gateway only; the bytes are never modified after encoding, so sharing them is safe.
 */
export class SharedPublishBytes {
  private topic = '';
  private payload: Buffer | undefined;
  /** dup | retain << 1 | v5 << 2 of the bytes held, -1 when none. */
  private flags = -1;
  private bytes: Buffer | undefined;

  /** Bytes shared with other connections, or undefined when this delivery is encoded for its connection alone. */
  get(c: ConnState, it: PublishItem): Buffer | undefined {
    if (it.qos !== 0) return undefined; // a packet id per connection
    const m = it.message;
    const v5 = c.proto === 5;
    if (v5 && (m.props !== undefined || it.subIds.length > 0 || c.clientAliasMax > 0)) return undefined;
    const flags = (it.dup ? 1 : 0) | (it.retain ? 2 : 0) | (v5 ? 4 : 0);
    const held = this.payload;
    if (this.bytes !== undefined && flags === this.flags && m.topic === this.topic && held !== undefined && samePayload(m.payload, held)) return this.bytes;
    this.bytes = encodePlainPublish(m.topic, m.payload, 0, 0, it.dup, it.retain, v5);
    this.topic = m.topic;
    this.payload = m.payload;
    this.flags = flags;
    return this.bytes;
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
