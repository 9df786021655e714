import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { RingQueue } from '../ring-queue.js';
import { NoRespondersError, RequestTimeoutError } from './bus.js';
import { PendingTable, tokenGeneration, tokenSlot, tokenText } from './pending-table.js';

interface Pending {
  /** Where it is in the PendingTable (set when added). */
  slot: number;
  generation: number;
  subject: string;
  timeoutMs: number;
  deadline: number;
  resolve(m: Msg): void;
  reject(err: Error): void;
}

/** How often expired requests are looked for; a timeout fires up to this much late. */
const SWEEP_MS = 50;

/**
 * Request/reply over one wildcard inbox subscription (`<inbox>.*`, one token per request), with
 * one timer for all timeouts. nats.js's own request() allocates per request a deferred, a timer
 * and, on every completion, a RequestError with a captured stack (its cancel path), which took a
 * fifth of a tier's CPU at 10,000 requests/s. Here a request is a slot of a PendingTable (no Map
 * whose hash table is rebuilt as requests come and go: pending-table.ts); an error object is made
 * only for a request that fails. Requests with the same timeout expire in the order they were made,
 * so each timeout value keeps its own FIFO and a sweep touches only expired entries (and requests
 * already answered, dropped as they reach the head).
 * Runs in any process with a NATS bus.
 */
export class NatsRequestMux {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private readonly pending = new PendingTable<Pending>();
  /** timeoutMs -> requests in the order they were made (deadlines ascending). */
  private readonly byTimeout = new Map<number, RingQueue<Pending>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly nc: NatsConnection) {
    const prefix = this.inbox.length + 1;
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, m) => {
        if (err) return;
        const subject = m.subject;
        const p = this.take(tokenSlot(subject, prefix), tokenGeneration(subject, prefix));
        if (!p) return; // answered after its timeout, or a second answer
        // The server's no-responders status: an empty message with status 503.
        if (m.data.length === 0 && m.headers?.code === 503) p.reject(new NoRespondersError(p.subject));
        else p.resolve(m);
      },
    });
  }

  request(subject: string, data: Uint8Array, timeoutMs: number, headers?: MsgHdrs): Promise<Msg> {
    return new Promise<Msg>((resolve, reject) => {
      const p: Pending = { slot: 0, generation: 0, subject, timeoutMs, deadline: Date.now() + timeoutMs, resolve, reject };
      p.slot = this.pending.add(p);
      p.generation = this.pending.generationOf(p.slot);
      let fifo = this.byTimeout.get(timeoutMs);
      if (!fifo) this.byTimeout.set(timeoutMs, (fifo = new RingQueue<Pending>()));
      fifo.push(p);
      this.timer ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
      const reply = `${this.inbox}.${tokenText(p.slot, p.generation)}`;
      try {
        this.nc.publish(subject, data, headers ? { reply, headers } : { reply });
      } catch (err) {
        this.take(p.slot, p.generation);
        reject(err as Error);
      }
    });
  }

  /** Fails every outstanding request (the bus is closing). */
  close(why: Error): void {
    for (const p of this.pending.takeAll()) p.reject(why);
    for (const fifo of this.byTimeout.values()) fifo.clear();
    this.stopTimerWhenIdle();
    if (!this.sub.isClosed()) this.sub.unsubscribe();
  }

  private take(slot: number, generation: number): Pending | undefined {
    const p = this.pending.take(slot, generation);
    if (!p) return undefined;
    // Answered requests usually leave the head of their FIFO in order: drop them now, so a FIFO
    // holds little more than the requests in flight.
    const fifo = this.byTimeout.get(p.timeoutMs);
    if (fifo) while (fifo.length > 0 && !this.inFlight(fifo.peek()!)) fifo.shift();
    this.stopTimerWhenIdle();
    return p;
  }

  private inFlight(p: Pending): boolean {
    return this.pending.get(p.slot, p.generation) === p;
  }

  private stopTimerWhenIdle(): void {
    if (this.pending.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const fifo of this.byTimeout.values()) {
      while (fifo.length > 0) {
        const p = fifo.peek()!;
        if (!this.inFlight(p)) {
          fifo.shift(); // answered already
          continue;
        }
        if (p.deadline > now) break;
        fifo.shift();
        this.pending.take(p.slot, p.generation);
        p.reject(new RequestTimeoutError(p.subject, p.timeoutMs));
      }
    }
    this.stopTimerWhenIdle();
  }
}
