import type { Socket } from 'node:net';
import mqtt from 'mqtt-packet';
import { FrameGuard } from './frame-guard.js';
import { createConnState, type ConnState } from './protocol/conn-state.js';

/**
 * One client socket: byte framing guard, mqtt-packet parser, corked writes and backpressure.
 * The only place (with gateway-service.ts) that touches sockets.
 */
export class Connection {
  readonly state: ConnState;
  private readonly guard: FrameGuard;
  private readonly parser: ReturnType<typeof mqtt.parser>;
  private corked = false;
  private paused = false;
  /** Set once the owner has been told (or need not be told) the connection is gone. */
  sessionNotified = false;

  constructor(
    readonly socket: Socket,
    id: number,
    mountpoint: string,
    now: number,
    maxPacketBytes: number,
    private readonly highWaterBytes: number,
    onPacket: (c: Connection, p: mqtt.Packet) => void,
    onBad: (c: Connection, why: 'too-large' | 'malformed', err?: Error) => void,
  ) {
    this.state = createConnState(id, `${socket.remoteAddress}:${socket.remotePort}`, mountpoint, now);
    this.guard = new FrameGuard(maxPacketBytes);
    this.parser = mqtt.parser();
    this.parser.on('packet', (p: mqtt.Packet) => onPacket(this, p));
    this.parser.on('error', (err: Error) => onBad(this, 'malformed', err));
    socket.on('data', (chunk: Buffer) => {
      if (this.state.phase === 'closed') return;
      const verdict = this.guard.scan(chunk);
      if (verdict !== 'ok') {
        onBad(this, verdict);
        return;
      }
      this.parser.parse(chunk);
    });
  }

  /** Queues bytes; writes of one event-loop turn go out in one syscall (cork/uncork). */
  write(bytes: Buffer): void {
    const s = this.socket;
    if (s.destroyed || !s.writable) return;
    if (!this.corked) {
      this.corked = true;
      s.cork();
      process.nextTick(uncork, this);
    }
    s.write(bytes);
    // Backpressure: stop reading from a client we cannot write to fast enough.
    if (!this.paused && s.writableLength > this.highWaterBytes) {
      this.paused = true;
      s.pause();
      s.once('drain', () => {
        this.paused = false;
        if (this.state.phase !== 'closed') s.resume();
      });
    }
  }

  /** True when the socket is far behind: QoS 0 deliveries are dropped rather than buffered without bound. */
  overloaded(): boolean {
    return this.socket.writableLength > 4 * this.highWaterBytes;
  }

  uncorkNow(): void {
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
  }
}

function uncork(c: Connection): void {
  c.uncorkNow();
}
