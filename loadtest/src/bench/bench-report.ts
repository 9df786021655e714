/**
 * Tables the benchmark prints: one per scenario, one row per broker, with ratios against mosquitto
 * (shardmq / mosquitto: above 1 is better for msgs/s, below 1 is better for latency).
 */
import type { TargetName } from '../brokers/broker-targets.js';
import { formatTable, type Cell } from '../report-table.js';
import type { FanInResult } from '../scenarios/fan-in.js';
import type { FanOutResult } from '../scenarios/fan-out.js';
import type { IdleMemoryResult } from '../scenarios/idle-memory.js';
import type { LatencyResult } from '../scenarios/latency.js';
import type { DurableKneeResult } from './durable-knee.js';
import type { ReconnectStormBenchResult } from './reconnect-storm-bench.js';

/** CPU use during the measured interval, in % of one core. */
export interface CpuShare {
  brokerPct: number;
  generatorPct: number;
}

export type Outcome<R> = { target: TargetName; ok: true; result: R; cpu: CpuShare } | { target: TargetName; ok: false; reason: string; skipped: boolean };

function ratio(value: number, reference: number | undefined): Cell {
  if (reference === undefined || !(reference > 0) || !Number.isFinite(value)) return '-';
  return `${(value / reference).toFixed(2)}x`;
}

function pct(n: number): Cell {
  return Number.isFinite(n) ? `${Math.round(n)}%` : '-';
}

function failedRow(o: { target: TargetName; skipped: boolean }, width: number): Cell[] {
  const row: Cell[] = [o.target, o.skipped ? 'skipped' : 'FAILED'];
  while (row.length < width) row.push('-');
  return row;
}

/** One line per skipped or failed broker under the table (the full reason; a log tail is indented). */
function notes(outcomes: readonly Outcome<unknown>[]): string {
  const lines: string[] = [];
  for (const o of outcomes) {
    if (o.ok) continue;
    lines.push(`  ${o.target} ${o.skipped ? 'skipped' : 'failed'}: ${o.skipped ? o.reason : o.reason.split('\n').slice(0, 16).join('\n  ')}`);
  }
  return lines.length === 0 ? '' : `\n${lines.join('\n')}`;
}

export function fanInTable(outcomes: readonly Outcome<FanInResult>[]): string {
  const ref = outcomes.find((o) => o.target === 'mosquitto' && o.ok) as Extract<Outcome<FanInResult>, { ok: true }> | undefined;
  const headers = ['broker', 'msgs/s', 'p50 ms', 'p99 ms', 'max ms', 'lost', 'msgs/s vs mosq', 'p99 vs mosq', 'broker cpu', 'gen cpu'];
  const rows = outcomes.map((o): Cell[] => {
    if (!o.ok) return failedRow(o, headers.length);
    const r = o.result;
    return [
      o.target,
      r.msgsPerS,
      r.latency.p50Ms,
      r.latency.p99Ms,
      r.latency.maxMs,
      r.lost,
      o.target === 'mosquitto' ? '1.00x' : ratio(r.msgsPerS, ref?.result.msgsPerS),
      o.target === 'mosquitto' ? '1.00x' : ratio(r.latency.p99Ms, ref?.result.latency.p99Ms),
      pct(o.cpu.brokerPct),
      pct(o.cpu.generatorPct),
    ];
  });
  return formatTable(headers, rows) + notes(outcomes);
}

