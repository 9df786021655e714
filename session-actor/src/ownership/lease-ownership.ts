import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/transport-node';
import { type Logger, type Metrics, rendezvousOwner } from '../../../common/src/index.js';
import { isCasConflict } from '../persistence/kv-buckets.js';
import type { ShardHandler, ShardOwnership } from './shard-ownership.js';

export interface LeaseOptions {
  nodeId: string;
  shards: number;
  leaseTtlMs: number;
  leaseRenewMs: number;
  leaseSafetyMs: number;
  handoffTimeoutMs: number;
  log: Logger;
  metrics: Metrics;
  now?: () => number;
  /** A faster compare-and-set put for renewals (kv-buckets.ts); default: leases.update. */
  renewLease?: (key: string, value: string, revision: number, timeoutMs: number) => Promise<number>;
}

interface Held {
  rev: number;
  /** A renewal of this lease is in flight: never two at once (the second would fail its CAS). */
  renewing: boolean;
  /** Local time until which writes are allowed: renewal send time + TTL - safety margin. */
  validUntil: number;
  state: 'loading' | 'serving' | 'releasing';
}

const LEASE = 'shard.';
const MEMBER = 'm.';

/**
 * Shard ownership by lease (docs/sharding.md). Runs in each session
 * actor process with a NATS bus.
 *
 * - Members announce themselves in `<prefix>-members` (bucket TTL = lease TTL), renewed
 *   every leaseRenewMs; the live member list is whatever has not expired.
 * - Shard n should be owned by rendezvousOwner(members, n). A process claims the shards it
 *   should own with KV create (`shard.<n>` -> node id), renews each lease with a
 *   compare-and-set update on the revision it last wrote, and hands off (release, then
 *   delete with CAS) the shards it should no longer own.
 * - A crashed owner stops renewing: its leases vanish after the bucket TTL and the shards'
 *   new rendezvous owners create them. A paused owner that wakes up finds its local
 *   validity over (mayWrite false) and its CAS renewals failing: it drops the shards.
 */
export class LeaseOwnership implements ShardOwnership {
  private readonly held = new Map<number, Held>();
  private readonly busy = new Set<number>();
  private members: string[] = [];
  /** Member id -> when its announcement was last seen on the members watch (local clock). */
  private readonly memberSeen = new Map<string, number>();
  private handler?: ShardHandler;
  private timer?: NodeJS.Timeout;
  private renewTimer?: NodeJS.Timeout;
  private announcing = false;
  private quick?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private again = false;
  private stopping = false;
  /** A round at the moment the quietest other member's announcement goes stale (see round). */
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryAt = 0;
  private started = false;
  private settledAt = 0;
  private readonly startedAt: number;
  private readonly watches: QueuedIterator<KvWatchEntry>[] = [];
  private readonly now: () => number;
  private readonly m;

  constructor(
    private readonly leases: KV,
    private readonly memberKv: KV,
    private readonly o: LeaseOptions,
  ) {
    this.now = o.now ?? Date.now;
    this.startedAt = this.now();
    const metrics = o.metrics;
    metrics.gauge('session_shards_owned', 'Shards this session actor owns.', [], (g) => g.set(this.held.size));
    // The cluster's shard count beside it, so an alert can compare sum(owned) with it.
    metrics.gauge('session_shards_configured', 'Virtual shards of the cluster (setting shards); every one should have an owner.', [], (g) => g.set(o.shards));
    this.m = {
      handoffs: metrics.counter('session_shard_handoffs_total', 'Planned shard moves, by direction (in: received from a releasing owner, out: released).', ['direction']),
      takeovers: metrics.counter('session_shard_takeovers_total', "Shards taken over after the previous owner's lease expired (crash, pause)."),
      lost: metrics.counter('session_shard_leases_lost_total', 'Leases this process lost (expired while paused, or taken by another owner).'),
    };
  }

