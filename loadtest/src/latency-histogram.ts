/**
 * Bounded-memory latency histogram with log-linear buckets (the idea of HdrHistogram, much simplified).
 *
 * Why: load generators record hundreds of thousands of samples per second; keeping every sample in an
 * array grows without bound and sorting it stalls the event loop. Here memory is fixed (about 1.7 k
 * buckets) and recording is a few integer operations.
 *
 * Resolution: values are whole microseconds. Below 128 us every value has its own bucket (exact);
 * above, each power of two is split into 64 buckets and a percentile reports its bucket's midpoint, so
 * it is within about 0.8 % of the true sample, and it is always clamped to the exact observed min and max.
 *
 * Who may call: anyone; not thread-safe (one instance per thread, merge() to combine).
 */

/** Bits of exact resolution: values below 2^EXACT_BITS us get one bucket each. */
const EXACT_BITS = 7;
const EXACT_COUNT = 1 << EXACT_BITS; // 128
const SUB_COUNT = EXACT_COUNT >>> 1; // 64 buckets per power of two above the exact range

/** Largest recordable value; larger values are counted in the top bucket (max stays exact). */
export const maxRecordableUs = 2 ** 31 - 1; // about 35.8 minutes

export interface LatencySummary {
  count: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

function bucketIndex(us: number): number {
  if (us < EXACT_COUNT) return us;
  const msb = 31 - Math.clz32(us);
  const shift = msb - (EXACT_BITS - 1); // >= 1 here
  const top = us >>> shift; // in [SUB_COUNT, EXACT_COUNT)
  return EXACT_COUNT + (shift - 1) * SUB_COUNT + (top - SUB_COUNT);
}

/** Midpoint of a bucket, in us (exact for the exact range). */
function bucketValue(index: number): number {
  if (index < EXACT_COUNT) return index;
  const k = index - EXACT_COUNT;
  const shift = Math.floor(k / SUB_COUNT) + 1;
  const top = SUB_COUNT + (k % SUB_COUNT);
  const lower = top * 2 ** shift;
  const width = 2 ** shift;
  return lower + (width - 1) / 2;
}

const BUCKETS = bucketIndex(maxRecordableUs) + 1;

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private n = 0;
  private sumUs = 0;
  private minSeenUs = Infinity;
  private maxSeenUs = -Infinity;

  /** Record one sample in microseconds; negative values (clock skew between processes) count as 0. */
  recordUs(us: number): void {
    let v = us > 0 ? us : 0;
    if (v < this.minSeenUs) this.minSeenUs = v;
    if (v > this.maxSeenUs) this.maxSeenUs = v;
    this.sumUs += v;
    this.n++;
    v = v >= maxRecordableUs ? maxRecordableUs : Math.floor(v);
    this.counts[bucketIndex(v)]++;
  }

  /** Record one sample in milliseconds (fractions kept down to 1 us). */
  recordMs(ms: number): void {
    this.recordUs(ms * 1000);
  }

  get count(): number {
    return this.n;
  }

  get minUs(): number {
    return this.n === 0 ? 0 : this.minSeenUs;
  }

  get maxUs(): number {
    return this.n === 0 ? 0 : this.maxSeenUs;
  }

  get meanUs(): number {
    return this.n === 0 ? 0 : this.sumUs / this.n;
  }

  /**
   * Nearest-rank percentile in us: the smallest recorded value such that at least p % of the samples
   * are <= it (p in [0, 100]). 0 when empty. p=100 returns the exact maximum, p=0 the exact minimum.
   */
  percentileUs(p: number): number {
    if (this.n === 0) return 0;
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within [0, 100], got ${p}`);
    if (p === 0) return this.minSeenUs;
    if (p === 100) return this.maxSeenUs;
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.maxSeenUs, Math.max(this.minSeenUs, bucketValue(i)));
    }
    return this.maxSeenUs;
  }

  percentileMs(p: number): number {
    return this.percentileUs(p) / 1000;
  }

  /** Add every sample of another histogram into this one. */
  merge(other: LatencyHistogram): void {
    if (other.n === 0) return;
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.n += other.n;
    this.sumUs += other.sumUs;
    if (other.minSeenUs < this.minSeenUs) this.minSeenUs = other.minSeenUs;
    if (other.maxSeenUs > this.maxSeenUs) this.maxSeenUs = other.maxSeenUs;
  }

  /** Every non-empty bucket as (value in us, samples): the bucket's midpoint, clamped to the observed min and max. */
  forEachBucket(f: (us: number, count: number) => void): void {
    for (let i = 0; i < BUCKETS; i++) {
      const n = this.counts[i]!;
      if (n > 0) f(Math.min(this.maxSeenUs, Math.max(this.minSeenUs, bucketValue(i))), n);
    }
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
    this.sumUs = 0;
    this.minSeenUs = Infinity;
    this.maxSeenUs = -Infinity;
  }

  summary(): LatencySummary {
    return {
      count: this.n,
      minMs: this.minUs / 1000,
      meanMs: this.meanUs / 1000,
      p50Ms: this.percentileMs(50),
      p90Ms: this.percentileMs(90),
      p99Ms: this.percentileMs(99),
      p999Ms: this.percentileMs(99.9),
      maxMs: this.maxUs / 1000,
    };
  }
}
