import { atTurnEnd } from '../turn-end.js';

/**
 * Items collected per key (a gateway, a router subject) during one event-loop turn and handed
 * to `send` once per key at the turn's end (turn-end.ts), after the turn's I/O callbacks (not a
 * microtask, so the work of every socket read of the turn shares one bus message). Items keep the order added.
 * Used on hot paths by whoever batches per turn (gateway-out-per-turn.ts, router-choice.ts).
 */
export class PerTurnLists<T> {
  private lists = new Map<string, T[]>();
  private scheduled = false;
  private readonly flushNow = () => this.flush();

  constructor(private readonly send: (key: string, items: T[]) => void) {}

  add(key: string, item: T): void {
    let list = this.lists.get(key);
    if (!list) this.lists.set(key, (list = []));
    list.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      atTurnEnd(this.flushNow);
    }
  }

  /** Sends what is pending now (before a stop, or before the keys change meaning). */
  flush(): void {
    this.scheduled = false;
    if (this.lists.size === 0) return;
    const lists = this.lists;
    this.lists = new Map();
    for (const [key, items] of lists) this.send(key, items);
  }
}
