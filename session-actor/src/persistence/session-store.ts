import type { Session } from '../core/session.js';

/**
 * Where a shard owner keeps its sessions between owners. Two implementations: the memory
 * store (one-process mode: nothing survives the process, nothing to write) and the
 * per-shard session log in JetStream (log-session-store.ts). Session actors only.
 */
export interface SessionStore {
  /** False for the memory store: the runner then skips the write-before-acknowledge step. */
  readonly durable: boolean;
  /** Every stored session of the shard (the store remembers what it read, for fencing). */
  load(shard: number): Promise<Session[]>;
  /**
   * Writes what changed in the given sessions (undefined: the session ended) of one shard
   * since the last write; `sessions` is the whole shard (for a compacting snapshot). One
   * write per shard at a time; after a rejection the next write retries what failed.
   * Rejects with FencedError when another owner wrote the shard: this process lost it.
   */
  write(shard: number, entries: ReadonlyArray<readonly [key: string, session: Session | undefined]>, sessions: ReadonlyMap<string, Session>): Promise<void>;
  /** The shard left this process: drop what the store remembers about it. */
  forget(shard: number): void;
}

export class FencedError extends Error {
  constructor(
    readonly shard: number,
    cause?: unknown,
  ) {
    super(`shard ${shard} was written by another owner`, { cause });
    this.name = 'FencedError';
  }
}

/** One-process mode: state lives in the ShardState maps only. */
export class MemorySessionStore implements SessionStore {
  readonly durable = false;
  async load(): Promise<Session[]> {
    return [];
  }
  async write(): Promise<void> {}
  forget(): void {}
}
