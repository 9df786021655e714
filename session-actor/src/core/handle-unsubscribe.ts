import { SubOp, type SubChange } from '../../../common/src/envelope/router.js';
import type { UnsubscribeEnv } from '../../../common/src/envelope/session-in.js';
import type { Continuation, Effect } from './effects.js';
import { emitPacket } from './outbound.js';
import { unsubackPacket } from './packets.js';
import type { SessionSub } from './session.js';
import type { ShardState } from './shard-state.js';

const RC_NO_SUBSCRIPTION = 0x11;
const RC_UNSPECIFIED = 0x80;

/** UNSUBSCRIBE: forget the filters, tell the routers, then UNSUBACK. Runs on the shard owner only. */
export function handleUnsubscribe(st: ShardState, e: UnsubscribeEnv, _now: number, out: Effect[]): void {
  const s = st.sessions.get(e.key);
  if (!s || s.epoch !== e.epoch || !s.conn) return;
  const codes: number[] = [];
  const changes: SubChange[] = [];
  const removed: Array<SessionSub | undefined> = [];
  for (const raw of e.filters) {
    const sub = s.subs.get(raw);
    removed.push(sub);
    if (!sub) {
      codes.push(RC_NO_SUBSCRIPTION); // [MQTT-3.10.4-5] still answered
      continue;
    }
    s.subs.delete(raw);
    codes.push(0);
    changes.push({ op: SubOp.Remove, key: s.key, mountpoint: s.mountpoint, filter: sub.filter, group: sub.group, qos: 0, noLocal: false, retainAsPublished: false, subId: 0 });
  }
  const then: Continuation = { kind: 'unsuback', key: s.key, incarnation: s.incarnation, epoch: e.epoch, packetId: e.packetId, codes, changes, filters: e.filters, removed };
  if (changes.length === 0) onUnsubscribeRouted(st, then, true, out);
  else out.push({ t: 'subs', batch: { changes, retainedFor: [] }, then });
}

/**
 * The routers answered the removal (ok) or could not be reached. MQTT 5 can say so: the
 * filters come back into the session (and the index is told again) and UNSUBACK carries 0x80
 * for them, so the client may retry. 3.1.1 UNSUBACK has no code: the client's intent stands,
 * the session keeps the filters forgotten and the removal is sent to the routers again.
 * A session end clears the key from the index in any case.
 */
export function onUnsubscribeRouted(st: ShardState, c: Extract<Continuation, { kind: 'unsuback' }>, ok: boolean, out: Effect[]): void {
  const s = st.sessions.get(c.key);
  if (!s || s.incarnation !== c.incarnation) return;
  let codes = c.codes;
  if (!ok && c.changes.length > 0) {
    if (s.proto === 5) {
      const back: SubChange[] = [];
      codes = [...c.codes];
      for (const ch of c.changes) {
        const raw = ch.group !== undefined ? `$share/${ch.group}/${ch.filter}` : ch.filter;
        if (s.subs.has(raw)) continue; // subscribed again since: that state wins
        const i = c.filters.indexOf(raw);
        const prev = c.removed[i];
        if (!prev) continue;
        s.subs.set(raw, prev);
        back.push({ ...ch, op: SubOp.Add, qos: prev.qos, noLocal: prev.noLocal, retainAsPublished: prev.retainAsPublished, subId: prev.subId });
        if (i >= 0) codes[i] = RC_UNSPECIFIED;
      }
      if (back.length > 0) out.push({ t: 'subs', batch: { changes: back, retainedFor: [] } });
    } else out.push({ t: 'subs', batch: { changes: c.changes, retainedFor: [] } });
  }
  if (s.epoch !== c.epoch || !s.conn) return;
  emitPacket(s, unsubackPacket(c.packetId, codes, s.proto), out);
}
