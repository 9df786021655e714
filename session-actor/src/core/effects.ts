import type { GatewayOutItem, Message, SubChangeBatch, OwnerClientEvent } from '../../../common/src/index.js';
import type { SessionSub } from './session.js';

/**
 * What the pure session core asks its runner to do. Handlers push effects into an array;
 * the runner (session-service.ts) performs them and feeds asynchronous results back as
 * continuation calls. Nothing in core/ touches the bus, timers or the clock.
 */

export type TimerKind = 'will' | 'expiry';

/** Continuations: which core function the runner calls when an async effect completes. */
export type Continuation =
  | {
      kind: 'suback';
      key: string;
      incarnation: number;
      epoch: number;
      packetId: number;
      codes: number[];
      retained: RetainedWant[];
      /** Raw filters this SUBSCRIBE set: [filter, what it replaced (undefined: new), what it set]. */
      added: Array<[string, SessionSub | undefined, SessionSub]>;
      /** Per entry of `added`: the filter's touch token before this SUBSCRIBE, and its own. */
      touched: Array<[before: number | undefined, mine: number]>;
    }
  | {
      kind: 'unsuback';
      key: string;
      incarnation: number;
      epoch: number;
      packetId: number;
      codes: number[];
      /** The filters as sent, what each removed (undefined: nothing), and its touch token. */
      filters: string[];
      removed: Array<SessionSub | undefined>;
      tokens: number[];
    }
  | { kind: 'pubrec'; key: string; incarnation: number; epoch: number; packetId: number };

export interface RetainedWant {
  qos: 0 | 1 | 2;
  subId: number;
}

export type Effect =
  /**
   * To a gateway, after the turn's write (write before acknowledge), unless `early`: a PUBLISH
   * the next owner would send again anyway if this one died now (a QoS 1 message already in the
   * stored queue, or a resend whose packet id is stored) may leave before the write, once nothing
   * older for its connection waits (runner/write-before-acknowledge.ts, "early sends").
   */
  | { t: 'gw'; gateway: string; item: GatewayOutItem; early?: boolean }
  /** Route a message (Will, inbound QoS 2). With `then`, the runner waits for router acceptance. */
  | { t: 'route'; mountpoint: string; message: Message; then?: Continuation; group?: string; exclude?: string }
  | { t: 'subs'; batch: SubChangeBatch; then?: Continuation }
  /** Arm (or with at = undefined, cancel) the session's timer of that kind. */
  | { t: 'timer'; key: string; kind: TimerKind; at: number | undefined }
  /** A limit was hit or a message dropped; the runner counts it in metrics. */
  | { t: 'count'; what: CountKind }
  /** A client lifecycle event for backends (client-event.ts), released after the turn's write. */
  | { t: 'event'; event: OwnerClientEvent };

export type CountKind =
  | 'queue_full_dropped'
  | 'queue_oldest_dropped'
  /** Queued beyond the bounds under the backpressure policy: the publisher is slowed. */
  | 'queue_over_limit'
  | 'expired_dropped'
  | 'too_large_dropped'
  | 'qos0_offline_dropped'
  | 'subscription_quota'
  | 'will_published'
  | 'takeover'
  | 'session_expired';
