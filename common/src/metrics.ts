import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One registry per process. Tiers create their metrics through these helpers so that
 * names carry the shardmq_ prefix and labels stay low-cardinality (never client ids or topics).
 * In one-process mode every tier shares the registry, so each metric is created once.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly made = new Map<string, Counter | Gauge | Histogram>();

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'shardmq_process_' });
  }

  counter<L extends string = string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.once(name, () => new Counter<L>({ name: `shardmq_${name}`, help, labelNames, registers: [this.registry] })) as Counter<L>;
  }

  /** `collect` runs at scrape time (read a size instead of tracking every change). */
  gauge<L extends string = string>(name: string, help: string, labelNames: readonly L[] = [], collect?: (g: Gauge<L>) => void): Gauge<L> {
    return this.once(
      name,
      () =>
        new Gauge<L>({
          name: `shardmq_${name}`,
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
    return this.once(name, () => new Histogram<L>({ name: `shardmq_${name}`, help, buckets, labelNames, registers: [this.registry] })) as Histogram<L>;
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

/** Counts a limit being hit: shardmq_limit_hits_total{limit="maxPacketBytes"}. */
export function limitCounter(m: Metrics): Counter<'limit'> {
  return m.counter('limit_hits_total', 'Times a configured limit was hit, by limit name.', ['limit']);
}

/**
 * A counter with one label for hot paths: increments land in a plain local tally and are
 * moved into prom-client only at scrape time (prom-client hashes a labels object per inc).
 * Chains any collect hook the counter already had.
 */
export function labelledCounter(c: Counter<string>): (value: string, by?: number) => void {
  const pending = new Map<string, number>();
  const target = c as unknown as { collect?: () => unknown };
  const previous = target.collect;
  target.collect = function (this: Counter<string>) {
    for (const [label, n] of pending) {
      if (n > 0) c.labels(label).inc(n);
      pending.set(label, 0);
    }
    return previous?.call(this);
  };
  return (value, by = 1) => {
    pending.set(value, (pending.get(value) ?? 0) + by);
  };
}
