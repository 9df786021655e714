import { SubOp, type SubChange } from '../../../common/src/envelope/router.js';
import type { UnsubscribeEnv } from '../../../common/src/envelope/session-in.js';
import type { Continuation, Effect } from './effects.js';
import { emitPacket } from './outbound.js';
import { unsubackPacket } from './packets.js';
import type { ShardState } from './shard-state.js';

const RC_NO_SUBSCRIPTION = 0x11;

/** UNSUBSCRIBE: forget the filters, tell the routers, then UNSUBACK. Runs on the shard owner only. */
export function handleUnsubscribe(st: ShardState, e: UnsubscribeEnv, _now: number, out: Effect[]): void {
  const s = st.sessions.get(e.key);
  if (!s || s.epoch !== e.epoch || !s.conn) return;
  const codes: number[] = [];
  const changes: SubChange[] = [];
  for (const raw of e.filters) {
    const sub = s.subs.get(raw);
    if (!sub) {
      codes.push(RC_NO_SUBSCRIPTION); // [MQTT-3.10.4-5] still answered
      continue;
    }
    s.subs.delete(raw);
    codes.push(0);
    changes.push({ op: SubOp.Remove, key: s.key, mountpoint: s.mountpoint, filter: sub.filter, group: sub.group, qos: 0, noLocal: false, retainAsPublished: false, subId: 0 });
  }
  const then: Continuation = { kind: 'unsuback', key: s.key, incarnation: s.incarnation, epoch: e.epoch, packetId: e.packetId, codes };
  if (changes.length === 0) onUnsubscribeRouted(st, then, out);
  else out.push({ t: 'subs', batch: { changes, retainedFor: [] }, then });
}

export function onUnsubscribeRouted(st: ShardState, c: Extract<Continuation, { kind: 'unsuback' }>, out: Effect[]): void {
  const s = st.sessions.get(c.key);
  if (!s || s.incarnation !== c.incarnation || s.epoch !== c.epoch || !s.conn) return;
  emitPacket(s, unsubackPacket(c.packetId, c.codes, s.proto), out);
}
