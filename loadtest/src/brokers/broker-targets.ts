/**
 * Brokers the benchmark compares, each started privately on 127.0.0.1 with free ports and a temp dir:
 *   shardmq-single  one shardmq process, every role, in-memory bus
 *   shardmq-nats    a private nats-server (JetStream) + one process per tier (session, router, auth, gateway);
 *                   the fleet load test runs several gateways, session actors or routers and kills them (TierControl)
 *   mosquitto       Debian's mosquitto, anonymous, no persistence, TCP_NODELAY on (see mosquittoConfig)
 *
 * Who may call: the benchmark driver. Every process is started through a ProcessGroup, so the driver's
 * signal/exit handlers can stop it whatever happens.
 */
import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { nodeRuntimeFlags } from '../../../common/src/index.js';
import { connectClient, closeAll } from '../mqtt-clients.js';
import { freePort, loopback, waitForTcp } from './net-probe.js';
import { ProcessGroup, type ManagedProcess } from './process-group.js';
import type { MetricsEndpoint } from '../scenarios/reconnect-storm.js';

export const targetNames = ['shardmq-single', 'shardmq-nats', 'mosquitto'] as const;
export type TargetName = (typeof targetNames)[number];

export interface RunningBroker {
  readonly target: TargetName;
  readonly url: string;
  /** Pids of every process serving this broker (for CPU accounting). */
  pids(): number[];
  /** Pid of the process holding the client sockets (the gateway; mosquitto itself), for memory per connection. */
  frontPid(): number | undefined;
  /** The /metrics endpoint of every shardmq process (none for mosquitto). */
  metrics(): MetricsEndpoint[];
  /** Non-empty when a process of this broker has exited unexpectedly. */
  deadReason(): string | undefined;
  stop(): Promise<void>;
}

export interface TargetContext {
  /** Repository root (where dist/ lives). */
  repoRoot: string;
  /** A private temp dir for this broker (configs, JetStream storage). */
  tmpDir: string;
  /** Readiness timeout. */
  startTimeoutMs: number;
  /** Extra SHARDMQ_* settings for every shardmq process (database auth for the reconnect storm). */
  env?: Record<string, string>;
}

/** Absolute path of an executable found in PATH or the sbin dirs Debian uses, or undefined. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** BENCH_CPU_PROF_DIR: profile the one-process broker and every tier process of the cluster target (`node --cpu-prof`, written at exit). */
const PROFILE_ARGS = process.env['BENCH_CPU_PROF_DIR'] ? ['--cpu-prof', '--cpu-prof-dir', process.env['BENCH_CPU_PROF_DIR']] : [];

export function shardmqEntry(repoRoot: string): string {
  return join(repoRoot, 'dist', 'bin', 'shardmq.js');
}

/** Why a target cannot run here (missing binary or build), or undefined when it can. */
export function unavailableReason(target: TargetName, repoRoot: string): string | undefined {
  if (target === 'mosquitto') return findExecutable('mosquitto') ? undefined : 'mosquitto not installed (apt-get install mosquitto)';
  if (!existsSync(shardmqEntry(repoRoot))) return `shardmq CLI not built (${shardmqEntry(repoRoot)} missing)`;
  if (target === 'shardmq-nats' && !findExecutable('nats-server')) return 'nats-server not installed (apt-get install nats-server)';
  return undefined;
}

/**
 * Environment of shardmq children: the caller's environment without any SHARDMQ_* variable (so a
 * developer's shell settings cannot point the benchmark at another NATS or database), plus `extra`.
 */
function shardmqEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHARDMQ_')) env[k] = v;
  return { ...env, SHARDMQ_LOG_LEVEL: 'warn', SHARDMQ_HTTP_PORT: '0', SHARDMQ_HTTP_HOST: loopback, ...extra };
}

function deadReasonOf(group: ProcessGroup): string | undefined {
  const dead = group.firstExited();
  if (!dead) return undefined;
  return `${dead.name} exited (code ${String(dead.child.exitCode ?? dead.child.signalCode)}):\n${indent(dead.tail())}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .slice(-15)
    .map((l) => `    ${l}`)
    .join('\n');
}

function broker(target: TargetName, url: string, group: ProcessGroup, front: () => ManagedProcess | undefined, metrics: MetricsEndpoint[] = []): RunningBroker {
  return {
    target,
    url,
    pids: () => group.pids(),
    metrics: () => metrics,
    frontPid: () => {
      const p = front();
      return p === undefined || p.hasExited() ? undefined : p.child.pid;
    },
    deadReason: () => deadReasonOf(group),
    stop: () => group.stopAll(),
  };
}

/** Starts something, or stops whatever it had already started and rethrows. */
async function guarded(group: ProcessGroup, start: () => Promise<void>): Promise<void> {
  try {
    await start();
  } catch (err) {
    await group.stopAll(2000);
    throw err;
  }
}

/**
 * Mosquitto as a fair reference: defaults except TCP_NODELAY, which shardmq's Node sockets also set;
 * without it mosquitto's small PUBACKs/deliveries wait for delayed ACKs (40 ms tails on loopback).
 */
export function mosquittoConfig(port: number): string {
  return [`listener ${port} ${loopback}`, 'allow_anonymous true', 'persistence false', 'set_tcp_nodelay true', 'log_dest stderr', 'log_type error', 'log_type warning', ''].join('\n');
}

export async function startMosquitto(ctx: TargetContext): Promise<RunningBroker> {
  const bin = findExecutable('mosquitto');
  if (!bin) throw new Error('mosquitto not installed');
  const port = await freePort();
  const conf = join(ctx.tmpDir, 'mosquitto.conf');
  writeFileSync(conf, mosquittoConfig(port));
  const group = new ProcessGroup('mosquitto');
  let front: ManagedProcess | undefined;
  await guarded(group, async () => {
    front = group.spawn('mosquitto', bin, ['-c', conf]);
    await waitForTcp(port, ctx.startTimeoutMs, () => deadReasonOf(group));
  });
  return broker('mosquitto', `mqtt://${loopback}:${port}`, group, () => front);
}

