import { EnvelopeError } from '../envelope/envelope-error.js';
import { EnvelopeVersionError } from '../envelope/envelope-version.js';
import type { Logger } from '../log.js';
import { errorFields, LogEveryNth } from '../log-every-nth.js';
import { labelledCounter, type Metrics } from '../metrics.js';
import type { BusHandler, BusMsg } from './bus.js';

/**
 * The bus boundary: every subscription handler of both bus implementations runs inside
 * `HandlerGuard.wrap`, so nothing that arrives on a subject (a bug, a version skew, a hostile
 * NATS client publishing garbage) can throw out of a subscription callback.
 *
 * - An EnvelopeError (bytes a decoder could not read) is a malformed envelope: dropped, counted
 *   in `shardmq_bus_malformed_envelopes_total{subject_kind}`.
 * - An EnvelopeVersionError (an envelope of another major version: a process of another release,
 *   envelope-version.ts) is dropped, counted in `shardmq_bus_unknown_version_envelopes_total{subject_kind}`.
 * - Any other exception (sync, or the rejection of a handler that returned a promise) is a bug:
 *   counted in `shardmq_bus_handler_errors_total{subject_kind}`, logged with its stack.
 * - Logs are rate-limited per (outcome, subject kind) by LogEveryNth: the first occurrence,
 *   then every 1000th with the running count, so a flood cannot fill the disk.
 * - A request whose handler failed gets the subscription's `errorReply` (when it has one), so
 *   the requester learns at once instead of waiting for its timeout.
 *
 * The label is the subscription's own subject (bounded by construction: only subjects this
 * process subscribed to) with the cluster prefix dropped and numbers and gateway ids folded.
 */

export class HandlerGuard {
  private readonly malformed: (kind: string) => void;
  private readonly unknownVersion: (kind: string) => void;
  private readonly errors: (kind: string) => void;
  private readonly rate = new LogEveryNth();

  constructor(
    private readonly log: Logger | undefined,
    metrics: Metrics | undefined,
  ) {
    const noop = () => {};
    this.malformed = metrics ? labelledCounter(metrics.counter('bus_malformed_envelopes_total', 'Bus messages dropped because they did not decode, by subject kind.', ['subject_kind'])) : noop;
    this.unknownVersion = metrics ? labelledCounter(unknownVersionCounter(metrics)) : noop;
    this.errors = metrics ? labelledCounter(metrics.counter('bus_handler_errors_total', 'Exceptions thrown by bus subscription handlers (bugs), by subject kind.', ['subject_kind'])) : noop;
  }

  /** `subject` is the subscription's subject (it names the label); `errorReply` answers failed requests. */
  wrap(subject: string, handler: BusHandler, errorReply?: Uint8Array): BusHandler {
    const kind = subjectKind(subject);
    return (msg) => {
      try {
        const r = handler(msg) as unknown;
        // A handler typed `void` may still be async: its rejection is a failure of this message.
        if (r instanceof Promise) r.catch((err: unknown) => this.failed(kind, msg, err, errorReply));
      } catch (err) {
        this.failed(kind, msg, err, errorReply);
      }
    };
  }

  /** Counts and (rate-limited) logs one failure; never throws. */
  failed(kind: string, msg: BusMsg, err: unknown, errorReply?: Uint8Array): void {
    try {
      const skew = err instanceof EnvelopeVersionError;
      const bad = err instanceof EnvelopeError;
      (skew ? this.unknownVersion : bad ? this.malformed : this.errors)(kind);
      const n = this.rate.hit(`${skew ? 'version' : bad ? 'malformed' : 'error'} ${kind}`);
      if (n !== undefined) {
        const { err: text, stack } = errorFields(err);
        const fields: Record<string, unknown> = { subject: msg.subject, subjectKind: kind, occurrences: n, err: text };
        if (skew) this.log?.warn('dropping bus envelope of another major version', { ...fields, major: err.major });
        else if (bad) this.log?.warn('dropping malformed bus envelope', fields);
        else this.log?.error('bus handler threw', { ...fields, stack });
      }
      if (errorReply !== undefined && msg.reply !== undefined) msg.respond(errorReply);
    } catch {
      // Reporting must not become the next exception out of the callback.
    }
  }
}

/** Bus messages (and auth requests) of another major contract version, by subject kind. */
export function unknownVersionCounter(metrics: Metrics) {
  return metrics.counter('bus_unknown_version_envelopes_total', 'Bus messages dropped because they are of another major envelope version, by subject kind.', ['subject_kind']);
}

/** `mqtt.sess.17.in` -> `sess.N.in`, `mqtt.gw.gw-a1.out` -> `gw.out`, `_INBOX.x.y` -> `inbox`. */
export function subjectKind(subject: string): string {
  if (subject.startsWith('_INBOX.')) return 'inbox';
  const t = subject.split('.').slice(1);
  if (t[0] === 'gw' && t.length === 3 && t[2] === 'out') return 'gw.out';
  // Admin subjects end in a shard, a gateway id or a per-request token: kept to their kind.
  if (t[0] === 'admin' && t.length >= 3) return t.slice(0, 3).join('.');
  return t.map((x) => (/^\d+$/.test(x) ? 'N' : x)).join('.') || 'other';
}