export function latencyTable(outcomes: readonly Outcome<LatencyResult>[]): string {
  const ref = outcomes.find((o) => o.target === 'mosquitto' && o.ok) as Extract<Outcome<LatencyResult>, { ok: true }> | undefined;
  const headers = ['broker', 'offered/s', 'msgs/s', 'p50 ms', 'p99 ms', 'max ms', 'lost', 'dups', 'p50 vs mosq', 'p99 vs mosq', 'broker cpu', 'gen cpu'];
  const rows = outcomes.map((o): Cell[] => {
    if (!o.ok) return failedRow(o, headers.length);
    const r = o.result;
    const self = o.target === 'mosquitto';
    return [
      o.target,
      r.offeredPerS,
      r.achievedPerS,
      r.latency.p50Ms,
      r.latency.p99Ms,
      r.latency.maxMs,
      r.lost,
      r.duplicates,
      self ? '1.00x' : ratio(r.latency.p50Ms, ref?.result.latency.p50Ms),
      self ? '1.00x' : ratio(r.latency.p99Ms, ref?.result.latency.p99Ms),
      pct(o.cpu.brokerPct),
      pct(o.cpu.generatorPct),
    ];
  });
  return formatTable(headers, rows) + notes(outcomes);
}

/**
 * The durable workload: the knee (highest rate that passed) in deliveries/s, with its PUBACK
 * latency, and what the first failing rate showed. The cpu column covers the whole rate ladder.
 */
export function durableTable(outcomes: readonly Outcome<DurableKneeResult>[]): string {
  const ref = outcomes.find((o) => o.target === 'mosquitto' && o.ok) as Extract<Outcome<DurableKneeResult>, { ok: true }> | undefined;
  const deliveries = (r: DurableKneeResult) => (r.knee ? r.knee.ratePerS * r.subscribers : 0);
  const headers = ['broker', 'knee msg/s', 'deliveries/s', 'PUBACK p50 ms', 'PUBACK p99 ms', 'delivery p99 ms', 'lost acked', 'vs mosq', 'next rate', 'broker cpu'];
  const rows = outcomes.map((o): Cell[] => {
    if (!o.ok) return failedRow(o, headers.length);
    const r = o.result;
    const k = r.knee?.result;
    return [
      o.target,
      r.knee?.ratePerS ?? 'none',
      deliveries(r),
      k?.ackLatency.p50Ms ?? '-',
      k?.ackLatency.p99Ms ?? '-',
      k?.latency.p99Ms ?? '-',
      r.lostAcknowledged,
      o.target === 'mosquitto' ? '1.00x' : ratio(deliveries(r), ref ? deliveries(ref.result) : undefined),
      r.above ? `${r.above.ratePerS}: ${r.above.why}` : 'all passed',
      pct(o.cpu.brokerPct),
    ];
  });
  return formatTable(headers, rows) + notes(outcomes);
}

/** Idle memory: resident-set growth of the process holding the sockets, per connection (lower is better). */
export function idleMemoryTable(outcomes: readonly Outcome<IdleMemoryResult>[]): string {
  const ref = outcomes.find((o) => o.target === 'mosquitto' && o.ok) as Extract<Outcome<IdleMemoryResult>, { ok: true }> | undefined;
  const mb = (b: number) => (b / 1048576).toFixed(1);
  const headers = ['broker', 'connections', 'RSS before MB', 'RSS after MB', 'KB per connection', 'vs mosq', 'connect s'];
  const rows = outcomes.map((o): Cell[] => {
    if (!o.ok) return failedRow(o, headers.length);
    const r = o.result;
    return [
      o.target,
      r.connections,
      mb(r.rssBeforeBytes),
      mb(r.rssAfterBytes),
      (r.bytesPerConnection / 1024).toFixed(2),
      o.target === 'mosquitto' ? '1.00x' : ratio(r.bytesPerConnection, ref?.result.bytesPerConnection),
      r.connectS.toFixed(1),
    ];
  });
  return formatTable(headers, rows) + notes(outcomes);
}

