/**
 * The command-line side of the fleet scenario: which broker (URLs given, or `--cluster`: one it starts
 * itself), what to kill (`--kill gateway|session|router|nats` on its own cluster, or `--kill-pid` of a
 * process of a broker running elsewhere, which cannot be restarted from here), and the report.
 *
 * Who may call: cli.ts.
 */
import { killableTiers, type KillableTier } from '../brokers/broker-targets.js';
import { fleetDefaults, runFleet, type FleetOptions, type FleetResult } from '../scenarios/fleet.js';
import { runFleetOnOwnCluster } from './fleet-on-own-cluster.js';
import { formatFleetReport } from './fleet-report.js';
import type { KillTarget } from './kill-schedule.js';

/** Numeric flags of the fleet scenario: flag -> key (FleetOptions keys, or the CLI's own below). */
export const fleetNumericFlags = {
  devices: 'devices',
  'v5-percent': 'v5Percent',
  'will-delay-s': 'willDelayS',
  'session-expiry-s': 'sessionExpiryS',
  'interval-s': 'intervalS',
  'command-rate': 'commandRatePerS',
  consumers: 'consumers',
  'payload-bytes': 'payloadBytes',
  'duration-s': 'durationS',
  'drain-timeout-s': 'drainTimeoutS',
  'connect-timeout-s': 'connectTimeoutS',
  'deadline-s': 'deadlineS',
  'reconnect-ms': 'reconnectPeriodMs',
  concurrency: 'connectConcurrency',
  'kill-at-s': 'killAtS',
  'restart-after-s': 'restartAfterS',
  'kill-index': 'killIndex',
  'kill-pid': 'killPid',
  'cluster-gateways': 'clusterGateways',
  'cluster-sessions': 'clusterSessions',
  'cluster-routers': 'clusterRouters',
  'cluster-shards': 'clusterShards',
} as const;

interface FleetCliOnly {
  killAtS: number;
  restartAfterS: number | undefined;
  killIndex: number;
  killPid: number | undefined;
  clusterGateways: number;
  clusterSessions: number;
  clusterRouters: number;
  clusterShards: number;
}

const cliOnlyDefaults: FleetCliOnly = {
  killAtS: 10,
  restartAfterS: undefined,
  killIndex: 0,
  killPid: undefined,
  clusterGateways: 2,
  clusterSessions: 2,
  clusterRouters: 1,
  clusterShards: 1024,
};

/** Defaults shown by --help. */
export const fleetCliDefaults: Record<string, unknown> = { ...fleetDefaults, ...cliOnlyDefaults };

export interface FleetCliInput {
  urls: string[];
  username?: string;
  password?: string;
  /** `--cluster`: start a private shardmq cluster instead of using `urls`. */
  cluster: boolean;
  /** `--cluster-log-dir`: keep the cluster's process output there. */
  clusterLogDir: string | undefined;
  /** `--kill`: the tier to kill (needs --cluster), or undefined. */
  kill: string | undefined;
  /** Numeric flags, by key of fleetNumericFlags. */
  numbers: Record<string, number>;
  log: (line: string) => void;
}

function killPidTarget(pid: number, atS: number): KillTarget {
  return {
    name: `pid ${pid}`,
    atS,
    kill: async () => {
      process.kill(pid, 'SIGKILL');
      return pid;
    },
  };
}

export async function runFleetCli(input: FleetCliInput): Promise<{ result: FleetResult; table: string; bad: boolean }> {
  const n = input.numbers;
  const cli: FleetCliOnly = { ...cliOnlyDefaults };
  const fleet: Partial<FleetOptions> = { log: input.log };
  for (const [k, v] of Object.entries(n)) {
    if (k in cliOnlyDefaults) (cli as unknown as Record<string, number>)[k] = v;
    else (fleet as Record<string, unknown>)[k] = v;
  }
  if (input.username !== undefined) fleet.username = input.username;
  if (input.password !== undefined) fleet.password = input.password;
  let tier: KillableTier | undefined;
  if (input.kill !== undefined) {
    if (!(killableTiers as readonly string[]).includes(input.kill)) throw new Error(`--kill must be one of ${killableTiers.join(', ')}, got ${input.kill}`);
    if (!input.cluster) throw new Error('--kill <tier> needs --cluster (the scenario must know which pid is which tier); for a broker of your own use --kill-pid');
    tier = input.kill as KillableTier;
  }
  if (cli.killPid !== undefined && input.cluster) throw new Error('--kill-pid is for a broker started elsewhere; with --cluster use --kill <tier>');
  if (cli.killPid !== undefined && cli.restartAfterS !== undefined) throw new Error('--restart-after-s needs --cluster --kill <tier> (a pid given from outside cannot be started again from here)');

  let result: FleetResult & { pids?: Record<string, number[]> };
  if (input.cluster) {
    const kill = tier === undefined ? undefined : { tier, index: cli.killIndex, atS: cli.killAtS, ...(cli.restartAfterS !== undefined ? { restartAfterS: cli.restartAfterS } : {}) };
    result = await runFleetOnOwnCluster(fleet, {
      topology: {
        gateways: cli.clusterGateways,
        sessions: cli.clusterSessions,
        routers: cli.clusterRouters,
        // With a log dir, info level: enough to follow connections, shard moves and gateway deaths afterwards.
        env: { SHARDMQ_SHARDS: String(cli.clusterShards), ...(input.clusterLogDir !== undefined ? { SHARDMQ_LOG_LEVEL: 'info' } : {}) },
        ...(input.clusterLogDir !== undefined ? { logDir: input.clusterLogDir } : {}),
      },
      startTimeoutMs: 60_000,
      ...(kill ? { kill } : {}),
    });
  } else {
    result = await runFleet({ ...fleet, urls: input.urls, ...(cli.killPid !== undefined ? { kill: killPidTarget(cli.killPid, cli.killAtS) } : {}) });
  }
  return { result, table: formatFleetReport(result), bad: result.failures.length > 0 };
}
