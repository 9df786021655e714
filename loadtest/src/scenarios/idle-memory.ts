/**
 * Idle memory: `connections` MQTT 3.1.1 clients connect (keepalive `keepaliveS`) and stay idle; the
 * broker's front process (the one holding the sockets: the gateway) is weighed by its resident set
 * (VmRSS) before and after, and the growth divided by the connection count.
 *
 * The clients are bare sockets (raw-mqtt.ts): an `mqtt` npm client weighs tens of KB in this
 * process, and 10,000 of them would make the generator, not the broker, the thing measured. While
 * idle they send PINGREQ every half keepalive, so a run longer than the keepalive is not cut short
 * by the broker [MQTT-3.1.2-24]. A few hundred connections are opened and closed first, a few
 * times (warmupConnections, warmupRounds), so one-time costs of the first connects (compiled code,
 * the compiler's memory) are not counted per connection.
 *
 * Who may call: anyone with a broker URL and the pid of the broker's front process; the run owns its
 * sockets and closes them before returning. Linux only (reads /proc/<pid>/status).
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { runTag } from '../mqtt-clients.js';
import { openMany, pingEveryHalfKeepalive, rawConnect } from '../raw-mqtt.js';
import { sleep } from '../timing.js';

export interface IdleMemoryOptions {
  url: string;
  /** Pid of the process whose resident set is weighed. */
  pid: number;
  connections: number;
  keepaliveS: number;
  /** Handshakes in flight at once. */
  concurrency: number;
  /** Seconds to wait after the last CONNACK before weighing (lets lazily freed buffers settle). */
  settleS: number;
  /**
   * Connections opened and closed before the baseline is taken, so the code paths of a connect
   * are compiled (JIT code and compiler memory are a one-time cost, not a per-connection one).
   * Kept small against `connections`: the heap they leave free is then small too.
   */
  warmupConnections: number;
  /**
   * How many times the warm-up connections are opened and closed. One round of 500 left V8's
   * optimizing compiler to do its work during the measured burst: the handshake code reached the
   * call counts that trigger it only there, and the memory its background threads allocated stayed
   * in their C allocator arenas (0.75 KB "per connection" in one process, 0.1-0.4 KB at a cluster
   * gateway; none after four rounds). Rounds add compile triggers without adding what one round
   * can leave free: each round's closed connections are garbage that no full collection has
   * collected when the baseline is taken (docs/operations.md, "Memory per connection").
   */
  warmupRounds: number;
  connectTimeoutMs: number;
}

export const idleMemoryDefaults: Omit<IdleMemoryOptions, 'url' | 'pid'> = {
  connections: 10_000,
  keepaliveS: 60,
  concurrency: 200,
  settleS: 3,
  warmupConnections: 500,
  warmupRounds: 4,
  connectTimeoutMs: 30_000,
};

export interface IdleMemoryResult {
  scenario: 'idle-memory';
  connections: number;
  keepaliveS: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** (after - before) / connections. */
  bytesPerConnection: number;
  /** Seconds from the first connect to the last CONNACK. */
  connectS: number;
}

/** Resident set of a process in bytes, from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

export async function runIdleMemory(input: Partial<IdleMemoryOptions> & { url: string; pid: number }): Promise<IdleMemoryResult> {
  const o: IdleMemoryOptions = { ...idleMemoryDefaults, ...input };
  const tag = runTag();
  const sockets: Socket[] = [];
  let ping: NodeJS.Timeout | undefined;
  const openAll = async (count: number, prefix: string): Promise<void> => {
    const opened = await openMany(count, o.concurrency, async (i) => {
      const s = await rawConnect(o.url, `${prefix}-${i}`, o.keepaliveS, o.connectTimeoutMs);
      s.on('data', () => {}); // PINGRESPs
      return s;
    });
    sockets.push(...opened);
  };
  try {
    for (let round = 0; round < o.warmupRounds && o.warmupConnections > 0; round++) {
      await openAll(o.warmupConnections, `idle-${tag}-warm${round}`);
      for (const s of sockets.splice(0)) s.destroy();
    }
    await sleep(2000);
    const rssBeforeBytes = rssBytes(o.pid);
    const t0 = performance.now();
    await openAll(o.connections, `idle-${tag}`);
    const connectS = (performance.now() - t0) / 1000;
    ping = pingEveryHalfKeepalive(sockets, o.keepaliveS);
    await sleep(o.settleS * 1000);
    const rssAfterBytes = rssBytes(o.pid);
    return {
      scenario: 'idle-memory',
      connections: o.connections,
      keepaliveS: o.keepaliveS,
      rssBeforeBytes,
      rssAfterBytes,
      bytesPerConnection: (rssAfterBytes - rssBeforeBytes) / o.connections,
      connectS,
    };
  } finally {
    if (ping) clearInterval(ping);
    for (const s of sockets) s.destroy();
  }
}
