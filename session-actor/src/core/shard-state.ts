import type { Session } from './session.js';

/** Session limits and non-standard knobs the core needs (from config, read once). */
export interface SessionLimits {
  maxInflight: number;
  maxQueuedMessages: number;
  maxQueuedBytes: number;
  queueOverflow: 'drop-new' | 'drop-oldest' | 'backpressure';
  queueQos0: boolean;
  maxExpiryS: number;
  v3PersistentExpiryS: number;
  v3WillDelayS: number;
  suppressWillOnTakeover: boolean;
  maxSubscriptionsPerClient: number;
  /** events.enabled: build client lifecycle events (client-event.ts). */
  emitEvents: boolean;
}

/**
 * Every session of the shards this process owns. Runs on the shard owner only.
 * `nextEpoch` starts at a random point so epochs of a session recreated after a restart
 * never collide with those of a connection the gateway still remembers.
 */
export interface ShardState {
  readonly sessions: Map<string, Session>;
  readonly limits: SessionLimits;
  nextEpoch: number;
  /** The last event epoch given out (client-event.ts); 0 on a fresh owner. */
  eventClock: number;
}

export function createShardState(limits: SessionLimits, epochSeed: number): ShardState {
  return { sessions: new Map(), limits, nextEpoch: epochSeed >>> 0 || 1, eventClock: 0 };
}

export function takeEpoch(st: ShardState): number {
  const e = st.nextEpoch;
  st.nextEpoch = (st.nextEpoch + 1) >>> 0 || 1;
  return e;
}

export const defaultLimits: SessionLimits = {
  maxInflight: 32,
  maxQueuedMessages: 1000,
  maxQueuedBytes: 16 * 1024 * 1024,
  queueOverflow: 'drop-new',
  queueQos0: false,
  maxExpiryS: 0xffffffff,
  v3PersistentExpiryS: 86400,
  v3WillDelayS: 0,
  suppressWillOnTakeover: false,
  maxSubscriptionsPerClient: 1000,
  emitEvents: false,
};

/** Marks a session's filter as changed by the current request; returns the request's token. */
export function touchFilter(st: ShardState, s: Session, raw: string): number {
  const token = takeEpoch(st);
  (s.subTouch ??= new Map()).set(raw, token);
  return token;
}
