/**
 * The bus: the only way tiers talk to each other. Two implementations pass the same
 * contract tests (test/unit/bus-contract.test.ts): NATS (production, distributed tests)
 * and in-memory (embedded one-process default).
 *
 * Payloads are opaque bytes; metadata travels in the binary envelopes of
 * common/src/envelope, never as JSON on the hot path. Headers exist for the rare
 * control message and for interoperability, not for per-message metadata.
 * A sender may publish an envelope as a BusValue (bus-value.ts): NATS encodes it, the memory
 * bus hands the object over and the receiver skips decoding.
 */
import type { BusBody, BusValue } from './bus-value.js';

export type BusHeaders = Record<string, string>;

export interface BusMsg {
  readonly subject: string;
  readonly data: Uint8Array;
  /** Reply subject when the sender used request(); undefined otherwise. */
  readonly reply?: string;
  readonly headers?: BusHeaders;
  /**
   * The value the sender published (memory bus only; read it with bodyValue/handedOver of
   * bus-value.ts). Undefined for bytes and on NATS, where `data` is all there is.
   */
  readonly value?: BusValue<unknown>;
  /** Answers a request. Returns false when the message had no reply subject. */
  respond(data: Uint8Array, headers?: BusHeaders): boolean;
}

/**
 * Runs for each message. Both buses catch whatever it throws (and the rejection of a returned
 * promise): see handler-guard.ts.
 */
export type BusHandler = (msg: BusMsg) => void;

export interface SubscribeOptions {
  /** Queue group: each message goes to exactly one member of the group. */
  queue?: string;
  /**
   * The answer to a request whose handler threw (or whose envelope did not decode), so the
   * requester fails at once instead of at its timeout. Undefined: no answer.
   */
  errorReply?: Uint8Array;
}

export interface PublishOptions {
  headers?: BusHeaders;
  reply?: string;
}

export interface RequestOptions {
  timeoutMs: number;
  headers?: BusHeaders;
}

export interface BusSubscription {
  unsubscribe(): void;
  /**
   * Leaves the subject (and its queue group) and resolves once the messages the server
   * already sent to this subscription were handed to the handler, so none is dropped on the
   * floor (NATS drain). Memory bus: same as unsubscribe (nothing is in flight to a local subscriber).
   */
  drain(): Promise<void>;
}

export interface Bus {
  /** Fire and forget. Delivery is asynchronous, in publish order per subscriber. */
  publish(subject: string, data: BusBody, opts?: PublishOptions): void;
  /**
   * Subject tokens are separated by '.', '*' matches one token, '>' matches one or more
   * trailing tokens (NATS semantics).
   */
  subscribe(subject: string, handler: BusHandler, opts?: SubscribeOptions): BusSubscription;
  /**
   * Request/reply: resolves with the first reply. Rejects with NoRespondersError at once
   * when nobody subscribes to the subject, with RequestTimeoutError after timeoutMs.
   */
  request(subject: string, data: BusBody, opts: RequestOptions): Promise<BusMsg>;
  /** Resolves once everything published so far has reached the server (or local subscribers). */
  flush(): Promise<void>;
  /** Drains and closes. Further calls throw. */
  close(): Promise<void>;
  /** Registers a callback for connection state changes (NATS only; memory bus never calls it). */
  onStatus?(cb: (status: BusStatus) => void): void;
  readonly kind: 'memory' | 'nats';
  /**
   * The largest message the bus carries (NATS: the server's max_payload, 1 MiB by default).
   * Senders that batch split their batches below it; a single larger message is refused
   * (publish: dropped, logged and counted; request: rejected), never thrown out of a callback.
   */
  readonly maxPayloadBytes: number;
}

export type BusStatus = 'connected' | 'disconnected' | 'reconnecting' | 'closed';

export class NoRespondersError extends Error {
  readonly code = 'NO_RESPONDERS';
  constructor(readonly subject: string) {
    super(`no responders for ${subject}`);
    this.name = 'NoRespondersError';
  }
}

export class RequestTimeoutError extends Error {
  readonly code = 'TIMEOUT';
  constructor(
    readonly subject: string,
    readonly timeoutMs: number,
  ) {
    super(`request to ${subject} timed out after ${timeoutMs} ms`);
    this.name = 'RequestTimeoutError';
  }
}
