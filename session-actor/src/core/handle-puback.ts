import type { AckEnv } from '../../../common/src/index.js';
import type { Effect } from './effects.js';
import { drain, release } from './outbound.js';
import type { ShardState } from './shard-state.js';

/** PUBACK from the client for a QoS 1 delivery: frees the packet id [MQTT-4.3.2]. Shard owner only. */
export function handlePubAck(st: ShardState, e: AckEnv, now: number, out: Effect[]): void {
  const s = st.sessions.get(e.key);
  if (!s || s.epoch !== e.epoch) return;
  const f = s.inflight.get(e.packetId);
  if (!f || f.qos !== 1) return;
  release(s, e.packetId);
  drain(st, s, now, out, true); // an ack freed the window: early sends (outbound.ts)
}
