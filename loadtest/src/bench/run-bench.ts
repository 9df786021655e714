/**
 * The benchmark driver behind `npm run bench`: for each broker target, start it privately on
 * 127.0.0.1, run the chosen scenarios against it, and stop it again (also on failure), collecting one
 * outcome per (scenario, target). Brokers run one after another so they never compete for the CPU.
 *
 * Who may call: scripts/bench.mjs (which also installs the signal handlers that stop brokers on Ctrl-C).
 */
import { startTarget, unavailableReason, type RunningBroker, type TargetName } from '../brokers/broker-targets.js';
import { makeTempDir, removeTempDir } from '../brokers/process-group.js';
import { cpuSeconds, ownCpuSeconds } from '../brokers/proc-cpu.js';
import { runFanIn, type FanInResult } from '../scenarios/fan-in.js';
import { runFanOut, type FanOutResult } from '../scenarios/fan-out.js';
import { runIdleMemory, type IdleMemoryResult } from '../scenarios/idle-memory.js';
import { runLatency, type LatencyResult } from '../scenarios/latency.js';
import type { CpuShare, Outcome } from './bench-report.js';
import { runDurableKnee, type DurableKneeResult } from './durable-knee.js';
import { runReconnectStormBench, type ReconnectStormBenchResult, type StormDatabase } from './reconnect-storm-bench.js';

export const benchScenarios = ['fanin', 'latency', 'durable', 'idle-memory', 'fanout', 'reconnect-storm'] as const;
export type BenchScenario = (typeof benchScenarios)[number];

export interface BenchOptions {
  repoRoot: string;
  targets: readonly TargetName[];
  scenarios: readonly BenchScenario[];
  warmupS: number;
  durationS: number;
  fanInPublishers: number;
  fanInWindow: number;
  latencyPairs: number;
  latencyRatePerS: number;
  durableSubscribers: number;
  durableRates: readonly number[];
  durableDurationS: number;
  idleConnections: number;
  idleKeepaliveS: number;
  fanOutSubscribers: number;
  fanOutWindow: number;
  startTimeoutMs: number;
  /** reconnect-storm: devices of the cluster storm (2 gateways) and of the one-process storm. */
  stormDevicesCluster: number;
  stormDevicesSingle: number;
  stormPasswordMethod: 'crypt' | 'bcrypt';
  stormConnackTimeoutMs: number;
  /** reconnect-storm: starts a private PostgreSQL with the VerneMQ table; undefined when none is installed. */
  startDatabase: (() => Promise<StormDatabase>) | undefined;
  /** Progress lines (stderr in the CLI). */
  log: (line: string) => void;
}

export interface BenchReport {
  fanin: Outcome<FanInResult>[];
  latency: Outcome<LatencyResult>[];
  durable: Outcome<DurableKneeResult>[];
  'idle-memory': Outcome<IdleMemoryResult>[];
  fanout: Outcome<FanOutResult>[];
  'reconnect-storm': Outcome<ReconnectStormBenchResult>[];
}

type AnyResult = FanInResult | LatencyResult | DurableKneeResult | IdleMemoryResult | FanOutResult;
type AnyOutcome = Outcome<FanInResult> | Outcome<LatencyResult> | Outcome<DurableKneeResult> | Outcome<IdleMemoryResult> | Outcome<FanOutResult> | Outcome<ReconnectStormBenchResult>;
/** Scenarios run on the broker each target starts; reconnect-storm starts its own (database auth, 2 gateways). */
type SharedBrokerScenario = Exclude<BenchScenario, 'reconnect-storm'>;

/** Samples broker and generator CPU seconds at the start and end of the measured interval. */
class CpuMeter {
  private b0 = 0;
  private g0 = 0;
  private t0 = 0;
  share: CpuShare = { brokerPct: Number.NaN, generatorPct: Number.NaN };

  constructor(private readonly broker: RunningBroker) {}

  start = (): void => {
    this.b0 = cpuSeconds(this.broker.pids());
    this.g0 = ownCpuSeconds();
    this.t0 = performance.now();
  };

  end = (): void => {
    const wallS = (performance.now() - this.t0) / 1000;
    this.share = {
      brokerPct: ((cpuSeconds(this.broker.pids()) - this.b0) / wallS) * 100,
      generatorPct: ((ownCpuSeconds() - this.g0) / wallS) * 100,
    };
  };
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const report: BenchReport = { fanin: [], latency: [], durable: [], 'idle-memory': [], fanout: [], 'reconnect-storm': [] };
  const record = (scenario: BenchScenario, outcome: AnyOutcome) => {
    (report[scenario] as AnyOutcome[]).push(outcome);
  };
  const shared = o.scenarios.filter((s): s is SharedBrokerScenario => s !== 'reconnect-storm');

