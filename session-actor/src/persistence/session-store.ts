import type { Session } from '../core/session.js';

/**
 * Where a shard owner keeps its sessions between owners. Two implementations: the memory
 * store (one-process mode: nothing survives the process, nothing to write) and the
 * JetStream KV store (kv-session-store.ts). Session actors only.
 */
export interface SessionStore {
  /** False for the memory store: the runner then skips the write-before-acknowledge step. */
  readonly durable: boolean;
  /** Every stored session of the shard (the store remembers their revisions for CAS). */
  load(shard: number): Promise<Session[]>;
  /**
   * Writes the sessions (undefined: the session ended, delete it) of one shard, each with
   * compare-and-set on the revision last read or written. Rejects with FencedError when
   * another owner wrote one of them: this process has lost the shard.
   */
  write(shard: number, entries: ReadonlyArray<readonly [key: string, session: Session | undefined]>): Promise<void>;
  /** The shard left this process: drop what the store remembers about it. */
  forget(shard: number): void;
}

export class FencedError extends Error {
  constructor(readonly shard: number, cause?: unknown) {
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
