import { type AckEnv, ControlType } from '../../../common/src/index.js';
import type { Effect } from './effects.js';
import { drain, emitControl, release } from './outbound.js';
import type { ShardState } from './shard-state.js';

const RC_PACKET_ID_NOT_FOUND = 0x92;

/**
 * PUBREC from the client for a QoS 2 delivery. The sender answers with PUBREL and from then
 * on never resends the PUBLISH [MQTT-4.3.3-4]; a PUBREC with a failure code ends the flow.
 * Shard owner only.
 */
export function handlePubRec(st: ShardState, e: AckEnv, now: number, out: Effect[]): void {
  const s = st.sessions.get(e.key);
  if (!s || s.epoch !== e.epoch || !s.conn) return;
  const f = s.inflight.get(e.packetId);
  if (!f || f.qos !== 2) {
    emitControl(s, ControlType.PubRel, e.packetId, [RC_PACKET_ID_NOT_FOUND], out);
    return;
  }
  if (e.rc >= 0x80) {
    release(s, e.packetId);
    drain(st, s, now, out);
    return;
  }
  if (f.held) {
    f.held = false;
    s.heldCount--;
  }
  f.state = 'rel';
  emitControl(s, ControlType.PubRel, e.packetId, [0], out);
}
