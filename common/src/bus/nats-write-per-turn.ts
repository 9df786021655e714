import type { NatsConnection } from '@nats-io/transport-node';
import { atTurnEndLast } from '../turn-end.js';

/** The part of nats.js's (3.x) ProtocolHandler this relies on; checked at run time. */
interface ProtocolInternals {
  sendCommand(cmd: string | Uint8Array, ...payloads: Uint8Array[]): void;
  flushPending(): void;
  outbound: { fill(data: Uint8Array, ...more: Uint8Array[]): void; size(): number };
  pendingLimit: number;
}

const text = new TextEncoder();

/**
 * One socket write per event-loop turn per NATS connection, instead of one per microtask
 * checkpoint. nats.js queues a flush as a microtask when its outbound buffer goes from empty to
 * not empty, so every awaited continuation that publishes (a JetStream append of one shard, the
 * answer to one request) ends in its own write(2): profiled under durable fan-out, socket writes
 * were 20-35 % of every tier's CPU. Here the flush runs at the turn's end after every other
 * turn-end task (turn-end.ts: the per-turn batches, a shard's write), so what the turn's I/O
 * callbacks, their continuations and those batches sent leaves in one write; a buffer past nats.js's own limit (32 KiB) is still written
 * at once. Returns false, changing nothing, when the client is not the nats.js this was written
 * against (its internals differ): the connection then keeps nats.js's own flushing.
 * Runs in any process, once per connection, right after connect.
 */
export function writeOncePerTurn(nc: NatsConnection): boolean {
  const p = (nc as unknown as { protocol?: Partial<ProtocolInternals> }).protocol;
  if (!p || typeof p.sendCommand !== 'function' || typeof p.flushPending !== 'function' || typeof p.pendingLimit !== 'number') return false;
  const outbound = p.outbound;
  if (!outbound || typeof outbound.fill !== 'function' || typeof outbound.size !== 'function') return false;
  const flushPending = p.flushPending.bind(p);
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    flushPending();
  };
  p.sendCommand = (cmd: string | Uint8Array, ...payloads: Uint8Array[]) => {
    // The buffer may have been replaced (nats.js resets it, never replaces it, in 3.x).
    const out = (p as ProtocolInternals).outbound;
    out.fill(typeof cmd === 'string' ? text.encode(cmd) : cmd, ...payloads);
    if (out.size() >= (p as ProtocolInternals).pendingLimit) flushPending();
    else if (!scheduled) {
      scheduled = true;
      atTurnEndLast(flush);
    }
  };
  return true;
}
