import { deliveredQos, deliveredRetain, type DeliverEnv } from '../../../common/src/index.js';
import type { Effect } from './effects.js';
import { deliver } from './outbound.js';
import type { ShardState } from './shard-state.js';

/**
 * A routed message for sessions of this shard. The delivered QoS is the lower of the
 * message's and the subscription's [MQTT-3.8.4-8]; RETAIN is kept only with Retain As
 * Published [MQTT-3.3.1-12/13] (common/src/delivery-rules.ts, shared with the router's QoS 0
 * direct path). Shard owner only.
 */
export function handleDeliver(st: ShardState, e: DeliverEnv, now: number, out: Effect[]): void {
  const m = e.message;
  for (const t of e.targets) {
    const s = st.sessions.get(t.key);
    if (!s) continue; // the session ended after the router matched it
    deliver(st, s, m, deliveredQos(t.qos, m.qos), deliveredRetain(t.retainAsPublished, m.retain), t.subIds, now, out, t.group, e.id);
  }
}
