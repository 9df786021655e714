/**
 * Fan-in: many publishers -> one wildcard subscriber (`<prefix>/<run>/+/data`), measuring messages per
 * second received by the subscriber.
 *
 * Flow control: each publisher may be at most `windowPerPublisher` messages ahead of what the
 * subscriber has received from it. Flooding without a window only measures how fast the kernel's
 * socket buffers fill; with a window the number reflects what the broker delivers.
 * A publisher that gets nothing back for `stallTimeoutMs` writes its outstanding messages off as lost
 * (QoS 0 allows a broker to drop) and continues, so one lost message cannot stop the run; one that
 * arrives after all counts as late (`old`), not lost.
 *
 * Who may call: anyone with a broker URL; the run owns its clients and closes them before returning.
 */
import type { MqttClient } from 'mqtt';
import type { Socket } from 'node:net';
import { closeRaw, publishTemplate, rawStampSubscriber, writeWindow, type PublishTemplate } from './fan-in-raw-clients.js';
import { openMany, pingEveryHalfKeepalive, rawConnect } from '../raw-mqtt.js';
import { RunProgress } from '../run-progress.js';
import { LatencyHistogram, type LatencySummary } from '../latency-histogram.js';
import { closeAll, connectClient, connectMany, runTag, subscribe, type ConnectionParams } from '../mqtt-clients.js';
import { makeStampedPayload, readStamp, wallClockMs, type Stamp } from '../payload-stamp.js';
import { SeqTracker } from '../seq-tracker.js';
import { sleep, waitUntil } from '../timing.js';

export interface FanInOptions extends ConnectionParams {
  publishers: number;
  windowPerPublisher: number;
  payloadBytes: number;
  qos: 0 | 1;
  warmupS: number;
  durationS: number;
  topicPrefix: string;
  stallTimeoutMs: number;
  connectConcurrency: number;
  /** Called when the measured interval starts and ends (after warm-up), e.g. to sample broker CPU. */
  onMeasureStart?: () => void;
  onMeasureEnd?: () => void;
  /** Counts for the CLI's progress line; gets the publish -> deliver histogram at the end. */
  progress?: RunProgress;
}

export const fanInDefaults: Omit<FanInOptions, 'url'> = {
  publishers: 100,
  windowPerPublisher: 20,
  payloadBytes: 64,
  qos: 0,
  warmupS: 2,
  durationS: 10,
  topicPrefix: 'bench',
  stallTimeoutMs: 1000,
  connectConcurrency: 20,
};

export interface FanInResult {
  scenario: 'fanin';
  publishers: number;
  windowPerPublisher: number;
  qos: 0 | 1;
  measuredS: number;
  /** Messages received by the subscriber during the measured interval. */
  received: number;
  msgsPerS: number;
  /** Messages skipped or written off after a stall that never arrived, over the whole run. */
  lost: number;
  /** Duplicates or late arrivals over the whole run. */
  old: number;
  latency: LatencySummary;
}

