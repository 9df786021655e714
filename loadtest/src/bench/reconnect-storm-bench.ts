/**
 * The reconnect-storm row of `npm run bench`: a private PostgreSQL with N device rows (cost-6 bcrypt,
 * pgcrypto), the hashing limit of this machine, then per shardmq target a fresh broker with database
 * auth (the cluster with 2 gateways) and the cold and warm storms of scenarios/reconnect-storm.ts.
 * mosquitto has no PostgreSQL bcrypt auth: its row says n/a.
 *
 * Who may call: run-bench.ts. The database comes from the caller (scripts/bench.mjs starts it the way
 * the tests do), so the load generator does not carry a second PostgreSQL launcher.
 */
import { cpus } from 'node:os';
import { startTarget, startShardmqNats, unavailableReason, type RunningBroker, type TargetName } from '../brokers/broker-targets.js';
import { makeTempDir, removeTempDir } from '../brokers/process-group.js';
import { bcryptCost, hashesPerSecondPerCore, insertDevices } from '../scenarios/reconnect-storm-devices.js';
import { runReconnectStorm, type ReconnectStormResult } from '../scenarios/reconnect-storm.js';
import type { Outcome } from './bench-report.js';

/** A private PostgreSQL with the VerneMQ table (and pgcrypto) created, empty. */
export interface StormDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface ReconnectStormBenchOptions {
  repoRoot: string;
  targets: readonly TargetName[];
  /** Devices of the cluster storm (2 gateways) and of the one-process storm. */
  devicesCluster: number;
  devicesSingle: number;
  passwordMethod: 'crypt' | 'bcrypt';
  connackTimeoutMs: number;
  startTimeoutMs: number;
  /** Starts the database, or undefined when PostgreSQL is not installed here. */
  startDatabase: (() => Promise<StormDatabase>) | undefined;
  log: (line: string) => void;
}

export interface HashingLimit {
  method: 'crypt' | 'bcrypt';
  cost: number;
  perCorePerS: number;
  cores: number;
}

export interface ReconnectStormBenchResult extends ReconnectStormResult {
  devices: number;
  hashing: HashingLimit;
  /** devices / (perCorePerS x cores): the cold storm if hashing were the only work. */
  idealColdS: number;
  /** auth.cacheTtlMs the broker ran with (long enough that the warm storm finds every credential). */
  cacheTtlMs: number;
}

/** Long enough for a cold storm of 100,000 devices at this machine's speed to stay cached for the warm one. */
const cacheTtlMs = 3_600_000;

export async function runReconnectStormBench(o: ReconnectStormBenchOptions): Promise<Outcome<ReconnectStormBenchResult>[]> {
  const out: Outcome<ReconnectStormBenchResult>[] = [];
  const runnable = o.targets.filter((t) => t !== 'mosquitto');
  if (o.targets.includes('mosquitto')) out.push({ target: 'mosquitto', ok: false, skipped: true, reason: 'n/a: mosquitto has no PostgreSQL bcrypt authentication' });
  if (runnable.length === 0) return out;
  if (o.startDatabase === undefined) {
    for (const target of runnable) out.push({ target, ok: false, skipped: true, reason: 'PostgreSQL server not installed (apt-get install postgresql)' });
    return out;
  }
  const devices = Math.max(runnable.includes('shardmq-nats') ? o.devicesCluster : 0, runnable.includes('shardmq-single') ? o.devicesSingle : 0);
  o.log(`reconnect-storm: starting PostgreSQL, inserting ${devices} devices (bcrypt cost ${bcryptCost}, pgcrypto)`);
  const db = await o.startDatabase();
  try {
    const t0 = performance.now();
    await insertDevices(db.url, devices);
    o.log(`reconnect-storm: rows inserted in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const target of runnable) {
      const missing = unavailableReason(target, o.repoRoot);
      if (missing !== undefined) {
        out.push({ target, ok: false, skipped: true, reason: missing });
        continue;
      }
      // Measured again for each target, right before its broker starts: on a shared machine the
      // rate moved by 2x from one minute to the next, and the previous target's run takes minutes.
      const hashing: HashingLimit = { method: o.passwordMethod, cost: bcryptCost, perCorePerS: await hashesPerSecondPerCore(o.passwordMethod, db.url), cores: cpus().length };
      o.log(`reconnect-storm: ${hashing.perCorePerS.toFixed(0)} cost-${bcryptCost} verifications/s per core (${o.passwordMethod}) x ${hashing.cores} cores`);
      const n = target === 'shardmq-nats' ? o.devicesCluster : o.devicesSingle;
      out.push(await oneTarget(o, target, n, db.url, hashing));
    }
  } finally {
    await db.stop();
  }
  return out;
}

async function oneTarget(o: ReconnectStormBenchOptions, target: TargetName, devices: number, databaseUrl: string, hashing: HashingLimit): Promise<Outcome<ReconnectStormBenchResult>> {
  const tmpDir = makeTempDir(`shardmq-storm-${target}-`);
  let broker: RunningBroker | undefined;
  try {
    // allowAnonymous only lets the readiness probe (no user name) in; every device sends credentials.
    const env = {
      SHARDMQ_AUTH_DATABASE_URL: databaseUrl,
      SHARDMQ_AUTH_PASSWORD_METHOD: o.passwordMethod,
      SHARDMQ_AUTH_CACHE_TTL_MS: String(cacheTtlMs),
      SHARDMQ_ALLOW_ANONYMOUS: 'true',
    };
    const ctx = { repoRoot: o.repoRoot, tmpDir, startTimeoutMs: o.startTimeoutMs, env };
    o.log(`reconnect-storm: ${target}: starting (${devices} devices${target === 'shardmq-nats' ? ', 2 gateways' : ''})`);
    const started = target === 'shardmq-nats' ? await startShardmqNats(ctx, { gateways: 2 }) : await startTarget(target, ctx);
    broker = started;
    const urls = 'urls' in started ? (started as { urls: string[] }).urls : [started.url];
    const result = await runReconnectStorm({ urls, metrics: started.metrics(), devices, connackTimeoutMs: o.connackTimeoutMs, keepaliveS: 600, log: o.log });
    const dead = started.deadReason();
    if (dead !== undefined) return { target, ok: false, skipped: false, reason: dead };
    const idealColdS = devices / (hashing.perCorePerS * hashing.cores);
    return { target, ok: true, result: { ...result, devices, hashing, idealColdS, cacheTtlMs }, cpu: { brokerPct: Number.NaN, generatorPct: Number.NaN } };
  } catch (err) {
    const reason = broker?.deadReason() ?? (err as Error).message ?? String(err);
    o.log(`reconnect-storm: ${target} failed: ${reason}`);
    return { target, ok: false, skipped: false, reason };
  } finally {
    if (broker) await broker.stop();
    removeTempDir(tmpDir);
  }
}
