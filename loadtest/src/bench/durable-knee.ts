/**
 * The durable workload of `npm run bench`: persistent QoS 1 subscribers on one topic, one QoS 1
 * publisher at a fixed rate (scenarios/durable-fanout.ts), run at rising rates until a step fails.
 * A step passes when every publish is acknowledged, every acknowledged message reaches every
 * subscriber within `deliverWithinMs` of the last PUBACK, and PUBACK p99 stays within
 * `ackP99LimitMs`. The knee is the highest passing rate; its step's figures are reported, and
 * the first failing step's too (how the broker degrades above its capacity).
 *
 * Who may call: the benchmark driver (one broker at a time).
 */
import { runDurableFanout, type DurableFanoutResult } from '../scenarios/durable-fanout.js';

export interface DurableKneeOptions {
  url: string;
  subscribers: number;
  /** Publish rates tried, msgs/s, ascending. */
  rates: readonly number[];
  durationS: number;
  deliverWithinMs: number;
  ackP99LimitMs: number;
  log: (line: string) => void;
}

export interface DurableStep {
  ratePerS: number;
  passed: boolean;
  /** Why the step failed ('' when it passed). */
  why: string;
  result: DurableFanoutResult;
}

export interface DurableKneeResult {
  scenario: 'durable-knee';
  subscribers: number;
  /** Highest passing step (undefined: even the lowest rate failed). */
  knee?: DurableStep;
  /** First failing step, if any. */
  above?: DurableStep;
  /** Acknowledged deliveries missing in any step (must be 0). */
  lostAcknowledged: number;
}

export function judgeStep(r: DurableFanoutResult, o: Pick<DurableKneeOptions, 'deliverWithinMs' | 'ackP99LimitMs'>): string {
  const why: string[] = [];
  if (r.unacknowledged > 0) why.push(`${r.unacknowledged} publishes not acknowledged`);
  if (r.missing > 0) why.push(`${r.missing} acknowledged deliveries missing`);
  if (r.lastDeliveryAfterLastAckMs > o.deliverWithinMs) why.push(`last delivery ${r.lastDeliveryAfterLastAckMs} ms after the last PUBACK`);
  if (r.ackLatency.p99Ms > o.ackP99LimitMs) why.push(`PUBACK p99 ${r.ackLatency.p99Ms} ms`);
  return why.join('; ');
}

export async function runDurableKnee(o: DurableKneeOptions): Promise<DurableKneeResult> {
  const out: DurableKneeResult = { scenario: 'durable-knee', subscribers: o.subscribers, lostAcknowledged: 0 };
  for (const ratePerS of o.rates) {
    const result = await runDurableFanout({ url: o.url, subscribers: o.subscribers, ratePerS, durationS: o.durationS, drainTimeoutMs: Math.max(15_000, o.deliverWithinMs * 3) });
    out.lostAcknowledged += result.missing;
    const why = judgeStep(result, o);
    const step: DurableStep = { ratePerS, passed: why === '', why, result };
    o.log(`  ${ratePerS} msg/s x ${o.subscribers}: ${step.passed ? 'passed' : `failed (${why})`}, PUBACK p50 ${result.ackLatency.p50Ms} ms p99 ${result.ackLatency.p99Ms} ms`);
    if (!step.passed) {
      out.above = step;
      break;
    }
    out.knee = step;
  }
  return out;
}
