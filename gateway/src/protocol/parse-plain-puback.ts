import type { IPubackPacket } from 'mqtt-packet';

/**
 * Hot-path decoder for a subscriber's PUBACK of a QoS 1 delivery that reports Success without
 * properties, whole in one buffer: Remaining Length 2 (the packet id only: 3.1.1, and 5.0's short
 * form, 5.0 section 3.4.2.1), or in 5.0 also 3 (reason code 0x00) and 4 (reason code 0x00 and a
 * zero Property Length, as mqtt-packet writes it). It yields exactly the object mqtt-packet's
 * parser would emit for the same bytes and returns undefined for anything else (reserved flags
 * set, another reason code, properties), which the caller then hands to mqtt-packet. Gateway only.
 */
export function parsePlainPuback(buf: Buffer, pos: number, end: number, v5: boolean): IPubackPacket | undefined {
  // 0x40: PUBACK with the reserved flags 0000 [MQTT-2.2.2-1].
  if (buf[pos] !== 0x40) return undefined;
  const length = buf[pos + 1]!;
  if (end - pos !== 2 + length) return undefined;
  if (length !== 2) {
    if (!v5 || length > 4 || buf[pos + 4] !== 0 || (length === 4 && buf[pos + 5] !== 0)) return undefined;
  }
  const messageId = (buf[pos + 2]! << 8) | buf[pos + 3]!;
  // mqtt-packet's Packet fields, in its order; 5.0 reads an absent reason code as Success.
  const p = { cmd: 'puback', retain: false, qos: 0, dup: false, length, topic: null, payload: null, messageId } as unknown as IPubackPacket;
  if (v5) p.reasonCode = 0;
  return p;
}
