import { ControlType, type ControlItem, type ProtocolVersion } from '../../../common/src/index.js';
import { packetBytes, writeFixedHeader } from './fixed-header.js';

/**
 * Encodes a control packet the session owner asked for (its acks, SUBACK, UNSUBACK) for the
 * connection's protocol version. Hand-made bytes: these go out once per QoS 2 step, and the
 * layouts are fixed. Gateway only: the session tier never encodes MQTT.
 */
export function encodeControl(proto: ProtocolVersion, it: ControlItem): Buffer {
  const v5 = proto === 5;
  switch (it.type) {
    case ControlType.PubAck:
    case ControlType.PubRec:
    case ControlType.PubRel:
    case ControlType.PubComp:
      return encodeAck(it.type, it.packetId, it.codes[0] ?? 0, v5);
    case ControlType.SubAck:
      // 3.1.1 knows only 0x00-0x02 and 0x80 [MQTT-3.9.3-2] (3.1.1).
      return withCodes(0x90, it.packetId, v5, v5 ? it.codes : it.codes.map((c) => (c >= 0x80 ? 0x80 : c)));
    case ControlType.UnsubAck:
      // UNSUBACK has reason codes only in 5.0 [MQTT-3.11.3-1] (5.0); 3.1.1's has no payload.
      return withCodes(0xb0, it.packetId, v5, v5 ? it.codes : []);
  }
}

/**
 * PUBACK, PUBREC, PUBREL or PUBCOMP without properties: 4 bytes, or 5 with a 5.0 reason code.
 * Also the gateway's own PUBACK of every QoS 1 PUBLISH (max-packet-size.ts), so built byte by
 * byte (no array, no generic encoder).
 */
export function encodeAck(type: ControlType.PubAck | ControlType.PubRec | ControlType.PubRel | ControlType.PubComp, packetId: number, rc: number, v5: boolean): Buffer {
  // 3.1.1 acks carry no reason code; 5.0 omits a success code and, below a Remaining Length
  // of 4, the Property Length (5.0 sections 3.4.2.1 and 3.4.2.2).
  const withCode = v5 && rc !== 0;
  const buf = Buffer.allocUnsafe(withCode ? 5 : 4);
  // PUBREL's fixed header flags are 0010 [MQTT-3.6.1-1].
  buf[0] = (type << 4) | (type === ControlType.PubRel ? 2 : 0);
  buf[1] = withCode ? 3 : 2;
  buf[2] = packetId >> 8;
  buf[3] = packetId & 0xff;
  if (withCode) buf[4] = rc;
  return buf;
}

/** Fixed header, packet id, (5.0) an empty property block, one byte per code. */
function withCodes(first: number, packetId: number, v5: boolean, codes: readonly number[]): Buffer {
  const remaining = 2 + (v5 ? 1 : 0) + codes.length;
  const buf = Buffer.allocUnsafe(packetBytes(remaining));
  let pos = writeFixedHeader(buf, first, remaining);
  buf[pos++] = packetId >> 8;
  buf[pos++] = packetId & 0xff;
  if (v5) buf[pos++] = 0;
  for (const c of codes) buf[pos++] = c;
  return buf;
}