/** Fan-out: deliveries per second summed over the subscribers (higher is better). */
export function fanOutTable(outcomes: readonly Outcome<FanOutResult>[]): string {
  const ref = outcomes.find((o) => o.target === 'mosquitto' && o.ok) as Extract<Outcome<FanOutResult>, { ok: true }> | undefined;
  const headers = ['broker', 'published/s', 'deliveries/s', 'p50 ms', 'p99 ms', 'max ms', 'lost', 'deliveries vs mosq', 'broker cpu', 'gen cpu'];
  const rows = outcomes.map((o): Cell[] => {
    if (!o.ok) return failedRow(o, headers.length);
    const r = o.result;
    return [
      o.target,
      r.publishedPerS,
      r.deliveriesPerS,
      r.latency.p50Ms,
      r.latency.p99Ms,
      r.latency.maxMs,
      r.lost,
      o.target === 'mosquitto' ? '1.00x' : ratio(r.deliveriesPerS, ref?.result.deliveriesPerS),
      pct(o.cpu.brokerPct),
      pct(o.cpu.generatorPct),
    ];
  });
  return formatTable(headers, rows) + notes(outcomes);
}

/**
 * Reconnect storm: two rows per broker, cold (every CONNECT a bcrypt verification) and warm (every
 * credential cached). `vs limit`: cold time / the hashing limit (devices / (cost-6 verifications per
 * second per core x cores)); the issue's targets are 1.3x cold and 3 s warm, with every process's
 * event loop delayed by less than 50 ms and nothing refused.
 */
export function reconnectStormTable(outcomes: readonly Outcome<ReconnectStormBenchResult>[]): string {
  const headers = ['broker', 'phase', 'devices', 'gateways', 'CONNACKed', 'all CONNACKed s', 'p50 ms', 'p99 ms', 'failed', 'refused by broker', 'max loop delay ms', 'hashing limit s', 'vs limit'];
  const rows: Cell[][] = [];
  const events = (e: Record<string, number>) =>
    Object.entries(e)
      .filter(([k]) => k.startsWith('connection_refused') || k.startsWith('connect_'))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') || '0';
  for (const o of outcomes) {
    if (!o.ok) {
      rows.push(failedRow(o, headers.length));
      continue;
    }
    const r = o.result;
    for (const [name, p] of [
      ['cold', r.cold],
      ['warm', r.warm],
    ] as const) {
      const loop = Object.entries(p.eventLoopMaxMs).sort((a, b) => b[1] - a[1])[0];
      rows.push([
        o.target,
        name,
        r.devices,
        r.gateways,
        p.connected,
        p.allConnackedS.toFixed(2),
        p.connack.p50Ms,
        p.connack.p99Ms,
        p.attempted - p.connected,
        events(p.gatewayEvents),
        loop ? `${loop[1].toFixed(0)} (${loop[0]})` : '-',
        name === 'cold' ? r.idealColdS.toFixed(2) : '-',
        name === 'cold' ? ratio(p.allConnackedS, r.idealColdS) : `${(p.allConnackedS / 3).toFixed(2)}x of 3 s`,
      ]);
    }
  }
  const lines: string[] = [];
  for (const o of outcomes) {
    if (!o.ok) continue;
    const r = o.result;
    lines.push(
      `  ${o.target}: hashing limit ${r.hashing.perCorePerS.toFixed(0)} cost-${r.hashing.cost} verifications/s per core (${r.hashing.method}) x ${r.hashing.cores} cores = ${(r.hashing.perCorePerS * r.hashing.cores).toFixed(0)}/s`,
    );
    for (const [name, p] of [
      ['cold', r.cold],
      ['warm', r.warm],
    ] as const) {
      const fails = Object.entries(p.failures).map(([k, v]) => `${v} x ${k}`);
      const loops = Object.entries(p.eventLoopMaxMs).map(([k, v]) => `${k} ${v.toFixed(0)}`);
      const auth = Object.entries(p.authResults).map(([k, v]) => `${k}=${v}`);
      lines.push(`    ${name}: auth answers ${auth.join(' ') || '-'}, cache hits ${p.authCacheHits}; loop delay ms: ${loops.join(', ')}${fails.length ? `; failures: ${fails.join(', ')}` : ''}`);
    }
  }
  return formatTable(headers, rows) + (lines.length ? `\n${lines.join('\n')}` : '') + notes(outcomes);
}
