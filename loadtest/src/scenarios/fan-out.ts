/**
 * Fan-out: one publisher -> `subscribers` subscribers of one topic, QoS 0, counting deliveries per
 * second (messages received summed over every subscriber).
 *
 * Flow control: the publisher may be at most `window` messages ahead of the oldest message not yet
 * accounted for at every subscriber (received, or skipped by a later one: QoS 0 allows a broker to
 * drop). When that oldest message makes no progress for `stallTimeoutMs`, its missing copies are
 * written off as lost and the window moves on, so one dropped delivery cannot stop the run.
 *
 * Subscribers are bare sockets (raw-mqtt.ts) so the generator reads a delivery for a few
 * instructions: with 1,000 `mqtt` npm clients the generator would be the bottleneck.
 *
 * Who may call: anyone with a broker URL; the run owns its clients and closes them before returning.
 */
import type { Socket } from 'node:net';
import type { MqttClient } from 'mqtt';
import { LatencyHistogram, type LatencySummary } from '../latency-histogram.js';
import { closeAll, connectClient, runTag, type ConnectionParams } from '../mqtt-clients.js';
import type { FanInOptions } from './fan-in.js';
import { makeStampedPayload, wallClockMs } from '../payload-stamp.js';
import { FrameReader, openMany, publishPayloadAt, rawConnect, subscribePacket } from '../raw-mqtt.js';
import { sleep, waitUntil } from '../timing.js';

/** Shares fan-in's timing, payload and connection options (the publisher window means one message here). */
export interface FanOutOptions
  extends ConnectionParams,
    Pick<FanInOptions, 'payloadBytes' | 'warmupS' | 'durationS' | 'topicPrefix' | 'stallTimeoutMs' | 'connectConcurrency' | 'onMeasureStart' | 'onMeasureEnd'> {
  subscribers: number;
  /** Messages the publisher may be ahead of the oldest message not accounted for everywhere. */
  window: number;
}

export const fanOutDefaults: Omit<FanOutOptions, 'url'> = {
  subscribers: 1000,
  window: 8,
  payloadBytes: 64,
  warmupS: 2,
  durationS: 10,
  topicPrefix: 'fanout',
  stallTimeoutMs: 1000,
  connectConcurrency: 100,
};

export interface FanOutResult {
  scenario: 'fanout';
  subscribers: number;
  window: number;
  measuredS: number;
  /** Messages published during the measured interval, per second. */
  publishedPerS: number;
  /** Copies received by all subscribers together during the measured interval, per second. */
  deliveriesPerS: number;
  /** Copies written off (dropped by the broker or given up on after a stall), whole run. */
  lost: number;
  /** Times the oldest message made no progress for stallTimeoutMs and its missing copies were written off. */
  stalls: number;
  latency: LatencySummary;
}

