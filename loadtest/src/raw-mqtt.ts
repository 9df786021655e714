/**
 * A bare MQTT 3.1.1 client for scenarios with thousands of clients in this process: pre-encoded
 * CONNECT / SUBSCRIBE / PINGREQ and a frame reader, nothing else. An `mqtt` npm client costs tens of
 * KB and a full packet parse per message here; with 1,000 subscribers or 10,000 idle connections
 * that, not the broker, would be what a benchmark measures.
 *
 * Who may call: load-generator scenarios (never the broker).
 */
import { connect, type Socket } from 'node:net';

export const PINGREQ = Buffer.from([0xc0, 0x00]);
/** DISCONNECT with no reason: the session ends without its Will [MQTT-3.14.4-3]. */
export const DISCONNECT = Buffer.from([0xe0, 0x00]);

/**
 * PINGREQ on every open socket at half the keepalive, so a run longer than it is not cut short
 * [MQTT-3.1.2-24]; none with keepalive 0 (no keepalive [MQTT-3.1.2-10]). The caller clears the timer.
 */
export function pingEveryHalfKeepalive(sockets: readonly Socket[], keepaliveS: number): NodeJS.Timeout | undefined {
  if (keepaliveS <= 0) return undefined;
  return setInterval(
    () => {
      for (const s of sockets) if (!s.destroyed) s.write(PINGREQ);
    },
    (keepaliveS * 1000) / 2,
  );
}

/** Where the payload of a PUBLISH frame starts (FrameReader's header and body start): after the topic and, at QoS 1/2, the packet id [MQTT-3.3.2]. */
export function publishPayloadAt(header: number, buf: Buffer, start: number): number {
  return start + 2 + buf.readUInt16BE(start) + ((header & 0x06) !== 0 ? 2 : 0);
}

/** CONNECT, protocol level 4 (3.1.1), clean session, no Will; user name and password when given [MQTT-3.1]. */
export function connectPacket(clientId: string, keepaliveS: number, credentials?: { username: string; password: string }): Buffer {
  const fields = [Buffer.from(clientId, 'utf8')];
  let flags = 0x02; // clean session [MQTT-3.1.2-6]
  if (credentials) {
    // User Name Flag and Password Flag; 3.1.1 allows a password only with a user name [MQTT-3.1.2-22].
    flags |= 0xc0;
    fields.push(Buffer.from(credentials.username, 'utf8'), Buffer.from(credentials.password, 'utf8'));
  }
  const remaining = 10 + fields.reduce((n, f) => n + 2 + f.length, 0);
  if (remaining > 16383) throw new Error('CONNECT too long for this generator');
  const lenBytes = remaining > 127 ? [(remaining & 0x7f) | 0x80, remaining >> 7] : [remaining];
  const b = Buffer.alloc(1 + lenBytes.length + remaining);
  b[0] = 0x10;
  let pos = 1;
  for (const l of lenBytes) b[pos++] = l;
  pos += b.write('\u0000\u0004MQTT', pos, 'latin1');
  b[pos++] = 4;
  b[pos++] = flags;
  pos = b.writeUInt16BE(keepaliveS, pos);
  for (const f of fields) {
    pos = b.writeUInt16BE(f.length, pos);
    pos += f.copy(b, pos);
  }
  return b;
}

/** SUBSCRIBE with one filter [MQTT-3.8]. */
export function subscribePacket(packetId: number, filter: string, qos: 0 | 1 | 2): Buffer {
  const f = Buffer.from(filter, 'utf8');
  const remaining = 2 + 2 + f.length + 1;
  if (remaining > 127) throw new Error('filter too long for this generator');
  const b = Buffer.alloc(2 + remaining);
  b[0] = 0x82;
  b[1] = remaining;
  b.writeUInt16BE(packetId, 2);
  b.writeUInt16BE(f.length, 4);
  f.copy(b, 6);
  b[6 + f.length] = qos;
  return b;
}

/**
 * Opens a socket, sends CONNECT and resolves once an accepting CONNACK arrived; rejects on refusal,
 * error, close or timeout. The CONNACK is the only thing the broker sends before the client asks for
 * more, so it arrives alone.
 */
export function rawConnect(url: string, clientId: string, keepaliveS: number, timeoutMs: number, credentials?: { username: string; password: string }): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect({ host: u.hostname, port: Number(u.port || 1883) });
    s.setNoDelay(true);
    const fail = (err: Error) => {
      clearTimeout(timer);
      s.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs);
    const onClose = () => fail(new Error('closed before CONNACK'));
    s.on('error', fail);
    s.once('close', onClose);
    s.once('connect', () => s.write(connectPacket(clientId, keepaliveS, credentials)));
    s.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      s.off('close', onClose);
      s.off('error', fail);
      s.on('error', () => {});
      if (chunk.length < 4 || chunk[0] !== 0x20 || chunk[3] !== 0) {
        s.destroy();
        reject(new Error(`CONNACK refused (${chunk.subarray(0, 4).toString('hex')})`));
        return;
      }
      resolve(s);
    });
  });
}

/**
 * Splits a byte stream into MQTT packets. `onPacket` gets the first header byte and the body
 * (variable header + payload) as [start, end) of `buf`; buf is only valid during the call.
 */
export class FrameReader {
  private rest: Buffer | undefined;

  constructor(private readonly onPacket: (header: number, buf: Buffer, start: number, end: number) => void) {}

  push(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    const n = buf.length;
    let pos = 0;
    while (pos < n) {
      let i = pos + 1;
      let len = 0;
      let mul = 1;
      let complete = false;
      while (i < n && i <= pos + 4) {
        const b = buf[i++]!;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || i + len > n) break;
      this.onPacket(buf[pos]!, buf, i, i + len);
      pos = i + len;
    }
    if (pos < n) this.rest = Buffer.from(buf.subarray(pos));
  }
}

/**
 * Opens `count` sockets with `open` (index -> socket), at most `concurrency` at a time; on the first
 * failure the ones opened are destroyed and the error is thrown.
 */
export async function openMany(count: number, concurrency: number, open: (i: number) => Promise<Socket>): Promise<Socket[]> {
  const sockets: Socket[] = [];
  let next = 0;
  let failure: Error | undefined;
  const worker = async () => {
    while (failure === undefined && next < count) {
      const i = next++;
      try {
        sockets.push(await open(i));
      } catch (err) {
        failure ??= err as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failure !== undefined) {
    for (const s of sockets) s.destroy();
    throw new Error(`connection ${sockets.length + 1} of ${count} failed: ${failure.message}`);
  }
  return sockets;
}
