import type { SubjectSpace } from '../subjects.js';
import { decodeOwnerBatchAnswer, encodeOwnerBatch, MAX_OWNER_BATCH_ITEMS, ownerTokenOf, type OwnerBatchItem } from '../envelope/owner-batch.js';
import { NoRespondersError, type Bus } from './bus.js';
import { bodyBytes, type BusBody } from './bus-value.js';
import { sizeRanges } from './size-ranges.js';
import { atTurnEnd } from '../turn-end.js';

/** Bytes an item adds around its envelope (shard u16, length u32), and a batch's own header. */
const ITEM_OVERHEAD_BYTES = 6;
const BATCH_OVERHEAD_BYTES = 16;
const itemBytes = (it: OwnerBatchItem): number => it.data.length + ITEM_OVERHEAD_BYTES;

interface Waiter {
  shard: number;
  data: BusBody;
  timeoutMs: number;
  resolve(answer: Uint8Array): void;
  reject(err: Error): void;
}

interface Pending {
  items: OwnerBatchItem[];
  /** One per item when the batch is a request; empty for a fire-and-forget batch. */
  waiters: Waiter[];
}

/**
 * The sending side of owner-direct batches (envelope/owner-batch.ts; docs/sharding.md): session-in
 * envelopes for shards whose owner process is known go, per owner, in one bus message per
 * event-loop turn to the owner's own subject; the others go to their shard's subject as before.
 * With 20 subscribers in 20 shards held by 2 session actors, a message costs the router 2
 * requests instead of 20, and a gateway's PUBACKs of one turn 2 instead of one each.
 *
 * The owner is learnt from answers (an owner's status answer names it) and forgotten when it
 * answers "not served here" (the item goes again on the shard subject), when it does not answer
 * in time, or when nobody listens on its subject. Order: everything for a shard with a known
 * owner goes on the owner's subject in the order given, in batches sent in order.
 * Runs in routers and gateways (NATS bus only: one process has no owners to address).
 */
export class OwnerDirect {
  private readonly owners = new Map<number, string>();
  private readonly requests = new Map<string, Pending>();
  private readonly casts = new Map<string, Pending>();
  private scheduled = false;
  private readonly flushNow = () => this.flush();

  constructor(
    private readonly bus: Bus,
    private readonly subjects: SubjectSpace,
    private readonly onBatch?: (items: number) => void,
  ) {}

  /** Records `token` as the owner of `shard` (from a connect answer, say). */
  know(shard: number, token: string | undefined): void {
    if (token !== undefined && this.bus.kind === 'nats') this.owners.set(shard, token);
  }

  /** The owner process known for `shard` (tests and diagnostics). */
  ownerOf(shard: number): string | undefined {
    return this.owners.get(shard);
  }

  /**
   * Sends one session-in envelope of `shard` and resolves with the owner's answer (what the
   * shard subject answers). Rejects as bus.request does; the caller retries as before.
   */
  request(shard: number, data: BusBody, timeoutMs: number): Promise<Uint8Array> {
    const token = this.owners.get(shard);
    if (token === undefined) return this.viaShard(shard, data, timeoutMs);
    return new Promise<Uint8Array>((resolve, reject) => {
      const p = this.pending(this.requests, token);
      p.items.push({ shard, data: bodyBytes(data) });
      p.waiters.push({ shard, data, timeoutMs, resolve, reject });
    });
  }

  /** Fire and forget (QoS 0 copies): the owner passes an item it does not serve on to the shard subject. */
  publish(shard: number, data: BusBody): void {
    const token = this.owners.get(shard);
    if (token === undefined) this.bus.publish(this.subjects.sessionIn(shard), data);
    else this.pending(this.casts, token).items.push({ shard, data: bodyBytes(data) });
  }

  private pending(map: Map<string, Pending>, token: string): Pending {
    let p = map.get(token);
    if (!p) map.set(token, (p = { items: [], waiters: [] }));
    if (!this.scheduled) {
      this.scheduled = true;
      atTurnEnd(this.flushNow);
    }
    return p;
  }

  private viaShard(shard: number, data: BusBody, timeoutMs: number): Promise<Uint8Array> {
    // Not an async function: in one process every Deliver comes this way (docs/operations.md, "QoS 1 latency").
    return this.bus.request(this.subjects.sessionIn(shard), data, { timeoutMs }).then((m) => {
      const token = ownerTokenOf(m.data);
      if (token !== undefined) this.owners.set(shard, token);
      return m.data;
    });
  }

  private flush(): void {
    this.scheduled = false;
    for (const [token, p] of this.casts) {
      for (const [from, to] of this.chunks(p.items)) {
        const items = p.items.slice(from, to);
        this.onBatch?.(items.length);
        this.bus.publish(this.subjects.ownerIn(token), encodeOwnerBatch(items));
      }
    }
    this.casts.clear();
    for (const [token, p] of this.requests) {
      for (const [from, to] of this.chunks(p.items)) this.send(token, p.items.slice(from, to), p.waiters.slice(from, to));
    }
    this.requests.clear();
  }

  /** [from, to) ranges of at most MAX_OWNER_BATCH_ITEMS items and the bus's message size each. */
  private chunks(items: readonly OwnerBatchItem[]): Array<[number, number]> {
    return sizeRanges(items, itemBytes, this.bus.maxPayloadBytes - BATCH_OVERHEAD_BYTES, MAX_OWNER_BATCH_ITEMS);
  }

  private send(token: string, items: OwnerBatchItem[], waiters: Waiter[]): void {
    let timeoutMs = waiters[0]!.timeoutMs;
    for (const w of waiters) if (w.timeoutMs < timeoutMs) timeoutMs = w.timeoutMs;
    this.onBatch?.(items.length);
    this.bus.request(this.subjects.ownerIn(token), encodeOwnerBatch(items), { timeoutMs }).then(
      (m) => {
        let answers: Uint8Array[];
        try {
          answers = decodeOwnerBatchAnswer(m.data, items.length);
        } catch (err) {
          this.forgetAll(token, waiters);
          for (const w of waiters) w.reject(err as Error);
          return;
        }
        for (let i = 0; i < waiters.length; i++) {
          const w = waiters[i]!;
          if (answers[i]!.length > 0) w.resolve(answers[i]!);
          else {
            // Not served there (any more): the shard subject reaches whoever serves it now.
            if (this.owners.get(w.shard) === token) this.owners.delete(w.shard);
            this.viaShard(w.shard, w.data, w.timeoutMs).then(w.resolve, w.reject);
          }
        }
      },
      (err: Error) => {
        this.forgetAll(token, waiters);
        if (err instanceof NoRespondersError) {
          // The owner process is gone: its shards' new owners are on the shard subjects.
          for (const w of waiters) this.viaShard(w.shard, w.data, w.timeoutMs).then(w.resolve, w.reject);
        } else for (const w of waiters) w.reject(err);
      },
    );
  }

  private forgetAll(token: string, waiters: readonly Waiter[]): void {
    for (const w of waiters) if (this.owners.get(w.shard) === token) this.owners.delete(w.shard);
  }
}
