import { LatencyHistogram } from './latency-histogram.js';

/**
 * What a running scenario has done so far, for the progress line the CLI prints every few seconds
 * (a long run that prints nothing until the end cannot be told from a hung one) and for
 * `--histogram-out`: the scenario merges its measured latency histogram in when it ends.
 * Plain counters, incremented on the generator's hot paths. Who may call: scenarios and the CLI.
 */
export class RunProgress {
  sent = 0;
  received = 0;
  errors = 0;
  /** The scenario's main latency (publish -> deliver; connect -> CONNACK), measured interval only. */
  readonly latency = new LatencyHistogram();
  /** What `latency` measures, for the histogram file's comment. */
  latencyWhat = 'publish -> deliver';

  /** Writes a progress line every `everyMs` until the returned stop() is called. */
  report(everyMs: number, write: (line: string) => void, now: () => number = Date.now): () => void {
    const start = now();
    const timer = setInterval(() => write(progressLine(now() - start, this)), everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

/** `elapsed 12s  sent 24000  received 23990  errors 0` */
export function progressLine(elapsedMs: number, p: Pick<RunProgress, 'sent' | 'received' | 'errors'>): string {
  return `elapsed ${Math.round(elapsedMs / 1000)}s  sent ${p.sent}  received ${p.received}  errors ${p.errors}`;
}
