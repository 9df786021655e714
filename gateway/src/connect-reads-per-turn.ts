/**
 * Connections that have not completed CONNECT get their input handled for at most `budgetMs` of
 * each event-loop turn (and at least one per turn, so a storm always moves); the input of the
 * others is held, their sockets paused, and handed back in the following turns, in arrival order.
 * Why: in a reconnect storm one poll phase hands the gateway up to a thousand sockets that each carry
 * a CONNECT, and handling one is the parse, the validation and the authentication request (in one
 * process also the cached answer, the session attach and the CONNACK, all without waiting for I/O),
 * so one turn did all of them and every timer, bus message and client of the process waited for it
 * (event-loop delays of 0.3 to 1.4 s). A budget in time rather than in CONNECTs lets a fast machine,
 * or a gateway whose CONNECTs cost little, take more per turn, so the bound paces the loop and does
 * not cap the storm's rate. Connected clients are never held here; their input is read as before.
 *
 * A held connection is not timed out by mqtt.connectTimeoutMs (its CONNECT, or the start of
 * it, has arrived; the wait is ours). Each hold is counted (`onHold`).
 *
 * The same budget paces other CONNECT work that would otherwise chain within one turn (`run`):
 * the authentication a freed mqtt.maxAuthInFlight slot hands to the next waiting CONNECT. In one
 * process a cached authentication is answered on the memory bus without waiting for I/O, so each
 * answer freed a slot whose next authentication was answered in the same microtask run: one turn
 * authenticated, attached and acknowledged every waiting CONNECT (a 300 ms turn for 5,000 devices,
 * profiled), whatever the bound on reads. It also paces the connection-lost notices of sockets
 * the peers closed (gateway-service.ts): when thousands of clients go at once, one poll phase
 * closes all their sockets, and each notice is the session's connection-lost handling (the Will
 * published and routed: in one process on the memory bus, in the same turn).
 *
 * Who may call: the gateway's event loop (one instance per gateway, shared by its connections).
 */
export interface HeldReader {
  /** Handles a chunk held here (the connection was paused when it was held). */
  readHeld(chunk: Buffer): void;
}

type Waiting = { r: HeldReader; chunk: Buffer; work: undefined } | { r: undefined; chunk: undefined; work: () => void };
const DONE: Waiting = { r: undefined, chunk: undefined, work: () => undefined };

export class ConnectReadsPerTurn {
  /** Connections handled in this turn, and when the first of them started (`now()` ms). */
  private used = 0;
  private turnStart = 0;
  private scheduled = false;
  /** Held input (`r` and `chunk`) and deferred work (`work`), in arrival order. */
  private queue: Waiting[] = [];
  private head = 0;
  /** Chunks held per connection (a paused stream emits nothing more, so one; counted to stay in order regardless). */
  private readonly held = new Map<HeldReader, number>();

  constructor(
    private readonly budgetMs: number,
    private readonly onHold: () => void,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  /** Whether this turn may handle one more (the first of a turn always may). */
  private room(): boolean {
    if (this.used === 0) {
      this.turnStart = this.now();
      return true;
    }
    return this.now() - this.turnStart < this.budgetMs;
  }

  /** Whether `r`'s input is held here (its CONNECT waits for a turn with room). */
  holds(r: HeldReader): boolean {
    return this.held.has(r);
  }

  /**
   * Whether a connection without CONNECT may handle `chunk` now; when not, the caller pauses its
   * socket and the chunk is handed back through readHeld in a later turn.
   */
  admit(r: HeldReader, chunk: Buffer): boolean {
    // Anything already waiting goes first (arrival order), whatever room this turn has left.
    if (this.head === this.queue.length && !this.held.has(r) && this.room()) {
      this.used++;
      this.schedule();
      return true;
    }
    this.onHold();
    this.queue.push({ r, chunk, work: undefined });
    this.held.set(r, (this.held.get(r) ?? 0) + 1);
    this.schedule();
    return false;
  }

  /**
   * Runs `work` now when this turn has room and nothing waits (true), else in a later turn after
   * what waits (false; not counted as a hold: the caller counts what it defers).
   */
  run(work: () => void): boolean {
    if (this.head === this.queue.length && this.room()) {
      this.used++;
      this.schedule();
      work();
      return true;
    }
    this.queue.push({ r: undefined, chunk: undefined, work });
    this.schedule();
    return false;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.turn);
  }

  /** Check phase: a new turn's room, first for what waits. */
  private readonly turn = (): void => {
    this.scheduled = false;
    this.used = 0;
    const q = this.queue;
    while (this.head < q.length && this.room()) {
      const { r, chunk, work } = q[this.head]!;
      q[this.head++] = DONE;
      this.used++;
      if (work !== undefined) {
        work();
        continue;
      }
      const n = this.held.get(r!)!;
      if (n > 1) this.held.set(r!, n - 1);
      else this.held.delete(r!);
      r!.readHeld(chunk!);
    }
    if (this.head === q.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
    // Room was used (or input still waits): the next turn starts afresh.
    if (this.used > 0 || this.head < this.queue.length) this.schedule();
  };
}
