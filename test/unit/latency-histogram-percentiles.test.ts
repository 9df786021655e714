import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyHistogram } from '../../loadtest/src/latency-histogram.js';
import { SeqTracker } from '../../loadtest/src/seq-tracker.js';
import { makeStampedPayload, readStamp } from '../../loadtest/src/payload-stamp.js';

test('an empty histogram reports zeros', () => {
  const h = new LatencyHistogram();
  assert.equal(h.count, 0);
  assert.equal(h.percentileUs(50), 0);
  assert.deepEqual(h.summary(), { count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 });
});

test('small values are exact and use nearest-rank percentiles', () => {
  const h = new LatencyHistogram();
  // Insert 1..100 us in shuffled order: order must not matter.
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  for (let i = values.length - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1);
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  for (const v of values) h.recordUs(v);
  assert.equal(h.count, 100);
  assert.equal(h.percentileUs(50), 50);
  assert.equal(h.percentileUs(90), 90);
  assert.equal(h.percentileUs(99), 99);
  assert.equal(h.percentileUs(1), 1);
  assert.equal(h.percentileUs(0), 1);
  assert.equal(h.percentileUs(100), 100);
  assert.equal(h.meanUs, 50.5);
});

test('large values are within 1 % of the true percentile', () => {
  const h = new LatencyHistogram();
  // 1..10000 ms in 1 ms steps: true p50 = 5000 ms, p99 = 9900 ms, p99.9 = 9990 ms.
  for (let ms = 1; ms <= 10_000; ms++) h.recordMs(ms);
  const near = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) / expected <= 0.01, `${actual} not within 1 % of ${expected}`);
  near(h.percentileMs(50), 5000);
  near(h.percentileMs(90), 9000);
  near(h.percentileMs(99), 9900);
  near(h.percentileMs(99.9), 9990);
  assert.equal(h.percentileMs(100), 10_000);
  assert.equal(h.summary().minMs, 1);
  assert.equal(h.summary().maxMs, 10_000);
});

test('a skewed distribution puts the tail where it is', () => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 990; i++) h.recordMs(2);
  for (let i = 0; i < 10; i++) h.recordMs(500);
  assert.ok(Math.abs(h.percentileMs(50) - 2) <= 0.02);
  assert.ok(Math.abs(h.percentileMs(99) - 2) <= 0.02);
  assert.ok(Math.abs(h.percentileMs(99.1) - 500) <= 5);
  assert.equal(h.percentileMs(100), 500);
});

test('negative samples count as zero and huge ones keep an exact max', () => {
  const h = new LatencyHistogram();
  h.recordUs(-5);
  h.recordUs(1e12);
  assert.equal(h.minUs, 0);
  assert.equal(h.maxUs, 1e12);
  assert.equal(h.percentileUs(50), 0);
  assert.equal(h.percentileUs(100), 1e12);
});

test('merge and reset combine and clear samples', () => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let v = 1; v <= 50; v++) a.recordUs(v);
  for (let v = 51; v <= 100; v++) b.recordUs(v);
  a.merge(b);
  assert.equal(a.count, 100);
  assert.equal(a.percentileUs(50), 50);
  assert.equal(a.percentileUs(75), 75);
  assert.equal(a.maxUs, 100);
  a.reset();
  assert.equal(a.count, 0);
  assert.equal(a.percentileUs(99), 0);
});

test('percentile outside [0, 100] is rejected', () => {
  const h = new LatencyHistogram();
  h.recordUs(1);
  assert.throws(() => h.percentileUs(101), RangeError);
  assert.throws(() => h.percentileUs(Number.NaN), RangeError);
});

test('sequence tracker counts gaps, duplicates and written-off tails', () => {
  const t = new SeqTracker(2);
  assert.equal(t.observe(0, 0), 'next');
  assert.equal(t.observe(0, 3), 'gap');
  assert.equal(t.lost, 2);
  assert.equal(t.observe(0, 1), 'old');
  assert.equal(t.old, 1);
  assert.equal(t.lost, 1, 'a skipped message that came late is not lost');
  assert.equal(t.accounted(0), 4);
  t.forget(1, 5);
  assert.equal(t.lost, 6);
  assert.equal(t.accounted(1), 5);
});

test('payload stamps round-trip publisher, sequence and time', () => {
  const buf = makeStampedPayload(64, 42, 123_456, 1_700_000_000_123.25);
  assert.equal(buf.length, 64);
  const out = { publisher: 0, seq: 0, sentAtMs: 0 };
  assert.equal(readStamp(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), out), true);
  assert.deepEqual(out, { publisher: 42, seq: 123_456, sentAtMs: 1_700_000_000_123.25 });
  assert.equal(readStamp(Buffer.alloc(8), out), false);
});
