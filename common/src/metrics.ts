import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The naming convention of every shardmq metric: `shardmq_<tier>_<what>[_<unit>]`, counters
 * ending in `_total` (docs/operations.md, "Metrics"). Checked when a metric is created, so a
 * name that breaks it fails the first test that starts the process instead of reaching a dashboard.
 */
export const METRIC_TIERS = ['gateway', 'session', 'router', 'auth', 'bus', 'admin', 'process'] as const;
const METRIC_NAME = new RegExp(`^(${METRIC_TIERS.join('|')})_[a-z0-9]+(_[a-z0-9]+)*$`);

/** Why `name` (without the shardmq_ prefix) breaks the convention, or undefined when it follows it. */
export function metricNameProblem(name: string, kind: 'counter' | 'gauge' | 'histogram'): string | undefined {
  if (!METRIC_NAME.test(name)) return `metric ${name} is not <tier>_<what>[_<unit>] with tier one of ${METRIC_TIERS.join(', ')}`;
  if (kind === 'counter' && !name.endsWith('_total')) return `counter ${name} does not end in _total`;
  if (kind !== 'counter' && name.endsWith('_total')) return `${kind} ${name} ends in _total (reserved for counters)`;
  return undefined;
}

function checked(name: string, kind: 'counter' | 'gauge' | 'histogram'): string {
  const problem = metricNameProblem(name, kind);
  if (problem) throw new Error(problem);
  return `shardmq_${name}`;
}

/**
 * One registry per process. Tiers create their metrics through these helpers so that
 * names carry the shardmq_ prefix and labels stay low-cardinality (never client ids or topics).
 * In one-process mode every tier shares the registry, so each metric is created once.
 * Node's process metrics keep prom-client's standard names (process_cpu_seconds_total,
 * nodejs_eventloop_lag_p99_seconds, ...) so that stock Node dashboards and alerts work unchanged.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly made = new Map<string, Counter | Gauge | Histogram>();

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string = string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.once(name, () => new Counter<L>({ name: checked(name, 'counter'), help, labelNames, registers: [this.registry] })) as Counter<L>;
  }

  /** `collect` runs at scrape time (read a size instead of tracking every change). */
  gauge<L extends string = string>(name: string, help: string, labelNames: readonly L[] = [], collect?: (g: Gauge<L>) => void): Gauge<L> {
    return this.once(
      name,
      () =>
        new Gauge<L>({
          name: checked(name, 'gauge'),
          help,
          labelNames,
          registers: [this.registry],
          collect: collect
            ? function (this: Gauge<L>) {
                collect(this);
              }
            : undefined,
        }),
    ) as Gauge<L>;
  }

  histogram<L extends string = string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []): Histogram<L> {
    return this.once(name, () => new Histogram<L>({ name: checked(name, 'histogram'), help, buckets, labelNames, registers: [this.registry] })) as Histogram<L>;
  }

  private once(name: string, make: () => Counter | Gauge | Histogram) {
    let m = this.made.get(name);
    if (!m) {
      m = make();
      this.made.set(name, m);
    }
    return m;
  }
}

/**
 * A counter with one label for hot paths: increments land in a plain local tally and are
 * moved into prom-client only at scrape time (prom-client hashes a labels object per inc).
 * Chains any collect hook the counter already had.
 */
export function labelledCounter(c: Counter<string>): (value: string, by?: number) => void {
  const pending = new Map<string, number>();
  // Increments of the label counted last (a run of PUBLISHes, of QoS 0 routes) add to a number:
  // one comparison instead of a Map lookup and store each.
  let last: string | undefined;
  let lastN = 0;
  const settle = () => {
    if (last !== undefined) pending.set(last, (pending.get(last) ?? 0) + lastN);
    last = undefined;
    lastN = 0;
  };
  beforeScrape(c, () => {
    settle();
    for (const [label, n] of pending) {
      if (n > 0) c.labels(label).inc(n);
      pending.set(label, 0);
    }
  });
  return (value, by = 1) => {
    if (value === last) {
      lastN += by;
      return;
    }
    settle();
    last = value;
    lastN = by;
  };
}

/**
 * A counter whose running total the owner keeps in a plain number on a hot path (no prom-client
 * call per event): the difference since the last scrape is added at scrape time.
 */
export function counterFromTotal(c: Counter<string>, total: () => number): void {
  let reported = 0;
  beforeScrape(c, () => {
    const now = total();
    if (now > reported) c.inc(now - reported);
    reported = now;
  });
}

/** Runs `before` at scrape time, ahead of any collect hook the counter already had. */
export function beforeScrape(c: Counter<string>, before: () => void): void {
  const target = c as unknown as { collect?: () => unknown };
  const previous = target.collect;
  target.collect = function (this: Counter<string>) {
    before();
    return previous?.call(this);
  };
}
