import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsCluster, startNatsServer, type NatsClusterHandle, type NatsServerHandle } from './nats-server.js';
import { spawnProcess, type ManagedProcess } from './processes.js';

/**
 * Starts shardmq for an end-to-end test, as real OS processes on free ports:
 * - 'single':  one process, all roles, in-memory bus (the embedded default);
 * - 'cluster': a private nats-server, then router, session, auth and N gateways as separate
 *              processes (the distributed mode).
 */

export type BrokerMode = 'single' | 'cluster';
export const MODES: readonly BrokerMode[] = ['single', 'cluster'];

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const CLI = join(ROOT, 'dist', 'bin', 'shardmq.js');

export interface BrokerOptions {
  /** Extra SHARDMQ_* settings for every process. */
  env?: Record<string, string>;
  /** Gateways in cluster mode (default 2). Single mode always has one. */
  gateways?: number;
  /** Open-file limit (RLIMIT_NOFILE, soft and hard) of every shardmq process, set with prlimit. */
  nofile?: number;
  /** Extra settings per role in cluster mode. */
  roleEnv?: Partial<Record<'gateway' | 'session' | 'router' | 'auth', Record<string, string>>>;
  /** Cluster mode on a NATS cluster of this many nodes (buckets with as many replicas, at most 3) instead of one nats-server. */
  natsNodes?: number;
  /**
   * Cluster mode: join this nats-server (the caller stops it) instead of starting a private one.
   * Single mode: the one process runs on it instead of the in-memory bus (e.g. for the NATS integration subjects).
   */
  nats?: NatsServerHandle;
  /** Cluster mode: the non-gateway roles to start (default router, session, auth). */
  backRoles?: readonly ('router' | 'session' | 'auth')[];
}

export interface Broker {
  readonly mode: BrokerMode;
  /** MQTT ports of the gateways (single mode: one). */
  readonly ports: number[];
  url(gateway?: number): string;
  /** The nats-server (cluster mode on one NATS node). */
  readonly nats?: NatsServerHandle;
  /** The NATS cluster (cluster mode with natsNodes > 1). */
  readonly natsCluster?: NatsClusterHandle;
  /** Every NATS URL, comma separated (cluster mode). */
  readonly natsUrl?: string;
  readonly processes: Map<string, ManagedProcess>;
  /** Process name -> its /metrics port, read from its "ready" line at start. */
  readonly httpPorts: Map<string, number>;
  /** Starts one more process of a role (cluster mode), e.g. a second session actor. */
  spawnRole(role: 'gateway' | 'session' | 'router' | 'auth', name: string, env?: Record<string, string>): Promise<ManagedProcess>;
  output(): string;
  stop(): Promise<void>;
}

const READY = /"msg":"ready"/;

/** The broker refuses unknown SHARDMQ_* variables: the test runner's own (SHARDMQ_TEST_*, SHARDMQ_FUZZ_*) are not passed on. */
function testOnlyEnvRemoved(): Record<string, undefined> {
  const out: Record<string, undefined> = {};
  for (const k of Object.keys(process.env)) if (/^SHARDMQ_(TEST|FUZZ)_/.test(k)) out[k] = undefined;
  return out;
}

async function spawnShardmq(name: string, env: Record<string, string>, nofile?: number): Promise<{ proc: ManagedProcess; mqttPort?: number; httpPort?: number }> {
  // prlimit sets the limit and execs node: the pid stays the broker's.
  const [cmd, args] = nofile === undefined ? [process.execPath, [CLI, 'start']] : ['prlimit', [`--nofile=${nofile}:${nofile}`, process.execPath, CLI, 'start']];
  const proc = await spawnProcess(cmd, args, {
    name,
    env: { ...testOnlyEnvRemoved(), SHARDMQ_LOG_LEVEL: 'info', SHARDMQ_HTTP_PORT: '0', SHARDMQ_MQTT_HOST: '127.0.0.1', SHARDMQ_MQTT_PORT: '0', ...env },
    readyLine: READY,
    readyTimeoutMs: 20_000,
  });
  const line = await proc.waitForLine(READY, 1000).catch(() => '');
  const m = /"mqttPort":(\d+)/.exec(line) ?? /"mqttPort":(\d+)/.exec(proc.output());
  const h = /"httpPort":(\d+)/.exec(line) ?? /"msg":"ready".*?"httpPort":(\d+)/.exec(proc.output());
  return { proc, mqttPort: m ? Number(m[1]) : undefined, httpPort: h ? Number(h[1]) : undefined };
}

