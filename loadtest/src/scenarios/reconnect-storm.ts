/**
 * Reconnect storm (what a gateway loss causes): `devices` devices with their own credentials connect
 * all at once, spread over the broker's gateways, twice: cold (a fresh auth service, nothing cached:
 * every CONNECT costs a bcrypt verification) and warm (everyone disconnects and reconnects at once:
 * the credentials are in the auth service's cache). For each phase: time until all CONNACKed,
 * CONNECT -> CONNACK percentiles, failures by reason, the broker's refusals by reason (its counters),
 * and the largest event-loop delay of every broker process during the storm: prom-client's
 * nodejs_eventloop_lag_max_seconds is the largest delay since the previous scrape, so the endpoints are
 * scraped once right before the storm and once right after it, and never during it (a scrape walks
 * every socket handle and /proc/self/fd: scraping a gateway holding 10,000 sockets several times a
 * second was a quarter of its CPU time and would be measured as the broker's own delay).
 *
 * Generators: one child process per 10,000 devices (a process here may hold 20,000 descriptors).
 * Who may call: the benchmark driver, with a broker started with database auth and the devices' rows.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { LatencyHistogram, type LatencySummary } from '../latency-histogram.js';
import { byLabel, scrapeMetrics, total, type Scrape } from '../brokers/metrics-scrape.js';
import { sleep } from '../timing.js';
import type { GeneratorCommand, GeneratorReply } from './reconnect-storm-generator.js';

export interface MetricsEndpoint {
  /** Process name (`shardmq gateway-2`). */
  process: string;
  /** Its /metrics URL. */
  url: string;
}

export interface ReconnectStormOptions {
  /** One MQTT URL per gateway; device i connects to urls[i mod length]. */
  urls: readonly string[];
  metrics: readonly MetricsEndpoint[];
  devices: number;
  /** How long a device waits for its CONNACK (it waits in the listen backlog meanwhile). */
  connackTimeoutMs: number;
  keepaliveS: number;
  log: (line: string) => void;
}

export interface StormPhase {
  attempted: number;
  connected: number;
  /** From the first socket opened to the last CONNACK. */
  allConnackedS: number;
  connack: LatencySummary;
  /** Client-side failures by reason (at most the first 60 characters of the error). */
  failures: Record<string, number>;
  /** The broker's own counts during the phase: shardmq_gateway_events_total by `what`, non-zero only. */
  gatewayEvents: Record<string, number>;
  /** shardmq_auth_requests_total by result during the phase. */
  authResults: Record<string, number>;
  /** shardmq_auth_cache_hits_total during the phase (all kinds). */
  authCacheHits: number;
  /** Largest event-loop delay per broker process during the phase, ms. */
  eventLoopMaxMs: Record<string, number>;
}

export interface ReconnectStormResult {
  scenario: 'reconnect-storm';
  gateways: number;
  cold: StormPhase;
  warm: StormPhase;
}

const devicesPerGenerator = 10_000;

/** One generator child process; one command at a time. */
class Generator {
  private readonly child: ChildProcess;
  private waiting: { resolve: (r: GeneratorReply) => void; reject: (e: Error) => void } | undefined;
  private exitReason: string | undefined;

  constructor() {
    this.child = fork(new URL('./reconnect-storm-generator.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: GeneratorReply) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.resolve(m);
    });
    this.child.once('exit', (code, signal) => {
      this.exitReason = `generator process exited (${code ?? signal})`;
      this.waiting?.reject(new Error(this.exitReason));
      this.waiting = undefined;
    });
  }

  ask(cmd: GeneratorCommand): Promise<GeneratorReply> {
    if (this.exitReason !== undefined) return Promise.reject(new Error(this.exitReason));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.child.send(cmd);
    });
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

