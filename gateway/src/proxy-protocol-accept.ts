import type net from 'node:net';
import { parseProxyHeader, looksLikeProxyHeader, type ProxySource } from './proxy-protocol.js';

/**
 * The socket side of the PROXY protocol on one listener: reads the header a trusted load
 * balancer sends first, and hands over the socket positioned at the client's first byte with
 * the client's address as its peer. Gateway only.
 *
 * - A source in `trusted` must send a header: none, a malformed one, one over `maxBytes` or one
 *   that does not arrive within `timeoutMs` closes that connection (`refused`).
 * - Any other source is served as a direct connection (its own address), and refused if it
 *   sends a PROXY header: only a trusted load balancer may name another address.
 */

export type ProxyRefusal = 'proxy_header_malformed' | 'proxy_header_too_large' | 'proxy_header_missing' | 'proxy_header_timeout' | 'proxy_header_untrusted' | 'connection_refused_pending_connects';

export interface ProxyAcceptOptions {
  trusted: (address: string | undefined) => boolean;
  maxBytes: number;
  timeoutMs: number;
  /**
   * Connections of this listener waiting for their first bytes, shared by its calls: beyond
   * `max`, new ones are closed at once (they count against mqtt.maxPendingConnects like
   * connections that have not sent CONNECT: a flood that sends nothing holds no more than that).
   */
  waiting: { count: number; max: number };
  /** The socket is positioned after the header (paused, resumed on the next tick); `source` undefined: its own address. */
  ready: (socket: net.Socket, leftover: Buffer, source: ProxySource | undefined) => void;
  refused: (socket: net.Socket, why: ProxyRefusal, detail: string) => void;
}

export function proxyAccept(socket: net.Socket, o: ProxyAcceptOptions): void {
  if (o.waiting.count >= o.waiting.max) {
    socket.on('error', () => {});
    socket.destroy();
    o.refused(socket, 'connection_refused_pending_connects', `${o.waiting.count} connections already wait for their first bytes`);
    return;
  }
  o.waiting.count++;
  const trusted = o.trusted(socket.remoteAddress);
  let got: Buffer = Buffer.alloc(0);
  let settled = false;
  const finish = () => {
    if (!settled) o.waiting.count--;
    settled = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onClose);
    socket.pause();
  };
  const refuse = (why: ProxyRefusal, detail: string) => {
    finish();
    socket.on('error', () => {});
    socket.destroy();
    o.refused(socket, why, detail);
  };
  const onClose = () => {
    if (!settled) o.waiting.count--;
    settled = true;
    clearTimeout(timer);
  };
  const onData = (chunk: Buffer) => {
    if (settled) return;
    got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
    if (!trusted) {
      // An untrusted source: a direct client, unless it tries to name an address.
      if (looksLikeProxyHeader(got.subarray(0, 1))) {
        refuse('proxy_header_untrusted', `PROXY header from ${socket.remoteAddress}, which is not in mqtt.proxyProtocolTrustedCidrs`);
        return;
      }
      finish();
      o.ready(socket, got, undefined);
      return;
    }
    const r = parseProxyHeader(got, o.maxBytes);
    if (r.state === 'incomplete') return;
    if (r.state === 'error') {
      refuse(r.why === 'missing' ? 'proxy_header_missing' : r.why === 'too_large' ? 'proxy_header_too_large' : 'proxy_header_malformed', r.detail);
      return;
    }
    finish();
    o.ready(socket, got.subarray(r.length), r.source);
  };
  const timer = setTimeout(() => {
    if (!settled) refuse('proxy_header_timeout', `no complete PROXY header within ${o.timeoutMs} ms`);
  }, o.timeoutMs);
  timer.unref();
  socket.on('data', onData);
  socket.on('close', onClose);
  socket.on('error', () => {});
}

/**
 * Gives a plain TCP socket the client's address as its peer and puts the bytes read past the
 * header back, so the connection layer reads the stream from the client's first byte.
 * Resumed on the next tick (Readable.resume is deferred), after the caller attached its reader.
 */
export function handOver(socket: net.Socket, leftover: Buffer, source: ProxySource | undefined): void {
  if (source) setPeer(socket, source);
  if (leftover.length > 0) socket.unshift(leftover);
  socket.resume();
}

/** Overrides the peer a socket reports (remoteAddress/remotePort are prototype getters). */
export function setPeer(socket: net.Socket, source: ProxySource): void {
  Object.defineProperty(socket, 'remoteAddress', { value: source.address, configurable: true });
  Object.defineProperty(socket, 'remotePort', { value: source.port, configurable: true });
  Object.defineProperty(socket, 'remoteFamily', { value: source.address.includes(':') ? 'IPv6' : 'IPv4', configurable: true });
}
