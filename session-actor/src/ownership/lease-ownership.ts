import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/transport-node';
import { type Logger, type Metrics, rendezvousOwner } from '../../../common/src/index.js';
import { isCasConflict } from '../persistence/kv-buckets.js';
import { isLeaving, MemberAnnouncement, memberKey, memberOfKey } from './member-announcement.js';
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
  /** A faster compare-and-set put of a lease key (kv-buckets.ts), for re-checks after a gap; default: leases.update. */
  renewLease?: (key: string, value: string, revision: number, timeoutMs: number) => Promise<number>;
}

interface Held {
  rev: number;
  /** After a gap in our announcement: the lease must be re-checked (CAS) before any write. */
  recheck: boolean;
  /** A re-check of this lease is in flight: never two at once (the second would fail its CAS). */
  rechecking: boolean;
  state: 'loading' | 'serving' | 'releasing';
}

/** A lease as last seen (lease watch or a read): its owner and revision. */
interface SeenLease {
  owner: string;
  rev: number;
  /** Order of the observation (see ownerGone). */
  seq: number;
}

const LEASE = 'shard.';

/**
 * Shard ownership by lease (docs/sharding.md). Runs in each session actor process with a
 * NATS bus.
 *
 * - Members announce themselves in `<prefix>-members` (bucket TTL = lease TTL) every
 *   leaseRenewMs with a compare-and-set update (member-announcement.ts); the live member
 *   list is whatever has not expired. That announcement is the only periodic write: lease
 *   cost is O(members), not O(shards).
 * - Shard n should be owned by rendezvousOwner(members, n). A process claims the shards it
 *   should own by writing `shard.<n>` -> node id: KV create when there is no lease, or a
 *   compare-and-set update on the revision it read when the lease names a member whose
 *   announcement is gone from the members bucket. Leases are not renewed: the right to write
 *   every held shard follows the owner's own announcement (validity = send time of its last
 *   successful announcement + TTL - safety margin). A planned move deletes the lease with CAS.
 * - A crashed owner stops announcing: its member key expires after the TTL and the shards' new
 *   rendezvous owners take its leases over by CAS. A paused owner that wakes up finds its
 *   validity over (mayWrite false) and its announcement's CAS failing (a gap): it re-checks
 *   each lease it holds with a CAS before writing again, and drops those that were taken.
 */
