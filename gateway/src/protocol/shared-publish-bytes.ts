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
    if (this.bytes !== undefined && flags === this.flags && m.topic === this.topic && held !== undefined && (m.payload === held || m.payload.equals(held))) return this.bytes;
    this.bytes = encodePlainPublish(m.topic, m.payload, 0, 0, it.dup, it.retain, v5);
    this.topic = m.topic;
    this.payload = m.payload;
    this.flags = flags;
    return this.bytes;
  }
}
