import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { NatsRequestMux, type Config } from '../../../common/src/index.js';
import { pubAckSeq } from './session-log-stream.js';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';

/**
 * Opens (creating when missing) the JetStream KV buckets of the session tier. Works on
 * nats-server 2.9: only bucket-wide TTL and CAS are used (no per-key TTL, no scheduled
 * messages). Session actors only.
 */
export interface SessionBuckets {
  leases: KV;
  members: KV;
  /**
   * Compare-and-set put of a lease key (the re-check of every held lease after a gap in the
   * member's announcement): a KV put is a JetStream publish to `$KV.<bucket>.<key>` expecting
   * the key's last revision, sent through the request multiplexer instead of kv.update (which
   * allocates an error with a stack per call in nats.js, and a re-check writes every held lease
   * at once). Resolves the new revision; a conflict rejects as isCasConflict.
   */
  renewLease(key: string, value: string, revision: number, timeoutMs: number): Promise<number>;
}

export async function openSessionBuckets(nc: NatsConnection, c: Config): Promise<SessionBuckets> {
  // Each KV call may wait one bus request timeout: a call cut short while a NATS node is
  // down and a stream elects a new leader (a few seconds) would only be retried.
  const kvm = new Kvm(jetstream(nc, { timeout: c['nats.requestTimeoutMs'] }));
  const prefix = c['cluster.bucketPrefix'];
  const base = { replicas: c['cluster.replicas'], storage: c['cluster.storage'], history: 1 } as const;
  // Members vanish when not re-announced: the TTL is the crash-detection time. Leases are not
  // renewed (an owner's right follows its announcement): they must never expire by themselves.
  const leases = await kvm.create(`${prefix}-leases`, base);
  await removeBucketTtl(nc, `${prefix}-leases`);
  // Reads of the members bucket decide takeovers ("is its announcement gone?"): they go to the
  // stream leader, never to a replica serving direct gets, which may lag and miss a live announcement.
  const members = await kvm.create(`${prefix}-members`, { ...base, ttl: c['cluster.leaseTtlMs'], allow_direct: false });
  const requests = new NatsRequestMux(nc);
  const renewLease = async (key: string, value: string, revision: number, timeoutMs: number) => {
    const h = natsHeaders();
    h.set('Nats-Expected-Last-Subject-Sequence', String(revision));
    const m = await requests.request(`$KV.${prefix}-leases.${key}`, Buffer.from(value), timeoutMs, h);
    return pubAckSeq(m.data, `shard lease write (${key})`);
  };
  return { leases, members, renewLease };
}

/**
 * Upgrade from per-lease renewal, whose lease bucket had the lease TTL: opening an existing
 * bucket keeps its configuration, so the TTL is taken off here (docs/sharding.md, "Upgrading").
 */
async function removeBucketTtl(nc: NatsConnection, bucket: string): Promise<void> {
  const jsm = await jetstream(nc).jetstreamManager();
  const info = await jsm.streams.info(`KV_${bucket}`);
  if (info.config.max_age !== 0) await jsm.streams.update(`KV_${bucket}`, { max_age: 0 });
}

/** Whether an error is a failed compare-and-set (someone else wrote the key). */
export function isCasConflict(err: unknown): boolean {
  const m = err instanceof Error ? err.message : String(err);
  return /wrong last sequence|key exists|10071|10164/.test(m);
}
