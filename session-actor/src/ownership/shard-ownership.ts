/**
 * Which shards this session actor serves. Two implementations: StaticOwnership (one-process
 * mode, in-memory bus: every shard, forever) and LeaseOwnership (JetStream KV leases with
 * rendezvous hashing over live members, docs/sharding.md).
 */

/** What the runner does when a shard arrives or leaves. Called one shard at a time per shard. */
export interface ShardHandler {
  /**
   * The lease is ours: load the shard's sessions, then start serving it. `how`: 'handoff' when
   * the previous owner released the shard (it sent everything first), 'takeover' otherwise (it
   * may have died between recording a send and sending: core/resume-after-takeover.ts).
   */
  acquire(shard: number, how: 'handoff' | 'takeover'): Promise<void>;
  /** Planned move (scale up/down, stop): stop serving, write everything, forget it. The lease is released after. */
  release(shard: number): Promise<void>;
  /** The lease is gone (expired while paused, taken over): stop at once and write nothing. */
  lost(shard: number): void;
}

export interface ShardOwnership {
  start(handler: ShardHandler): Promise<void>;
  /** Releases every shard (handing them to the remaining members) and leaves. */
  stop(): Promise<void>;
  /**
   * Whether this process may still write the shard's state now: it holds the lease and
   * the lease cannot have expired yet (fencing, together with per-key compare-and-set).
   */
  mayWrite(shard: number): boolean;
  /**
   * The runner found it may not write the shard (lease validity over, or fenced by CAS)
   * and dropped it: forget the lease (delete it if still ours) so the shard is claimed
   * again and reloaded from the store, by us or by whoever should own it.
   */
  abandon(shard: number): void;
  /** Shards currently owned (serving or loading). */
  readonly ownedCount: number;
  /** True once this process has taken the shards it should own at start. */
  settled(): boolean;
}

/** Every shard, no leases: the one-process mode where nobody else can own anything. */
export class StaticOwnership implements ShardOwnership {
  private owned = 0;
  private done = false;
  constructor(private readonly shards: number) {}

  async start(handler: ShardHandler): Promise<void> {
    for (let s = 0; s < this.shards; s++) {
      await handler.acquire(s, 'takeover');
      this.owned++;
    }
    this.done = true;
  }

  async stop(): Promise<void> {
    this.owned = 0;
  }

  mayWrite(): boolean {
    return true;
  }

  abandon(): void {}

  get ownedCount(): number {
    return this.owned;
  }

  settled(): boolean {
    return this.done;
  }
}