export async function startShardmqSingle(ctx: TargetContext): Promise<RunningBroker> {
  const port = await freePort();
  const httpPort = await freePort();
  const group = new ProcessGroup('shardmq-single');
  let front: ManagedProcess | undefined;
  await guarded(group, async () => {
    front = group.spawn('shardmq', process.execPath, [...nodeRuntimeFlags, ...PROFILE_ARGS, shardmqEntry(ctx.repoRoot), 'start'], {
      cwd: ctx.repoRoot,
      env: shardmqEnv({ ...ctx.env, SHARDMQ_MQTT_PORT: String(port), SHARDMQ_MQTT_HOST: loopback, SHARDMQ_HTTP_PORT: String(httpPort) }),
    });
    await waitForTcp(port, ctx.startTimeoutMs, () => deadReasonOf(group));
    await waitForConnack(`mqtt://${loopback}:${port}`, ctx.startTimeoutMs, group);
  });
  return broker('shardmq-single', `mqtt://${loopback}:${port}`, group, () => front, [{ process: 'shardmq', url: metricsUrl(httpPort) }]);
}

/** The tiers of a shardmq cluster a load test may kill -9 (and start again). */
export const killableTiers = ['gateway', 'session', 'router', 'nats'] as const;
export type KillableTier = (typeof killableTiers)[number];

/** How many processes of each tier the shardmq-nats target runs (one of each by default). */
export interface ClusterTopology {
  gateways: number;
  sessions: number;
  routers: number;
  /** Extra SHARDMQ_* settings for every shardmq process (e.g. SHARDMQ_SHARDS). */
  env: Record<string, string>;
  /** When set, every process's output is also appended to `<logDir>/<process name>.log` (kept after the run). */
  logDir?: string;
}

export const defaultTopology: ClusterTopology = { gateways: 1, sessions: 1, routers: 1, env: {} };

/** Kill mode: which process serves which tier, so one can be killed -9 and started again the same way. */
export interface TierControl {
  /** Pids of the live processes of a tier, in start order. */
  pids(tier: KillableTier): number[];
  /** SIGKILLs process `index` of `tier` and waits for it to exit; returns its pid. */
  kill(tier: KillableTier, index: number): Promise<number>;
  /**
   * Starts the killed process again with its command, environment and ports (a gateway listens on the
   * same MQTT port, nats-server on the same port and storage dir); resolves once it listens (gateway,
   * nats) or has been spawned (session, router); returns the new pid.
   */
  restart(tier: KillableTier, index: number): Promise<number>;
}

export interface RunningCluster extends RunningBroker {
  /** One MQTT URL per gateway. */
  readonly urls: string[];
  readonly tiers: TierControl;
}

