import type { Bus } from '../../common/src/bus/index.js';

/**
 * The in-memory bus reporting itself as NATS, for tests of what runs over NATS only (owner-direct
 * batches, route batches, owners naming themselves in answers), with NATS's message size limit
 * when one is given (else the memory bus's own).
 */
export function natsLike(mem: Bus, maxPayloadBytes = mem.maxPayloadBytes): Bus {
  return {
    kind: 'nats',
    maxPayloadBytes,
    publish: (s, d, o) => mem.publish(s, d, o),
    subscribe: (s, h, o) => mem.subscribe(s, h, o),
    request: (s, d, o) => mem.request(s, d, o),
    flush: () => mem.flush(),
    close: () => mem.close(),
  };
}