  async start(handler: ShardHandler): Promise<void> {
    this.handler = handler;
    await this.announce();
    // Listed once at start; afterwards membership follows the watch (no consumer per round).
    const now = this.now();
    for (const id of await this.listMembers()) this.memberSeen.set(id, now);
    void this.follow(
      () => this.leases.watch({ include: 'updates' }),
      (e) => this.onLeaseEvent(e),
    );
    void this.follow(
      () => this.memberKv.watch({ include: 'updates' }),
      (e) => this.onMemberEvent(e),
    );
    await this.tick();
    this.started = true;
    this.timer = setInterval(() => void this.tick(), this.o.leaseRenewMs);
    this.timer.unref();
    // Renewals run on their own clock: a slow round (shard loads, a NATS leader election
    // stalling a claim) must never delay them past the lease TTL.
    this.renewTimer = setInterval(() => void this.renewAll(), this.o.leaseRenewMs);
    this.renewTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.quick) clearTimeout(this.quick);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    await this.ticking;
    for (const w of this.watches.splice(0)) w.stop();
    // Leave first, so the others compute the moves without us, then hand every shard off.
    await this.memberKv.delete(MEMBER + this.o.nodeId).catch(() => {});
    await Promise.all([...this.held.keys()].map((s) => this.handoff(s)));
  }

  mayWrite(shard: number): boolean {
    const h = this.held.get(shard);
    return h !== undefined && this.now() < h.validUntil;
  }

  abandon(shard: number): void {
    const h = this.held.get(shard);
    if (!h) return;
    this.held.delete(shard);
    this.m.lost.inc();
    this.o.log.warn('shard abandoned by the runner; its lease is released and the shard reloaded from the store', { shard });
    void this.leases.delete(LEASE + shard, { previousSeq: h.rev }).catch(() => {});
    void this.tick();
  }

  get ownedCount(): number {
    return this.held.size;
  }

  settled(): boolean {
    if (this.settledAt) return true;
    if (!this.started) return false;
    // Settled once every shard we should own is ours, or after two lease lifetimes (a
    // member we count may have died without us knowing yet).
    const me = this.o.nodeId;
    let ok = true;
    for (let s = 0; s < this.o.shards && ok; s++) {
      if (rendezvousOwner(this.members, s) === me && this.held.get(s)?.state !== 'serving') ok = false;
    }
    if (ok || this.now() - this.startedAt > 2 * this.o.leaseTtlMs) this.settledAt = this.now();
    return this.settledAt !== 0;
  }

  /**
   * Consumes a KV watch until we stop, opening it again when it ends (e.g. its consumer was
   * on a NATS node that died and could not be recreated during the leader election).
   */
  private async follow(open: () => Promise<QueuedIterator<KvWatchEntry>>, fn: (e: KvWatchEntry) => void): Promise<void> {
    while (!this.stopping) {
      try {
        const w = await open();
        this.watches.push(w);
        if (this.stopping) w.stop();
        try {
          for await (const e of w) fn(e);
        } finally {
          this.watches.splice(this.watches.indexOf(w) >>> 0, 1);
        }
      } catch (err) {
        if (!this.stopping) this.o.log.warn('kv watch ended; opening it again', { err: err as Error });
      }
      if (!this.stopping) await new Promise((r) => setTimeout(r, this.o.leaseRenewMs));
    }
  }

  /** A lease was released (deleted): claim it at once if it is ours by rendezvous. */
  private onLeaseEvent(e: KvWatchEntry): void {
    if (this.stopping || e.operation === 'PUT' || !e.key.startsWith(LEASE)) return;
    const shard = Number(e.key.slice(LEASE.length));
    if (!Number.isInteger(shard) || this.held.has(shard)) return;
    if (rendezvousOwner(this.members, shard) === this.o.nodeId) void this.claim(shard, 'handoff');
  }

  /**
   * Membership follows the members watch: a PUT (re-announced every renewal) keeps a member
   * alive for one TTL, a DEL (a member stopping) removes it. A member that joined or left
   * makes us recompute at once instead of at the next round.
   */
  private onMemberEvent(e: KvWatchEntry): void {
    if (this.stopping || !e.key.startsWith(MEMBER)) return;
    const id = e.key.slice(MEMBER.length);
    const known = this.members.includes(id);
    if (e.operation === 'PUT') this.memberSeen.set(id, this.now());
    else this.memberSeen.delete(id);
    if ((e.operation === 'PUT' && !known) || (e.operation !== 'PUT' && known)) void this.tick();
  }

  private async announce(): Promise<void> {
    await this.memberKv.put(MEMBER + this.o.nodeId, this.o.nodeId);
  }

  /** Member keys in the bucket (start-up only: each listing costs a JetStream consumer). */
  private async listMembers(): Promise<string[]> {
    const it = await this.memberKv.keys(`${MEMBER}>`);
    const out: string[] = [];
    for await (const k of it) out.push(k.slice(MEMBER.length));
    return out;
  }

  /** Members heard within one TTL, and us. */
  private liveMembers(): string[] {
    const oldest = this.now() - this.o.leaseTtlMs;
    for (const [id, at] of this.memberSeen) if (at < oldest) this.memberSeen.delete(id);
    const out = [...this.memberSeen.keys()];
    if (!this.stopping && !out.includes(this.o.nodeId)) out.push(this.o.nodeId);
    return out.sort();
  }

  /**
   * Renews every lease we hold, each on its own (one slow renewal delays no other), then
   * re-announces us. Runs every leaseRenewMs.
   */
  private async renewAll(): Promise<void> {
    if (this.stopping) return;
    // Leases first, then the member key: a crashed member's key expires after its leases,
    // so when the others see it gone its shards are claimable at once.
    const renewals = Promise.all([...this.held.keys()].map((s) => this.renew(s)));
    if (this.announcing) return;
    this.announcing = true;
    try {
      await renewals;
      if (!this.stopping) await this.announce();
    } catch (err) {
      this.o.log.warn('member announcement failed', { err: err as Error });
    } finally {
      this.announcing = false;
    }
  }

  /** One renewal round; concurrent calls coalesce into one more round. */
  private tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = (async () => {
      do {
        this.again = false;
        try {
          await this.round();
        } catch (err) {
          this.o.log.warn('lease round failed', { err: err as Error });
        }
      } while (this.again && !this.stopping);
    })().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async round(): Promise<void> {
    if (this.stopping) return;
    this.members = this.liveMembers();
    this.roundAtNextMemberExpiry();
    const me = this.o.nodeId;
    const work: Promise<void>[] = [];
    for (let s = 0; s < this.o.shards; s++) {
      const should = rendezvousOwner(this.members, s) === me;
      const h = this.held.get(s);
      if (h && !should && h.state === 'serving') work.push(this.handoff(s));
      else if (!h && should) work.push(this.claim(s, this.started ? 'takeover' : 'initial'));
    }
    // Claims of shards still held by a releasing owner fail now and succeed on its DEL event;
    // those of an owner that just died succeed once its lease expires: look again soon.
    const before = this.held.size;
    await Promise.all(work);
    if (this.held.size > before && this.started) this.o.log.info('shards claimed', { shards: this.held.size - before, owned: this.held.size, members: this.members.length });
    let missing = false;
    for (let s = 0; s < this.o.shards && !missing; s++) if (!this.held.has(s) && rendezvousOwner(this.members, s) === me) missing = true;
    if (missing && !this.stopping && !this.quick) {
      this.quick = setTimeout(
        () => {
          this.quick = undefined;
          void this.tick();
        },
        Math.min(250, this.o.leaseRenewMs),
      );
      this.quick.unref();
    }
  }

  /**
   * A member that stops announcing is dead to us one TTL after its last announcement, and its
   * leases (renewed before each announcement) have expired by then: a round at that instant
   * claims its shards at once, instead of at the next periodic round up to leaseRenewMs later
   * (a third of the failover time with the default TTL and renewal).
   */
  private roundAtNextMemberExpiry(): void {
    let at = Infinity;
    for (const [id, seen] of this.memberSeen) if (id !== this.o.nodeId) at = Math.min(at, seen + this.o.leaseTtlMs + 10);
    if (at === Infinity || at === this.expiryAt) return;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryAt = at;
    this.expiryTimer = setTimeout(
      () => {
        this.expiryTimer = undefined;
        this.expiryAt = 0;
        void this.tick();
      },
      Math.max(0, at - this.now()),
    );
    this.expiryTimer.unref();
  }

  /**
   * One lease renewal (CAS on the revision we hold). Only a CAS conflict loses the lease: a
   * timeout (NATS electing a stream leader, a node gone) keeps it, and writes stop by
   * themselves once validUntil passes (mayWrite); the next renewal that gets through tells
   * whether the lease survived. A conflict may also be our own earlier renewal that timed
   * out after it was applied: if the key still names us, adopt its revision.
   */
  private async renew(shard: number): Promise<void> {
    const h = this.held.get(shard);
    if (!h || h.state === 'releasing' || h.renewing) return; // a release deletes with the revision we hold
    h.renewing = true;
    const sentAt = this.now();
    try {
      // Bounded by the renewal period: one stuck in a stream leader election would otherwise keep
      // the next ones from being sent (one in flight per lease), leaving two tries per TTL. One
      // applied after its timeout is adopted by the next (below).
      const rev = this.o.renewLease ? await this.o.renewLease(LEASE + shard, this.o.nodeId, h.rev, this.o.leaseRenewMs) : await this.leases.update(LEASE + shard, this.o.nodeId, h.rev);
      if (this.held.get(shard) !== h) return;
      h.rev = rev;
      h.validUntil = sentAt + this.o.leaseTtlMs - this.o.leaseSafetyMs;
    } catch (err) {
      if (this.held.get(shard) !== h || !isCasConflict(err)) return;
      const now = await this.leases.get(LEASE + shard).catch(() => null);
      if (this.held.get(shard) !== h) return;
      if (now && now.operation === 'PUT' && now.string() === this.o.nodeId && now.revision > h.rev) {
        // Only we write our node id, and only over the revision we held: nobody came between.
        h.rev = now.revision;
        return; // validity comes back with the next renewal
      }
      this.lose(shard, err as Error);
    } finally {
      h.renewing = false;
    }
  }

  private lose(shard: number, err?: Error): void {
    if (!this.held.delete(shard)) return;
    this.m.lost.inc();
    this.o.log.warn('shard lease lost; dropping the shard without writing', { shard, err });
    this.handler?.lost(shard);
  }

  private async claim(shard: number, why: 'initial' | 'handoff' | 'takeover'): Promise<void> {
    if (this.busy.has(shard) || this.held.has(shard) || this.stopping) return;
    this.busy.add(shard);
    try {
      const sentAt = this.now();
      let rev: number;
      try {
        rev = await this.leases.create(LEASE + shard, this.o.nodeId);
      } catch (err) {
        if (!isCasConflict(err)) this.o.log.warn('lease create failed', { shard, err: err as Error });
        return; // someone holds it; its release (DEL event) or expiry brings us back
      }
      const h: Held = { rev, renewing: false, validUntil: sentAt + this.o.leaseTtlMs - this.o.leaseSafetyMs, state: 'loading' };
      this.held.set(shard, h);
      if (why === 'handoff') this.m.handoffs.inc({ direction: 'in' });
      else if (why === 'takeover') this.m.takeovers.inc();
      try {
        await this.handler!.acquire(shard, why === 'handoff' ? 'handoff' : 'takeover');
        if (this.held.get(shard) === h) h.state = 'serving';
      } catch (err) {
        this.o.log.error('loading a shard failed; releasing its lease', { shard, err: err as Error });
        this.held.delete(shard);
        this.handler!.lost(shard);
        await this.leases.delete(LEASE + shard, { previousSeq: h.rev }).catch(() => {});
      }
    } finally {
      this.busy.delete(shard);
    }
  }

  /** Planned move: the runner stops serving and writes everything, then the lease goes. */
  private async handoff(shard: number): Promise<void> {
    const h = this.held.get(shard);
    if (!h || h.state === 'releasing') return;
    h.state = 'releasing';
    this.busy.add(shard);
    try {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((r) => (timer = setTimeout(r, this.o.handoffTimeoutMs)));
      await Promise.race([this.handler!.release(shard), timeout]);
      clearTimeout(timer);
      if (this.held.get(shard) !== h) return;
      this.held.delete(shard);
      await this.leases.delete(LEASE + shard, { previousSeq: h.rev }).catch((err: Error) => this.o.log.warn('lease release failed', { shard, err }));
      this.m.handoffs.inc({ direction: 'out' });
    } finally {
      this.busy.delete(shard);
    }
  }
}