export class LeaseOwnership implements ShardOwnership {
  private readonly held = new Map<number, Held>();
  private readonly busy = new Set<number>();
  private members: string[] = [];
  /** Member id -> when its announcement was last seen on the members watch (local clock). */
  private readonly memberSeen = new Map<string, number>();
  /** Shard -> its lease as last seen (lease watch, reads): a hint, every claim is a CAS. */
  private readonly seenLeases = new Map<number, SeenLease>();
  /** Member id -> a read of its announcement on the server, and when it was sent (see ownerGone). */
  private readonly goneChecks = new Map<string, { seq: number; gone: Promise<boolean>; result?: boolean }>();
  private seq = 0;
  /** When the last claim wrote its lease (the 'shards claimed' log line). */
  private lastClaimAt = 0;
  /** Shards whose lease we saw deleted by its owner (released) and nobody has taken since: a claim of one is a handoff. */
  private readonly released = new Set<number>();
  private readonly announcement: MemberAnnouncement;
  /** Leases naming our node id that we do not hold (an earlier process with our id) are ours to take from then on. */
  private ownIdLeasesFreeAt = Infinity;
  private handler?: ShardHandler;
  private timer?: NodeJS.Timeout;
  private renewTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private announcing?: Promise<void>;
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
    this.announcement = new MemberAnnouncement(memberKv, { nodeId: o.nodeId, leaseTtlMs: o.leaseTtlMs, leaseSafetyMs: o.leaseSafetyMs, timeoutMs: o.leaseRenewMs, now: this.now });
    const metrics = o.metrics;
    metrics.gauge('session_shards_owned', 'Shards this session actor owns.', [], (g) => g.set(this.held.size));
    // The cluster's shard count beside it, so an alert can compare sum(owned) with it.
    metrics.gauge('session_shards_configured', 'Virtual shards of the cluster (setting shards); every one should have an owner.', [], (g) => g.set(o.shards));
    this.m = {
      handoffs: metrics.counter('session_shard_handoffs_total', 'Planned shard moves, by direction (in: received from a releasing owner, out: released).', ['direction']),
      takeovers: metrics.counter('session_shard_takeovers_total', "Shards taken over after the previous owner's announcement expired (crash, pause)."),
      lost: metrics.counter('session_shard_leases_lost_total', 'Leases this process lost (taken by another owner while it was paused or cut off, or dropped by the runner).'),
    };
  }

  async start(handler: ShardHandler): Promise<void> {
    this.handler = handler;
    // An earlier process with our node id may still write until its last announcement's
    // validity is over: that ended before our announcement replaced its own plus one TTL.
    this.ownIdLeasesFreeAt = (await this.announcement.join()) + this.o.leaseTtlMs;
    // Listed once at start; afterwards membership follows the watch (no consumer per round).
    const now = this.now();
    for (const id of await this.listMembers()) this.memberSeen.set(id, now);
    // The lease watch starts with every lease's last value: owners and revisions to claim on.
    void this.follow(
      () => this.leases.watch(),
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
    // Announcements run on their own clock: a slow round (shard loads, a NATS leader election
    // stalling a claim) must never delay them past the TTL.
    this.renewTimer = setInterval(() => void this.renewAll(), this.o.leaseRenewMs);
    this.renewTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    if (this.quick) clearTimeout(this.quick);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    await this.ticking;
    for (const w of this.watches.splice(0)) w.stop();
    // Leaving first, so the others compute the moves without us; the announcement goes on (our
    // right to write the shards while they are released), then every shard is handed off.
    await this.announcing;
    this.announcement.markLeaving();
    await this.renewAll();
    await Promise.all([...this.held.keys()].map((s) => this.handoff(s)));
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.announcing;
    await this.announcement.remove().catch(() => {});
  }

  mayWrite(shard: number): boolean {
    const h = this.held.get(shard);
    return h !== undefined && !h.recheck && this.now() < this.announcement.validUntil;
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

  /**
   * Keeps the lease hints up to date; a lease released (deleted) is claimed at once if it is
   * ours by rendezvous.
   */
  private onLeaseEvent(e: KvWatchEntry): void {
    if (!e.key.startsWith(LEASE)) return;
    const shard = Number(e.key.slice(LEASE.length));
    if (!Number.isInteger(shard)) return;
    if (e.operation === 'PUT') {
      this.seenLeases.set(shard, { owner: e.string(), rev: e.revision, seq: ++this.seq });
      this.released.delete(shard);
      return;
    }
    this.seenLeases.delete(shard);
    // A release seen live; the last values replayed when the watch (re)opens are left to the rounds.
    if (!e.isUpdate) return;
    this.released.add(shard);
    if (this.stopping || this.held.has(shard)) return;
    if (rendezvousOwner(this.members, shard) === this.o.nodeId) void this.claim(shard, 'handoff');
  }

  /**
   * Membership follows the members watch: a PUT (re-announced every renewal) keeps a member
   * alive for one TTL, a DEL or a PUT saying it is leaving removes it. A member that joined or
   * left makes us recompute at once instead of at the next round.
   */
  private onMemberEvent(e: KvWatchEntry): void {
    const id = memberOfKey(e.key);
    if (this.stopping || id === undefined) return;
    this.goneChecks.delete(id);
    const known = this.members.includes(id);
    const alive = e.operation === 'PUT' && !isLeaving(e.string());
    if (alive) this.memberSeen.set(id, this.now());
    else this.memberSeen.delete(id);
    if (alive !== known) void this.tick();
  }

  /** Member keys in the bucket (start-up only: each listing costs a JetStream consumer). */
  private async listMembers(): Promise<string[]> {
    const it = await this.memberKv.keys(memberKey('>'));
    const out: string[] = [];
    for await (const k of it) {
      const id = memberOfKey(k);
      if (id !== undefined) out.push(id);
    }
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
   * Re-announces us (one write per renewal period, whatever the number of shards). After a
   * gap, every held lease is re-checked before it may be written again. Runs every leaseRenewMs,
   * one at a time.
   */
  private renewAll(): Promise<void> {
    if (this.announcing) return this.announcing;
    this.announcing = (async () => {
      try {
        const outcome = await this.announcement.renew();
        // Not through (a stream leader being elected, a node gone): try again soon rather than one
        // period later, so the validity does not run out while the bucket is reachable again.
        if (outcome === 'unknown') this.retryAnnouncementSoon();
        if (outcome === 'gap') {
          this.o.log.warn('member announcement had expired; re-checking every lease before writing again', { shards: this.held.size });
          for (const h of this.held.values()) h.recheck = true;
          await this.announcement.join();
        }
        if (this.announcement.validUntil > this.now()) {
          const pending: Promise<void>[] = [];
          for (const [s, h] of this.held) if (h.recheck) pending.push(this.recheck(s));
          await Promise.all(pending);
        }
      } catch (err) {
        this.o.log.warn('member announcement failed', { err: err as Error });
      }
    })().finally(() => {
      this.announcing = undefined;
    });
    return this.announcing;
  }

  private retryAnnouncementSoon(): void {
    if (this.retryTimer || (this.stopping && !this.renewTimer)) return;
    this.retryTimer = unrefTimer(Math.min(250, this.o.leaseRenewMs), () => {
      this.retryTimer = undefined;
      void this.renewAll();
    });
  }

  /**
   * Re-checks a lease held across a gap in our announcement: a CAS update on the revision we
   * hold. Success proves nobody took it meanwhile (a claimant's CAS on that revision now fails);
   * a conflict means another member took it: the shard is dropped without writing. A timeout
   * keeps it unwritable until the next try.
   */
  private async recheck(shard: number): Promise<void> {
    const h = this.held.get(shard);
    if (!h || !h.recheck || h.rechecking || h.state === 'releasing') return;
    h.rechecking = true;
    try {
      const rev = this.o.renewLease ? await this.o.renewLease(LEASE + shard, this.o.nodeId, h.rev, this.o.leaseRenewMs) : await this.leases.update(LEASE + shard, this.o.nodeId, h.rev);
      if (this.held.get(shard) !== h) return;
      h.rev = rev;
      h.recheck = false;
    } catch (err) {
      if (this.held.get(shard) === h && isCasConflict(err)) this.lose(shard, err as Error);
    } finally {
      h.rechecking = false;
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
    // A member found alive on the server is asked again next round; one found gone stays gone
    // for the leases seen before the question (ownerGone).
    for (const [id, c] of this.goneChecks) if (c.result === false) this.goneChecks.delete(id);
    const roundAt = this.now();
    const was = this.members;
    this.members = this.liveMembers();
    const gone = was.filter((id) => !this.members.includes(id));
    if (gone.length > 0 && this.started) this.o.log.info('members gone', { gone, members: this.members.length });
    this.roundAtNextMemberExpiry();
    const me = this.o.nodeId;
    const work: Promise<void>[] = [];
    for (let s = 0; s < this.o.shards; s++) {
      const should = rendezvousOwner(this.members, s) === me;
      const h = this.held.get(s);
      if (h && !should && h.state === 'serving') work.push(this.handoff(s));
      else if (!h && should) work.push(this.claim(s, this.started ? 'takeover' : 'initial'));
      else if (!h && !should) work.push(this.releaseStale(s));
    }
    // Claims of shards still held by a releasing owner fail now and succeed on its DEL event;
    // those of an owner that just died succeed once its announcement expired: look again soon.
    const before = this.held.size;
    await Promise.all(work);
    if (this.held.size > before && this.started) {
      // How long writing the leases took, and loading the shards after them (failover time, docs/sharding.md).
      const leasedMs = Math.max(0, this.lastClaimAt - roundAt);
      this.o.log.info('shards claimed', { shards: this.held.size - before, owned: this.held.size, members: this.members.length, leasedMs, loadedMs: this.now() - roundAt });
    }
    let missing = false;
    for (let s = 0; s < this.o.shards && !missing; s++) if (!this.held.has(s) && rendezvousOwner(this.members, s) === me) missing = true;
    if (missing && !this.stopping && !this.quick) {
      this.quick = unrefTimer(Math.min(250, this.o.leaseRenewMs), () => {
        this.quick = undefined;
        void this.tick();
      });
    }
  }

  /**
   * A member that stops announcing is dead to us one TTL after its last announcement: a round
   * at that instant claims its shards at once, instead of at the next periodic round up to
   * leaseRenewMs later (a third of the failover time with the default TTL and renewal).
   */
  private roundAtNextMemberExpiry(): void {
    let at = Infinity;
    for (const [id, seen] of this.memberSeen) if (id !== this.o.nodeId) at = Math.min(at, seen + this.o.leaseTtlMs + 10);
    if (at === Infinity || at === this.expiryAt) return;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryAt = at;
    this.expiryTimer = unrefTimer(Math.max(0, at - this.now()), () => {
      this.expiryTimer = undefined;
      this.expiryAt = 0;
      void this.tick();
    });
  }

  private lose(shard: number, err?: Error): void {
    if (!this.held.delete(shard)) return;
    this.m.lost.inc();
    this.o.log.warn('shard lease lost; dropping the shard without writing', { shard, err });
    this.handler?.lost(shard);
  }

  /**
   * Whether a lease may be taken over by CAS on the revision seen: its owner can no longer write
   * it. Another member: its announcement is gone from the members bucket, read on the server
   * after the lease was seen (a member that announces again after a gap re-checks its leases
   * with a CAS first, so either its re-check or our CAS fails). Our own node id on a lease we do
   * not hold: left by an earlier process with our id (or a claim whose answer was lost), free
   * one TTL after we first announced.
   */
  private async ownerGone(lease: SeenLease): Promise<boolean> {
    if (lease.owner === this.o.nodeId) return this.now() >= this.ownIdLeasesFreeAt;
    const seen = this.memberSeen.get(lease.owner);
    if (seen !== undefined && seen >= this.now() - this.o.leaseTtlMs) return false;
    let check = this.goneChecks.get(lease.owner);
    if (!check || check.seq <= lease.seq) {
      const c: { seq: number; gone: Promise<boolean>; result?: boolean } = { seq: ++this.seq, gone: Promise.resolve(false) };
      c.gone = this.memberKv.get(memberKey(lease.owner)).then(
        (e) => (c.result = !e || e.operation !== 'PUT'),
        () => (c.result = false),
      );
      check = c;
      this.goneChecks.set(lease.owner, check);
    }
    return check.gone;
  }

  /** The lease of a shard we want, as last seen or read now (undefined: there is none). */
  private async leaseOf(shard: number): Promise<SeenLease | undefined> {
    const seen = this.seenLeases.get(shard);
    if (seen) return seen;
    const e = await this.leases.get(LEASE + shard);
    if (!e || e.operation !== 'PUT') return undefined;
    const lease = { owner: e.string(), rev: e.revision, seq: ++this.seq };
    this.seenLeases.set(shard, lease);
    return lease;
  }

  /**
   * Runs on the shard's rendezvous owner: create the lease, or take it by CAS from an owner that
   * can no longer write it. A lease held by a live member (releasing it) is left alone: its DEL
   * on the lease watch brings us back.
   */
  private async claim(shard: number, why: 'initial' | 'handoff' | 'takeover'): Promise<void> {
    if (this.busy.has(shard) || this.held.has(shard) || this.stopping) return;
    // A member whose own announcement lapsed claims nothing: it could not write the shard.
    if (this.now() >= this.announcement.validUntil) return;
    this.busy.add(shard);
    try {
      let rev: number;
      let how = why;
      try {
        const lease = why === 'handoff' ? undefined : await this.leaseOf(shard);
        if (!lease) {
          // Released while a round's claim was already reading it: still a handoff. Asked before
          // the create, whose own PUT may come back on the watch before its answer.
          if (this.released.has(shard)) how = 'handoff';
          rev = await this.leases.create(LEASE + shard, this.o.nodeId);
        } else if (await this.ownerGone(lease)) {
          rev = await this.leases.update(LEASE + shard, this.o.nodeId, lease.rev);
          how = 'takeover';
        } else return;
      } catch (err) {
        // Someone holds it (or our hint was stale): read it again next time.
        if (isCasConflict(err)) this.seenLeases.delete(shard);
        else this.o.log.warn('lease claim failed', { shard, err: err as Error });
        return;
      }
      if (this.stopping || this.held.has(shard)) return;
      this.lastClaimAt = this.now();
      const h: Held = { rev, recheck: false, rechecking: false, state: 'loading' };
      this.held.set(shard, h);
      if (how === 'handoff') this.m.handoffs.inc({ direction: 'in' });
      else if (how === 'takeover') this.m.takeovers.inc();
      try {
        await this.handler!.acquire(shard, how === 'handoff' ? 'handoff' : 'takeover');
        if (this.held.get(shard) === h) h.state = 'serving';
      } catch (err) {
        this.o.log.error('loading a shard failed; releasing its lease', { shard, err: err as Error });
        if (this.held.get(shard) === h) {
          this.held.delete(shard);
          this.handler!.lost(shard);
        }
        await this.leases.delete(LEASE + shard, { previousSeq: h.rev }).catch(() => {});
      }
    } finally {
      this.busy.delete(shard);
    }
  }

  /**
   * A lease naming us on a shard we neither hold nor should own (an earlier process with our
   * id, or a claim whose answer was lost): nobody else may take it while we announce, so we
   * delete it (CAS on the revision seen) for its rendezvous owner.
   */
  private async releaseStale(shard: number): Promise<void> {
    const lease = this.seenLeases.get(shard);
    if (!lease || lease.owner !== this.o.nodeId || this.busy.has(shard) || this.now() < this.ownIdLeasesFreeAt) return;
    this.busy.add(shard);
    try {
      await this.leases.delete(LEASE + shard, { previousSeq: lease.rev }).catch(() => {});
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

/** A one-shot timer that does not keep the process alive. */
function unrefTimer(ms: number, fn: () => void): NodeJS.Timeout {
  const t = setTimeout(fn, ms);
  t.unref();
  return t;
}
