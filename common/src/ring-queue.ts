/**
 * FIFO queue on a growable ring buffer: O(1) push/shift without Array.shift()'s O(n)
 * copying (a broker whose queues shift long arrays collapses as they grow: Array.shift is O(n)).
 * Used for every per-session and per-connection queue.
 */
export class RingQueue<T> {
  /**
   * Empty (the shared NO_ITEMS) until the first push: most queues of an idle connection or session
   * never hold anything, and 16 slots cost ~170 bytes each on a 64-bit Node.
   */
  private items: Array<T | undefined> = NO_ITEMS;
  private head = 0;
  private count = 0;
  private readonly firstCapacity: number;

  constructor(initialCapacity = 16) {
    let cap = 4;
    while (cap < initialCapacity) cap *= 2;
    this.firstCapacity = cap;
  }

  get length(): number {
    return this.count;
  }

  push(v: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = v;
    this.count++;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const v = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count--;
    return v;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  /** The i-th item from the head (0 = peek()), or undefined past the end. */
  at(i: number): T | undefined {
    return i < 0 || i >= this.count ? undefined : this.items[(this.head + i) & (this.items.length - 1)];
  }

  clear(): void {
    this.items = NO_ITEMS;
    this.head = 0;
    this.count = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.items[(this.head + i) & (this.items.length - 1)] as T;
  }

  private grow(): void {
    // NO_ITEMS is never written to: a push into it (count === length === 0) comes here first.
    const next = new Array<T | undefined>(this.items.length === 0 ? this.firstCapacity : this.items.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) & (this.items.length - 1)];
    this.items = next;
    this.head = 0;
  }
}

/** The items of every empty, never-pushed queue: length 0, never written (grow() replaces it first). */
const NO_ITEMS: never[] = new Array<never>(0);
