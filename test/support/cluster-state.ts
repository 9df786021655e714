import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { Session } from '../../session-actor/src/core/session.js';
import { readShardLog } from '../../session-actor/src/persistence/read-shard-logs.js';
import { openSessionLog } from '../../session-actor/src/persistence/session-log-stream.js';
import { sessionKey, shardOf } from '../../common/src/shard.js';
import { startBroker, type Broker } from './broker.js';

/**
 * Reads the cluster's JetStream state from a test (shard leases, stored sessions), the
 * way an operator would with the nats CLI. Test support only.
 */
export class ClusterState {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
  ) {}

  /** natsUrl: one URL or several, comma separated (a NATS cluster). */
  static async open(natsUrl: string, prefix = 'shardmq'): Promise<ClusterState> {
    return new ClusterState(await connect({ servers: natsUrl.split(',') }), prefix);
  }

  /** shard -> owner node id, for every live lease. */
  async leases(): Promise<Map<number, string>> {
    const kv = await new Kvm(jetstream(this.nc)).open(`${this.prefix}-leases`);
    const out = new Map<number, string>();
    for await (const k of await kv.keys('shard.>')) {
      const e = await kv.get(k);
      if (e && e.operation === 'PUT') out.set(Number(k.slice('shard.'.length)), e.string());
    }
    return out;
  }

  /** Leases per owner. */
  async owners(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const o of (await this.leases()).values()) out.set(o, (out.get(o) ?? 0) + 1);
    return out;
  }

  /** The stored session of a client id (no mountpoint), or undefined. */
  async session(clientId: string, shards: number): Promise<Session | undefined> {
    const log = await openSessionLog(this.nc, { 'cluster.bucketPrefix': this.prefix, 'cluster.storage': 'file', 'cluster.replicas': 1, 'nats.requestTimeoutMs': 5000 });
    const key = sessionKey('', clientId);
    const { replay } = await readShardLog(log, shardOf(key, shards));
    return replay.finish().sessions.get(key);
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

export function shardOfClient(clientId: string, shards: number): number {
  return shardOf(sessionKey('', clientId), shards);
}

/**
 * Waits until every one of `owners` holds leases and every shard is leased; throws after
 * timeoutMs with the lease counts it saw.
 */
export async function waitUntilShardsSpread(state: ClusterState, owners: readonly string[], shards: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await state.owners();
    const leased = [...seen.values()].reduce((a, b) => a + b, 0);
    if (owners.every((o) => (seen.get(o) ?? 0) > 0) && leased === shards) return;
    if (Date.now() > deadline) throw new Error(`shards never spread over ${owners.join(' and ')}: ${JSON.stringify([...seen])}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts a cluster (tiers as processes over NATS) with two session actors, `session-1` and
 * `session-2`, and waits until both hold leases and every shard is leased; throws otherwise.
 */
export async function startTwoOwnerCluster(o: { env: Record<string, string>; gateways: number; shards: number; natsNodes?: number }): Promise<{ broker: Broker; state: ClusterState }> {
  const broker = await startBroker('cluster', { env: o.env, gateways: o.gateways, natsNodes: o.natsNodes, roleEnv: { session: { SHARDMQ_NODE_ID: 'session-1' } } });
  const state = await ClusterState.open(broker.natsUrl!);
  try {
    await broker.spawnRole('session', 'session-2', { SHARDMQ_NODE_ID: 'session-2' });
    await waitUntilShardsSpread(state, ['session-1', 'session-2'], o.shards);
    return { broker, state };
  } catch (err) {
    await state.close();
    await broker.stop();
    throw err;
  }
}
