import type { DisconnectReason, OwnerClientEvent, SessionEndReason } from '../../../common/src/index.js';
import type { Effect } from './effects.js';
import type { Session } from './session.js';
import type { ShardState } from './shard-state.js';

/**
 * Client lifecycle events (docs/integration.md) as effects of the turn that made the fact:
 * the runner publishes them only after the turn's write was acknowledged (write before
 * acknowledge), so a crash never announces a fact the next owner does not know, and they
 * leave once, from the shard owner. Runs on the shard owner only; nothing is built while
 * events.enabled is off.
 */

/**
 * The next event epoch of this shard: at least `now` (ms) and greater than any it gave out
 * (a hybrid logical clock), so one client's events order by it across its connections and,
 * clocks permitting, across owners (a new owner starts from its own clock).
 */
export function nextEventEpoch(st: ShardState, now: number): number {
  const e = now > st.eventClock ? now : st.eventClock + 1;
  st.eventClock = e;
  return e;
}

type Body<T> = T extends OwnerClientEvent ? Omit<T, 'ts' | 'epoch' | 'mountpoint' | 'clientId'> : never;

/** Pushes one event about session s (no-op while events are off). */
export function emitEvent(st: ShardState, s: Session, now: number, out: Effect[], body: Body<OwnerClientEvent>): void {
  if (!st.limits.emitEvents) return;
  const event = { ...body, ts: now, epoch: nextEventEpoch(st, now), mountpoint: s.mountpoint, clientId: s.clientId } as OwnerClientEvent;
  out.push({ t: 'event', event });
}

export function emitDisconnected(st: ShardState, s: Session, now: number, out: Effect[], reason: DisconnectReason, reasonCode?: number): void {
  if (!st.limits.emitEvents) return;
  emitEvent(st, s, now, out, reasonCode === undefined ? { type: 'client.disconnected', reason } : { type: 'client.disconnected', reason, reasonCode });
}

export function emitSessionEnded(st: ShardState, s: Session, now: number, out: Effect[], reason: SessionEndReason): void {
  emitEvent(st, s, now, out, { type: 'session.ended', reason });
}
