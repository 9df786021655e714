import type { Effect, TimerKind } from './effects.js';
import { endSession, publishWill } from './session-end.js';
import type { ShardState } from './shard-state.js';

/**
 * A Will Delay or session expiry deadline passed. Idempotent: the deadline stored in the
 * session decides, so a stale or duplicate timer does nothing (Wills fire exactly once).
 * Shard owner only.
 */
export function handleTimer(st: ShardState, key: string, kind: TimerKind, now: number, out: Effect[]): void {
  const s = st.sessions.get(key);
  if (!s || s.conn) return;
  if (kind === 'will') {
    if (s.willDueAt !== undefined && s.willDueAt <= now) publishWill(st, s, now, out);
    return;
  }
  if (s.expiresAt !== undefined && s.expiresAt <= now) {
    out.push({ t: 'count', what: 'session_expired' });
    endSession(st, s, now, out, 'expired');
  }
}
