/**
 * The requests of a bus awaiting their reply, by slot and generation, without a Map.
 *
 * Why not a Map: a Map whose entries come and go (a request added, its reply removing it) rebuilds
 * its hash table every few hundred additions (deleted entries only leave holes until the table is
 * rebuilt, and a table that empties shrinks), about 60 bytes of garbage per request. Those tables
 * live through many young-generation collections, so V8 promotes them to the old generation, where
 * nothing collects them until the next full collection: during a connect burst (two requests per
 * handshake) that is old-generation memory per connection that stays resident (docs/operations.md,
 * "Memory per connection"). Here a request is a slot in arrays that only ever grow to the largest
 * number of requests in flight at once; a freed slot is reused.
 *
 * A request is named by its slot and the generation of its occupant (both small integers: V8 keeps
 * them unboxed), so a late or forged reply naming a reused slot finds nothing. `tokenText` /
 * `parseToken` write and read the pair as it appears in a reply subject.
 *
 * Who may call: one bus (single-threaded; not shared between buses).
 */
export class PendingTable<T> {
  private readonly items: Array<T | undefined> = [];
  private readonly generations: number[] = [];
  private readonly free: number[] = [];
  private generation = 0;
  private count = 0;

  /** Requests in flight. */
  get size(): number {
    return this.count;
  }

  /** Stores `item`; returns its slot (its generation is then `generationOf(slot)`). */
  add(item: T): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.items.length;
      this.items.push(undefined);
      this.generations.push(0);
    }
    // Generations run 1..MAX_GENERATION (0 marks a free slot), then start again.
    this.generation = this.generation >= MAX_GENERATION ? 1 : this.generation + 1;
    this.items[slot] = item;
    this.generations[slot] = this.generation;
    this.count++;
    return slot;
  }

  /** The generation of the request in `slot` (0 when the slot is free). */
  generationOf(slot: number): number {
    return this.generations[slot] ?? 0;
  }

  /** The item of (slot, generation) while it is in flight, else undefined. */
  get(slot: number, generation: number): T | undefined {
    return generation > 0 && this.generations[slot] === generation ? this.items[slot] : undefined;
  }

  /** Removes and returns the item of (slot, generation); undefined when it is not (or no longer) in flight. */
  take(slot: number, generation: number): T | undefined {
    if (generation <= 0 || this.generations[slot] !== generation) return undefined;
    const item = this.items[slot];
    this.items[slot] = undefined;
    this.generations[slot] = 0;
    this.free.push(slot);
    this.count--;
    return item;
  }

  /** Removes and returns every item in flight (closing the bus). */
  takeAll(): T[] {
    const all: T[] = [];
    for (let slot = 0; slot < this.items.length; slot++) {
      if (this.generations[slot] === 0) continue;
      all.push(this.items[slot] as T);
      this.items[slot] = undefined;
      this.generations[slot] = 0;
      this.free.push(slot);
    }
    this.count = 0;
    return all;
  }
}

/** Generations before they repeat (below 2^31: a small integer, unboxed). */
const MAX_GENERATION = 2 ** 31 - 1;

/** A request's name in a reply subject: slot and generation in base 36, joined by `_`. */
export function tokenText(slot: number, generation: number): string {
  return `${slot.toString(36)}_${generation.toString(36)}`;
}

/**
 * The slot named by what tokenText wrote, from `start` to the end of `text` (a reply subject after
 * its prefix; nothing is sliced), or -1 for any other text (digits and lower-case letters only, no
 * leading zero, exactly one `_`). Exact, so a subject that is not a request's reply subject never
 * answers one. tokenGeneration reads the generation the same way (two calls, no object per reply).
 */
export function tokenSlot(text: string, start: number): number {
  const sep = text.indexOf('_', start);
  if (sep < 0 || base36(text, sep + 1, text.length) < 0) return -1;
  return base36(text, start, sep);
}

/** The generation named by a reply subject's token (see tokenSlot), or -1. */
export function tokenGeneration(text: string, start: number): number {
  const sep = text.indexOf('_', start);
  if (sep < 0 || base36(text, start, sep) < 0) return -1;
  return base36(text, sep + 1, text.length);
}

/** The base-36 number in text[from, to) as Number.toString(36) writes it, or -1. */
function base36(text: string, from: number, to: number): number {
  if (from >= to || to - from > 6 || (text.charCodeAt(from) === 48 /* 0 */ && to - from > 1)) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) n = n * 36 + (c - 48);
    else if (c >= 97 && c <= 122) n = n * 36 + (c - 87);
    else return -1;
  }
  return n <= MAX_GENERATION ? n : -1;
}
