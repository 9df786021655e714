import { type AckEnv, ControlType } from '../../../common/src/index.js';
import type { Effect } from './effects.js';
import { emitControl } from './outbound.js';
import type { ShardState } from './shard-state.js';

const RC_PACKET_ID_NOT_FOUND = 0x92;

/** PUBREL from the publisher: release the packet id and answer PUBCOMP [MQTT-4.3.3-11]. Shard owner only. */
export function handlePubRel(st: ShardState, e: AckEnv, _now: number, out: Effect[]): void {
  const s = st.sessions.get(e.key);
  if (!s || s.epoch !== e.epoch || !s.conn) return;
  const known = s.inboundQos2.delete(e.packetId);
  emitControl(s, ControlType.PubComp, e.packetId, [known ? 0 : RC_PACKET_ID_NOT_FOUND], out);
}
