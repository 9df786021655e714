/**
 * Connection storm: `clients` devices connect with at most `concurrency` handshakes in flight (what a
 * fleet does after a broker restart or a network blip), then hold for `holdS` and disconnect.
 * Reports connects per second, failures by reason, and CONNECT -> CONNACK time.
 *
 * Note: each client is one socket in this process; the hard limit here is 20000 descriptors per process,
 * so more clients need several generator processes.
 *
 * Who may call: anyone with a broker URL; the run owns its clients and closes them before returning.
 */
import { RunProgress } from '../run-progress.js';
import type { MqttClient } from 'mqtt';
import { LatencyHistogram, type LatencySummary } from '../latency-histogram.js';
import { closeAll, connectClient, runTag, type ConnectionParams } from '../mqtt-clients.js';
import { wallClockMs } from '../payload-stamp.js';
import { sleep } from '../timing.js';

export interface ConnectStormOptions extends ConnectionParams {
  clients: number;
  concurrency: number;
  holdS: number;
  clientIdPrefix: string;
  /** Counts for the CLI's progress line (sent: CONNECTs, received: CONNACKs, errors: failed); gets the connect -> CONNACK histogram at the end. */
  progress?: RunProgress;
}

export const connectStormDefaults: Omit<ConnectStormOptions, 'url'> = {
  clients: 1000,
  concurrency: 100,
  holdS: 0,
  clientIdPrefix: 'storm',
  connectTimeoutMs: 10_000,
};

export interface ConnectStormResult {
  scenario: 'connect-storm';
  attempted: number;
  connected: number;
  failed: number;
  /** Failure count per error message (first 60 characters), at most 10 distinct reasons. */
  failures: Record<string, number>;
  elapsedS: number;
  connectsPerS: number;
  connectLatency: LatencySummary;
}

export async function runConnectStorm(input: Partial<ConnectStormOptions> & { url: string }): Promise<ConnectStormResult> {
  const o: ConnectStormOptions = { ...connectStormDefaults, ...input };
  const tag = runTag();
  const hist = new LatencyHistogram();
  const progress = o.progress ?? new RunProgress();
  progress.latencyWhat = 'connect -> CONNACK';
  const clients: MqttClient[] = [];
  const failures: Record<string, number> = {};
  let failed = 0;
  let next = 0;
  const t0 = wallClockMs();
  const worker = async () => {
    while (next < o.clients) {
      const i = next++;
      const start = wallClockMs();
      progress.sent++;
      try {
        clients.push(await connectClient(o, `${o.clientIdPrefix}-${tag}-${i}`));
        hist.recordMs(wallClockMs() - start);
        progress.received++;
      } catch (err) {
        failed++;
        progress.errors++;
        const reason = String((err as Error).message ?? err).slice(0, 60);
        if (reason in failures || Object.keys(failures).length < 10) failures[reason] = (failures[reason] ?? 0) + 1;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, o.clients)) }, worker));
    const elapsedS = (wallClockMs() - t0) / 1000;
    progress.latency.merge(hist);
    if (o.holdS > 0) await sleep(o.holdS * 1000);
    return {
      scenario: 'connect-storm',
      attempted: o.clients,
      connected: clients.length,
      failed,
      failures,
      elapsedS,
      connectsPerS: clients.length / elapsedS,
      connectLatency: hist.summary(),
    };
  } finally {
    await closeAll(clients);
  }
}
