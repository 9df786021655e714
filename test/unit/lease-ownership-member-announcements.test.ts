import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { loadConfig } from '../../common/src/config/load-config.js';
import { silentLogger } from '../../common/src/log.js';
import { Metrics } from '../../common/src/metrics.js';
import { LeaseOwnership } from '../../session-actor/src/ownership/lease-ownership.js';
import type { ShardHandler } from '../../session-actor/src/ownership/shard-ownership.js';
import { openSessionBuckets } from '../../session-actor/src/persistence/kv-buckets.js';
import { waitFor } from '../support/mqtt-clients.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';

/**
 * Shard leases cost O(members): an owner's right to write its shards follows its own member
 * announcement, so once the shards are claimed the lease bucket sees no write at all while the
 * members bucket sees one announcement per member per renewal period, whatever the number of
 * shards. Against a real nats-server (JetStream KV); the owners are LeaseOwnership instances
 * with a recording handler instead of a session actor.
 */

const SHARDS = 1024;
const TTL_MS = 3000;
const RENEW_MS = 500;

/** Records what LeaseOwnership told the runner, per shard. */
class RecordingHandler implements ShardHandler {
  readonly serving = new Map<number, 'handoff' | 'takeover'>();
  readonly acquired: Array<{ shard: number; how: 'handoff' | 'takeover' }> = [];
  onAcquire?: (shard: number) => void;
  async acquire(shard: number, how: 'handoff' | 'takeover'): Promise<void> {
    this.onAcquire?.(shard);
    this.acquired.push({ shard, how });
    this.serving.set(shard, how);
  }
  async release(shard: number): Promise<void> {
    this.serving.delete(shard);
  }
  lost(shard: number): void {
    this.serving.delete(shard);
  }
}

interface Member {
  nc: NatsConnection;
  ownership: LeaseOwnership;
  handler: RecordingHandler;
}

describe('lease ownership: announcements per member, not renewals per shard', () => {
  let server: NatsServerHandle;
  let admin: NatsConnection;
  const members: Member[] = [];
  const config = loadConfig({
    env: { SHARDMQ_SHARDS: String(SHARDS), SHARDMQ_CLUSTER_LEASE_TTL_MS: String(TTL_MS), SHARDMQ_CLUSTER_LEASE_RENEW_MS: String(RENEW_MS), SHARDMQ_CLUSTER_STORAGE: 'memory' },
    argv: [],
  });

  const startMember = async (nodeId: string): Promise<Member> => {
    const nc = await connect({ servers: server.url });
    const buckets = await openSessionBuckets(nc, config);
    const handler = new RecordingHandler();
    const ownership = new LeaseOwnership(buckets.leases, buckets.members, {
      nodeId,
      shards: SHARDS,
      leaseTtlMs: TTL_MS,
      leaseRenewMs: RENEW_MS,
      leaseSafetyMs: 300,
      handoffTimeoutMs: 1000,
      log: silentLogger,
      metrics: new Metrics(false),
      renewLease: buckets.renewLease,
    });
    await ownership.start(handler);
    const m = { nc, ownership, handler };
    members.push(m);
    return m;
  };

  /** Last sequence of a bucket's stream: every write (put, update, delete) adds one. */
  const writes = async (bucket: string): Promise<number> => {
    const jsm = await jetstream(admin).jetstreamManager();
    return (await jsm.streams.info(`KV_shardmq-${bucket}`)).state.last_seq;
  };

  before(async () => {
    server = await startNatsServer({ jetstream: true });
    admin = await connect({ servers: server.url });
  });

  after(async () => {
    for (const m of members) await m.nc.close().catch(() => {});
    await admin?.close();
    await server?.stop();
  });

  test('two members over 1024 shards: no lease write while they hold them, one announcement per member per period', { timeout: 120_000 }, async () => {
    const a = await startMember('member-a');
    const b = await startMember('member-b');
    await waitFor(() => a.handler.serving.size + b.handler.serving.size === SHARDS && a.handler.serving.size > 0 && b.handler.serving.size > 0, 'the shards spread over both members', 60_000);
    // Let claims in flight settle (a round may still be handing shards between the two).
    await waitFor(() => a.ownership.ownedCount + b.ownership.ownedCount === SHARDS, 'every shard owned once', 30_000);

    const leasesBefore = await writes('leases');
    const membersBefore = await writes('members');
    const startedAt = Date.now();
    const periods = 8;
    await new Promise((r) => setTimeout(r, periods * RENEW_MS));
    const elapsedPeriods = Math.ceil((Date.now() - startedAt) / RENEW_MS);
    const leaseWrites = (await writes('leases')) - leasesBefore;
    const announcements = (await writes('members')) - membersBefore;

    assert.equal(leaseWrites, 0, 'held leases are not renewed');
    assert.ok(announcements > 0, 'members announce themselves');
    // Per-lease renewal wrote SHARDS per period; announcements are at most one per member per period.
    assert.ok(announcements <= 2 * (elapsedPeriods + 1), `${announcements} announcements in ${elapsedPeriods} periods for 2 members`);
    for (let s = 0; s < SHARDS; s++) assert.ok(a.ownership.mayWrite(s) !== b.ownership.mayWrite(s), `shard ${s} is writable by exactly one member`);
  });

  test('a planned stop hands every shard over as a handoff', { timeout: 120_000 }, async () => {
    const [a, b] = members as [Member, Member];
    const movedBefore = b.handler.acquired.length;
    const fromA = a.handler.serving.size;
    await a.ownership.stop();
    await waitFor(() => b.ownership.ownedCount === SHARDS, 'the remaining member owns every shard', 60_000);
    const moved = b.handler.acquired.slice(movedBefore);
    assert.equal(moved.length, fromA);
    assert.deepEqual(
      moved.filter((x) => x.how !== 'handoff'),
      [],
      'released shards come as handoffs',
    );
  });

  test('a crashed member: its shards are taken over, and never while it may still write them', { timeout: 120_000 }, async () => {
    const b = members[1]!;
    const c = await startMember('member-c');
    await waitFor(
      () => c.ownership.ownedCount > 0 && b.ownership.ownedCount + c.ownership.ownedCount === SHARDS && b.handler.serving.size + c.handler.serving.size === SHARDS,
      'the shards spread over b and c',
      60_000,
    );
    const ofB = new Set(b.handler.serving.keys());
    const stillWritable: number[] = [];
    c.handler.onAcquire = (shard) => {
      if (ofB.has(shard) && b.ownership.mayWrite(shard)) stillWritable.push(shard);
    };
    const takenBefore = c.handler.acquired.length;
    // The crash: b's connection is gone, nothing of b is written any more (its timers keep
    // failing to reach NATS, like a process cut off).
    await b.nc.close();
    await waitFor(() => c.ownership.ownedCount === SHARDS, 'the survivor owns every shard', 60_000);
    const taken = c.handler.acquired.slice(takenBefore);
    assert.equal(taken.length, ofB.size);
    assert.deepEqual(
      taken.filter((x) => x.how !== 'takeover'),
      [],
      "a crashed owner's shards come as takeovers (in-flight messages are resent)",
    );
    assert.deepEqual(stillWritable, [], 'no shard was taken while its previous owner could still write it');
    await c.ownership.stop();
  });
});
