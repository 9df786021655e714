import type { KV } from '@nats-io/kv';
import { isCasConflict } from '../persistence/kv-buckets.js';

/** What one announcement found (see MemberAnnouncement.renew). */
export type AnnouncementOutcome = 'continuous' | 'unknown' | 'gap';

export interface MemberAnnouncementOptions {
  nodeId: string;
  leaseTtlMs: number;
  leaseSafetyMs: number;
  /** Longest wait for one announcement (the renewal period): a stuck one must not delay the next. */
  timeoutMs: number;
  now: () => number;
}

const MEMBER = 'm.';

/** The member key of a node id in the members bucket. */
export function memberKey(nodeId: string): string {
  return MEMBER + nodeId;
}

/** The node id of a member key, or undefined for another key. */
export function memberOfKey(key: string): string | undefined {
  return key.startsWith(MEMBER) ? key.slice(MEMBER.length) : undefined;
}

/** Whether a member key's value says the member is stopping (it keeps its leases until it released them). */
export function isLeaving(value: string): boolean {
  return value.endsWith(LEAVING);
}

const LEAVING = ' leaving';

/**
 * This process's announcement in `<prefix>-members` (bucket TTL = cluster.leaseTtlMs), and the
 * right to write every shard it holds that follows from it (docs/sharding.md, "Leases and
 * rendezvous hashing"). Runs in the session actor that owns the announcement, one renewal at a time.
 *
 * Each renewal is a compare-and-set update on the key's last revision. Its success proves the key
 * never expired in between (an expired key has no last revision to match), so nobody can have
 * seen this member dead: the validity moves to send time + TTL - safety margin, before the key
 * can expire on the server. A conflict on a key that no longer holds our last value is a gap: the
 * key expired (or another process with our node id wrote it) and other members may have taken
 * our shards; the key is written anew, and each lease held must be re-checked before writing.
 */
export class MemberAnnouncement {
  /** Local time until which this member may write the shards it holds (0: not yet, or gap). */
  validUntil = 0;
  private rev = 0;
  private leaving = false;
  /** Told apart from an earlier process with the same node id (a restart). */
  private readonly incarnation = `${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;

  constructor(
    private readonly kv: KV,
    private readonly o: MemberAnnouncementOptions,
  ) {}

  private value(): string {
    return `${this.o.nodeId} ${this.incarnation}${this.leaving ? LEAVING : ''}`;
  }

  /** First announcement (start): written whatever the key held. Resolves its ack time. */
  async join(): Promise<number> {
    const sentAt = this.o.now();
    this.rev = await this.kv.put(memberKey(this.o.nodeId), this.value());
    this.validUntil = sentAt + this.o.leaseTtlMs - this.o.leaseSafetyMs;
    return this.o.now();
  }

  /**
   * One renewal. 'continuous': renewed, validity extended. 'unknown': timed out or failed
   * (validity runs down by itself; the next renewal decides), or our own earlier renewal turned
   * out applied (its revision is adopted, the validity comes with the next one). 'gap': the key
   * had expired or was rewritten by another process: the validity ends now; the caller marks
   * every lease it holds for a re-check before writing it again, then writes the key anew (join).
   */
  async renew(): Promise<AnnouncementOutcome> {
    const key = memberKey(this.o.nodeId);
    const sentAt = this.o.now();
    try {
      const rev = await withTimeout(this.kv.update(key, this.value(), this.rev), this.o.timeoutMs);
      if (rev === undefined) return 'unknown';
      this.rev = rev;
      this.validUntil = sentAt + this.o.leaseTtlMs - this.o.leaseSafetyMs;
      return 'continuous';
    } catch (err) {
      if (!isCasConflict(err)) return 'unknown';
    }
    const e = await this.kv.get(key).catch(() => undefined);
    if (e === undefined) return 'unknown';
    // Only this process writes this value, and only over the revision it held: nobody came between.
    if (e && e.operation === 'PUT' && e.string() === this.value() && e.revision > this.rev) {
      this.rev = e.revision;
      return 'unknown';
    }
    this.validUntil = 0;
    return 'gap';
  }

  /** Stopping: the next renewals tell the others to move our shards while we keep the right to release them. */
  markLeaving(): void {
    this.leaving = true;
  }

  /** Gone: every shard released. */
  async remove(): Promise<void> {
    this.validUntil = 0;
    await this.kv.delete(memberKey(this.o.nodeId));
  }
}

/** Resolves the promise's value, or undefined when it takes longer than ms (the promise goes on). */
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => {
    timer = setTimeout(() => r(undefined), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
