import { NoRespondersError, RequestTimeoutError } from './bus/bus.js';

/**
 * Every retry schedule of shardmq in one place: how often, how fast, and why. Delays grow from
 * `firstDelayMs` (doubling, or linearly) up to `maxDelayMs`, and each is stretched by a random
 * 0 to `jitterRatio` (never shortened, so what a schedule covers is at least its nominal sum): a
 * reconnect storm or a NATS failover would otherwise have every gateway and owner retry in
 * lockstep, hitting the new shard owner or NATS leader in waves.
 */

export interface Backoff {
  /** Delay before the first retry. */
  readonly firstDelayMs: number;
  /** No delay is longer than this (before jitter). */
  readonly maxDelayMs: number;
  /** 'double': first, 2×first, 4×first…; 'linear': first, 2×first, 3×first… */
  readonly growth: 'double' | 'linear';
  /** Each delay is multiplied by 1 + jitterRatio × a random number in [0, 1). */
  readonly jitterRatio: number;
}

export interface RetryPolicy extends Backoff {
  /** Tries in all, the first one included. */
  readonly attempts: number;
}

const JITTER = 0.2;

/** Bus requests retried while nobody answers (a tier restarting, a shard moving): `retrying`. */
export const RETRY = {
  /** Gateway → shard owner, CONNECT: about 10 s, longer than a lease takeover at default settings (the CONNACK is late, not an error). */
  connectToOwner: { attempts: 44, firstDelayMs: 50, maxDelayMs: 250, growth: 'double', jitterRatio: JITTER },
  /** Gateway → shard owner, acks, SUBSCRIBE, QoS 2 steps, DISCONNECT: about 12 s; then the connection is closed. */
  envelopeToOwner: { attempts: 16, firstDelayMs: 50, maxDelayMs: 1000, growth: 'double', jitterRatio: JITTER },
  /** Gateway → shard owner, a lost connection's notice: about 10 minutes (the session's Will and expiry wait for it). */
  connLostToOwner: { attempts: 320, firstDelayMs: 50, maxDelayMs: 2000, growth: 'double', jitterRatio: JITTER },
  /** Gateway → shard owner, the shutdown broadcast's Deliver (the stop waits at most gateway.shutdownBroadcastWaitMs anyway). */
  shutdownBroadcastToOwner: { attempts: 6, firstDelayMs: 50, maxDelayMs: 2000, growth: 'double', jitterRatio: JITTER },
  /** Gateway → router, a QoS 1 PUBLISH (its PUBACK waits). */
  publishToRouter: { attempts: 6, firstDelayMs: 50, maxDelayMs: 2000, growth: 'double', jitterRatio: JITTER },
  /** Admin API → shard owner, client info or kick (a shard moving answers a moment later). */
  adminToOwner: { attempts: 10, firstDelayMs: 50, maxDelayMs: 1000, growth: 'double', jitterRatio: JITTER },
  /** Admin API → router, a message published by an operator (the HTTP answer waits). */
  adminPublishToRouter: { attempts: 6, firstDelayMs: 50, maxDelayMs: 1000, growth: 'double', jitterRatio: JITTER },
  /** Shard owner → router, a Will or an inbound QoS 2 message. */
  ownerPublishToRouter: { attempts: 8, firstDelayMs: 50, maxDelayMs: 2000, growth: 'double', jitterRatio: JITTER },
  /** Shard owner → routers, subscription changes (the SUBACK waits). */
  subscriptionsToRouter: { attempts: 5, firstDelayMs: 50, maxDelayMs: 2000, growth: 'double', jitterRatio: JITTER },
} as const satisfies Record<string, RetryPolicy>;

/** Schedules bounded by a deadline or retried until they succeed, not by a count of attempts. */
export const BACKOFF = {
  /** Router → shard owner, a Deliver, until `cluster.deliverRetryMs` has passed. */
  deliverToOwner: { firstDelayMs: 25, maxDelayMs: 250, growth: 'double', jitterRatio: JITTER },
  /** Shard owner, a session log append that failed transiently (NATS reconnecting): retried until it succeeds or is fenced. */
  sessionLogWrite: { firstDelayMs: 50, maxDelayMs: 1000, growth: 'linear', jitterRatio: JITTER },
  /** Shard owner loading a shard, a session log entry a lagging replica does not have yet: `sessionLogReadAttempts` tries. */
  sessionLogRead: { firstDelayMs: 25, maxDelayMs: 500, growth: 'linear', jitterRatio: JITTER },
} as const satisfies Record<string, Backoff>;

/** Retries of a session log read that meets a lagging replica before the shard load fails. */
export const SESSION_LOG_READ_RETRIES = 20;

/** The delay before retry number `retry` (1 = the first retry). `random` is for tests. */
export function retryDelayMs(b: Backoff, retry: number, random: () => number = Math.random): number {
  const n = Math.max(1, retry);
  const grown = b.growth === 'double' ? b.firstDelayMs * 2 ** Math.min(n - 1, 30) : b.firstDelayMs * n;
  return Math.round(Math.min(grown, b.maxDelayMs) * (1 + b.jitterRatio * random()));
}

/** Waits the delay before retry number `retry`. */
export function sleepBeforeRetry(b: Backoff, retry: number): Promise<void> {
  return new Promise((r) => setTimeout(r, retryDelayMs(b, retry)));
}

/**
 * Retries a bus request while nobody answers (no responders, timeout), per `policy`. Other
 * errors, and the last attempt's, are thrown.
 */
export async function retrying<T>(fn: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const retriable = err instanceof NoRespondersError || err instanceof RequestTimeoutError;
      if (!retriable || i >= policy.attempts) throw err;
      await sleepBeforeRetry(policy, i);
    }
  }
}
