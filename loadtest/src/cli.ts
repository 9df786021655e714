#!/usr/bin/env node
/**
 * Load generator CLI:
 *   node dist/loadtest/src/cli.js <fanin|latency|connect-storm|fleet|durable-fanout> --url mqtt://127.0.0.1:1883 [options]
 *   node dist/loadtest/src/cli.js merge FILE... [--json]   (latency histograms of several runs, --histogram-out)
 * Prints a table (or JSON with --json). Exit code 1 when the run failed or lost messages it should not
 * have (QoS >= 1 loss), so it can gate CI.
 */
import { parseArgs } from 'node:util';
import type { ConnectionParams, ProtocolVersion } from './mqtt-clients.js';
import { formatTable, type Cell } from './report-table.js';
import { connectStormDefaults, runConnectStorm } from './scenarios/connect-storm.js';
import { durableFanoutDefaults, runDurableFanout } from './scenarios/durable-fanout.js';
import { fanInDefaults, runFanIn } from './scenarios/fan-in.js';
import { killAllGroupsNow } from './brokers/process-group.js';
import { fleetCliDefaults, fleetNumericFlags, runFleetCli } from './fleet/fleet-cli.js';
import { latencyDefaults, runLatency } from './scenarios/latency.js';
import type { LatencySummary } from './latency-histogram.js';
import { mergeHistogramLogs, writeHistogramLog } from './hdr-histogram-file.js';
import { RunProgress } from './run-progress.js';

/** Numeric flags per scenario: flag name -> option key (defaults shown in --help come from the modules). */
const numericFlags = {
  fanin: {
    publishers: 'publishers',
    window: 'windowPerPublisher',
    'payload-bytes': 'payloadBytes',
    qos: 'qos',
    'warmup-s': 'warmupS',
    'duration-s': 'durationS',
    'stall-timeout-ms': 'stallTimeoutMs',
  },
  latency: { pairs: 'pairs', rate: 'ratePerS', 'payload-bytes': 'payloadBytes', qos: 'qos', 'warmup-s': 'warmupS', 'duration-s': 'durationS' },
  'connect-storm': { clients: 'clients', concurrency: 'concurrency', 'hold-s': 'holdS' },
  fleet: fleetNumericFlags,
  'durable-fanout': { subscribers: 'subscribers', rate: 'ratePerS', 'payload-bytes': 'payloadBytes', 'duration-s': 'durationS', 'drain-timeout-ms': 'drainTimeoutMs' },
} as const;
type Scenario = keyof typeof numericFlags;

const defaultsOf: Record<Scenario, object> = {
  fanin: fanInDefaults,
  latency: latencyDefaults,
  'connect-storm': connectStormDefaults,
  fleet: fleetCliDefaults,
  'durable-fanout': durableFanoutDefaults,
};

function usage(): string {
  const lines = [
    'usage: node dist/loadtest/src/cli.js <scenario> --url mqtt://127.0.0.1:1883 [options]',
    '',
    'common options: --url URL  --protocol 3.1.1|5  --username U  --password P  --json',
    '                --progress-s 5 (a progress line on stderr every N s; 0: none)',
    '                --histogram-out FILE (the latency histogram, HdrHistogram log format, values in us)',
    'merge FILE... [--json]: merged percentiles of histograms written by several generator processes',
    'fleet: --url may be repeated or a comma list (gateways); --cluster starts a private shardmq cluster;',
    '       --kill gateway|session|router|nats (with --cluster) or --kill-pid PID; --v5-percent sets the 3.1.1/5 mix;',
    '       --cluster-log-dir DIR keeps the output of every cluster process (at log level info)',
  ];
  for (const [name, flags] of Object.entries(numericFlags) as [Scenario, Record<string, string>][]) {
    const d = defaultsOf[name] as Record<string, unknown>;
    lines.push(
      `${name}: ${Object.entries(flags)
        .map(([f, k]) => `--${f} ${d[k] === undefined ? '(none)' : String(d[k])}`)
        .join('  ')}`,
    );
  }
  return lines.join('\n');
}

