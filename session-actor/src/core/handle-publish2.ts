import { ControlType, type Publish2Env } from '../../../common/src/index.js';
import type { Continuation, Effect } from './effects.js';
import { emitControl } from './outbound.js';
import { inboundQos2ToAdd } from './session.js';
import { closeConnection } from './session-end.js';
import type { ShardState } from './shard-state.js';

const RC_UNSPECIFIED = 0x80;
/** The router refused the message for good (its retained store is full). */
const RC_QUOTA_EXCEEDED = 0x97;

/**
 * An inbound QoS 2 PUBLISH, routed through the publisher's session for exactly-once:
 * a packet id not yet released is never forwarded twice [MQTT-4.3.3-9]. Shard owner only.
 */
export function handlePublish2(st: ShardState, e: Publish2Env, _now: number, out: Effect[]): void {
  const s = st.sessions.get(e.key);
  if (!s || s.epoch !== e.epoch || !s.conn) return;
  const state = s.inboundQos2.get(e.packetId);
  if (state === 'received') {
    emitControl(s, ControlType.PubRec, e.packetId, [0], out); // duplicate: acknowledge, do not forward
    return;
  }
  if (state === 'pending') return; // PUBREC goes out once the first copy is routed
  inboundQos2ToAdd(s).set(e.packetId, 'pending');
  const then: Continuation = { kind: 'pubrec', key: s.key, incarnation: s.incarnation, epoch: e.epoch, packetId: e.packetId };
  out.push({ t: 'route', mountpoint: s.mountpoint, message: e.message, then });
}

/** The router accepted (status < 0x80) or refused the QoS 2 message. Shard owner only. */
export function onPublish2Routed(st: ShardState, c: Extract<Continuation, { kind: 'pubrec' }>, status: number, out: Effect[]): void {
  const s = st.sessions.get(c.key);
  // Only the session that asked, and only while the id is still pending (not released since).
  if (!s || s.incarnation !== c.incarnation || s.inboundQos2.get(c.packetId) !== 'pending') return;
  // A refusal a resend cannot fix is, for 3.1.1 (no failure code), acknowledged as received
  // and dropped like an accepted message, so the client does not resend it forever.
  if (status >= 0x80 && !(status === RC_QUOTA_EXCEEDED && s.proto !== 5)) {
    s.inboundQos2.delete(c.packetId);
    // Answer on the session's current connection: a client that reconnected and resent while
    // this copy was routing was told nothing yet [MQTT-4.3.3].
    if (!s.conn) return;
    // 5.0 tells the publisher it failed (0x97 Quota exceeded, or 0x80); 3.1.1 has no code, so
    // close and let it resend.
    if (s.proto === 5) emitControl(s, ControlType.PubRec, c.packetId, [status === RC_QUOTA_EXCEEDED ? status : RC_UNSPECIFIED], out);
    else closeConnection(s, RC_UNSPECIFIED, out);
    return;
  }
  inboundQos2ToAdd(s).set(c.packetId, 'received');
  // The packet id is session state: answer on whichever connection the session has now
  // (a client that reconnected resent the PUBLISH while this copy was being routed).
  if (!s.conn) return;
  emitControl(s, ControlType.PubRec, c.packetId, [status], out);
}
