/**
 * Steady fleet: `devices` connected clients each publish one telemetry message every `intervalS`
 * seconds to `<prefix>/<run>/<device>/telemetry`; one backend subscriber listens on
 * `<prefix>/<run>/+/telemetry`. Publishes are spread evenly over the interval (device k at offset
 * k/devices of the interval), as a real fleet's clocks are, instead of all at once.
 * Reports offered and received rates, loss and end-to-end latency.
 *
 * Who may call: anyone with a broker URL; the run owns its clients and closes them before returning.
 */
import type { MqttClient } from 'mqtt';
import { LatencyHistogram, type LatencySummary } from '../latency-histogram.js';
import { closeAll, connectClient, connectMany, runTag, subscribe, type ConnectionParams } from '../mqtt-clients.js';
import { makeStampedPayload, readStamp, wallClockMs, type Stamp } from '../payload-stamp.js';
import { SeqTracker } from '../seq-tracker.js';
import { sleep, waitUntil } from '../timing.js';

export interface FleetOptions extends ConnectionParams {
  devices: number;
  intervalS: number;
  qos: 0 | 1;
  payloadBytes: number;
  durationS: number;
  topicPrefix: string;
  connectConcurrency: number;
  tickMs: number;
}

export const fleetDefaults: Omit<FleetOptions, 'url'> = {
  devices: 1000,
  intervalS: 5,
  qos: 1,
  payloadBytes: 128,
  durationS: 30,
  topicPrefix: 'fleet',
  connectConcurrency: 100,
  tickMs: 20,
  keepaliveS: 60,
};

export interface FleetResult {
  scenario: 'fleet';
  devices: number;
  intervalS: number;
  qos: 0 | 1;
  connectS: number;
  measuredS: number;
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  offeredPerS: number;
  receivedPerS: number;
  latency: LatencySummary;
}

export async function runFleet(input: Partial<FleetOptions> & { url: string }): Promise<FleetResult> {
  const o: FleetOptions = { ...fleetDefaults, ...input };
  const N = o.devices;
  const tag = runTag();
  const topics = Array.from({ length: N }, (_, i) => `${o.topicPrefix}/${tag}/d${i}/telemetry`);
  const tracker = new SeqTracker(N);
  const sentPer = new Float64Array(N);
  const hist = new LatencyHistogram();
  const stamp: Stamp = { publisher: 0, seq: 0, sentAtMs: 0 };
  let received = 0;
  let sent = 0;
  const clients: MqttClient[] = [];
  let ticker: NodeJS.Timeout | undefined;
  try {
    const sub = await connectClient(o, `fleet-${tag}-backend`);
    clients.push(sub);
    sub.on('message', (_topic: string, payload: Buffer) => {
      if (!readStamp(payload, stamp) || stamp.publisher >= N) return;
      const now = wallClockMs();
      if (tracker.observe(stamp.publisher, stamp.seq) === 'old') return;
      received++;
      hist.recordMs(now - stamp.sentAtMs);
    });
    await subscribe(sub, `${o.topicPrefix}/${tag}/+/telemetry`, o.qos);
    const c0 = wallClockMs();
    const devices = await connectMany(o, topics.map((_, i) => `fleet-${tag}-d${i}`), o.connectConcurrency);
    clients.push(...devices);
    const connectS = (wallClockMs() - c0) / 1000;

    // Publish number k goes to device k % N at time k * intervalMs / N: an even spread.
    const intervalMs = o.intervalS * 1000;
    const t0 = wallClockMs();
    let issued = 0;
    const opts = { qos: o.qos } as const;
    ticker = setInterval(() => {
      const due = Math.floor(((wallClockMs() - t0) * N) / intervalMs);
      const now = wallClockMs();
      while (issued < due) {
        const d = issued % N;
        const seq = sentPer[d]!;
        sentPer[d] = seq + 1;
        devices[d]!.publish(topics[d]!, makeStampedPayload(o.payloadBytes, d, seq, now), opts);
        issued++;
        sent++;
      }
    }, o.tickMs);
    await sleep(o.durationS * 1000);
    clearInterval(ticker);
    ticker = undefined;
    const measuredS = (wallClockMs() - t0) / 1000;
    await waitUntil(() => sentPer.every((s, d) => tracker.accounted(d) >= s), 3000);
    const missing = sentPer.reduce((acc, s, d) => acc + Math.max(0, s - tracker.accounted(d)), 0);
    return {
      scenario: 'fleet',
      devices: N,
      intervalS: o.intervalS,
      qos: o.qos,
      connectS,
      measuredS,
      sent,
      received,
      lost: tracker.lost + missing,
      duplicates: tracker.old,
      offeredPerS: N / o.intervalS,
      receivedPerS: received / measuredS,
      latency: hist.summary(),
    };
  } finally {
    if (ticker) clearInterval(ticker);
    await closeAll(clients);
  }
}
