import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

/**
 * The part of net.Socket the gateway's Connection uses, in memory: tests emit 'data' chunks
 * and read back what was written. For driving the connection layer without a network.
 */
export class FakeSocket extends EventEmitter {
  remoteAddress = '127.0.0.1';
  remotePort = 1;
  destroyed = false;
  writable = true;
  writableLength = 0;
  written: Buffer[] = [];
  ended = false;
  write(b: Buffer): boolean {
    this.written.push(Buffer.from(b));
    return true;
  }
  cork(): void {}
  uncork(): void {}
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  /** Typed as the net.Socket the Connection constructor takes. */
  asSocket(): Socket {
    return this as unknown as Socket;
  }
}
