/**
 * Durable fan-out: `subscribers` persistent sessions (clean session 0, QoS 1) on one topic, one
 * QoS 1 publisher at `ratePerS` for `durationS` (open loop: it does not wait for PUBACKs). The
 * question is whether the broker carries a fleet's durable traffic: every publish acknowledged,
 * every acknowledged message delivered to every subscriber, how long after the last PUBACK the
 * last delivery arrived, and publish -> PUBACK latency.
 *
 * Who may call: anyone with a broker URL; the run owns its clients and closes them before returning.
 */
import { RunProgress } from '../run-progress.js';
import type { MqttClient } from 'mqtt';
import { LatencyHistogram, type LatencySummary } from '../latency-histogram.js';
import { closeAll, connectClient, connectMany, runTag, subscribe, type ConnectionParams } from '../mqtt-clients.js';
import { makeStampedPayload, readStamp, wallClockMs, type Stamp } from '../payload-stamp.js';
import { sleep, waitUntil } from '../timing.js';

export interface DurableFanoutOptions extends ConnectionParams {
  subscribers: number;
  ratePerS: number;
  payloadBytes: number;
  durationS: number;
  /** How long to wait after the last PUBACK for the last deliveries. */
  drainTimeoutMs: number;
  tickMs: number;
  connectConcurrency: number;
  /** Counts for the CLI's progress line (sent: publishes, received: deliveries); gets the publish -> deliver histogram at the end. */
  progress?: RunProgress;
}

export const durableFanoutDefaults: Omit<DurableFanoutOptions, 'url'> = {
  subscribers: 20,
  ratePerS: 1000,
  payloadBytes: 64,
  durationS: 10,
  drainTimeoutMs: 60_000,
  tickMs: 5,
  connectConcurrency: 20,
};

export interface DurableFanoutResult {
  scenario: 'durable-fanout';
  subscribers: number;
  offeredPerS: number;
  sent: number;
  acknowledged: number;
  /** Publishes whose PUBACK never came (or came with an error). */
  unacknowledged: number;
  /** Deliveries owed (acknowledged x subscribers) and received (first copies of acknowledged messages). */
  owed: number;
  delivered: number;
  /** Owed deliveries that had not arrived when the drain timeout ended. */
  missing: number;
  duplicates: number;
  /** Last owed delivery minus last PUBACK, ms (negative: all arrived before the last PUBACK). */
  lastDeliveryAfterLastAckMs: number;
  latency: LatencySummary;
  ackLatency: LatencySummary;
}

export async function runDurableFanout(input: Partial<DurableFanoutOptions> & { url: string }): Promise<DurableFanoutResult> {
  const o: DurableFanoutOptions = { ...durableFanoutDefaults, ...input };
  const tag = runTag();
  const topic = `durable/${tag}`;
  const N = o.subscribers;
  const hist = new LatencyHistogram();
  const ackHist = new LatencyHistogram();
  const progress = o.progress ?? new RunProgress();
  const acked: boolean[] = [];
  const seen: Uint8Array[] = Array.from({ length: N }, () => new Uint8Array(Math.ceil((o.ratePerS * o.durationS) / 8) + 1024));
  const stamp: Stamp = { publisher: 0, seq: 0, sentAtMs: 0 };
  let sent = 0;
  let acknowledged = 0;
  let nacked = 0;
  let delivered = 0;
  let duplicates = 0;
  let lastAckAt = 0;
  let lastDeliveryAt = 0;
  const clients: MqttClient[] = [];
  let ticker: NodeJS.Timeout | undefined;
  try {
    const subs = await connectMany(
      { ...o, clean: false },
      Array.from({ length: N }, (_, i) => `dur-${tag}-s${i}`),
      o.connectConcurrency,
    );
    clients.push(...subs);
    for (let i = 0; i < N; i++) {
      const bits = seen[i]!;
      subs[i]!.on('message', (_t: string, payload: Buffer) => {
        if (!readStamp(payload, stamp)) return;
        const seq = stamp.seq;
        const byte = seq >> 3;
        if (byte >= bits.length) return;
        const bit = 1 << (seq & 7);
        if (bits[byte]! & bit) {
          duplicates++;
          return;
        }
        bits[byte] = bits[byte]! | bit;
        delivered++;
        progress.received++;
        const now = wallClockMs();
        lastDeliveryAt = now;
        hist.recordMs(now - stamp.sentAtMs);
      });
      await subscribe(subs[i]!, topic, 1);
    }
    const pub = await connectClient(o, `dur-${tag}-p`);
    clients.push(pub);
    const total = Math.floor(o.ratePerS * o.durationS);
    const startMs = wallClockMs();
    const perMs = o.ratePerS / 1000;
    await new Promise<void>((resolve) => {
      ticker = setInterval(() => {
        const due = Math.min(total, Math.floor((wallClockMs() - startMs) * perMs));
        while (sent < due) {
          const seq = sent++;
          progress.sent++;
          const t = wallClockMs();
          pub.publish(topic, makeStampedPayload(o.payloadBytes, 0, seq, t), { qos: 1 }, (err) => {
            if (err) {
              progress.errors++;
              nacked++;
              return;
            }
            acked[seq] = true;
            acknowledged++;
            lastAckAt = wallClockMs();
            ackHist.recordMs(lastAckAt - t);
          });
        }
        if (sent >= total) {
          clearInterval(ticker);
          ticker = undefined;
          resolve();
        }
      }, o.tickMs);
    });
    await waitUntil(() => acknowledged + nacked >= sent, o.drainTimeoutMs);
    const owedNow = () => acknowledged * N;
    await waitUntil(() => delivered >= owedNow(), o.drainTimeoutMs);
    await sleep(200);
  } finally {
    if (ticker) clearInterval(ticker);
    await closeAll(clients);
  }
  let missing = 0;
  for (let seq = 0; seq < sent; seq++) {
    if (!acked[seq]) continue;
    for (let i = 0; i < N; i++) if (!(seen[i]![seq >> 3]! & (1 << (seq & 7)))) missing++;
  }
  progress.latency.merge(hist);
  return {
    scenario: 'durable-fanout',
    subscribers: N,
    offeredPerS: o.ratePerS,
    sent,
    acknowledged,
    unacknowledged: sent - acknowledged,
    owed: acknowledged * N,
    delivered,
    missing,
    duplicates,
    lastDeliveryAfterLastAckMs: Math.round(lastDeliveryAt - lastAckAt),
    latency: hist.summary(),
    ackLatency: ackHist.summary(),
  };
}
