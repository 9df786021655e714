import type { PublishDroppedEnv } from '../../../common/src/index.js';
import type { Effect } from './effects.js';
import { drain, release } from './outbound.js';
import type { ShardState } from './shard-state.js';

/**
 * The gateway did not send a QoS 1/2 PUBLISH: its exact encoded size exceeds the client's
 * Maximum Packet Size. The Server discards it "and then behave[s] as if it had completed sending
 * that Application Message" [MQTT-3.1.2-25] (5.0): the packet id is freed as on PUBACK/PUBCOMP
 * (never resent) and the drop counted. Only a PUBLISH not yet acknowledged in any way (state
 * 'pub') is released: a duplicate or late notice changes nothing. Shard owner only.
 */
export function handlePublishDropped(st: ShardState, e: PublishDroppedEnv, now: number, out: Effect[]): void {
  const s = st.sessions.get(e.key);
  if (!s || s.epoch !== e.epoch) return;
  const f = s.inflight.get(e.packetId);
  if (!f || f.state !== 'pub') return;
  release(s, e.packetId);
  out.push({ t: 'count', what: 'too_large_dropped' });
  drain(st, s, now, out, true); // an ack freed the window: early sends (outbound.ts)
}