export async function runFanIn(input: Partial<FanInOptions> & { url: string }): Promise<FanInResult> {
  const o: FanInOptions = { ...fanInDefaults, ...input };
  const P = o.publishers;
  const W = Math.max(1, o.windowPerPublisher);
  const refillBelow = Math.max(0, W >> 1);
  const tag = runTag();
  const topics = Array.from({ length: P }, (_, i) => `${o.topicPrefix}/${tag}/p${i}/data`);
  const filter = `${o.topicPrefix}/${tag}/+/data`;

  const tracker = new SeqTracker(P);
  const sent = new Float64Array(P);
  const lastProgressMs = new Float64Array(P);
  const waiting = new Uint8Array(P); // 1 = publisher stopped at its window, waiting for receipts
  const hist = new LatencyHistogram();
  const stamp: Stamp = { publisher: 0, seq: 0, sentAtMs: 0 };
  let measuring = false;
  let running = false;
  let measuredReceived = 0;

  const clients: MqttClient[] = [];
  let publishers: MqttClient[] = [];
  // Bare clients when the run allows them (fan-in-raw-clients.ts): QoS 0, MQTT 3.1.1, plain TCP.
  const bare = o.qos === 0 && (o.protocolVersion ?? 4) === 4 && o.url.startsWith('mqtt://');
  const rawSockets: Socket[] = [];
  let rawPublishers: Socket[] = [];
  const templates: PublishTemplate[] = bare ? topics.map((t) => publishTemplate(t, o.payloadBytes)) : [];
  const pending: number[] = [];
  let pumpScheduled = false;

  const progress = o.progress ?? new RunProgress();
  const pump = (p: number) => {
    waiting[p] = 0;
    let s = sent[p]!;
    const limit = tracker.accounted(p) + W;
    const now = wallClockMs();
    if (bare) {
      writeWindow(rawPublishers[p]!, templates[p]!, p, s, limit, now);
      s = Math.max(s, limit);
    } else {
      const client = publishers[p]!;
      const topic = topics[p]!;
      const opts = { qos: o.qos } as const;
      while (s < limit) {
        client.publish(topic, makeStampedPayload(o.payloadBytes, p, s, now), opts);
        s++;
      }
    }
    progress.sent += s - sent[p]!;
    sent[p] = s;
    waiting[p] = 1;
  };
  const pumpPending = () => {
    pumpScheduled = false;
    if (!running) return;
    // Swap-free drain: pending only grows from message handlers, which cannot run during this loop.
    for (let i = 0; i < pending.length; i++) pump(pending[i]!);
    pending.length = 0;
  };
  const wake = (p: number) => {
    if (!running || waiting[p] === 0) return;
    waiting[p] = 0;
    pending.push(p);
    if (!pumpScheduled) {
      pumpScheduled = true;
      setImmediate(pumpPending);
    }
  };

  const onStamp = (p: number, seq: number, sentAtMs: number) => {
    if (p >= P) return;
    const now = wallClockMs();
    if (tracker.observe(p, seq) === 'old') return;
    lastProgressMs[p] = now;
    progress.received++;
    if (measuring) {
      measuredReceived++;
      hist.recordMs(now - sentAtMs);
    }
    if (sent[p]! - tracker.accounted(p) <= refillBelow) wake(p);
  };
  const onMessage = (_topic: string, payload: Buffer) => {
    if (readStamp(payload, stamp)) onStamp(stamp.publisher, stamp.seq, stamp.sentAtMs);
  };

  let stallTimer: NodeJS.Timeout | undefined;
  let pinger: NodeJS.Timeout | undefined;
  try {
    if (bare) {
      const keepaliveS = o.keepaliveS ?? 60;
      const connectTimeoutMs = o.connectTimeoutMs ?? 10_000;
      const credentials = o.username !== undefined ? { username: o.username, password: o.password ?? '' } : undefined;
      rawSockets.push(await rawStampSubscriber(o.url, `fanin-${tag}-sub`, filter, { keepaliveS, connectTimeoutMs, credentials }, onStamp));
      rawPublishers = await openMany(P, o.connectConcurrency, (i) => rawConnect(o.url, `fanin-${tag}-p${i}`, keepaliveS, connectTimeoutMs, credentials));
      rawSockets.push(...rawPublishers);
      pinger = pingEveryHalfKeepalive(rawSockets, keepaliveS);
    } else {
      const sub = await connectClient(o, `fanin-${tag}-sub`);
      clients.push(sub);
      sub.on('message', onMessage);
      await subscribe(sub, filter, o.qos);
      publishers = await connectMany(
        o,
        topics.map((_, i) => `fanin-${tag}-p${i}`),
        o.connectConcurrency,
      );
      clients.push(...publishers);
    }

    running = true;
    const startMs = wallClockMs();
    lastProgressMs.fill(startMs);
    for (let p = 0; p < P; p++) pump(p);
    stallTimer = setInterval(
      () => {
        const now = wallClockMs();
        for (let p = 0; p < P; p++) {
          if (sent[p]! > tracker.accounted(p) && now - lastProgressMs[p]! > o.stallTimeoutMs) {
            tracker.forget(p, sent[p]!);
            lastProgressMs[p] = now;
            wake(p);
          }
        }
      },
      Math.max(50, o.stallTimeoutMs >> 1),
    );

    await sleep(o.warmupS * 1000);
    hist.reset();
    measuredReceived = 0;
    measuring = true;
    o.onMeasureStart?.();
    const t0 = wallClockMs();
    await sleep(o.durationS * 1000);
    measuring = false;
    o.onMeasureEnd?.();
    const measuredS = (wallClockMs() - t0) / 1000;
    const received = measuredReceived;
    running = false;
    // Let in-flight messages land so the loss count is about the broker, not about stopping.
    await waitUntil(() => sent.every((s, p) => tracker.accounted(p) >= s), 2000);
    progress.latency.merge(hist);
    return {
      scenario: 'fanin',
      publishers: P,
      windowPerPublisher: W,
      qos: o.qos,
      measuredS,
      received,
      msgsPerS: received / measuredS,
      lost: tracker.lost + sent.reduce((acc, s, p) => acc + Math.max(0, s - tracker.accounted(p)), 0),
      old: tracker.old,
      latency: hist.summary(),
    };
  } finally {
    running = false;
    if (stallTimer) clearInterval(stallTimer);
    if (pinger) clearInterval(pinger);
    closeRaw(rawSockets);
    await closeAll(clients);
  }
}
