import { readFileSync, writeFileSync } from 'node:fs';
import * as hdr from 'hdr-histogram-js';
import type { LatencyHistogram } from './latency-histogram.js';

/**
 * Latency histograms in HdrHistogram's interval log format (the one HdrHistogram's
 * HistogramLogWriter writes and HistogramLogProcessor, HdrHistogram's plotter and wrk2 read):
 * values in microseconds, each interval a compressed base64 histogram. Several generator
 * processes each write one (`--histogram-out`), and `merge` adds them: percentiles of the merged
 * histogram are those of all samples, which averaging the processes' percentiles is not.
 * Who may call: the load generator CLI and tests.
 */

/** Three significant digits: a value is kept to within 0.1 %, finer than the generator's own buckets. */
const SIGNIFICANT_DIGITS = 3;

function emptyHistogram(): hdr.Histogram {
  return hdr.build({ numberOfSignificantValueDigits: SIGNIFICANT_DIGITS, autoResize: true });
}

/** The generator's histogram as an HdrHistogram (each bucket recorded at its value, with its count). */
export function toHdr(h: LatencyHistogram): hdr.Histogram {
  const out = emptyHistogram();
  h.forEachBucket((us, n) => out.recordValueWithCount(Math.max(0, Math.round(us)), n));
  return out;
}

/** Writes one interval (startMs to endMs) holding `h`, with a comment naming what was measured. */
export function writeHistogramLog(file: string, h: LatencyHistogram, what: string, startMs: number, endMs: number): void {
  let text = '';
  const log = new hdr.HistogramLogWriter((line) => {
    text += line;
  });
  log.outputComment(`shardmq loadtest: ${what}, values in microseconds`);
  log.outputLogFormatVersion();
  log.outputStartTime(startMs);
  log.outputLegend();
  const encoded = toHdr(h);
  log.outputIntervalHistogram(encoded, 0, (endMs - startMs) / 1000, 1);
  encoded.destroy();
  writeFileSync(file, text);
}

export interface MergedLatency {
  files: number;
  count: number;
  minUs: number;
  meanUs: number;
  maxUs: number;
  /** [percentile, value in us] */
  percentiles: [number, number][];
}

const PERCENTILES = [50, 90, 99, 99.9, 99.99];

/** Adds every interval of every log: the histogram of all the processes' samples together. */
export function mergeHistogramLogs(files: readonly string[]): MergedLatency {
  const total = emptyHistogram();
  for (const f of files) {
    const reader = new hdr.HistogramLogReader(readFileSync(f, 'utf8'));
    let read = 0;
    for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) {
      total.add(h);
      h.destroy();
      read++;
    }
    if (read === 0) throw new Error(`${f}: no histogram in it (not an HdrHistogram log)`);
  }
  const merged: MergedLatency = {
    files: files.length,
    count: total.totalCount,
    minUs: total.totalCount === 0 ? 0 : total.minNonZeroValue,
    meanUs: total.mean,
    maxUs: total.maxValue,
    percentiles: PERCENTILES.map((p) => [p, total.getValueAtPercentile(p)]),
  };
  total.destroy();
  return merged;
}
