import type { Histogram } from 'prom-client';
import { labelledCounter, type Metrics } from '../metrics.js';
import { type BusMsg, NoRespondersError, RequestTimeoutError } from './bus.js';

/** Seconds: from a local memory-bus answer (tens of microseconds) to a request near its timeout. */
const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Bus request latency (route requests of QoS 1/2 publishes, auth, admin): the time until the
 * answer, in one unlabelled histogram (no labels object hashed per request), and the requests
 * that got none, by reason, in a counter. Both buses time their requests through it.
 */
export class RequestLatency {
  private readonly seconds: Histogram | undefined;
  private readonly failures: (reason: string) => void;

  constructor(metrics: Metrics | undefined) {
    this.seconds = metrics?.histogram('bus_request_seconds', 'Time from sending a bus request to its answer (answered requests; the others are in shardmq_bus_request_failures_total).', BUCKETS);
    this.failures = metrics
      ? labelledCounter(metrics.counter('bus_request_failures_total', 'Bus requests that got no answer, by reason: timeout, no_responders, other (bus closed, subject refused).', ['reason']))
      : () => {};
  }

  /** `request` settles as the bus request does; timed from now. */
  timed(request: Promise<BusMsg>): Promise<BusMsg> {
    if (this.seconds === undefined) return request;
    const start = performance.now();
    return request.then(
      (m) => {
        this.answered(start);
        return m;
      },
      (err: unknown) => {
        this.failed(err);
        throw err;
      },
    );
  }

  /**
   * For a bus that sees its requests settle itself (the memory bus): the start time to keep
   * with a request, then `answered` or `failed`, without a promise per request.
   */
  start(): number {
    return this.seconds === undefined ? 0 : performance.now();
  }

  answered(start: number): void {
    this.seconds?.observe((performance.now() - start) / 1000);
  }

  failed(err: unknown): void {
    this.failures(err instanceof RequestTimeoutError ? 'timeout' : err instanceof NoRespondersError ? 'no_responders' : 'other');
  }
}
