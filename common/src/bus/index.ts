import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Bus } from './bus.js';
import { createMemoryBus } from './memory-bus.js';
import { connectNatsBus } from './nats-bus.js';

export * from './bus.js';
export { bodyBytes, type BusBody, type BusCodec, BusValue, handedOver, bodyValue } from './bus-value.js';
export { createMemoryBus, type MemoryBusOptions } from './memory-bus.js';
export { connectNatsBus, isNatsBus, natsConnection, type NatsBus, type NatsBusOptions } from './nats-bus.js';
export { HandlerGuard, subjectKind } from './handler-guard.js';
export { subjectMatches, tokensMatch, hasWildcard, isValidPublishSubject, isValidSubscribeSubject } from './subject-match.js';

export interface CreateBusOptions {
  /** NATS URL(s), comma separated (setting `nats.url`). Undefined or empty: in-memory bus. */
  natsUrl?: string;
  /** Connection name shown by the NATS server (e.g. node id). */
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  log?: Logger;
  /** Counts malformed envelopes and handler failures (handler-guard.ts). */
  metrics?: Metrics;
}

/**
 * The bus for this process: NATS when a URL is configured, otherwise the in-memory bus
 * (valid only when every role runs in this process; config validation enforces that).
 * Called once per process at start-up; every tier in the process shares the result.
 */
export async function createBus(opts: CreateBusOptions = {}): Promise<Bus> {
  const url = opts.natsUrl?.trim();
  if (!url) return createMemoryBus({ log: opts.log, metrics: opts.metrics });
  const servers = url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return connectNatsBus({ servers, name: opts.name, user: opts.user, pass: opts.pass, token: opts.token, log: opts.log, metrics: opts.metrics });
}
