import type { Counter } from 'prom-client';
import type { Logger } from './log.js';
import { errorFields } from './log-every-nth.js';
import type { Metrics } from './metrics.js';

/**
 * The process-level policy for exceptions nothing else caught. Installed once by the CLI
 * (`shardmq start`), never by tests or library code. Both kinds are logged with their stack and
 * counted (`shardmq_process_faults_total{kind}`) before anything is decided:
 *
 * - unhandledRejection: keep running. A promise nobody awaited failed; the code that made it
 *   has returned, and each tier's state changes happen synchronously inside guarded turns
 *   (bus handlers, shard turns), so the process state is consistent. Exiting would drop every
 *   connection of the node for one missed `.catch`; the metric makes the bug visible instead.
 * - uncaughtException: exit with EXIT_UNCAUGHT after the log line is written. A synchronous
 *   callback that no guard wrapped threw part-way, so any in-memory state may be half-updated
 *   and acknowledging more on top of it could lose messages. Every input path (bus handlers,
 *   shard turns, MQTT connections) is guarded, so reaching this is a bug, not client input;
 *   the supervisor restarts the process and, in a cluster, other nodes take its shards.
 */

export const EXIT_UNCAUGHT = 70; // EX_SOFTWARE (sysexits.h): internal software error

/** Upper bound on waiting for the last log line before exiting. */
const EXIT_FLUSH_MS = 2000;

export interface ProcessFaultPolicy {
  /** Starts counting in `m` (faults seen before were tallied and are added now). */
  useMetrics(m: Metrics): void;
  uninstall(): void;
}

export interface ProcessFaultOptions {
  /** How to end the process (tests replace it). Default: flush stderr, then process.exit. */
  exit?: (code: number) => void;
}

export function installProcessFaultPolicy(log: Logger, opts: ProcessFaultOptions = {}): ProcessFaultPolicy {
  const tally = new Map<string, number>();
  let counter: Counter<'kind'> | undefined;
  const count = (kind: string) => {
    if (counter) counter.inc({ kind });
    else tally.set(kind, (tally.get(kind) ?? 0) + 1);
  };
  const exit = opts.exit ?? flushThenExit;
  let exiting = false;

  const onRejection = (reason: unknown) => {
    count('unhandled_rejection');
    log.error('unhandled promise rejection (a bug); the process keeps running', errorFields(reason));
  };
  const onException = (err: unknown) => {
    count('uncaught_exception');
    log.error('uncaught exception (a bug); state may be inconsistent, exiting', { ...errorFields(err), exitCode: EXIT_UNCAUGHT });
    if (exiting) return;
    exiting = true;
    exit(EXIT_UNCAUGHT);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    useMetrics(m) {
      counter = m.counter('process_faults_total', 'Uncaught exceptions and unhandled promise rejections (bugs), by kind.', ['kind']);
      for (const [kind, n] of tally) counter.inc({ kind }, n);
      tally.clear();
    },
    uninstall() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

/** Exits once stderr has taken the log line (or after EXIT_FLUSH_MS). */
function flushThenExit(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), EXIT_FLUSH_MS).unref();
  process.stderr.write('', () => process.exit(code));
}
