/**
 * The fan-in's bare clients (raw-mqtt.ts), used when the run allows them (QoS 0, MQTT 3.1.1, plain
 * TCP): a publisher writes its whole window of pre-encoded PUBLISH packets in one socket write, and
 * the subscriber reads the stamps straight from the frames. With `mqtt` npm clients this process
 * spent about 10 µs per message on both ends and ran at 100 % of a core near 100,000 msgs/s, for
 * mosquitto and shardmq alike: the table then compared the generator with itself.
 *
 * Who may call: the fan-in scenario only.
 */
import type { Socket } from 'node:net';
import { DISCONNECT, FrameReader, publishPayloadAt, rawConnect, subscribePacket } from '../raw-mqtt.js';
import { stampBytes } from '../payload-stamp.js';

/** A QoS 0 PUBLISH of one topic, and where its payload's stamp goes. */
export interface PublishTemplate {
  packet: Buffer;
  stampAt: number;
}

/** A QoS 0 PUBLISH of `topic` whose payload is a stamp (written per message) and filler [MQTT-3.3]. */
export function publishTemplate(topic: string, payloadBytes: number): PublishTemplate {
  const t = Buffer.from(topic, 'utf8');
  const payload = Math.max(stampBytes, payloadBytes);
  const remaining = 2 + t.length + payload;
  const len: number[] = [];
  for (let x = remaining; ; ) {
    const b = x & 0x7f;
    x >>>= 7;
    len.push(x > 0 ? b | 0x80 : b);
    if (x === 0) break;
  }
  const b = Buffer.alloc(1 + len.length + remaining, 0x61);
  b[0] = 0x30;
  for (let i = 0; i < len.length; i++) b[1 + i] = len[i]!;
  b.writeUInt16BE(t.length, 1 + len.length);
  t.copy(b, 3 + len.length);
  return { packet: b, stampAt: 3 + len.length + t.length };
}

/** Writes messages seq from..to-1 of `publisher` (stamped with `now`) in one socket write. */
export function writeWindow(s: Socket, t: PublishTemplate, publisher: number, from: number, to: number, now: number): void {
  const n = to - from;
  if (n <= 0) return;
  const size = t.packet.length;
  const stampAt = t.stampAt;
  const out = Buffer.allocUnsafe(n * size);
  for (let i = 0, at = 0; i < n; i++, at += size) {
    t.packet.copy(out, at);
    out.writeUInt32BE(publisher >>> 0, at + stampAt);
    out.writeUInt32BE((from + i) >>> 0, at + stampAt + 4);
    out.writeDoubleBE(now, at + stampAt + 8);
  }
  s.write(out);
}

/**
 * Connects a bare subscriber, subscribes to `filter` at QoS 0 and resolves once the SUBACK granted
 * it; `onStamp` gets every PUBLISH's stamp (publisher, sequence, send time).
 */
export async function rawStampSubscriber(
  url: string,
  clientId: string,
  filter: string,
  o: { keepaliveS: number; connectTimeoutMs: number; credentials?: { username: string; password: string } },
  onStamp: (publisher: number, seq: number, sentAtMs: number) => void,
): Promise<Socket> {
  const s = await rawConnect(url, clientId, o.keepaliveS, o.connectTimeoutMs, o.credentials);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SUBACK within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
      const reader = new FrameReader((header, buf, start, end) => {
        const type = header >> 4;
        if (type === 3) {
          const payloadAt = publishPayloadAt(header, buf, start);
          if (end - payloadAt >= stampBytes) onStamp(buf.readUInt32BE(payloadAt), buf.readUInt32BE(payloadAt + 4), buf.readDoubleBE(payloadAt + 8));
        } else if (type === 9) {
          clearTimeout(timer);
          // [MQTT-3.9.3] 0x80 is a refusal (an ACL, say): the run could never receive anything.
          if (buf[end - 1] === 0x80) reject(new Error(`SUBSCRIBE to ${filter} refused`));
          else resolve();
        }
      });
      s.on('data', (chunk: Buffer) => reader.push(chunk));
      s.once('close', () => reject(new Error('subscriber closed before its SUBACK')));
      s.write(subscribePacket(1, filter, 0));
    });
  } catch (err) {
    s.destroy();
    throw err;
  }
  return s;
}

/** Ends bare clients with a DISCONNECT (no Will to fire), then closes them. */
export function closeRaw(sockets: readonly Socket[]): void {
  for (const s of sockets) {
    if (s.destroyed) continue;
    s.end(DISCONNECT);
    setTimeout(() => s.destroy(), 1000).unref();
  }
}
