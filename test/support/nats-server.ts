import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { openLogFile } from './processes.js';

/**
 * A private nats-server per test suite: own free port on 127.0.0.1, own temp store dir,
 * killed when the test process exits. Tests call stop() in after().
 */
export interface NatsServerHandle {
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Temp dir (JetStream store when enabled); removed by stop(). */
  readonly storeDir: string;
  /** Graceful stop (SIGTERM, SIGKILL after stopTimeoutMs), then removes storeDir. Idempotent. */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL) without waiting: a crash, for failover tests. */
  kill(signal?: NodeJS.Signals): void;
  /** Stops the server if running and starts it again on the same port and store dir. */
  restart?(): Promise<void>;
}

export interface StartNatsServerOptions {
  jetstream?: boolean;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const PORT_ATTEMPTS = 5;
const STDERR_TAIL_CHARS = 4096;

/** Children still running, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
/** Store dirs not yet removed by stop(), removed at exit as well. */
const liveDirs = new Set<string>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    live.clear();
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
    liveDirs.clear();
  };
  process.on('exit', killAll);
  // A fatal signal skips 'exit': kill the servers, then die of the same signal unless
  // someone else handles it.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAll();
      process.removeListener(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

class StartError extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
  }
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
}

function spawnServer(port: number, storeDir: string, jetstream: boolean, extraArgs: readonly string[] = []): Promise<Running> {
  const args = ['-a', HOST, '-p', String(port), ...extraArgs];
  if (jetstream) args.push('-js', '-sd', storeDir);
  const child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  // nats-server's own log (elections, route losses), kept whole with SHARDMQ_TEST_LOG_DIR.
  const logFile = openLogFile(`nats-${port}`, child.pid ?? 0);
  if (logFile) child.once('exit', () => logFile.end());
  let tail = '';
  let ready = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
  });

  return new Promise<Running>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new StartError(`nats-server did not become ready within ${READY_TIMEOUT_MS} ms:\n${tail}`, false));
    }, READY_TIMEOUT_MS);

    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      live.delete(child);
      if (err.code === 'ENOENT') {
        reject(new Error('nats-server not found on PATH: install the Debian package `nats-server` (apt-get install nats-server)'));
      } else {
        reject(err);
      }
    });
    child.once('exit', (code, signal) => {
      if (ready) return;
      clearTimeout(timer);
      reject(new StartError(`nats-server exited (code ${code}, signal ${signal}) before it was ready:\n${tail}`, /address already in use/i.test(tail)));
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      logFile?.write(chunk);
      if (ready) return; // keep draining the pipe, stop collecting
      tail = (tail + chunk).slice(-STDERR_TAIL_CHARS);
      // Logged by this very process once its client listener is up: a probe of the port
      // alone could reach another test's server that won a race for the same port.
      if (tail.includes('Server is ready')) {
        ready = true;
        clearTimeout(timer);
        probeInfo(port).then(
          () => resolve({ child, exited }),
          (err) => {
            child.kill('SIGKILL');
            reject(err);
          },
        );
      }
    });
  });
}

/** Resolves when a TCP client on the port receives the NATS INFO greeting. */
function probeInfo(port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const sock = tcpConnect({ host: HOST, port });
    sock.setTimeout(READY_TIMEOUT_MS);
    sock.once('data', (d: Buffer) => {
      sock.destroy();
      if (d.subarray(0, 4).toString('latin1') === 'INFO') resolve();
      else reject(new Error(`port ${port} answered without a NATS INFO line`));
    });
    sock.once('timeout', () => {
      sock.destroy();
      reject(new Error(`no INFO from nats-server on port ${port}`));
    });
    sock.once('error', reject);
  });
}

async function stopChild(r: Running | undefined): Promise<void> {
  if (!r || r.child.exitCode !== null || r.child.signalCode !== null) return;
  r.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      r.child.kill('SIGKILL');
      resolve();
    }, STOP_TIMEOUT_MS);
  });
  await Promise.race([r.exited, forced]);
  clearTimeout(timer);
  await r.exited;
}

/**
 * Starts nats-server on a free 127.0.0.1 port (with JetStream in a temp store dir when
 * asked) and resolves once it accepts clients. Throws naming the Debian package when the
 * binary is missing. Who may call: tests only.
 */
export async function startNatsServer(opts: StartNatsServerOptions = {}): Promise<NatsServerHandle> {
  installExitHooks();
  const jetstream = opts.jetstream ?? false;
  const storeDir = await mkdtemp(join(tmpdir(), 'shardmq-nats-'));
  liveDirs.add(storeDir);
  let port = 0;
  let running: Running | undefined;
  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort(HOST);
      try {
        running = await spawnServer(port, storeDir, jetstream);
        break;
      } catch (err) {
        // Lost a race for the port with another process: pick another.
        if (err instanceof StartError && err.addressInUse && attempt < PORT_ATTEMPTS) continue;
        throw err;
      }
    }
  } catch (err) {
    await rm(storeDir, { recursive: true, force: true });
    liveDirs.delete(storeDir);
    throw err;
  }

  let stopped: Promise<void> | undefined;
  const handle: NatsServerHandle = {
    url: `nats://${HOST}:${port}`,
    port,
    storeDir,
    stop() {
      stopped ??= (async () => {
        await stopChild(running);
        running = undefined;
        await rm(storeDir, { recursive: true, force: true });
        liveDirs.delete(storeDir);
      })();
      return stopped;
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (running && running.child.exitCode === null && running.child.signalCode === null) running.child.kill(signal);
    },
    async restart() {
      if (stopped) throw new Error('nats-server handle already stopped');
      await stopChild(running);
      running = undefined;
      running = await spawnServer(port, storeDir, jetstream);
    },
  };
  return handle;
}