export async function startShardmqNats(ctx: TargetContext, topology: Partial<ClusterTopology> = {}): Promise<RunningCluster> {
  const t: ClusterTopology = { ...defaultTopology, ...topology };
  const natsBin = findExecutable('nats-server');
  if (!natsBin) throw new Error('nats-server not installed');
  const natsPort = await freePort();
  const mqttPorts: number[] = [];
  for (let i = 0; i < t.gateways; i++) mqttPorts.push(await freePort());
  const storeDir = join(ctx.tmpDir, 'jetstream');
  mkdirSync(storeDir, { recursive: true });
  const group = new ProcessGroup('shardmq-nats');
  const metrics: MetricsEndpoint[] = [];
  const byTier: Record<KillableTier, ManagedProcess[]> = { gateway: [], session: [], router: [], nats: [] };
  await guarded(group, async () => {
    const logFile = (name: string) => (t.logDir === undefined ? {} : { logFile: join(t.logDir, `${name.replace(/ /g, '-')}.log`) });
    if (t.logDir !== undefined) mkdirSync(t.logDir, { recursive: true });
    byTier.nats.push(group.spawn('nats-server', natsBin, ['-a', loopback, '-p', String(natsPort), '-js', '-sd', storeDir], logFile('nats-server')));
    await waitForTcp(natsPort, ctx.startTimeoutMs, () => deadReasonOf(group));
    const natsUrl = `nats://${loopback}:${natsPort}`;
    const httpPorts: number[] = [];
    for (let i = 0; i < t.sessions + t.routers + 1 + t.gateways; i++) httpPorts.push(await freePort());
    const tier = (role: string, name: string, extra: Record<string, string> = {}): ManagedProcess => {
      const httpPort = httpPorts[metrics.length]!;
      metrics.push({ process: name, url: metricsUrl(httpPort) });
      return group.spawn(name, process.execPath, [...nodeRuntimeFlags, ...PROFILE_ARGS, shardmqEntry(ctx.repoRoot), 'start'], {
        cwd: ctx.repoRoot,
        env: shardmqEnv({ SHARDMQ_NATS_URL: natsUrl, SHARDMQ_ROLES: role, ...ctx.env, ...t.env, ...extra, SHARDMQ_HTTP_PORT: String(httpPort) }),
        ...logFile(name),
      });
    };
    const numbered = (role: string, i: number, n: number) => (n === 1 ? `shardmq ${role}` : `shardmq ${role}-${i + 1}`);
    for (let i = 0; i < t.sessions; i++) byTier.session.push(tier('session', numbered('session', i, t.sessions)));
    for (let i = 0; i < t.routers; i++) byTier.router.push(tier('router', numbered('router', i, t.routers)));
    tier('auth', 'shardmq auth');
    mqttPorts.forEach((port, i) => byTier.gateway.push(tier('gateway', numbered('gateway', i, t.gateways), { SHARDMQ_MQTT_PORT: String(port), SHARDMQ_MQTT_HOST: loopback })));
    for (const port of mqttPorts) {
      await waitForTcp(port, ctx.startTimeoutMs, () => deadReasonOf(group));
      await waitForConnack(`mqtt://${loopback}:${port}`, ctx.startTimeoutMs, group);
    }
    // A CONNACK needs a gateway, a session actor and the auth service, not a router: a scenario that
    // started before the router subscribed lost its first QoS 0 messages (published to no one).
    await waitForReady(metrics, ctx.startTimeoutMs, group);
  });
  const urls = mqttPorts.map((p) => `mqtt://${loopback}:${p}`);
  const pick = (tierName: KillableTier, index: number): ManagedProcess => {
    const p = byTier[tierName][index];
    if (!p) throw new Error(`no ${tierName} number ${index + 1} (the cluster runs ${byTier[tierName].length})`);
    return p;
  };
  const tiers: TierControl = {
    pids: (tierName) => byTier[tierName].filter((p) => !p.hasExited()).map((p) => p.child.pid!),
    async kill(tierName, index) {
      const p = pick(tierName, index);
      const pid = p.child.pid!;
      await group.killOnPurpose(p);
      return pid;
    },
    async restart(tierName, index) {
      const fresh = group.respawn(pick(tierName, index));
      byTier[tierName][index] = fresh;
      const port = tierName === 'nats' ? natsPort : tierName === 'gateway' ? mqttPorts[index] : undefined;
      if (port !== undefined) await waitForTcp(port, ctx.startTimeoutMs, () => deadReasonOf(group));
      return fresh.child.pid!;
    },
  };
  return { ...broker('shardmq-nats', urls[0]!, group, () => byTier.gateway[0], metrics), urls, tiers };
}

function metricsUrl(httpPort: number): string {
  return `http://${loopback}:${httpPort}/metrics`;
}

/** Waits until every process's /readyz answers 200 (every role ready: docs/operations.md). */
async function waitForReady(endpoints: readonly MetricsEndpoint[], timeoutMs: number, group: ProcessGroup): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const e of endpoints) {
    const url = e.url.replace(/\/metrics$/, '/readyz');
    for (;;) {
      const dead = deadReasonOf(group);
      if (dead) throw new Error(dead);
      const ok = await fetch(url).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() >= deadline) throw new Error(`${e.process} not ready (${url}) within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Retries an MQTT CONNECT until a CONNACK accepts it: the tiers behind a listening gateway may lag. */
async function waitForConnack(url: string, timeoutMs: number, group: ProcessGroup): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let attempt = 0; ; attempt++) {
    const dead = deadReasonOf(group);
    if (dead) throw new Error(dead);
    try {
      const c = await connectClient({ url, connectTimeoutMs: 2000 }, `bench-ready-${process.pid}-${attempt}`);
      await closeAll([c]);
      return;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) throw new Error(`no CONNACK from ${url} within ${timeoutMs} ms: ${(last as Error)?.message ?? String(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function startTarget(target: TargetName, ctx: TargetContext): Promise<RunningBroker> {
  switch (target) {
    case 'mosquitto':
      return startMosquitto(ctx);
    case 'shardmq-single':
      return startShardmqSingle(ctx);
    case 'shardmq-nats':
      return startShardmqNats(ctx);
  }
}
