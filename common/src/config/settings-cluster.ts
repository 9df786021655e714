import { bool, int, oneOf, str } from './setting.js';

/**
 * Shard ownership and persistence (docs/sharding.md). Only used with a NATS URL: the
 * in-memory bus has no JetStream, so a one-process node owns every shard and keeps state
 * in memory.
 */
export const clusterSettings = {
  'cluster.persistence': bool({ default: true, doc: 'Persist sessions (session log stream) and retained messages (KV) in JetStream (only with nats.url; off = state lives in process memory only).' }),
  'cluster.bucketPrefix': str({
    default: 'shardmq',
    pattern: /^[A-Za-z0-9_-]+$/,
    doc: 'Name prefix of the JetStream KV buckets (<prefix>-leases, -members, -retained), the session log stream <prefix>-session-log and its subjects <prefix>.slog.<shard>.',
  }),
  'cluster.replicas': int({
    default: 1,
    min: 1,
    max: 5,
    doc: 'JetStream replicas of the KV buckets and the session log (use 3 on a 3-node NATS cluster: replicas, not fsync, protect acknowledged messages from a power loss).',
  }),
  'cluster.storage': oneOf({ default: 'file', values: ['file', 'memory'] as const, doc: 'JetStream storage of the KV buckets and the session log (memory: lost when NATS restarts).' }),
  'cluster.leaseTtlMs': int({
    default: 3000,
    min: 500,
    max: 600000,
    doc: "Lifetime of a session actor's member announcement (bucket-wide TTL of the members bucket): a crashed session actor's shards are taken over after at most about this long, and an owner stops writing its shards when it could not re-announce itself for this long.",
  }),
  'cluster.leaseRenewMs': int({
    default: 1000,
    min: 100,
    max: 200000,
    doc: 'How often a session actor re-announces itself (one write, whatever the number of shards) and recomputes the membership (at most a third of cluster.leaseTtlMs).',
  }),
  'cluster.leaseSafetyMs': int({
    default: 300,
    min: 0,
    max: 60000,
    doc: 'An owner stops writing its shards this long before its member announcement could have expired (clock drift and pause margin).',
  }),
  'cluster.handoffTimeoutMs': int({ default: 3000, min: 100, max: 60000, doc: "Longest an owner waits for a moving shard's pending work before releasing it anyway." }),
  'cluster.deliverRetryMs': int({
    default: 20000,
    min: 1000,
    max: 600000,
    doc: 'How long a router keeps retrying a QoS 1/2 delivery while a shard has no owner (failover), before failing the publish.',
  }),
  'cluster.loadConcurrency': int({
    default: 128,
    min: 1,
    max: 4096,
    doc: 'Direct gets a session actor has in flight at once when it loads shards: the last entry of each shard it takes over, and the entries of the shards read one entry at a time (a load of a few shards; see docs/sharding.md, Load).',
  }),
  'cluster.loadPassMinShards': int({
    default: 4,
    min: 0,
    max: 65536,
    doc: 'Fewest shards loaded together (a takeover) that a session actor reads in one ordered-consumer pass over the session log stream instead of one direct get per entry; 0 turns the pass off (every load by direct gets, as before the pass existed). See docs/sharding.md, Load.',
  }),
} as const;
