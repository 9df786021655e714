/**
 * At most `limit` CONNECT authentications of one gateway wait for the auth service at once; the rest
 * wait here, in arrival order. Why: in a reconnect storm every CONNECT is a bcrypt verification; sent
 * all at once, thousands queue at the auth service and in its database pool, and every one older than
 * the bus request timeout (nats.requestTimeoutMs) is answered "server unavailable" although the
 * service is working as fast as the cores allow. Waiting here costs a device nothing but time (the
 * auth service's queue stays short, each request is answered well within its timeout) and a device
 * whose socket closed meanwhile is never sent to the auth service at all.
 *
 * Who may call: the gateway service's event loop (single-threaded; not shared between gateways).
 */
export class AuthInFlightLimit {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Index of the next waiter in `waiting` (a queue without O(n) shifts). */
  private head = 0;

  /**
   * `onWait`: called once per authentication that has to wait for a slot (the limit was hit).
   * `pace`: how a freed slot's hand-over to the next waiter runs (the gateway's per-turn bound on
   * CONNECT work, connect-reads-per-turn.ts); by default at once.
   */
  constructor(
    private readonly limit: number,
    private readonly onWait: () => void,
    private readonly pace: (handOver: () => void) => void = (handOver) => handOver(),
  ) {}

  /** Authentications waiting for a slot. */
  get queued(): number {
    return this.waiting.length - this.head;
  }

  /**
   * Runs `ask` once a slot is free; when `stillWanted` says no by then (the connection is gone),
   * answers `gone` without asking.
   */
  async run<T>(ask: () => Promise<T>, stillWanted: () => boolean, gone: T): Promise<T> {
    if (this.active >= this.limit) {
      this.onWait();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      // The slot was handed over by the finisher (active stays counted for us).
    } else this.active++;
    try {
      return stillWanted() ? await ask() : gone;
    } finally {
      this.release();
    }
  }

  private release(): void {
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      this.waiting[this.head++] = noop;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      this.pace(next);
    } else this.active--;
  }
}

const noop = (): void => undefined;
