import { serializeError } from './log.js';

/**
 * Rate limit for log lines about input someone else controls (malformed envelopes, bad rows,
 * failing turns): the first occurrence of each key, then every `every`th, so a flood costs a
 * bounded number of lines while the metric still counts each one. Keys must be low-cardinality
 * (a subject kind, an outcome), never client ids; past `maxKeys` the tally restarts.
 */
export class LogEveryNth {
  private readonly seen = new Map<string, number>();

  constructor(
    readonly every = 1000,
    private readonly maxKeys = 1024,
  ) {}

  /** The occurrence count when this occurrence should be logged, otherwise undefined. */
  hit(key: string): number | undefined {
    const n = (this.seen.get(key) ?? 0) + 1;
    if (n === 1 && this.seen.size >= this.maxKeys) this.seen.clear();
    this.seen.set(key, n);
    return n === 1 || n % this.every === 0 ? n : undefined;
  }
}

/**
 * Log fields for an exception of unknown type: its text, the stack and the `cause` chain of an
 * Error (serialized like any Error field, log.ts), or the text of anything else thrown.
 */
export function errorFields(err: unknown): { err: string; stack?: string; cause?: unknown } {
  if (!(err instanceof Error)) return { err: String(err) };
  const cause = err.cause === undefined ? undefined : err.cause instanceof Error ? serializeError(err.cause) : err.cause;
  return { err: `${err.name}: ${err.message}`, stack: err.stack, ...(cause === undefined ? {} : { cause }) };
}