  for (const target of shared.length === 0 ? [] : o.targets) {
    const missing = unavailableReason(target, o.repoRoot);
    if (missing !== undefined) {
      o.log(`${target}: skipped (${missing})`);
      for (const s of shared) record(s, { target, ok: false, skipped: true, reason: missing });
      continue;
    }
    const tmpDir = makeTempDir(`shardmq-bench-${target}-`);
    let broker: RunningBroker | undefined;
    try {
      o.log(`${target}: starting`);
      broker = await startTarget(target, { repoRoot: o.repoRoot, tmpDir, startTimeoutMs: o.startTimeoutMs });
      o.log(`${target}: ready at ${broker.url}`);
      for (const scenario of shared) {
        const dead = broker.deadReason();
        if (dead !== undefined) {
          record(scenario, { target, ok: false, skipped: false, reason: dead });
          continue;
        }
        if (scenario === 'durable') o.log(`${target}: durable (${o.durableDurationS} s per rate, rates ${o.durableRates.join(', ')} msg/s until one fails)`);
        else if (scenario === 'idle-memory') o.log(`${target}: idle-memory (${o.idleConnections} idle connections, keepalive ${o.idleKeepaliveS} s)`);
        else o.log(`${target}: ${scenario} (${o.warmupS} s warm-up + ${o.durationS} s)`);
        const cpu = new CpuMeter(broker);
        try {
          const common = { url: broker.url, warmupS: o.warmupS, durationS: o.durationS, onMeasureStart: cpu.start, onMeasureEnd: cpu.end };
          let result: AnyResult;
          if (scenario === 'idle-memory') {
            const pid = broker.frontPid();
            if (pid === undefined) throw new Error('front process not running');
            result = await runIdleMemory({ url: broker.url, pid, connections: o.idleConnections, keepaliveS: o.idleKeepaliveS });
          } else if (scenario === 'fanout') result = await runFanOut({ ...common, subscribers: o.fanOutSubscribers, window: o.fanOutWindow });
          else if (scenario === 'fanin') result = await runFanIn({ ...common, publishers: o.fanInPublishers, windowPerPublisher: o.fanInWindow });
          else if (scenario === 'latency') result = await runLatency({ ...common, pairs: o.latencyPairs, ratePerS: o.latencyRatePerS });
          else {
            cpu.start();
            result = await runDurableKnee({
              url: broker.url,
              subscribers: o.durableSubscribers,
              rates: o.durableRates,
              durationS: o.durableDurationS,
              deliverWithinMs: 5000,
              ackP99LimitMs: 100,
              log: o.log,
            });
            cpu.end();
          }
          const diedDuring = broker.deadReason();
          if (diedDuring !== undefined) record(scenario, { target, ok: false, skipped: false, reason: diedDuring });
          else record(scenario, { target, ok: true, result, cpu: cpu.share } as AnyOutcome);
        } catch (err) {
          const reason = broker.deadReason() ?? (err as Error).message ?? String(err);
          o.log(`${target}: ${scenario} failed: ${reason}`);
          record(scenario, { target, ok: false, skipped: false, reason });
        }
      }
    } catch (err) {
      const reason = (err as Error).message ?? String(err);
      o.log(`${target}: could not start: ${reason}`);
      for (const s of shared) {
        const already = (report[s] as AnyOutcome[]).some((x) => x.target === target);
        if (!already) record(s, { target, ok: false, skipped: false, reason: `start failed: ${reason}` });
      }
    } finally {
      if (broker) {
        o.log(`${target}: stopping`);
        await broker.stop();
      }
      removeTempDir(tmpDir);
    }
  }
  if (o.scenarios.includes('reconnect-storm')) {
    report['reconnect-storm'] = await runReconnectStormBench({
      repoRoot: o.repoRoot,
      targets: o.targets,
      devicesCluster: o.stormDevicesCluster,
      devicesSingle: o.stormDevicesSingle,
      passwordMethod: o.stormPasswordMethod,
      connackTimeoutMs: o.stormConnackTimeoutMs,
      startTimeoutMs: o.startTimeoutMs,
      startDatabase: o.startDatabase,
      log: o.log,
    });
  }
  return report;
}
