#!/usr/bin/env node
// `npm run bench`: compares shardmq (one process, and tiers over a private nats-server) with mosquitto
// on this machine, on 127.0.0.1 only. Builds first (tsc -b), then runs compiled code from dist/.
// Every process it starts is stopped again on success, error, Ctrl-C or SIGTERM.
//
//   node scripts/bench.mjs [--duration-s 8] [--warmup-s 2] [--only shardmq-single,shardmq-nats,mosquitto]
//                          [--scenario idle-memory,fanin,fanout,latency] [--publishers 100] [--window 20]
//                          [--idle-connections 10000] [--subscribers 1000] [--fanout-window 8]
//                          [--pairs 10] [--rate 2000] [--durable-subscribers 20]
//                          [--durable-rates 250,500,1000,2000,4000] [--durable-duration-s 5]
//                          [--storm-devices 20000] [--storm-devices-single 5000] [--storm-password-method crypt]
//                          [--start-timeout-s 30] [--json] [--out FILE] [--no-build]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { nodeForProject } from './node24.mjs';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const allTargets = ['shardmq-single', 'shardmq-nats', 'mosquitto'];
// idle-memory first: it weighs a fresh broker, before other scenarios have grown its heap.
// reconnect-storm last: it provisions its own PostgreSQL and starts its own brokers (database auth).
const allScenarios = ['idle-memory', 'fanin', 'fanout', 'latency', 'durable', 'reconnect-storm'];

const usage = `usage: npm run bench -- [options]
  --duration-s N        measured seconds per scenario and broker (default 10)
  --warmup-s N          warm-up seconds before measuring (default 2)
  --only LIST           brokers, comma separated: ${allTargets.join(',')} (default all)
  --scenario LIST       scenarios, comma separated: ${allScenarios.join(',')} (default all)
  --publishers N        fan-in publishers (default 100)
  --window N            fan-in messages a publisher may be ahead of the subscriber (default 20)
  --idle-connections N  idle-memory: idle connections held (default 10000)
  --idle-keepalive-s N  idle-memory: their keepalive (default 60)
  --subscribers N       fanout: subscribers of the one topic (default 1000)
  --fanout-window N     fanout: messages the publisher may be ahead of the slowest subscriber (default 8)
  --pairs N             latency publishers = subscribers (default 10)
  --rate N              latency offered rate, msgs/s in total (default 2000)
  --durable-subscribers N   durable: persistent QoS 1 subscribers (default 20)
  --durable-rates LIST  durable: publish rates tried in turn until one fails (default 250,500,1000,2000,4000)
  --durable-duration-s N  durable: seconds per rate (default 5)
  --storm-devices N     reconnect-storm: devices of the cluster storm, over 2 gateways (default 20000)
  --storm-devices-single N  reconnect-storm: devices of the one-process storm (default 5000)
  --storm-password-method M  reconnect-storm: crypt (PostgreSQL verifies, the default) or bcrypt (auth-service workers)
  --storm-connack-timeout-s N  reconnect-storm: how long a device waits for its CONNACK (default 300)
  --start-timeout-s N   broker readiness timeout (default 30)
  --json                also print the raw results as JSON on stdout
  --out FILE            where the raw results go as JSON (default bench-results/bench-<UTC time>.json)
  --no-build            skip 'npx tsc -b'
environment: BENCH_CPU_PROF_DIR=DIR  run the one-process broker and every shardmq process of the cluster with
                      'node --cpu-prof' writing its profile into DIR (at its exit)`;

