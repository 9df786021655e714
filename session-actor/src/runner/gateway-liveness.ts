/**
 * Gateway liveness as a session actor sees it: gateways publish a heartbeat every
 * `gateway.heartbeatMs`; one silent for three periods (or that said it is stopping) is gone,
 * and the runner runs the lost-connection path for the sessions of its own shards connected
 * through it (each Will fires once cluster-wide: docs/sharding.md, "Gateways going silent").
 * Runs on every session actor.
 */
export class GatewayLiveness {
  private readonly lastHeard = new Map<string, number>();
  /** Per gateway, the bus reconnection count its heartbeats carried last. */
  private readonly reconnects = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly heartbeatMs: number,
    private readonly now: () => number,
    private readonly gone: (gateway: string, why: 'stopping' | 'silent') => void,
    /** The gateway's bus connection came back after an interruption: deliveries sent it meanwhile may be lost. */
    private readonly reconnected: (gateway: string) => void = () => {},
  ) {}

  start(): void {
    this.timer = setInterval(() => this.check(), this.heartbeatMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A heartbeat arrived (stopping: the gateway is shutting down). */
  heard(gateway: string, stopping: boolean, busReconnects = 0): void {
    if (stopping) {
      this.declareGone(gateway, 'stopping');
      return;
    }
    this.lastHeard.set(gateway, this.now());
    const before = this.reconnects.get(gateway);
    if (before === busReconnects) return;
    this.reconnects.set(gateway, busReconnects);
    if (before !== undefined && busReconnects > before) this.reconnected(gateway);
  }

  /**
   * A loaded session is connected through this gateway: if we never heard of it, its silence
   * clock starts now (if it stays silent it is declared gone).
   */
  knowOf(gateway: string): void {
    if (!this.lastHeard.has(gateway)) this.lastHeard.set(gateway, this.now());
  }

  /** Gateways silent for 3 heartbeat periods are gone. */
  check(): void {
    const limit = this.now() - 3 * this.heartbeatMs;
    for (const [gw, seen] of this.lastHeard) if (seen < limit) this.declareGone(gw, 'silent');
  }

  private declareGone(gateway: string, why: 'stopping' | 'silent'): void {
    this.lastHeard.delete(gateway);
    this.reconnects.delete(gateway);
    this.gone(gateway, why);
  }
}
