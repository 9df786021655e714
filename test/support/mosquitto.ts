import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { findExecutable, spawnProcess, type ManagedProcess } from './processes.js';

/**
 * A private mosquitto 2 broker on a free 127.0.0.1 port, anonymous access, no persistence:
 * the reference broker for the benchmark and comparison tests. Who may call: tests only.
 */
export interface MosquittoHandle {
  readonly host: string;
  readonly port: number;
  /** mqtt://127.0.0.1:<port> */
  readonly url: string;
  readonly process: ManagedProcess;
  /** SIGTERM (SIGKILL after 5 s), then removes the config dir. Idempotent. */
  stop(): Promise<void>;
}

const host = '127.0.0.1';
const readyTimeoutMs = 10_000;
const portAttempts = 5;

/** Config dirs not yet removed by stop(), removed at exit as well. */
const liveDirs = new Set<string>();
let exitHookInstalled = false;

export async function startMosquitto(): Promise<MosquittoHandle> {
  const bin = findExecutable('mosquitto');
  if (!bin) throw new Error('mosquitto not found: install the Debian package `mosquitto` (apt-get install -y mosquitto)');
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  const dir = await mkdtemp(join(tmpdir(), 'shardmq-mosquitto-'));
  liveDirs.add(dir);
  const configPath = join(dir, 'mosquitto.conf');
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort(host);
      // Mosquitto 2 listens only on loopback without a config, and refuses anonymous clients
      // once a listener is configured unless allow_anonymous is set.
      await writeFile(configPath, [`listener ${port} ${host}`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', ''].join('\n'));
      let proc: ManagedProcess;
      try {
        // Logged after the listeners are open.
        proc = await spawnProcess(bin, ['-c', configPath], { name: `mosquitto:${port}`, readyLine: /mosquitto version \S+ running/, readyTimeoutMs });
      } catch (err) {
        // Another process took the port between freePort() and bind: try another one.
        if (attempt < portAttempts && /Address already in use/.test(String(err))) continue;
        throw err;
      }
      let stopped: Promise<void> | undefined;
      return {
        host,
        port,
        url: `mqtt://${host}:${port}`,
        process: proc,
        stop() {
          stopped ??= (async () => {
            await proc.stop();
            await rm(dir, { recursive: true, force: true });
            liveDirs.delete(dir);
          })();
          return stopped;
        },
      };
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
    throw err;
  }
}
