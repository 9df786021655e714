/**
 * End-to-end latency at a fixed offered rate: `pairs` publishers each publish to their own topic, and
 * `pairs` subscribers each subscribe to one of those topics, at `ratePerS` messages per second in total
 * (spread round-robin over the publishers). Latency = receive time - send time stamped in the payload.
 * Also records publish -> PUBACK time for QoS 1.
 *
 * The sender is open-loop (it does not wait for deliveries), so a broker that falls behind shows up as
 * growing latency and an achieved rate below the offered one, which is the point of this scenario.
 * If the generator itself falls more than `maxBacklogMs` behind schedule it skips ahead instead of
 * bursting, and reports the skipped count as `generatorSkipped`.
 *
 * Who may call: anyone with a broker URL; the run owns its clients and closes them before returning.
 */
import type { MqttClient } from 'mqtt';
import { LatencyHistogram, type LatencySummary } from '../latency-histogram.js';
import { closeAll, connectMany, runTag, subscribe, type ConnectionParams } from '../mqtt-clients.js';
import { makeStampedPayload, readStamp, wallClockMs, type Stamp } from '../payload-stamp.js';
import { RunProgress } from '../run-progress.js';
import { SeqTracker } from '../seq-tracker.js';
import { sleep, waitUntil } from '../timing.js';

export interface LatencyOptions extends ConnectionParams {
  pairs: number;
  ratePerS: number;
  qos: 0 | 1 | 2;
  payloadBytes: number;
  warmupS: number;
  durationS: number;
  topicPrefix: string;
  tickMs: number;
  maxBacklogMs: number;
  drainTimeoutMs: number;
  connectConcurrency: number;
  /** Called when the measured interval starts and ends (after warm-up), e.g. to sample broker CPU. */
  onMeasureStart?: () => void;
  onMeasureEnd?: () => void;
  /** Counts for the CLI's progress line; gets the publish -> deliver histogram at the end. */
  progress?: RunProgress;
}

export const latencyDefaults: Omit<LatencyOptions, 'url'> = {
  pairs: 10,
  ratePerS: 2000,
  qos: 1,
  payloadBytes: 64,
  warmupS: 2,
  durationS: 10,
  topicPrefix: 'lat',
  tickMs: 5,
  maxBacklogMs: 200,
  drainTimeoutMs: 3000,
  connectConcurrency: 20,
};

export interface LatencyResult {
  scenario: 'latency';
  pairs: number;
  qos: 0 | 1 | 2;
  offeredPerS: number;
  measuredS: number;
  /** Deliveries received during the measured interval, per second. */
  achievedPerS: number;
  /** Whole run: published, received (first copies), lost (gaps or never arrived), duplicates. */
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  generatorSkipped: number;
  latency: LatencySummary;
  /** Publish -> PUBACK/PUBCOMP (QoS 1/2 only; empty for QoS 0). */
  ackLatency: LatencySummary;
}

export async function runLatency(input: Partial<LatencyOptions> & { url: string }): Promise<LatencyResult> {
  const o: LatencyOptions = { ...latencyDefaults, ...input };
  const N = o.pairs;
  const tag = runTag();
  const topics = Array.from({ length: N }, (_, i) => `${o.topicPrefix}/${tag}/${i}`);
  const tracker = new SeqTracker(N);
  const sentPer = new Float64Array(N);
  const hist = new LatencyHistogram();
  const ackHist = new LatencyHistogram();
  const progress = o.progress ?? new RunProgress();
  const stamp: Stamp = { publisher: 0, seq: 0, sentAtMs: 0 };
  let measuring = false;
  let measuredReceived = 0;
  let received = 0;
  let sentTotal = 0;
  let skipped = 0;

  const clients: MqttClient[] = [];
  let ticker: NodeJS.Timeout | undefined;
  try {
    const subs = await connectMany(
      o,
      topics.map((_, i) => `lat-${tag}-s${i}`),
      o.connectConcurrency,
    );
    clients.push(...subs);
    const onMessage = (_topic: string, payload: Buffer) => {
      if (!readStamp(payload, stamp) || stamp.publisher >= N) return;
      const now = wallClockMs();
      if (tracker.observe(stamp.publisher, stamp.seq) === 'old') return;
      received++;
      progress.received++;
      if (measuring) {
        measuredReceived++;
        hist.recordMs(now - stamp.sentAtMs);
      }
    };
    for (let i = 0; i < N; i++) {
      subs[i]!.on('message', onMessage);
      await subscribe(subs[i]!, topics[i]!, o.qos);
    }
    const pubs = await connectMany(
      o,
      topics.map((_, i) => `lat-${tag}-p${i}`),
      o.connectConcurrency,
    );
    clients.push(...pubs);

    const publishOne = () => {
      const p = sentTotal % N;
      const seq = sentPer[p]!;
      sentPer[p] = seq + 1;
      sentTotal++;
      progress.sent++;
      const t = wallClockMs();
      const record = measuring;
      if (o.qos === 0) {
        pubs[p]!.publish(topics[p]!, makeStampedPayload(o.payloadBytes, p, seq, t), { qos: 0 });
      } else {
        pubs[p]!.publish(topics[p]!, makeStampedPayload(o.payloadBytes, p, seq, t), { qos: o.qos }, (err) => {
          if (err) progress.errors++;
          else if (record) ackHist.recordMs(wallClockMs() - t);
        });
      }
    };

    const startMs = wallClockMs();
    let issued = 0; // schedule position, including skipped slots
    const perMs = o.ratePerS / 1000;
    ticker = setInterval(() => {
      const due = Math.floor((wallClockMs() - startMs) * perMs);
      const maxBacklog = Math.max(1, Math.floor(o.maxBacklogMs * perMs));
      if (due - issued > maxBacklog) {
        skipped += due - issued - maxBacklog;
        issued = due - maxBacklog;
      }
      while (issued < due) {
        publishOne();
        issued++;
      }
    }, o.tickMs);

    await sleep(o.warmupS * 1000);
    hist.reset();
    ackHist.reset();
    measuredReceived = 0;
    measuring = true;
    o.onMeasureStart?.();
    const t0 = wallClockMs();
    await sleep(o.durationS * 1000);
    measuring = false;
    o.onMeasureEnd?.();
    const measuredS = (wallClockMs() - t0) / 1000;
    const measured = measuredReceived;
    clearInterval(ticker);
    ticker = undefined;
    await waitUntil(() => sentPer.every((s, p) => tracker.accounted(p) >= s), o.drainTimeoutMs);
    const missing = sentPer.reduce((acc, s, p) => acc + Math.max(0, s - tracker.accounted(p)), 0);
    progress.latency.merge(hist);
    return {
      scenario: 'latency',
      pairs: N,
      qos: o.qos,
      offeredPerS: o.ratePerS,
      measuredS,
      achievedPerS: measured / measuredS,
      sent: sentTotal,
      received,
      lost: tracker.lost + missing,
      duplicates: tracker.old,
      generatorSkipped: skipped,
      latency: hist.summary(),
      ackLatency: ackHist.summary(),
    };
  } finally {
    if (ticker) clearInterval(ticker);
    await closeAll(clients);
  }
}