export async function runFanOut(input: Partial<FanOutOptions> & { url: string }): Promise<FanOutResult> {
  const o: FanOutOptions = { ...fanOutDefaults, ...input };
  const S = o.subscribers;
  const W = Math.max(1, o.window);
  const R = 4 * W; // ring of per-message copy counts; messages older than `oldest` are never counted again
  const tag = runTag();
  const topic = `${o.topicPrefix}/${tag}/t`;
  const counts = new Uint32Array(R);
  const nextSeq = new Float64Array(S); // per subscriber: next sequence expected
  const hist = new LatencyHistogram();
  let oldest = 0; // oldest sequence not accounted for at every subscriber
  let oldestSinceMs = 0;
  let sent = 0;
  let lost = 0;
  let stalls = 0;
  let measuring = false;
  let running = false;
  let delivered = 0;
  let published = 0;
  let pumpScheduled = false;

  let publisher: MqttClient | undefined;
  const sockets: Socket[] = [];

  const pump = () => {
    pumpScheduled = false;
    if (!running || !publisher) return;
    const now = wallClockMs();
    while (sent < oldest + W) {
      publisher.publish(topic, makeStampedPayload(o.payloadBytes, 0, sent, now), { qos: 0 });
      sent++;
      if (measuring) published++;
    }
  };
  const advance = () => {
    const before = oldest;
    while (oldest < sent && counts[oldest % R] === S) {
      counts[oldest % R] = 0;
      oldest++;
    }
    if (oldest !== before) {
      oldestSinceMs = wallClockMs();
      if (!pumpScheduled) {
        pumpScheduled = true;
        setImmediate(pump);
      }
    }
  };
  const account = (seq: number) => {
    if (seq >= oldest && seq < oldest + R) counts[seq % R]!++;
  };

  let chunkNow = 0; // receive time of the chunk being read, taken once per chunk (0: not yet)
  const subscriberReader = (index: number, subscribed: () => void): FrameReader => {
    return new FrameReader((header, buf, start, end) => {
      const type = header >> 4;
      if (type === 9) {
        subscribed();
        return;
      }
      if (type !== 3) return;
      const payloadAt = publishPayloadAt(header, buf, start);
      if (end - payloadAt < 16) return;
      const seq = buf.readUInt32BE(payloadAt + 4);
      const exp = nextSeq[index]!;
      if (seq < exp) return; // duplicate or late
      for (let k = Math.max(exp, oldest); k < seq; k++) account(k); // skipped: accounted as lost
      account(seq);
      nextSeq[index] = seq + 1;
      if (measuring) {
        delivered++;
        if (chunkNow === 0) chunkNow = wallClockMs();
        hist.recordMs(chunkNow - buf.readDoubleBE(payloadAt + 8));
      }
    });
  };

  let stallTimer: NodeJS.Timeout | undefined;
  try {
    // Every subscriber is kept in `sockets` as soon as it is open: closed in finally, also after a failure.
    await openMany(S, o.connectConcurrency, async (i) => {
      const s = await rawConnect(o.url, `fanout-${tag}-s${i}`, o.keepaliveS ?? 60, o.connectTimeoutMs ?? 10_000);
      sockets.push(s);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no SUBACK within 30 s')), 30_000);
        const reader = subscriberReader(i, () => {
          clearTimeout(timer);
          resolve();
        });
        s.on('data', (chunk: Buffer) => {
          chunkNow = 0;
          reader.push(chunk);
          advance();
        });
        s.write(subscribePacket(1, topic, 0));
      });
      return s;
    }).catch((err: Error) => {
      throw new Error(`fan-out subscriber setup failed: ${err.message}`);
    });
    publisher = await connectClient(o, `fanout-${tag}-pub`);

    running = true;
    oldestSinceMs = wallClockMs();
    pump();
    stallTimer = setInterval(
      () => {
        if (oldest < sent && wallClockMs() - oldestSinceMs > o.stallTimeoutMs) {
          stalls++;
          lost += S - counts[oldest % R]!;
          counts[oldest % R] = S;
          advance();
        }
      },
      Math.max(50, o.stallTimeoutMs >> 2),
    );

    await sleep(o.warmupS * 1000);
    hist.reset();
    delivered = 0;
    published = 0;
    measuring = true;
    o.onMeasureStart?.();
    const t0 = wallClockMs();
    await sleep(o.durationS * 1000);
    measuring = false;
    o.onMeasureEnd?.();
    const measuredS = (wallClockMs() - t0) / 1000;
    running = false;
    await waitUntil(() => oldest >= sent, 2000);
    for (let k = oldest; k < sent; k++) lost += S - counts[k % R]!;
    return {
      scenario: 'fanout',
      subscribers: S,
      window: W,
      measuredS,
      publishedPerS: published / measuredS,
      deliveriesPerS: delivered / measuredS,
      lost,
      stalls,
      latency: hist.summary(),
    };
  } finally {
    running = false;
    if (stallTimer) clearInterval(stallTimer);
    for (const s of sockets) s.destroy();
    if (publisher) await closeAll([publisher]);
  }
}
