import type { Socket } from 'node:net';
import mqtt from 'mqtt-packet';
import { FrameGuard } from './frame-guard.js';
import { parsePlainPublish, wholePacketEnd } from './protocol/parse-plain-publish.js';
import { createConnState, type ConnState } from './protocol/conn-state.js';

/**
 * One client socket: byte framing guard, mqtt-packet parser, corked writes and backpressure.
 * The only place (with gateway-service.ts) that touches sockets.
 */
export class Connection {
  readonly state: ConnState;
  private readonly guard: FrameGuard;
  private readonly parser: ReturnType<typeof mqtt.parser>;
  private readonly onPacket: (c: Connection, p: mqtt.Packet) => void;
  /** mqtt-packet holds no bytes of an unfinished packet: the next chunk may start with a fast-path PUBLISH. */
  private parserIdle = true;
  /** Bytes written this event-loop turn, sent as one buffer by uncorkNow (see write). */
  private out: Buffer[] = [];
  private outBytes = 0;
  private queued = false;
  /** Reading stopped because the client does not read what we write (see uncorkNow). */
  private paused = false;
  /** Reading stopped until this time: a publisher slowed down (holdInput). */
  private heldUntil = 0;
  private holdTimer: NodeJS.Timeout | undefined;
  /** Set on bad input or a fault: the rest of the input is ignored while the socket closes. */
  private refused = false;
  /** Set once the owner has been told (or need not be told) the connection is gone. */
  sessionNotified = false;
  /** The listener that accepted it (tcp, tls, ws, wss). */
  listener = 'tcp';
  /** When CONNACK was sent (ms since the epoch); undefined before. */
  connectedAt?: number;

