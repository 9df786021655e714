import mqtt from 'mqtt-packet';
import type { PublishItem } from '../../../common/src/index.js';
import type { ConnState } from './conn-state.js';
import { packetBytes, writeFixedHeader } from './fixed-header.js';

/**
 * Encodes one delivery for one connection. MQTT 5: properties pass through, Message Expiry
 * is sent as the time left [MQTT-3.3.2-6], Subscription Identifiers are added [MQTT-3.3.4-3],
 * and a topic alias is assigned while the client's Topic Alias Maximum allows [MQTT-3.3.2-11]
 * (unless `newAlias` is false: a topic with an alias already still uses it).
 * Gateway only (aliases are per connection). Callers check the size: encodePublishWithin.
 */
export function encodePublish(c: ConnState, it: PublishItem, now: number, newAlias = true): Buffer {
  const m = it.message;
  if (c.proto !== 5 || (m.props === undefined && it.subIds.length === 0 && c.clientAliasMax === 0)) {
    return encodePlainPublish(m.topic, m.payload, it.qos, it.packetId, it.dup, it.retain, c.proto === 5);
  }
  const packet: Record<string, unknown> = {
    cmd: 'publish',
    topic: m.topic,
    payload: m.payload,
    qos: it.qos,
    retain: it.retain,
    dup: it.dup,
  };
  if (it.qos > 0) packet.messageId = it.packetId;
  if (c.proto === 5) {
    const props: Record<string, unknown> = {};
    let any = false;
    const p = m.props;
    if (p) {
      if (p.payloadFormatIndicator !== undefined) props.payloadFormatIndicator = p.payloadFormatIndicator;
      if (p.contentType !== undefined) props.contentType = p.contentType;
      if (p.responseTopic !== undefined) props.responseTopic = p.responseTopic;
      if (p.correlationData !== undefined) props.correlationData = p.correlationData;
      if (p.userProperties !== undefined) props.userProperties = p.userProperties;
      if (p.expiresAt !== undefined) props.messageExpiryInterval = Math.max(1, Math.ceil((p.expiresAt - now) / 1000));
      any = true;
    }
    if (it.subIds.length > 0) {
      props.subscriptionIdentifier = it.subIds.length === 1 ? it.subIds[0] : it.subIds;
      any = true;
    }
    if (c.clientAliasMax > 0) {
      const alias = c.aliasesOut.get(m.topic);
      if (alias !== undefined) {
        props.topicAlias = alias;
        packet.topic = '';
        any = true;
      } else if (newAlias && c.aliasesOut.size < c.clientAliasMax) {
        const next = c.aliasesOut.size + 1;
        c.aliasesOut.set(m.topic, next);
        props.topicAlias = next;
        any = true;
      }
    }
    if (any) packet.properties = props;
  }
  return mqtt.generate(packet as unknown as mqtt.Packet, { protocolVersion: c.proto });
}

/**
 * PUBLISH without properties, encoded straight into one buffer (hot path: mqtt-packet's
 * generate builds a stream object per packet). Layout [MQTT-3.3.1]: fixed header, topic,
 * packet id when QoS > 0, MQTT 5 property length 0, payload.
 */
export function encodePlainPublish(topic: string, payload: Buffer, qos: number, packetId: number, dup: boolean, retain: boolean, v5: boolean): Buffer {
  const topicBytes = Buffer.byteLength(topic);
  const buf = Buffer.allocUnsafe(plainPublishBytes(topicBytes, payload.length, qos, v5));
  writePlainPublish(buf, 0, topic, topicBytes, payload, qos, packetId, dup, retain, v5);
  return buf;
}

/** Size of a PUBLISH without properties whose topic takes `topicBytes` bytes in UTF-8. */
export function plainPublishBytes(topicBytes: number, payloadBytes: number, qos: number, v5: boolean): number {
  return packetBytes(2 + topicBytes + (qos > 0 ? 2 : 0) + (v5 ? 1 : 0) + payloadBytes);
}

/**
 * Writes what encodePlainPublish returns into `buf` at `at` (room for plainPublishBytes checked by
 * the caller), so a connection's packets of one turn are encoded straight into its output buffer
 * (connection.ts). `topicBytes` is Buffer.byteLength(topic). Returns where the packet ends.
 */
export function writePlainPublish(buf: Buffer, at: number, topic: string, topicBytes: number, payload: Buffer, qos: number, packetId: number, dup: boolean, retain: boolean, v5: boolean): number {
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + (v5 ? 1 : 0) + payload.length;
  let pos = writeFixedHeader(buf, 0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0), remaining, at);
  buf[pos++] = topicBytes >> 8;
  buf[pos++] = topicBytes & 0xff;
  pos += buf.write(topic, pos);
  if (qos > 0) {
    buf[pos++] = packetId >> 8;
    buf[pos++] = packetId & 0xff;
  }
  if (v5) buf[pos++] = 0;
  buf.set(payload, pos);
  return pos + payload.length;
}