/** One node of a test NATS cluster. */
export interface NatsNodeHandle {
  /** Server name (also its JetStream peer name). */
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** HTTP monitoring port (`/varz`, `/jsz`). */
  readonly monitorPort: number;
  /** Sends a signal (default SIGKILL) without waiting: a crash. */
  kill(signal?: NodeJS.Signals): void;
  /** Waits until the node's process has ended (after kill). */
  exited(): Promise<void>;
  /** Starts the node again on the same ports and store dir (after kill), rejoining the cluster. */
  restart(): Promise<void>;
}

/**
 * A NATS cluster of `nodes` servers on 127.0.0.1 (free client, cluster and monitoring ports,
 * routes between all of them, JetStream with a private store dir each), the way production
 * runs it. `url` lists every node, comma separated (the format of SHARDMQ_NATS_URL).
 */
export interface NatsClusterHandle {
  readonly url: string;
  readonly urls: string[];
  readonly nodes: NatsNodeHandle[];
  /** Index of the node that is the JetStream meta leader now (asks the live nodes). */
  metaLeader(): Promise<number>;
  /** Stops every node and removes the store dirs. Idempotent. */
  stop(): Promise<void>;
}

/** GET a monitoring endpoint of a node as JSON. */
async function monitor(port: number, path: string): Promise<Record<string, unknown>> {
  const r = await fetch(`http://${HOST}:${port}${path}`, { signal: AbortSignal.timeout(2000) });
  return (await r.json()) as Record<string, unknown>;
}

function metaLeaderName(jsz: Record<string, unknown>): string {
  const meta = jsz.meta_cluster as { leader?: string } | undefined;
  return meta?.leader ?? '';
}

/**
 * Starts a `nodes`-server JetStream cluster and resolves once it has elected a JetStream meta
 * leader (before that, creating a stream fails). Who may call: tests only.
 */
export async function startNatsCluster(o: { nodes?: number } = {}): Promise<NatsClusterHandle> {
  installExitHooks();
  const n = o.nodes ?? 3;
  const cluster = `shardmq-test-${process.pid}`;
  const specs: { name: string; port: number; clusterPort: number; monitorPort: number; storeDir: string }[] = [];
  const taken = new Set<number>();
  const pick = async () => {
    for (;;) {
      const p = await freePort(HOST);
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  for (let i = 0; i < n; i++) {
    const storeDir = await mkdtemp(join(tmpdir(), 'shardmq-nats-'));
    liveDirs.add(storeDir);
    specs.push({ name: `n${i + 1}`, port: await pick(), clusterPort: await pick(), monitorPort: await pick(), storeDir });
  }
  const routes = specs.map((s) => `nats://${HOST}:${s.clusterPort}`).join(',');
  const argsOf = (s: (typeof specs)[number]) => ['--name', s.name, '--cluster_name', cluster, '--cluster', `nats://${HOST}:${s.clusterPort}`, '--routes', routes, '-m', String(s.monitorPort)];
  const running: (Running | undefined)[] = await Promise.all(specs.map((s) => spawnServer(s.port, s.storeDir, true, argsOf(s))));
  let stopped: Promise<void> | undefined;
  const handle: NatsClusterHandle = {
    urls: specs.map((s) => `nats://${HOST}:${s.port}`),
    get url() {
      return this.urls.join(',');
    },
    nodes: specs.map((s, i) => ({
      name: s.name,
      url: `nats://${HOST}:${s.port}`,
      port: s.port,
      monitorPort: s.monitorPort,
      kill(signal: NodeJS.Signals = 'SIGKILL') {
        const r = running[i];
        if (r && r.child.exitCode === null && r.child.signalCode === null) r.child.kill(signal);
      },
      async exited() {
        await running[i]?.exited;
      },
      async restart() {
        await stopChild(running[i]);
        running[i] = await spawnServer(s.port, s.storeDir, true, argsOf(s));
      },
    })),
    async metaLeader() {
      for (const [i, s] of specs.entries()) {
        if (!running[i] || running[i]!.child.exitCode !== null || running[i]!.child.signalCode !== null) continue;
        const name = metaLeaderName(await monitor(s.monitorPort, '/jsz').catch(() => ({})));
        const at = specs.findIndex((x) => x.name === name);
        if (at >= 0) return at;
      }
      return -1;
    },
    stop() {
      stopped ??= (async () => {
        await Promise.all(running.map((r) => stopChild(r)));
        for (const s of specs) {
          await rm(s.storeDir, { recursive: true, force: true });
          liveDirs.delete(s.storeDir);
        }
      })();
      return stopped;
    },
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while ((await handle.metaLeader()) < 0) {
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`the ${n}-node NATS cluster elected no JetStream meta leader within ${READY_TIMEOUT_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return handle;
}