function latencyRow(label: string, l: LatencySummary): Cell[] {
  return [label, l.count, l.p50Ms, l.p90Ms, l.p99Ms, l.p999Ms, l.maxMs];
}
const latencyHeaders = ['latency', 'samples', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms'];

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === '--help' || first === '-h') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (first === 'merge') return mergeCommand(argv.slice(1));
  if (first === undefined || !(first in numericFlags)) {
    process.stderr.write(`${usage()}\n`);
    return 2;
  }
  const scenario = first as Scenario;
  const flags = numericFlags[scenario] as Record<string, string>;
  const { values } = parseArgs({
    args: argv.slice(1),
    strict: true,
    options: {
      url: { type: 'string', multiple: true },
      cluster: { type: 'boolean', default: false },
      kill: { type: 'string' },
      'cluster-log-dir': { type: 'string' },
      protocol: { type: 'string', default: '3.1.1' },
      username: { type: 'string' },
      password: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      'progress-s': { type: 'string', default: '5' },
      'histogram-out': { type: 'string' },
      ...Object.fromEntries(Object.keys(flags).map((f) => [f, { type: 'string' as const }])),
    },
  });
  if (values.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const protocols: Record<string, ProtocolVersion> = { '3.1': 3, '3.1.1': 4, '4': 4, '5': 5, '5.0': 5 };
  const protocolVersion = protocols[String(values.protocol)];
  if (protocolVersion === undefined) throw new Error(`--protocol must be 3.1, 3.1.1 or 5, got ${values.protocol}`);
  const urls = (values.url ?? ['mqtt://127.0.0.1:1883'])
    .flatMap((u) => u.split(','))
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
  if (scenario !== 'fleet' && (values.cluster || values.kill !== undefined || values['cluster-log-dir'] !== undefined)) throw new Error('--cluster and --kill are options of the fleet scenario');
  const conn: ConnectionParams = { url: urls[0]!, protocolVersion };
  if (typeof values.username === 'string') conn.username = values.username;
  if (typeof values.password === 'string') conn.password = values.password;
  const opts: Record<string, unknown> = { ...conn };
  for (const [flag, key] of Object.entries(flags)) {
    const raw = (values as Record<string, unknown>)[flag];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${flag} must be a non-negative number, got ${String(raw)}`);
    opts[key] = n;
  }

  const progressS = Number(values['progress-s']);
  if (!Number.isFinite(progressS) || progressS < 0) throw new Error(`--progress-s must be a non-negative number, got ${values['progress-s']}`);
  const histogramOut = values['histogram-out'];
  if (scenario === 'fleet' && histogramOut !== undefined) throw new Error('--histogram-out: the fleet scenario has no single latency histogram');
  const progress = new RunProgress();
  opts.progress = progress;
  const startedMs = Date.now();
  // The fleet scenario prints its own progress (phases, kills, reconnects).
  const stopProgress = progressS > 0 && scenario !== 'fleet' ? progress.report(progressS * 1000, (line) => process.stderr.write(`${scenario}: ${line}\n`)) : () => {};

  let result: { scenario: string };
  let table: string;
  let bad = false;
  switch (scenario) {
    case 'fanin': {
      const r = await runFanIn(opts as Parameters<typeof runFanIn>[0]);
      result = r;
      bad = r.qos > 0 && r.lost > 0;
      table = formatTable(['publishers', 'window', 'qos', 'msgs/s', 'received', 'lost', 'dup/late'], [[r.publishers, r.windowPerPublisher, r.qos, r.msgsPerS, r.received, r.lost, r.old]]);
      table += `\n\n${formatTable(latencyHeaders, [latencyRow('publish -> deliver', r.latency)])}`;
      break;
    }
    case 'latency': {
      const r = await runLatency(opts as Parameters<typeof runLatency>[0]);
      result = r;
      bad = r.qos > 0 && r.lost > 0;
      table = formatTable(
        ['pairs', 'qos', 'offered/s', 'achieved/s', 'sent', 'received', 'lost', 'dups', 'gen skipped'],
        [[r.pairs, r.qos, r.offeredPerS, r.achievedPerS, r.sent, r.received, r.lost, r.duplicates, r.generatorSkipped]],
      );
      const rows = [latencyRow('publish -> deliver', r.latency)];
      if (r.qos > 0) rows.push(latencyRow('publish -> ack', r.ackLatency));
      table += `\n\n${formatTable(latencyHeaders, rows)}`;
      break;
    }
    case 'connect-storm': {
      const r = await runConnectStorm(opts as Parameters<typeof runConnectStorm>[0]);
      result = r;
      bad = r.failed > 0;
      table = formatTable(['attempted', 'connected', 'failed', 'elapsed s', 'connects/s'], [[r.attempted, r.connected, r.failed, r.elapsedS, r.connectsPerS]]);
      table += `\n\n${formatTable(latencyHeaders, [latencyRow('connect -> connack', r.connectLatency)])}`;
      for (const [reason, n] of Object.entries(r.failures)) table += `\nfailure x${n}: ${reason}`;
      break;
    }
    case 'fleet': {
      const numbers: Record<string, number> = {};
      for (const key of Object.values(flags)) if (typeof opts[key] === 'number') numbers[key] = opts[key] as number;
      const fleetLog = (line: string) => process.stderr.write(`fleet: ${line}\n`);
      const r = await runFleetCli({ ...conn, urls, cluster: values.cluster === true, clusterLogDir: values['cluster-log-dir'], kill: values.kill, numbers, log: fleetLog });
      result = r.result;
      bad = r.bad;
      table = r.table;
      break;
    }
    case 'durable-fanout': {
      const r = await runDurableFanout(opts as Parameters<typeof runDurableFanout>[0]);
      result = r;
      bad = r.unacknowledged > 0 || r.missing > 0;
      table = formatTable(
        ['subscribers', 'offered/s', 'sent', 'acked', 'owed', 'delivered', 'missing', 'dups', 'last delivery - last ack ms'],
        [[r.subscribers, r.offeredPerS, r.sent, r.acknowledged, r.owed, r.delivered, r.missing, r.duplicates, r.lastDeliveryAfterLastAckMs]],
      );
      table += `\n\n${formatTable(latencyHeaders, [latencyRow('publish -> deliver', r.latency), latencyRow('publish -> ack', r.ackLatency)])}`;
      break;
    }
  }
  stopProgress();
  if (histogramOut !== undefined) {
    writeHistogramLog(histogramOut, progress.latency, `${scenario} ${progress.latencyWhat}`, startedMs, Date.now());
    process.stderr.write(`${scenario}: latency histogram (${progress.latency.count} samples) written to ${histogramOut}\n`);
  }
  const against = scenario === 'fleet' ? (values.cluster ? 'a private shardmq cluster' : urls.join(' ')) : conn.url;
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${scenario} against ${against}\n\n${table}\n`);
  return bad ? 1 : 0;
}

/** `merge FILE...`: the percentiles of all the files' samples together. */
function mergeCommand(args: string[]): number {
  const { values, positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  if (positionals.length === 0) throw new Error('merge: name at least one histogram file (written with --histogram-out)');
  const m = mergeHistogramLogs(positionals);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(m)}\n`);
    return 0;
  }
  const ms = (us: number) => us / 1000;
  const headers = ['files', 'samples', 'min ms', ...m.percentiles.map(([p]) => `p${p} ms`), 'max ms'];
  process.stdout.write(`${formatTable(headers, [[m.files, m.count, ms(m.minUs), ...m.percentiles.map(([, v]) => ms(v)), ms(m.maxUs)]])}\n`);
  return 0;
}

// The fleet scenario's --cluster starts processes: never leave them behind, even on Ctrl-C.
process.on('exit', () => killAllGroupsNow());
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    killAllGroupsNow();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`loadtest: ${(err as Error).message ?? String(err)}\n`);
    process.exit(1);
  },
);