function fail(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

// The brokers and the load generator run on the node that runs this script: the project's (Node 24
// when this one is older than 22, installed as npm test installs it), so figures are measured on
// the Node that runs shardmq, not on whatever is first on PATH.
{
  const cli = process.env.npm_execpath;
  const npm = cli && cli.endsWith('.js') ? [process.execPath, [cli]] : ['npm', []];
  let bin;
  try {
    bin = nodeForProject(repoRoot, npm, (m) => process.stderr.write(`[bench] ${m}\n`));
  } catch (err) {
    fail(err.message);
  }
  if (bin !== process.execPath) {
    if (process.env.BENCH_MJS_NODE_RERUN === '1') fail(`${bin} is not the node this run was started with`);
    const env = { ...process.env, BENCH_MJS_NODE_RERUN: '1', PATH: [dirname(bin), process.env.PATH ?? ''].join(delimiter) };
    const child = spawn(bin, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', env });
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
    const code = await new Promise((resolve) => {
      child.once('error', (err) => fail(`could not start ${bin}: ${err.message}`));
      child.once('exit', (c, signal) => resolve(c ?? (signal === 'SIGINT' ? 130 : 1)));
    });
    process.exit(code);
  }
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      'duration-s': { type: 'string', default: '10' },
      'warmup-s': { type: 'string', default: '2' },
      only: { type: 'string', default: allTargets.join(',') },
      scenario: { type: 'string', default: allScenarios.join(',') },
      publishers: { type: 'string', default: '100' },
      window: { type: 'string', default: '20' },
      'idle-connections': { type: 'string', default: '10000' },
      'idle-keepalive-s': { type: 'string', default: '60' },
      subscribers: { type: 'string', default: '1000' },
      'fanout-window': { type: 'string', default: '8' },
      pairs: { type: 'string', default: '10' },
      rate: { type: 'string', default: '2000' },
      'durable-subscribers': { type: 'string', default: '20' },
      'durable-rates': { type: 'string', default: '250,500,1000,2000,4000' },
      'durable-duration-s': { type: 'string', default: '5' },
      'storm-devices': { type: 'string', default: '20000' },
      'storm-devices-single': { type: 'string', default: '5000' },
      'storm-password-method': { type: 'string', default: 'crypt' },
      'storm-connack-timeout-s': { type: 'string', default: '300' },
      'start-timeout-s': { type: 'string', default: '30' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (err) {
  fail(`${err.message}\n${usage}`);
}
if (args.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

function num(name, min) {
  const n = Number(args[name]);
  if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}, got ${args[name]}`);
  return n;
}
function list(name, allowed) {
  const items = args[name]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const i of items) if (!allowed.includes(i)) fail(`--${name}: unknown '${i}' (allowed: ${allowed.join(', ')})`);
  if (items.length === 0) fail(`--${name} is empty`);
  return allowed.filter((a) => items.includes(a));
}

function rates(name) {
  const r = args[name].split(',').map((x) => Number(x.trim()));
  if (r.length === 0 || r.some((n) => !Number.isFinite(n) || n < 1)) fail(`--${name} must list rates >= 1, got ${args[name]}`);
  return r.sort((a, b) => a - b);
}

const options = {
  repoRoot,
  targets: list('only', allTargets),
  scenarios: list('scenario', allScenarios),
  durationS: num('duration-s', 1),
  warmupS: num('warmup-s', 0),
  fanInPublishers: num('publishers', 1),
  fanInWindow: num('window', 1),
  idleConnections: num('idle-connections', 1),
  idleKeepaliveS: num('idle-keepalive-s', 1),
  fanOutSubscribers: num('subscribers', 1),
  fanOutWindow: num('fanout-window', 1),
  latencyPairs: num('pairs', 1),
  latencyRatePerS: num('rate', 1),
  durableSubscribers: num('durable-subscribers', 1),
  durableRates: rates('durable-rates'),
  durableDurationS: num('durable-duration-s', 1),
  startTimeoutMs: num('start-timeout-s', 1) * 1000,
  stormDevicesCluster: num('storm-devices', 1),
  stormDevicesSingle: num('storm-devices-single', 1),
  stormPasswordMethod: ['crypt', 'bcrypt'].includes(args['storm-password-method']) ? args['storm-password-method'] : fail('--storm-password-method must be crypt or bcrypt'),
  stormConnackTimeoutMs: num('storm-connack-timeout-s', 1) * 1000,
  startDatabase: undefined,
  log: (line) => process.stderr.write(`[bench] ${line}\n`),
};

if (!args['no-build']) {
  options.log('building (npx tsc -b)');
  const r = spawnSync('npx', ['tsc', '-b'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) options.log('build reported errors; continuing with whatever dist/ holds');
}

// The load generator's public surface (loadtest/src/index.ts; tier boundaries: docs/architecture.md).
const loadtestIndex = join(repoRoot, 'dist', 'loadtest', 'src', 'index.js');
if (!existsSync(loadtestIndex)) fail(`${loadtestIndex} missing: the build did not produce the load generator`);
const { runBench, fanInTable, latencyTable, durableTable, idleMemoryTable, fanOutTable, reconnectStormTable, stopAllGroups, killAllGroupsNow } = await import(pathToFileURL(loadtestIndex).href);

// reconnect-storm's PostgreSQL: started exactly as the tests start theirs (test/support/postgres.ts: a
// private initdb in a temp dir, a free port on 127.0.0.1, killed and removed when this process exits),
// with the VerneMQ table; undefined when no PostgreSQL server is installed (the row says skipped).
if (options.scenarios.includes('reconnect-storm')) {
  const support = join(repoRoot, 'dist', 'test', 'support');
  const { startPostgres, findPostgresBinDir } = await import(pathToFileURL(join(support, 'postgres.js')).href);
  const { applyVmqMigration } = await import(pathToFileURL(join(support, 'vmq-db.js')).href);
  let installed = true;
  try {
    findPostgresBinDir();
  } catch {
    installed = false;
  }
  if (installed) {
    options.startDatabase = async () => {
      const db = await startPostgres();
      await applyVmqMigration(db);
      return { url: db.url, stop: () => db.destroy() };
    };
  }
}

// Cleanup on every way out. 'exit' handlers must be synchronous: SIGKILL as the last resort.
process.on('exit', () => killAllGroupsNow());
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (stopping) {
      killAllGroupsNow();
      process.exit(130);
    }
    stopping = true;
    options.log(`${sig}: stopping brokers`);
    stopAllGroups(2000).finally(() => process.exit(130));
  });
}
process.on('uncaughtException', (err) => {
  options.log(`uncaught: ${err?.stack ?? err}`);
  killAllGroupsNow();
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  options.log(`unhandled rejection: ${err?.stack ?? err}`);
  killAllGroupsNow();
  process.exit(1);
});

const started = Date.now();
let report;
try {
  report = await runBench(options);
} finally {
  await stopAllGroups(2000);
}

const out = [];
out.push(`shardmq benchmark: ${cpus().length} CPUs, node ${process.version}, ${options.durationS} s measured after ${options.warmupS} s warm-up, 127.0.0.1 only`);
if (options.scenarios.includes('idle-memory')) {
  out.push('');
  out.push(`Idle memory: ${options.idleConnections} idle MQTT 3.1.1 connections, keepalive ${options.idleKeepaliveS} s; RSS growth of the process holding the sockets (the gateway; mosquitto itself)`);
  out.push(idleMemoryTable(report['idle-memory']));
}
if (options.scenarios.includes('fanin')) {
  out.push('');
  out.push(`Fan-in, QoS 0: ${options.fanInPublishers} publishers -> 1 wildcard subscriber (bench/<run>/+/data), 64-byte payloads, window ${options.fanInWindow} msgs per publisher`);
  out.push(fanInTable(report.fanin));
}
if (options.scenarios.includes('fanout')) {
  out.push('');
  out.push(`Fan-out, QoS 0: 1 publisher -> ${options.fanOutSubscribers} subscribers of one topic, 64-byte payloads, window ${options.fanOutWindow} msgs ahead of the slowest subscriber`);
  out.push(fanOutTable(report.fanout));
}
if (options.scenarios.includes('latency')) {
  out.push('');
  out.push(`Latency, QoS 1: ${options.latencyPairs} publishers -> ${options.latencyPairs} subscribers (one topic each), ${options.latencyRatePerS} msgs/s offered in total, 64-byte payloads`);
  out.push(latencyTable(report.latency));
}
if (options.scenarios.includes('durable')) {
  out.push('');
  out.push(
    `Durable, QoS 1: ${options.durableSubscribers} persistent subscribers (clean session 0) on one topic, one QoS 1 publisher; rates ${options.durableRates.join(', ')} msg/s for ${options.durableDurationS} s each until one fails`,
  );
  out.push('(a rate passes: every publish acknowledged, every acknowledged message at every subscriber within 5 s of the last PUBACK, PUBACK p99 <= 100 ms; knee = highest passing rate)');
  out.push(durableTable(report.durable));
}
if (options.scenarios.includes('reconnect-storm')) {
  out.push('');
  out.push(
    `Reconnect storm: ${options.stormDevicesCluster} devices (cluster, 2 gateways) / ${options.stormDevicesSingle} (one process), each its own vmq_auth_acl row (bcrypt cost 6, pgcrypto), all connecting at once (auth.passwordMethod ${options.stormPasswordMethod}); cold: nothing cached; warm: all disconnect and reconnect, credentials cached`,
  );
  out.push("(targets: cold within 1.3x the hashing limit, warm within 3 s, every process's event-loop delay under 50 ms, nothing refused; mosquitto has no PostgreSQL bcrypt auth)");
  out.push(reconnectStormTable(report['reconnect-storm']));
}
out.push('');
out.push('Ratios are shardmq / mosquitto (msgs/s: higher is better; latency and memory: lower is better).');
out.push('cpu = % of one core during the measured interval (broker: all its processes incl. nats-server; gen: this load generator).');
out.push('A generator near 100% cpu is the bottleneck: that row is a lower bound for the broker. mosquitto runs with set_tcp_nodelay true.');
out.push(`total time ${((Date.now() - started) / 1000).toFixed(0)} s`);
const outFile = args.out ?? join(repoRoot, 'bench-results', `bench-${new Date(started).toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(report, null, 1)}\n`);
out.push(`raw results: ${outFile}`);
process.stdout.write(`${out.join('\n')}\n`);
if (args.json) process.stdout.write(`${JSON.stringify(report)}\n`);
const anyFailed = [...report.fanin, ...report.latency, ...report.durable, ...report['idle-memory'], ...report.fanout, ...report['reconnect-storm']].some((o) => !o.ok && !o.skipped);
process.exit(anyFailed ? 1 : 0);
