import type { AckEnv } from '../../../common/src/index.js';
import type { Effect } from './effects.js';
import { drain, release } from './outbound.js';
import type { ShardState } from './shard-state.js';

/** PUBCOMP from the client: the QoS 2 delivery is complete, the packet id is free. Shard owner only. */
export function handlePubComp(st: ShardState, e: AckEnv, now: number, out: Effect[]): void {
  const s = st.sessions.get(e.key);
  if (!s || s.epoch !== e.epoch) return;
  const f = s.inflight.get(e.packetId);
  if (!f || f.state !== 'rel') return;
  release(s, e.packetId);
  drain(st, s, now, out, true); // an ack freed the window: early sends (outbound.ts)
}
