import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

/**
 * A raw TCP client for protocol-violation tests: it writes hand-made bytes (or packets built
 * with mqtt-packet's `generate`, then corrupted) and records what the server sends back and
 * whether it closed the socket. Nothing here retries or interprets: the test decides.
 */
export class RawClient {
  readonly packets: Packet[] = [];
  /** Bytes written by us so far (to show the server closed before a body arrived). */
  bytesSent = 0;
  private closedFlag = false;
  private readonly closedP: Promise<void>;
  private readonly parser: ReturnType<typeof mqttPacket.parser>;
  parseError: Error | undefined;

  private constructor(
    readonly socket: net.Socket,
    protocolVersion: 3 | 4 | 5,
  ) {
    this.parser = mqttPacket.parser({ protocolVersion });
    this.parser.on('packet', (p: Packet) => this.packets.push(p));
    this.parser.on('error', (e: Error) => (this.parseError = e));
    socket.on('data', (b: Buffer) => this.parser.parse(b));
    socket.on('error', () => {});
    this.closedP = new Promise((r) =>
      socket.once('close', () => {
        this.closedFlag = true;
        r();
      }),
    );
  }

  /**
   * Opens a socket to 127.0.0.1:port; `protocolVersion` chooses how server packets are parsed;
   * `localAddress` picks the source (any 127.x.y.z works on Linux loopback).
   */
  static open(port: number, protocolVersion: 3 | 4 | 5 = 5, o: { localAddress?: string } = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, ...o });
      s.setNoDelay(true);
      s.once('connect', () => resolve(new RawClient(s, protocolVersion)));
      s.once('error', reject);
    });
  }

  /** A raw client over a stream opened elsewhere (e.g. TLS after a PROXY protocol header). */
  static over(socket: net.Socket, protocolVersion: 3 | 4 | 5 = 5): RawClient {
    return new RawClient(socket, protocolVersion);
  }

  /** Opens a socket and completes a CONNECT/CONNACK handshake (throws if not accepted). */
  static async connected(port: number, clientId: string, protocolVersion: 3 | 4 | 5 = 5, extra: Record<string, unknown> = {}): Promise<RawClient> {
    const c = await RawClient.open(port, protocolVersion);
    c.sendPacket({ cmd: 'connect', protocolId: protocolVersion === 3 ? 'MQIsdp' : 'MQTT', protocolVersion, clientId, clean: true, keepalive: 0, ...extra } as Packet, protocolVersion);
    const ack = await c.waitPacket((p) => p.cmd === 'connack', 'CONNACK');
    const code = (ack as { reasonCode?: number; returnCode?: number }).reasonCode ?? (ack as { returnCode?: number }).returnCode ?? 0;
    if (code !== 0) throw new Error(`CONNACK refused: 0x${code.toString(16)}`);
    return c;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  send(bytes: Buffer | Uint8Array | number[]): void {
    const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes as Uint8Array);
    this.bytesSent += b.length;
    this.socket.write(b);
  }

  sendPacket(p: Packet, protocolVersion: 3 | 4 | 5 = 5): void {
    this.send(mqttPacket.generate(p, { protocolVersion }));
  }

  /** Resolves true once the server closed the socket, false if it still is open after timeoutMs. */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    if (this.closedFlag) return true;
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.closedP.then(() => true), new Promise<boolean>((res) => (t = setTimeout(() => res(false), timeoutMs)))]);
    clearTimeout(t);
    return r;
  }

  /** Waits for a packet matching pred (already received or later); rejects on close or timeout. */
  async waitPacket(pred: (p: Packet) => boolean, what: string, timeoutMs = 10_000): Promise<Packet> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = this.packets.find(pred);
      if (p) return p;
      if (this.closedFlag) throw new Error(`socket closed before ${what}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Encodes an MQTT string (2-byte length + bytes), the bytes given raw so tests can put invalid UTF-8 in. */
export function mqttString(bytes: Buffer | string): Buffer {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** An MQTT Variable Byte Integer [MQTT-1.5.5] (the Remaining Length, MQTT 5 property lengths). */
export function varInt(n: number): Buffer {
  const out: number[] = [];
  do {
    let d = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) d |= 0x80;
    out.push(d);
  } while (n > 0);
  return Buffer.from(out);
}

/** Builds a packet from a first byte and a body, with a correct Remaining Length. */
export function rawPacket(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), varInt(body.length), body]);
}

/**
 * Many TCP connections that never send a byte (a CONNECT storm that never CONNECTs, or more
 * connections than the broker has descriptors), counting how many the server closed.
 */
export class IdleSockets {
  readonly sockets: net.Socket[] = [];
  /** Connections the server closed (or reset); those we destroy ourselves are not counted. */
  closedByServer = 0;
  private ours = false;

  /** Opens n connections to 127.0.0.1:port, resolving once each connected or failed. */
  static async open(port: number, n: number): Promise<IdleSockets> {
    const idle = new IdleSockets();
    await Promise.all(
      Array.from({ length: n }, () => {
        const s = net.connect({ host: '127.0.0.1', port });
        idle.sockets.push(s);
        s.on('error', () => {});
        s.once('close', () => {
          if (!idle.ours) idle.closedByServer++;
        });
        return new Promise<void>((r) => (s.once('connect', () => r()), s.once('close', () => r())));
      }),
    );
    return idle;
  }

  get open(): number {
    return this.sockets.filter((s) => !s.destroyed).length;
  }

  destroy(): void {
    this.ours = true;
    for (const s of this.sockets) s.destroy();
  }
}
