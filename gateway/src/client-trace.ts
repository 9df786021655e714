import mqtt from 'mqtt-packet';
import { type ClientTraceRequest, type Logger, sessionKey } from '../../common/src/index.js';
import type { Connection } from './connection.js';
import { traceFields } from './protocol/trace-fields.js';

interface TraceWindow {
  readonly clientId: string;
  readonly mountpoint: string;
  until: number;
  timer?: NodeJS.Timeout;
  packets: number;
}

/**
 * Client traces on this gateway (POST /api/v1/clients/{id}/trace, broadcast to every gateway):
 * while a window is open, every MQTT packet of that client id, in and out, is logged at info
 * (trace-fields.ts: never payloads or passwords), on its open connections and on those that
 * CONNECT during the window. A window ends by itself at its time; another request for the same
 * client replaces it. Costs nothing while no trace is open (one undefined check per packet).
 * Gateway only.
 */
export class ClientTraces {
  private readonly windows = new Map<string, TraceWindow>();

  constructor(
    private readonly log: Logger,
    private readonly conns: () => Iterable<Connection>,
  ) {}

  /** Opens (or replaces) a window; answers how many of this gateway's connections it covers now. */
  start(req: ClientTraceRequest, now: number): number {
    const key = sessionKey(req.mountpoint, req.clientId);
    const ms = req.seconds * 1000;
    // A window already open gets the new end (its connections' tracers follow: they share it).
    let w = this.windows.get(key);
    if (w) {
      clearTimeout(w.timer);
      w.until = now + ms;
    } else {
      w = { clientId: req.clientId, mountpoint: req.mountpoint, until: now + ms, packets: 0 };
      this.windows.set(key, w);
    }
    const open = w;
    w.timer = setTimeout(() => this.end(key, open), ms).unref();
    let n = 0;
    for (const c of this.conns()) {
      const st = c.state;
      if (st.phase !== 'closed' && st.clientId === req.clientId && st.mountpoint === req.mountpoint) {
        if (c.tracer?.window !== w) c.tracer = new ConnTracer(this.log, c, w);
        n++;
      }
    }
    this.log.info('client trace started', { clientId: req.clientId, ...(req.mountpoint ? { mountpoint: req.mountpoint } : {}), seconds: req.seconds, connections: n });
    return n;
  }

  /** A CONNECT arrived: traced from this packet on when its client id has an open window. */
  onConnect(c: Connection, clientId: string, now: number): void {
    if (this.windows.size === 0) return;
    const w = this.windows.get(sessionKey(c.state.mountpoint, clientId));
    if (w && now < w.until) c.tracer = new ConnTracer(this.log, c, w);
  }

  private end(key: string, w: TraceWindow): void {
    if (this.windows.get(key) !== w) return;
    this.windows.delete(key);
    for (const c of this.conns()) if (c.tracer?.window === w) c.tracer = undefined;
    this.log.info('client trace ended', { clientId: w.clientId, ...(w.mountpoint ? { mountpoint: w.mountpoint } : {}), packets: w.packets });
  }

  /** Gateway stop: no timer outlives it. */
  stop(): void {
    for (const w of this.windows.values()) clearTimeout(w.timer);
    this.windows.clear();
  }
}

/** The trace of one connection; detaches itself once its window has passed. */
export class ConnTracer {
  /** Outbound bytes are parsed again only for a traced connection (the gateway writes encoded packets). */
  private outParser?: ReturnType<typeof mqtt.parser>;

  constructor(
    private readonly log: Logger,
    private readonly c: Connection,
    readonly window: TraceWindow,
  ) {}

  packetIn(p: mqtt.Packet): void {
    if (this.live()) this.line('in', p);
  }

  bytesOut(bytes: Buffer): void {
    if (!this.live()) return;
    if (!this.outParser) {
      const parser = mqtt.parser({ protocolVersion: this.c.state.proto });
      parser.on('packet', (p: mqtt.Packet) => this.line('out', p));
      parser.on('error', (err: Error) => this.log.info('client trace: outbound bytes not readable', { clientId: this.window.clientId, connId: this.c.state.id, err: err.message }));
      this.outParser = parser;
    }
    this.outParser.parse(bytes);
  }

  private live(): boolean {
    if (Date.now() < this.window.until) return true;
    if (this.c.tracer === this) this.c.tracer = undefined;
    return false;
  }

  private line(dir: 'in' | 'out', p: mqtt.Packet): void {
    this.window.packets++;
    const st = this.c.state;
    this.log.info('client trace', { clientId: st.clientId || this.window.clientId, ...(st.mountpoint ? { mountpoint: st.mountpoint } : {}), connId: st.id, peer: st.peer, dir, ...traceFields(p) });
  }
}
