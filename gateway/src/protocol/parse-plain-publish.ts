import type { IPublishPacket } from 'mqtt-packet';
import { utf8Interned } from '../../../common/src/index.js';

/**
 * Hot-path decoder for the most common packet: a PUBLISH without MQTT 5 properties, whole in one
 * buffer. It yields exactly the object mqtt-packet's parser would emit for the same bytes (same
 * fields, the payload a view of the buffer, the topic decoded with Buffer's UTF-8 rules, so invalid
 * sequences still reach validateTopicName as U+FFFD) and returns undefined for anything else, which
 * the caller then hands to mqtt-packet: any other packet type, QoS 3, a packet not wholly in `buf`,
 * a topic or packet id running past the packet, MQTT 5 properties. Gateway only.
 */

/** End offset (exclusive) of the packet starting at `pos`, when its fixed header and body are wholly in `buf`; else -1. */
export function wholePacketEnd(buf: Uint8Array, pos: number): number {
  const n = buf.length;
  let p = pos + 1;
  let length = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    if (p >= n) return -1;
    const b = buf[p++]!;
    length += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) {
      const end = p + length;
      return end <= n ? end : -1;
    }
    mul *= 128;
  }
  return -1; // Remaining Length longer than 4 bytes [MQTT-1.5.5]: mqtt-packet reports it
}

/**
 * Decodes the PUBLISH occupying buf[pos, end) (end from wholePacketEnd). `v5`: the connection
 * speaks MQTT 5 (the parser's own setting after CONNECT), so a zero Property Length is expected.
 */
export function parsePlainPublish(buf: Buffer, pos: number, end: number, v5: boolean): IPublishPacket | undefined {
  const b0 = buf[pos]!;
  if (b0 >> 4 !== 3) return undefined;
  const qos = (b0 >> 1) & 3;
  if (qos === 3) return undefined; // mqtt-packet's error path [MQTT-3.3.1-4]
  // Body start: after the type byte and the Remaining Length bytes.
  let p = pos + 1;
  while (buf[p++]! & 0x80);
  const length = end - p;
  if (p + 2 > end) return undefined;
  const topicLen = (buf[p]! << 8) | buf[p + 1]!;
  p += 2;
  if (p + topicLen > end) return undefined;
  // The same topics arrive again and again: decoded once (interned-string.ts).
  const topic = utf8Interned(buf, p, topicLen);
  p += topicLen;
  const retain = (b0 & 1) !== 0;
  const dup = (b0 & 8) !== 0;
  if (qos === 0) {
    if (v5) {
      if (p >= end || buf[p] !== 0) return undefined;
      p++;
    }
    return { cmd: 'publish', retain, qos, dup, length, topic, payload: buf.subarray(p, end) };
  }
  if (p + 2 > end) return undefined;
  const messageId = (buf[p]! << 8) | buf[p + 1]!;
  p += 2;
  if (v5) {
    if (p >= end || buf[p] !== 0) return undefined;
    p++;
  }
  return { cmd: 'publish', retain, qos: qos as 1 | 2, dup, length, topic, payload: buf.subarray(p, end), messageId };
}
