import { atTurnEnd, BACKOFF, sleepBeforeRetry } from '../../../common/src/index.js';
import type { Effect } from '../core/effects.js';
import { FencedError } from '../persistence/session-store.js';

/** Turns that only free a window slot are written within this long (or with the next write). */
export const LAZY_WRITE_MS = 100;

/** What the rule needs from the runner for one shard. */
export interface ShardWriteHooks {
  /** Writes what changed in these sessions durably (rejects FencedError, or transiently). */
  write(keys: string[]): Promise<void>;
  /** Whether this process may still write the shard (its lease is valid). */
  mayWrite(): boolean;
  /** The shard is lost (lease expired, or another owner wrote it): stop serving it. */
  lose(why: 'lease' | 'fenced'): void;
  /** Performs what waited for a write: effects, then replies (acknowledgements). */
  release(effects: Effect[], replies: Array<() => void>): void;
  /** A transient write failure (retried). */
  failed(err: Error, failures: number): void;
}

/**
 * Write before acknowledge, for one shard: every turn marks the sessions it changed; once
 * per event-loop turn they are written (one write in flight per shard; later turns coalesce
 * into the next), and only after that write is acknowledged does what the turns produced
 * leave the process: PUBLISH/PUBREL/SUBACK to gateways, the Deliver acknowledgement to the
 * router (which gates the publisher's PUBACK), CONNACK fields, Wills, subscription changes.
 * So an acknowledged QoS 1/2 message is stored in every matching session, and a device never
 * receives a PUBLISH the next owner does not know about. Runs on the shard owner only.
 */
export class WriteBeforeAcknowledge {
  private readonly dirty = new Set<string>();
  /**
   * Sessions changed by turns nothing outside waits for (a PUBACK/PUBCOMP that released a
   * window slot and sent nothing): written with the shard's next write, or after
   * LAZY_WRITE_MS. Losing such a write in a crash only makes the next owner resend with DUP.
   */
  private readonly lazy = new Set<string>();
  private lazyTimer?: NodeJS.Timeout;
  private effects: Effect[] = [];
  /** Connections ("gateway/connId") with a gateway effect in `effects`, and in the write in flight. */
  private waitingConns = new Set<string>();
  private writingConns = new Set<string>();
  private replies: Array<() => void> = [];
  private scheduled = false;
  private flushing = false;
  private disposed = false;
  /** Asynchronous effects (router requests) whose continuation has not run yet. */
  private ops = 0;
  private idle: Array<() => void> = [];

  constructor(private readonly hooks: ShardWriteHooks) {}

  /**
   * Ends a turn: `deferred` effects and `respond` wait for the write of `dirty` (fast path:
   * nothing changed and nothing waiting, so they are released at once). A lazy turn with
   * nothing to release is only remembered for a later write.
   */
  commit(dirty: readonly string[], deferred: Effect[], respond?: () => void, lazy = false): void {
    if (this.disposed) return;
    if (deferred.some(isEarly)) deferred = this.releaseEarly(deferred);
    if (lazy && deferred.length === 0 && !respond) {
      for (const k of dirty) this.lazy.add(k);
      if (!this.lazyTimer && this.lazy.size > 0) {
        this.lazyTimer = setTimeout(() => {
          this.lazyTimer = undefined;
          if (this.disposed || this.lazy.size === 0 || this.scheduled || this.flushing) return;
          this.schedule();
        }, LAZY_WRITE_MS);
        this.lazyTimer.unref();
      }
      return;
    }
    for (const k of dirty) this.dirty.add(k);
    if (this.dirty.size === 0 && !this.flushing && !this.scheduled && this.effects.length === 0) {
      this.hooks.release(deferred, respond ? [respond] : []);
      return;
    }
    for (const ef of deferred) {
      this.effects.push(ef);
      if (ef.t === 'gw') this.waitingConns.add(connOf(ef));
    }
    if (respond) this.replies.push(respond);
    if (!this.scheduled && !this.flushing) this.schedule();
  }

  /**
   * Early sends (effects.ts): released now when nothing older for their connection waits for a
   * write (else they keep their place in line, so a connection's packets never overtake each
   * other); returns what still waits.
   */
  private releaseEarly(deferred: Effect[]): Effect[] {
    const now: Effect[] = [];
    const wait: Effect[] = [];
    const blocked = new Set<string>();
    for (const ef of deferred) {
      if (ef.t === 'gw') {
        const c = connOf(ef);
        if (ef.early && !blocked.has(c) && !this.waitingConns.has(c) && !this.writingConns.has(c)) {
          now.push(ef);
          continue;
        }
        blocked.add(c);
      }
      wait.push(ef);
    }
    if (now.length > 0) this.hooks.release(now, []);
    return wait;
  }

  /** Whether writes, scheduled writes or router requests are outstanding. */
  get busy(): boolean {
    return this.ops > 0 || this.flushing || this.scheduled;
  }

  /** Resolves when something outstanding finished, or after ms. */
  waitIdle(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      this.idle.push(r);
      setTimeout(r, ms).unref();
    });
  }

  opStarted(): void {
    this.ops++;
  }

  opDone(): void {
    this.ops--;
    if (this.ops === 0) this.wake();
  }

  /** The shard left this process: nothing more is written or released. */
  dispose(): void {
    this.disposed = true;
    if (this.lazyTimer) clearTimeout(this.lazyTimer);
    this.wake();
  }

  private schedule(): void {
    this.scheduled = true;
    atTurnEnd(() => void this.flush());
  }

  private wake(): void {
    for (const r of this.idle.splice(0)) r();
  }

  /** Writes the dirty sessions, then releases the outputs that waited for it. */
  async flush(): Promise<void> {
    this.scheduled = false;
    if (this.flushing) return;
    this.flushing = true;
    let failures = 0;
    try {
      while (this.dirty.size > 0 || this.lazy.size > 0 || this.effects.length > 0 || this.replies.length > 0 || failures > 0) {
        if (this.disposed) return;
        if (!this.hooks.mayWrite()) {
          this.hooks.lose('lease');
          return;
        }
        for (const k of this.lazy) this.dirty.add(k);
        this.lazy.clear();
        const keys = [...this.dirty];
        this.dirty.clear();
        const effects = this.effects.splice(0);
        const replies = this.replies.splice(0);
        for (const c of this.waitingConns) this.writingConns.add(c);
        this.waitingConns.clear();
        try {
          // After a failure the store retries what it could not write, even with no new keys.
          if (keys.length > 0 || failures > 0) await this.hooks.write(keys);
        } catch (err) {
          if (err instanceof FencedError) {
            this.hooks.lose('fenced');
            return;
          }
          // Transient (NATS reconnecting, timeout): keep everything and try again.
          this.hooks.failed(err as Error, ++failures);
          for (const k of keys) this.dirty.add(k);
          this.effects.unshift(...effects);
          this.replies.unshift(...replies);
          for (const c of this.writingConns) this.waitingConns.add(c);
          this.writingConns.clear();
          await sleepBeforeRetry(BACKOFF.sessionLogWrite, failures);
          continue;
        }
        failures = 0;
        if (this.disposed) return;
        this.writingConns.clear();
        this.hooks.release(effects, replies);
      }
    } finally {
      this.flushing = false;
      this.wake();
    }
  }
}

function isEarly(ef: Effect): boolean {
  return ef.t === 'gw' && ef.early === true;
}

function connOf(ef: Extract<Effect, { t: 'gw' }>): string {
  return `${ef.gateway}/${ef.item.connId}`;
}
