import { SubOp, type SubChange, type UnsubscribeEnv, ControlType } from '../../../common/src/index.js';
import type { Continuation, Effect } from './effects.js';
import { emitControl } from './outbound.js';
import { setSub, type SessionSub } from './session.js';
import { removalOf, subChange } from './sub-changes.js';
import { touchFilter, type ShardState } from './shard-state.js';
import { emitEvent } from './client-event.js';

const RC_NO_SUBSCRIPTION = 0x11;
const RC_UNSPECIFIED = 0x80;

/** UNSUBSCRIBE: forget the filters, tell the routers, then UNSUBACK. Runs on the shard owner only. */
export function handleUnsubscribe(st: ShardState, e: UnsubscribeEnv, now: number, out: Effect[]): void {
  const s = st.sessions.get(e.key);
  if (!s || s.epoch !== e.epoch || !s.conn) return;
  const codes: number[] = [];
  const changes: SubChange[] = [];
  const removed: Array<SessionSub | undefined> = [];
  const tokens: number[] = [];
  for (const raw of e.filters) {
    const sub = s.subs.get(raw);
    removed.push(sub);
    if (!sub) {
      tokens.push(0);
      codes.push(RC_NO_SUBSCRIPTION); // [MQTT-3.10.4-5] still answered
      continue;
    }
    setSub(s, raw, undefined);
    tokens.push(touchFilter(st, s, raw));
    codes.push(0);
    changes.push(removalOf(s, sub));
  }
  const then: Continuation = { kind: 'unsuback', key: s.key, incarnation: s.incarnation, epoch: e.epoch, packetId: e.packetId, codes, filters: e.filters, removed, tokens };
  if (changes.length === 0) onUnsubscribeRouted(st, then, true, now, out);
  else out.push({ t: 'subs', batch: { changes, retainedFor: [] }, then });
}

/**
 * The routers answered the removal (ok) or could not be reached. Only filters no later
 * SUBSCRIBE/UNSUBSCRIBE touched are repaired. MQTT 5 can say it failed: those filters come
 * back into the session (and the index is told again) and UNSUBACK carries 0x80 for them, so
 * the client may retry. 3.1.1 UNSUBACK has no code: the client's intent stands, the session
 * keeps them forgotten and the removal is sent again. A session end clears the key anyway.
 */
export function onUnsubscribeRouted(st: ShardState, c: Extract<Continuation, { kind: 'unsuback' }>, ok: boolean, now: number, out: Effect[]): void {
  const s = st.sessions.get(c.key);
  if (!s || s.incarnation !== c.incarnation) return;
  let codes = c.codes;
  if (!ok) {
    const fix: SubChange[] = [];
    codes = [...c.codes];
    c.filters.forEach((raw, i) => {
      const prev = c.removed[i];
      if (!prev || s.subTouch?.get(raw) !== c.tokens[i]) return; // nothing removed, or changed since
      if (s.proto === 5) {
        setSub(s, raw, prev);
        s.subTouch.delete(raw);
        fix.push(subChange(SubOp.Add, s, prev));
        codes[i] = RC_UNSPECIFIED;
      } else fix.push(removalOf(s, prev));
    });
    if (fix.length > 0) out.push({ t: 'subs', batch: { changes: fix, retainedFor: [] } });
  }
  if (st.limits.emitEvents) {
    // What the session no longer holds: every removal on success; on failure only 3.1.1 keeps its removals.
    const filters = c.filters.filter((_f, i) => c.removed[i] !== undefined && (ok || s.proto !== 5));
    if (filters.length > 0) emitEvent(st, s, now, out, { type: 'client.unsubscribed', filters });
  }
  if (s.epoch !== c.epoch || !s.conn) return;
  emitControl(s, ControlType.UnsubAck, c.packetId, codes, out);
}
