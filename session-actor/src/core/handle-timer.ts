import type { Effect, TimerKind } from './effects.js';
import { endSession, publishWill } from './session-end.js';
import type { ShardState } from './shard-state.js';

/**
 * A Will Delay or session expiry deadline passed. Idempotent: the deadline stored in the
 * session decides, so a stale or duplicate timer does nothing (Wills fire exactly once).
 * A timer that fires before its deadline re-arms it here, judged with the same `now`: Node
 * runs timers on the event loop's cached clock, which can be a millisecond (more under load)
 * ahead of the wall clock the deadline was set with, and deadlines beyond setTimeout's range
 * fire early by design. Deciding "early" with a second clock read elsewhere lost Wills when
 * the millisecond ticked in between. Shard owner only.
 */
export function handleTimer(st: ShardState, key: string, kind: TimerKind, now: number, out: Effect[]): void {
  const s = st.sessions.get(key);
  if (!s || s.conn) return;
  if (kind === 'will') {
    if (s.willDueAt === undefined) return;
    // [MQTT-3.1.3-9] not before the Will Delay Interval has passed.
    if (s.willDueAt <= now) publishWill(st, s, now, out);
    else out.push({ t: 'timer', key, kind, at: s.willDueAt });
    return;
  }
  if (s.expiresAt === undefined) return;
  if (s.expiresAt <= now) {
    out.push({ t: 'count', what: 'session_expired' });
    endSession(st, s, now, out, 'expired');
  } else out.push({ t: 'timer', key, kind, at: s.expiresAt });
}