async function scrapeAll(endpoints: readonly MetricsEndpoint[]): Promise<Scrape[]> {
  return Promise.all(endpoints.map((e) => scrapeMetrics(e.url).catch(() => new Map<string, number>())));
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

function sumLabels(scrapes: readonly Scrape[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of scrapes) for (const [k, v] of Object.entries(byLabel(s, name, label))) out[k] = (out[k] ?? 0) + v;
  return out;
}

function sumTotal(scrapes: readonly Scrape[], name: string): number {
  return scrapes.reduce((n, s) => n + total(s, name), 0);
}

async function phase(o: ReconnectStormOptions, gens: readonly Generator[]): Promise<StormPhase> {
  const before = await scrapeAll(o.metrics); // also resets every process's event-loop maximum
  const per = Math.ceil(o.devices / gens.length);
  const replies = await Promise.all(
    gens.map((g, k) => g.ask({ cmd: 'connect', urls: o.urls, from: k * per, to: Math.min(o.devices, (k + 1) * per), timeoutMs: o.connackTimeoutMs, keepaliveS: o.keepaliveS })),
  );
  const after = await scrapeAll(o.metrics);
  const eventLoopMaxMs: Record<string, number> = {};
  o.metrics.forEach((e, i) => {
    const s = after[i]!;
    eventLoopMaxMs[e.process] = s.size === 0 ? Number.NaN : total(s, 'nodejs_eventloop_lag_max_seconds') * 1000; // NaN: the scrape failed
  });
  const hist = new LatencyHistogram();
  const failures: Record<string, number> = {};
  let connected = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  for (const r of replies) {
    if (r.kind !== 'connected') throw new Error(`generator answered ${r.kind} to connect`);
    for (const ms of r.latenciesMs) hist.recordMs(ms);
    for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
    connected += r.connected;
    first = Math.min(first, r.startedAtMs);
    last = Math.max(last, r.lastAtMs);
  }
  return {
    attempted: o.devices,
    connected,
    allConnackedS: (last - first) / 1000,
    connack: hist.summary(),
    failures,
    gatewayEvents: diff(sumLabels(after, 'shardmq_gateway_events_total', 'what'), sumLabels(before, 'shardmq_gateway_events_total', 'what')),
    authResults: diff(sumLabels(after, 'shardmq_auth_requests_total', 'result'), sumLabels(before, 'shardmq_auth_requests_total', 'result')),
    authCacheHits: sumTotal(after, 'shardmq_auth_cache_hits_total') - sumTotal(before, 'shardmq_auth_cache_hits_total'),
    eventLoopMaxMs,
  };
}

/** Waits until no gateway holds a client connection (the sessions of the cold phase are gone). */
async function waitForNoConnections(o: ReconnectStormOptions, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = sumTotal(await scrapeAll(o.metrics), 'shardmq_gateway_connections');
    if (open === 0) return;
    if (Date.now() > deadline) throw new Error(`${open} connections still open ${timeoutMs} ms after every device disconnected`);
    await sleep(250);
  }
}

export async function runReconnectStorm(o: ReconnectStormOptions): Promise<ReconnectStormResult> {
  const gens = Array.from({ length: Math.max(1, Math.ceil(o.devices / devicesPerGenerator)) }, () => new Generator());
  try {
    o.log(`  cold: ${o.devices} devices connect at once over ${o.urls.length} gateway(s), ${gens.length} generator process(es)`);
    const cold = await phase(o, gens);
    o.log(`  cold: ${cold.connected}/${cold.attempted} CONNACKed in ${cold.allConnackedS.toFixed(1)} s; disconnecting all`);
    await Promise.all(gens.map((g) => g.ask({ cmd: 'disconnect' })));
    await waitForNoConnections(o, 120_000);
    o.log(`  warm: the same ${o.devices} devices reconnect at once (credentials cached)`);
    const warm = await phase(o, gens);
    o.log(`  warm: ${warm.connected}/${warm.attempted} CONNACKed in ${warm.allConnackedS.toFixed(1)} s`);
    await Promise.all(gens.map((g) => g.ask({ cmd: 'disconnect' })));
    return { scenario: 'reconnect-storm', gateways: o.urls.length, cold, warm };
  } finally {
    for (const g of gens) g.stop();
  }
}