  constructor(
    readonly socket: Socket,
    id: number,
    mountpoint: string,
    now: number,
    maxPacketBytes: number,
    private readonly highWaterBytes: number,
    onPacket: (c: Connection, p: mqtt.Packet) => void,
    onBad: (c: Connection, why: 'too-large' | 'malformed', err?: Error) => void,
    onFault: (c: Connection, err: unknown) => void,
  ) {
    this.state = createConnState(id, `${socket.remoteAddress}:${socket.remotePort}`, mountpoint, now);
    this.guard = new FrameGuard(maxPacketBytes);
    this.parser = mqtt.parser();
    this.onPacket = onPacket;
    const internals = this.parser as unknown as ParserInternals;
    // After bad input nothing more of this connection's input is used (the rest of the chunk included).
    const bad = (why: 'too-large' | 'malformed', err?: Error) => {
      this.refused = true;
      onBad(this, why, err);
    };
    this.parser.on('packet', (p: mqtt.Packet) => {
      if (this.refused) return;
      if (!fieldsFillPacket(p, internals._pos)) {
        bad('malformed', new Error(`${p.cmd}: fields do not fill the Remaining Length ${p.length} (read ${internals._pos})`));
        return;
      }
      onPacket(this, p);
    });
    this.parser.on('error', (err: Error) => {
      if (!this.refused) bad('malformed', err);
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.refused || this.state.phase === 'closed') return;
      // Fault isolation: anything thrown while handling this read (framing, parsing, every
      // handler reached synchronously from it) closes this connection only.
      try {
        const verdict = this.guard.scan(chunk);
        if (verdict !== 'ok') {
          bad(verdict);
          return;
        }
        this.parse(chunk);
      } catch (err) {
        this.refused = true;
        onFault(this, err);
      }
    });
  }

  /**
   * Whole PUBLISH packets without properties at the front of a chunk are decoded here
   * (parse-plain-publish.ts: the same packet objects, without mqtt-packet's per-step overhead);
   * from the first other packet on, the rest of the chunk goes to mqtt-packet, exactly as it
   * would have without the fast path. Only while mqtt-packet holds no partial packet.
   */
  private parse(chunk: Buffer): void {
    if (!this.parserIdle) {
      this.parserIdle = this.parser.parse(chunk) === 0;
      return;
    }
    const n = chunk.length;
    let pos = 0;
    while (pos < n) {
      const end = wholePacketEnd(chunk, pos);
      if (end < 0) break;
      const p = parsePlainPublish(chunk, pos, end, (this.parser as unknown as ParserInternals).settings.protocolVersion === 5);
      if (p === undefined) break;
      pos = end;
      this.onPacket(this, p);
      if (this.refused) return;
    }
    if (pos < n) this.parserIdle = this.parser.parse(pos === 0 ? chunk : chunk.subarray(pos)) === 0;
  }

  /**
   * Queues bytes. Everything written in one event-loop turn (every socket read of one poll
   * phase, and the bus deliveries they cause) leaves in one socket write in the check phase:
   * one syscall per busy subscriber per turn instead of one per publisher read.
   */
  write(bytes: Buffer): void {
    const s = this.socket;
    if (s.destroyed || !s.writable) return;
    this.out.push(bytes);
    this.outBytes += bytes.length;
    if (!this.queued) {
      this.queued = true;
      if (dirty.length === 0) setImmediate(flushAll);
      dirty.push(this);
    }
  }

  /** True when the socket is far behind: QoS 0 deliveries are dropped rather than buffered without bound. */
  overloaded(): boolean {
    return this.socket.writableLength + this.outBytes > 4 * this.highWaterBytes;
  }

  /** Sends what write() queued now (before end(), and once per turn from flushAll). */
  uncorkNow(): void {
    const n = this.out.length;
    if (n === 0) return;
    const out = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    const s = this.socket;
    if (s.destroyed || !s.writable) return;
    if (n === 1) s.write(out[0]!);
    else if (bytes <= MAX_CONCAT_BYTES) s.write(Buffer.concat(out, bytes));
    else {
      // Large payloads: not worth a copy; cork so they still leave in one writev.
      s.cork();
      for (let i = 0; i < n; i++) s.write(out[i]!);
      s.uncork();
    }
    // Backpressure: stop reading from a client we cannot write to fast enough.
    if (!this.paused && s.writableLength > this.highWaterBytes) {
      this.paused = true;
      s.pause();
      s.once('drain', () => {
        this.paused = false;
        this.resumeIfFree();
      });
    }
  }

  /** Stops reading this client for ms (extends a hold in progress); backpressure for publishers. */
  holdInput(ms: number): void {
    if (ms <= 0) return;
    this.heldUntil = Math.max(this.heldUntil, Date.now() + ms);
    this.socket.pause();
    if (this.holdTimer) return;
    const check = () => {
      const left = this.heldUntil - Date.now();
      if (left > 0) {
        this.holdTimer = setTimeout(check, left).unref();
        return;
      }
      this.holdTimer = undefined;
      this.resumeIfFree();
    };
    this.holdTimer = setTimeout(check, ms).unref();
  }

  private resumeIfFree(): void {
    if (this.paused || this.holdTimer !== undefined || this.state.phase === 'closed') return;
    this.socket.resume();
  }

  /** Called by flushAll only. */
  flushQueued(): void {
    this.queued = false;
    this.uncorkNow();
  }
}

/**
 * mqtt-packet keeps the CONNECT it parsed as its settings (PUBLISH has properties after a 5.0
 * CONNECT), and the read position within the packet body while it emits the packet. Both are
 * internals of mqtt-packet 9 (package-lock pins it; test/unit/packet-field-checks.test.ts fails
 * if they change).
 */
interface ParserInternals {
  settings: { protocolVersion?: number };
  _pos: number;
}

/**
 * mqtt-packet reads fields from its whole input buffer, not just the packet: a truncated packet
 * borrows bytes from the next one (a PUBACK without its packet id, followed by a PINGREQ, gets
 * id 0xC000) or reads values as -1 at the end of the input. A packet whose fields did not end
 * exactly at its Remaining Length (PUBLISH: not past it, the rest is payload) is malformed
 * [MQTT-1.5.5 / 2.1.4: Remaining Length is the size of the variable header and payload].
 */
export function fieldsFillPacket(p: mqtt.Packet, read: number): boolean {
  const length = p.length ?? 0;
  return p.cmd === 'publish' ? read <= length : read === length;
}

/** Above this, a turn's output is handed to the socket buffer by buffer instead of copied into one. */
const MAX_CONCAT_BYTES = 256 * 1024;

/** Connections with queued bytes, flushed together once per event-loop turn. */
let dirty: Connection[] = [];

function flushAll(): void {
  const list = dirty;
  dirty = [];
  for (let i = 0; i < list.length; i++) list[i]!.flushQueued();
}
