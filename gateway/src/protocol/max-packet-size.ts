import mqtt from 'mqtt-packet';
import { ControlType, type PublishItem } from '../../../common/src/index.js';
import type { ConnState } from './conn-state.js';
import { encodeAck } from './encode-control.js';
import { encodePublish } from './encode-publish.js';

/**
 * The client's Maximum Packet Size (5.0 CONNECT property), checked on the exact bytes the
 * gateway is about to write: "The Server MUST NOT send packets exceeding Maximum Packet Size to
 * the Client" [MQTT-3.1.2-24] (5.0). Pure; gateway only (topic aliases are per connection).
 */

/** Whether a packet of these bytes may be written to the client (0: the client set no limit). */
export function fitsClient(c: ConnState, bytes: Buffer): boolean {
  return c.clientMaxPacketBytes === 0 || bytes.length <= c.clientMaxPacketBytes;
}

/**
 * Encodes a delivery so that it fits the client's Maximum Packet Size, or returns undefined: the
 * caller discards it and behaves as if it had been sent [MQTT-3.1.2-25] (5.0).
 *
 * The first PUBLISH that assigns a topic alias carries the whole topic plus the 3-byte Topic
 * Alias property, so it is the largest form of the message. When that form does not fit, the
 * alias is taken back (the client never saw it, so the next PUBLISH on the topic must not use
 * it) and the message is encoded without one.
 */
export function encodePublishWithin(c: ConnState, it: PublishItem, now: number): Buffer | undefined {
  const topic = it.message.topic;
  const hadAlias = c.aliasesOut.has(topic);
  const bytes = encodePublish(c, it, now);
  if (fitsClient(c, bytes)) return bytes;
  if (hadAlias || !c.aliasesOut.has(topic)) return undefined;
  // Aliases are numbered by count (encodePublish): removing the newest frees exactly its number.
  c.aliasesOut.delete(topic);
  const plain = encodePublish(c, it, now, false);
  return fitsClient(c, plain) ? plain : undefined;
}

/**
 * Encodes a packet the gateway makes itself (CONNACK, PUBACK, PUBREC, PINGRESP, DISCONNECT)
 * within the client's Maximum Packet Size. A Reason String that would take it over the limit is
 * left out ([MQTT-3.2.2-19] CONNACK, [MQTT-3.4.2-2] PUBACK, [MQTT-3.5.2-2] PUBREC,
 * [MQTT-3.14.2-3] DISCONNECT, all 5.0); undefined when the packet does not fit even then (the
 * caller discards it).
 */
export function encodeOwnPacket(c: ConnState, p: mqtt.Packet): Buffer | undefined {
  if (p.cmd === 'puback' && p.properties === undefined) {
    // The PUBACK of every QoS 1 PUBLISH: made by hand, at a tenth of mqtt-packet's generate cost.
    const bytes = encodeAck(ControlType.PubAck, p.messageId ?? 0, p.reasonCode ?? 0, c.proto === 5);
    return fitsClient(c, bytes) ? bytes : undefined;
  }
  const bytes = mqtt.generate(p, { protocolVersion: c.proto });
  if (fitsClient(c, bytes)) return bytes;
  const props = (p as { properties?: Record<string, unknown> }).properties;
  if (props?.reasonString === undefined) return undefined;
  const { reasonString: _dropped, ...rest } = props;
  const shorter = mqtt.generate({ ...p, properties: rest } as mqtt.Packet, { protocolVersion: c.proto });
  return fitsClient(c, shorter) ? shorter : undefined;
}
