import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { mergeHistogramLogs, writeHistogramLog, type MergedLatency } from '../../loadtest/src/hdr-histogram-file.js';
import { LatencyHistogram } from '../../loadtest/src/latency-histogram.js';
import { progressLine, RunProgress } from '../../loadtest/src/run-progress.js';

/**
 * Latency histograms of several load generator processes (--histogram-out) merge into the
 * histogram of all their samples (`cli.js merge`), in HdrHistogram's log format.
 */

const dir = mkdtempSync(join(tmpdir(), 'shardmq-hdr-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const cli = new URL('../../loadtest/src/cli.js', import.meta.url).pathname;

/** Exact nearest-rank percentile of raw samples. */
function exact(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= expected * 0.01 + 1, `${what}: ${actual} not within 1 % of ${expected}`);
}

// Two generators that saw different things: a fast one (many samples, 100-1100 us) and a slow
// one (fewer samples, 20-60 ms). Averaging their p99s says nothing; merging their histograms does.
const fast: number[] = Array.from({ length: 20_000 }, (_, i) => 100 + (i % 1000));
const slow: number[] = Array.from({ length: 500 }, (_, i) => 20_000 + i * 80);

function histogramOf(samples: number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const us of samples) h.recordUs(us);
  return h;
}

const fastFile = join(dir, 'fast.hlog');
const slowFile = join(dir, 'slow.hlog');
writeHistogramLog(fastFile, histogramOf(fast), 'latency publish -> deliver', 1_000, 11_000);
writeHistogramLog(slowFile, histogramOf(slow), 'latency publish -> deliver', 1_000, 11_000);

function checkMerged(m: MergedLatency): void {
  const all = [...fast, ...slow];
  assert.equal(m.files, 2);
  assert.equal(m.count, all.length, 'every sample of both files');
  near(m.minUs, 100, 'min');
  near(m.maxUs, exact(all, 100), 'max');
  for (const [p, v] of m.percentiles) near(v, exact(all, p), `p${p}`);
}

test('a histogram file is an HdrHistogram log that HdrHistogram readers decode', () => {
  const text = readFileSync(fastFile, 'utf8');
  assert.match(text, /^#shardmq loadtest: latency publish -> deliver, values in microseconds$/m);
  assert.match(text, /^#\[Histogram log format version 1\.3\]$/m);
  const h = new hdr.HistogramLogReader(text).nextIntervalHistogram();
  assert.ok(h);
  assert.equal(h.totalCount, fast.length);
  near(h.getValueAtPercentile(50), exact(fast, 50), 'decoded p50');
});

test('merging files gives the percentiles of all samples together', () => {
  checkMerged(mergeHistogramLogs([fastFile, slowFile]));
  // 500 of the 20,500 samples (2.4 %) are slow: the merged p99 is one of them.
  const p99 = mergeHistogramLogs([fastFile, slowFile]).percentiles.find(([p]) => p === 99)![1];
  assert.ok(p99 > 20_000, `merged p99 ${p99} us is one of the slow samples`);
});

test('a file that holds no histogram is refused by name', () => {
  const junk = join(dir, 'junk.txt');
  writeFileSync(junk, 'not a histogram\n');
  assert.throws(() => mergeHistogramLogs([fastFile, junk]), /junk\.txt: no histogram/);
});

test('cli.js merge prints the merged percentiles (as JSON with --json)', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [cli, 'merge', fastFile, slowFile, '--json']);
  checkMerged(JSON.parse(stdout) as MergedLatency);
  const table = await promisify(execFile)(process.execPath, [cli, 'merge', fastFile, slowFile]);
  assert.match(table.stdout, /p99\.9 ms/);
});

test('the progress line names elapsed time, sent, received and errors', async () => {
  assert.equal(progressLine(12_400, { sent: 24_000, received: 23_990, errors: 2 }), 'elapsed 12s  sent 24000  received 23990  errors 2');
  const p = new RunProgress();
  p.sent = 5;
  const lines: string[] = [];
  const stop = p.report(10, (l) => lines.push(l));
  while (lines.length < 2) await new Promise((r) => setTimeout(r, 10));
  stop();
  assert.match(lines[0]!, /^elapsed \d+s {2}sent 5 {2}received 0 {2}errors 0$/);
});
