/**
 * The requests of a bus awaiting their reply, by token, without a Map.
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
 * A token names a slot and the generation of its occupant (`generation * MAX_SLOTS + slot`, a
 * safe integer), so a late or forged reply naming a reused slot finds nothing. Tokens are
 * non-negative integers; `tokenText` / `parseToken` write and read them in base 36, as they appear
 * in reply subjects.
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

  /** Stores `item`; returns its token. Throws when MAX_SLOTS requests are already in flight. */
  add(item: T): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.items.length;
      if (slot >= MAX_SLOTS) throw new Error(`more than ${MAX_SLOTS} bus requests in flight`);
      this.items.push(undefined);
      this.generations.push(0);
    }
    // Generations run 1..MAX_GENERATION (0 marks a free slot), then start again.
    this.generation = this.generation >= MAX_GENERATION ? 1 : this.generation + 1;
    this.items[slot] = item;
    this.generations[slot] = this.generation;
    this.count++;
    return this.generation * MAX_SLOTS + slot;
  }

  /** The item of `token` while it is in flight, else undefined. */
  get(token: number): T | undefined {
    if (token < 0) return undefined;
    const slot = token % MAX_SLOTS;
    return this.generations[slot] === (token - slot) / MAX_SLOTS ? this.items[slot] : undefined;
  }

  /** Removes and returns the item of `token`; undefined when it is not (or no longer) in flight. */
  take(token: number): T | undefined {
    if (token < 0) return undefined;
    const slot = token % MAX_SLOTS;
    if (this.generations[slot] !== (token - slot) / MAX_SLOTS) return undefined;
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

/** Requests in flight at once per bus, at most (2^20). */
export const MAX_SLOTS = 1_048_576;
/** Generations before they repeat: tokens stay below 2^51, safe integers. */
const MAX_GENERATION = 2 ** 31 - 1;

/** A token as it appears in a reply subject. */
export function tokenText(token: number): string {
  return token.toString(36);
}

/**
 * The token `text` holds as tokenText writes it (base 36, digits and lower-case letters, no leading
 * zero), or -1 for any other text, from `start` to the end of `text` (a reply subject after its
 * prefix; nothing is sliced). Exact, so a subject that is not a token's reply subject never answers
 * a request.
 */
export function parseToken(text: string, start = 0): number {
  const n = text.length;
  if (start >= n || (text.charCodeAt(start) === 48 /* 0 */ && n - start > 1)) return -1;
  let token = 0;
  for (let i = start; i < n; i++) {
    const c = text.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 122) d = c - 87;
    else return -1;
    token = token * 36 + d;
    if (token > Number.MAX_SAFE_INTEGER) return -1;
  }
  return token;
}