export async function startBroker(mode: BrokerMode, o: BrokerOptions = {}): Promise<Broker> {
  const processes = new Map<string, ManagedProcess>();
  const httpPorts = new Map<string, number>();
  const started = (name: string, r: { proc: ManagedProcess; httpPort?: number }) => {
    processes.set(name, r.proc);
    if (r.httpPort) httpPorts.set(name, r.httpPort);
  };
  const ports: number[] = [];
  let nats: NatsServerHandle | undefined;
  let natsCluster: NatsClusterHandle | undefined;
  let natsUrl: string | undefined;
  const stopAll = async () => {
    await Promise.all([...processes.values()].map((p) => p.stop(5000)));
    if (!o.nats) await nats?.stop();
    await natsCluster?.stop();
  };
  try {
    if (mode === 'single') {
      if (o.nats) {
        nats = o.nats;
        natsUrl = nats.url;
      }
      const r = await spawnShardmq('shardmq', { ...(natsUrl ? { SHARDMQ_NATS_URL: natsUrl } : {}), ...o.env }, o.nofile);
      started('shardmq', r);
      ports.push(r.mqttPort!);
    } else {
      const nodes = o.natsNodes ?? 1;
      let replicas: Record<string, string> = {};
      if (nodes > 1) {
        natsCluster = await startNatsCluster({ nodes });
        natsUrl = natsCluster.url;
        replicas = { SHARDMQ_CLUSTER_REPLICAS: String(Math.min(3, nodes)) };
      } else {
        nats = o.nats ?? (await startNatsServer({ jetstream: true }));
        natsUrl = nats.url;
      }
      const base = { SHARDMQ_NATS_URL: natsUrl, ...replicas, ...o.env };
      for (const role of o.backRoles ?? (['router', 'session', 'auth'] as const)) {
        started(role, await spawnShardmq(role, { ...base, SHARDMQ_ROLES: role, ...o.roleEnv?.[role] }, o.nofile));
      }
      const n = o.gateways ?? 2;
      const gws = await Promise.all(Array.from({ length: n }, (_, i) => spawnShardmq(`gateway-${i + 1}`, { ...base, SHARDMQ_ROLES: 'gateway', ...o.roleEnv?.gateway }, o.nofile)));
      gws.forEach((r, i) => {
        started(`gateway-${i + 1}`, r);
        ports.push(r.mqttPort!);
      });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    mode,
    ports,
    nats,
    natsCluster,
    natsUrl,
    processes,
    httpPorts,
    url: (g = 0) => `mqtt://127.0.0.1:${ports[g % ports.length]}`,
    async spawnRole(role, name, env = {}) {
      if (!natsUrl) throw new Error('spawnRole needs cluster mode');
      const replicas: Record<string, string> = natsCluster ? { SHARDMQ_CLUSTER_REPLICAS: String(Math.min(3, natsCluster.nodes.length)) } : {};
      const r = await spawnShardmq(name, { SHARDMQ_NATS_URL: natsUrl, ...replicas, ...o.env, SHARDMQ_ROLES: role, ...o.roleEnv?.[role], ...env });
      started(name, r);
      if (role === 'gateway' && r.mqttPort) ports.push(r.mqttPort);
      return r.proc;
    },
    output: () => [...processes.entries()].map(([n, p]) => `--- ${n}\n${p.output()}`).join('\n'),
    stop: stopAll,
  };
}
