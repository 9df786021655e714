/**
 * Runs the fleet scenario against a shardmq cluster it starts itself (the shardmq-nats target with
 * several gateways and session actors, so killing one leaves service), which lets kill mode know which
 * pid serves which tier and start a killed process again the same way. Everything started is stopped
 * and its temp dir removed when the run ends, whatever happened.
 *
 * Who may call: the load-test CLI and tests. The caller installs signal handlers that call
 * killAllGroupsNow() if it wants Ctrl-C to clean up (the CLI does).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startShardmqNats, unavailableReason, type ClusterTopology, type KillableTier, type RunningCluster } from '../brokers/broker-targets.js';
import { makeTempDir, removeTempDir } from '../brokers/process-group.js';
import { runFleet, type FleetOptions, type FleetResult } from '../scenarios/fleet.js';
import type { KillTarget } from './kill-schedule.js';

/** dist/loadtest/src/fleet/ -> the repository root (where dist/ lives). */
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

export interface TierKill {
  tier: KillableTier;
  /** Which process of the tier (0 = the first). */
  index: number;
  atS: number;
  /** Undefined: leave it dead. */
  restartAfterS?: number;
}

export interface OwnClusterOptions {
  topology: Partial<ClusterTopology>;
  startTimeoutMs: number;
  kill?: TierKill;
}

export interface OwnClusterFleetResult extends FleetResult {
  /** Pids per tier at the start, for the report. */
  pids: Record<KillableTier, number[]>;
}

function pidsOf(cluster: RunningCluster): Record<KillableTier, number[]> {
  return { gateway: cluster.tiers.pids('gateway'), session: cluster.tiers.pids('session'), router: cluster.tiers.pids('router'), nats: cluster.tiers.pids('nats') };
}

export function tierKillTarget(cluster: RunningCluster, k: TierKill): KillTarget {
  const target: KillTarget = {
    name: `${k.tier} ${k.index + 1}`,
    atS: k.atS,
    kill: () => cluster.tiers.kill(k.tier, k.index),
    restart: () => cluster.tiers.restart(k.tier, k.index),
  };
  if (k.restartAfterS !== undefined) target.restartAfterS = k.restartAfterS;
  return target;
}

export async function runFleetOnOwnCluster(fleet: Partial<Omit<FleetOptions, 'urls' | 'kill'>>, c: OwnClusterOptions): Promise<OwnClusterFleetResult> {
  const missing = unavailableReason('shardmq-nats', repoRoot);
  if (missing !== undefined) throw new Error(missing);
  const log = fleet.log ?? (() => {});
  const tmpDir = makeTempDir('shardmq-fleet-');
  let cluster: RunningCluster | undefined;
  try {
    cluster = await startShardmqNats({ repoRoot, tmpDir, startTimeoutMs: c.startTimeoutMs }, c.topology);
    const pids = pidsOf(cluster);
    log(
      `cluster: gateways ${cluster.urls.join(' ')}; pids ${Object.entries(pids)
        .map(([t, p]) => `${t} ${p.join(',')}`)
        .join('; ')}`,
    );
    const result = await runFleet({ ...fleet, urls: cluster.urls, ...(c.kill ? { kill: tierKillTarget(cluster, c.kill) } : {}) });
    const dead = cluster.deadReason();
    if (dead !== undefined) result.failures.push(`a broker process died that was not killed on purpose: ${dead}`);
    return { ...result, pids };
  } finally {
    await cluster?.stop();
    removeTempDir(tmpDir);
  }
}
