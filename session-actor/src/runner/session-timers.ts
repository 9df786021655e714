import type { TimerKind } from '../core/effects.js';

/** setTimeout's longest delay; longer deadlines are re-armed when the first timer fires. */
const MAX_DELAY_MS = 0x7fffffff;

/**
 * The Will and expiry timers of the sessions a process serves: one per session and kind,
 * at an absolute deadline (a new owner re-arms the stored deadlines, so no time is lost).
 * The runner decides what a firing does. Runs on the shard owner.
 */
export class SessionTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly now: () => number) {}

  /** Arms (replacing) the session's timer of that kind; at = undefined only cancels it. */
  set(key: string, kind: TimerKind, at: number | undefined, fire: () => void): void {
    this.clear(key, kind);
    if (at === undefined) return;
    const id = timerId(key, kind);
    const delay = Math.max(0, at - this.now());
    const t = setTimeout(
      () => {
        this.timers.delete(id);
        fire();
      },
      Math.min(delay, MAX_DELAY_MS),
    );
    t.unref();
    this.timers.set(id, t);
  }

  clear(key: string, kind: TimerKind): void {
    const id = timerId(key, kind);
    const old = this.timers.get(id);
    if (old) clearTimeout(old);
    this.timers.delete(id);
  }

  has(key: string, kind: TimerKind): boolean {
    return this.timers.has(timerId(key, kind));
  }

  clearAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

function timerId(key: string, kind: TimerKind): string {
  return `${kind}\u0000${key}`;
}
